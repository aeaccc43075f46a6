"""`/invites …` text: every command parses to what was typed, every mistake is a UsageError with its own sentence and
the usage line that applies, and no text at all makes the parser fail any other way."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.slack.listeners.command_parse import (
    USAGE,
    USAGE_LINES,
    Bulk,
    Command,
    DirectInvite,
    UsageError,
    parse,
)

TODAY = date(2026, 11, 22)


def usage_error(text: str) -> UsageError:
    with pytest.raises(UsageError) as raised:
        parse(text, TODAY)
    return raised.value


# -- what each command reads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Command("list")),
        ("   ", Command("list")),
        ("list", Command("list")),
        ("LIST  Beta   Labs ", Command("list", team="Beta   Labs")),
        ("list &lt;b&gt; &amp; co", Command("list", team="<b> & co")),
        ("approve ada@example.com", Command("approve", ref="ada@example.com")),
        ("Approve <mailto:ada@example.com|ada@example.com>", Command("approve", ref="ada@example.com")),
        ("approve IrABC123", Command("approve", ref="IrABC123")),
        ("show IrABC123", Command("show", ref="IrABC123")),
        ("deny IrABC123", Command("deny", ref="IrABC123")),
        ("deny ada@example.com  Budget &lt;2027&gt; &amp; more ", Command("deny", ref="ada@example.com", reason="Budget <2027> & more")),
        ("history", Command("history", count=10)),
        ("history 50", Command("history", count=50)),
        ("history 0007", Command("history", count=7)),
        ("history \u0661\u0660", Command("history", count=10)),  # Arabic-Indic digits are decimal digits
        ("stats", Command("stats")),
        ("sync", Command("sync")),
        ("mine", Command("mine")),
        ("help", Command("help")),
        ("export", Command("export", count=30)),
        ("export 365", Command("export", count=365)),
        (
            "invite ada@example.com <#C0GENERAL1|general> C0DESIGN01 guest expires 2027-01-31 Welcome &lt;aboard&gt;",
            Command(
                "invite",
                invite=DirectInvite(
                    "ada@example.com", ["C0GENERAL1", "C0DESIGN01"], guest="multi", expires=date(2027, 1, 31), message="Welcome <aboard>"
                ),
            ),
        ),
        (
            "invite ada@example.com in beta <#C0GENERAL1> single-channel-guest",
            Command("invite", invite=DirectInvite("ada@example.com", ["C0GENERAL1"], guest="single", workspace="beta")),
        ),
    ],
)
def test_each_command_reads_what_was_typed(text, command):
    assert parse(text, TODAY) == command


@pytest.mark.parametrize(
    "text, domain, teams, types, reason",
    [
        ("approve --domain example.com", "example.com", (), (), None),
        ("approve --domain Example.COM --team T0ALPHA01 --team beta --type restricted", "example.com", ("T0ALPHA01", "beta"), ("restricted",), None),
        ("approve --domain *.example.com --type guest --type ultra_restricted", "*.example.com", (), ("restricted", "ultra_restricted"), None),
        ("approve \u2014domain <http://example.com|example.com>", "example.com", (), (), None),  # smart dashes, Slack's link
        ("deny --domain example.com --reason Please use a contractor account", "example.com", (), (), "Please use a contractor account"),
        ('deny --domain example.com --reason "Use your work address" --team T0ALPHA01', "example.com", ("T0ALPHA01",), (), "Use your work address"),
        ("deny --domain=example.com --reason=\u201cSmart quotes\u201d", "example.com", (), (), "Smart quotes"),
        ("deny --domain example.com --reason a &lt;b&gt; --team T1", "example.com", (), (), "a <b> --team T1"),  # unquoted: the rest
    ],
)
def test_bulk_commands_parse(text, domain, teams, types, reason):
    bulk = parse(text, date.today()).bulk
    assert (bulk.domain, bulk.teams, bulk.types, bulk.reason) == (domain, teams, types, reason)


# -- every mistake ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, sentence",
    [
        ("approve --domain", "`--domain` needs a value, like `--domain example.com`."),
        ("approve --team T0ALPHA01", "`/invites approve` for many requests needs `--domain`, like `--domain example.com`."),
        ("approve --domain ada@example.com", "`ada@example.com` is an email address; `--domain` takes its domain, like `example.com`."),
        ("approve --domain exa_mple", "`exa_mple` is not an email domain"),
        ("approve --domain example.com --reason hi", "Only a bulk deny takes `--reason`"),
        ("approve --domain example.com --since 3", "`--since` is not an option of `/invites approve` for a whole domain"),
        ("approve --domain a.com --domain b.com", "Give `--domain` once"),
        ("approve --domain example.com --type admins", "`admins` is not an invite type"),
        ('deny --domain example.com --reason "never closed', "opens a quote it never closes"),
        ("deny --domain example.com --reason", "`--reason` needs the reason the requesters will read"),
    ],
)
def test_bulk_command_mistakes_get_a_sentence_and_the_usage_line(text, sentence):
    with pytest.raises(UsageError) as raised:
        parse(text, date.today())
    assert sentence in raised.value.answer()
    assert "Usage: `/invites " in raised.value.answer() and "--domain example.com" in raised.value.answer()


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("approve", "`/invites approve` takes exactly one request: its Ir… id or the invitee's email."),
        ("show IrA IrB", "`/invites show` takes exactly one request: its Ir… id or the invitee's email."),
        ("approve grace", "`grace` is neither a request id (Ir…) nor an email address."),
        ("approve <@U0ADMIN>", "`&lt;@U0ADMIN&gt;` is neither a request id (Ir…) nor an email address."),
        ("deny", "`/invites deny` needs a request: its Ir… id or the invitee's email, then an optional reason."),
        ("stats now", "`/invites stats` takes no arguments."),
        ("sync all", "`/invites sync` takes no arguments."),
        ("mine please", "`/invites mine` takes no arguments."),
        ("help me", "`/invites help` takes no arguments."),
        ("history 0", "`/invites history` takes a number from 1 to 50."),
        ("history 51", "`/invites history` takes a number from 1 to 50."),
        ("history ten", "`/invites history` takes a number from 1 to 50."),
        ("history 1 2", "`/invites history` takes a number from 1 to 50."),
        ("history \u00b2", "`/invites history` takes a number from 1 to 50."),  # a digit to isdigit(), not to int()
        ("history " + "9" * 5000, "`/invites history` takes a number from 1 to 50."),  # more digits than int() reads
        ("export 0", "`/invites export` takes a number of days from 1 to 365, like `/invites export 7`."),
        ("export 366", "`/invites export` takes a number of days from 1 to 365, like `/invites export 7`."),
        ("export \u2463", "`/invites export` takes a number of days from 1 to 365, like `/invites export 7`."),
        ('deny --domain example.com --reason "a" --reason b', "Give `--reason` once."),
        ('deny --domain example.com --reason "a"b', "Leave a space after the reason's closing quote."),
        ("invite", "`/invites invite` needs an email address and at least one #channel."),
        ("invite grace #general", "`grace` is not an email address."),
        ("invite ada@example.com in", "`in` needs a workspace, like `in T0123ABCD` or `in acme-sales` (its domain)."),
        ("invite ada@example.com", "Name at least one channel for the new member, like `#general` (pick it from Slack's list)."),
        ("invite ada@example.com #general", "`#general` is a channel name, not a channel invitebot can use"),
        ("invite ada@example.com C0ONE1 C0TWO2 single-channel-guest", "A single-channel guest joins exactly one channel."),
        ("invite ada@example.com C0ONE1 guest expires", "`expires` needs a date, like `expires 2027-01-31`."),
        ("invite ada@example.com C0ONE1 guest expires soon", "`soon` is not a date; write it as YYYY-MM-DD."),
        ("invite ada@example.com C0ONE1 guest expires 2026-11-22", "The expiry date 2026-11-22 is not in the future."),
        ("invite ada@example.com C0ONE1 expires 2027-01-31", "Only guests can have an expiry date"),
    ],
)
def test_every_mistake_is_a_sentence_then_the_one_usage_line_that_applies(text, sentence):
    error = usage_error(text)

    assert str(error).startswith(sentence)
    name = text.split()[0]
    assert error.command == name
    assert error.answer() == f"{error}\nUsage: {USAGE_LINES[name]}"


def test_an_unknown_command_is_answered_with_the_whole_help_and_cannot_ping():
    error = usage_error("approv&lt;!channel&gt;` ada@example.com")

    assert str(error) == "`approv&lt;!channel&gt;'` is not an /invites command."
    assert error.command is None
    assert error.answer() == f"{error}\n\n{USAGE}"
    assert "<!channel>" not in error.answer()


def test_a_word_echoed_back_is_escaped_cut_to_80_characters_and_cannot_close_its_code_span():
    error = usage_error("approve " + "`<!here>" * 40)

    shown = str(error).split("`")[1]
    assert "<" not in shown and "`" not in shown
    assert shown.startswith("'&lt;!here&gt;'") and len(shown.replace("&lt;", "<").replace("&gt;", ">")) == 80


# -- properties -------------------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        *USAGE_LINES, "--domain", "\u2014domain", "--team", "--type", "--reason", "--reason=", "--domain=", '"', "\u201c", "'",
        "in", "expires", "guest", "single-channel-guest", "#general", "<#C0GENERAL1|general>", "C0GENERAL1", "2027-01-31",
        "2020-01-01", "ada@example.com", "<mailto:ada@example.com|ada@example.com>", "IrABC", "example.com", "*.example.com",
        "<http://example.com|example.com>", "restricted", "0", "7", "51", "\u00b2", "&lt;", "&amp;", "`",
    ]
)
COMMAND_LIKE = st.builds(
    lambda name, rest: " ".join([name, *rest]), st.sampled_from(list(USAGE_LINES)), st.lists(WORDS | st.text(max_size=12), max_size=6)
)


@settings(max_examples=1000)
@given(st.text() | COMMAND_LIKE)
def test_any_text_is_a_command_or_a_usage_error(text):
    try:
        command = parse(text, TODAY)
    except UsageError as error:
        assert str(error) and error.answer().startswith(str(error))
        assert error.command is None or error.command in USAGE_LINES
    else:
        assert command.name in USAGE_LINES or command.name == "list"


def slack_escaped(text: str) -> str:
    """What Slack sends for what a person typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FREE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).map(str.strip).filter(bool)
EMAIL = st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9-]{1,12}\.[a-z]{2,6}", fullmatch=True)
REQUEST_ID = st.from_regex(r"Ir[A-Z0-9]{1,12}", fullmatch=True)
CHANNEL_ID = st.from_regex(r"[CG][A-Z0-9]{2,10}", fullmatch=True)
TEAM_WORD = st.from_regex(r"T[A-Z0-9]{2,10}|[a-z][a-z0-9-]{0,15}", fullmatch=True)
LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
DOMAIN = st.builds(lambda wild, labels: ("*." if wild else "") + ".".join(labels), st.booleans(), st.lists(LABEL, min_size=2, max_size=3))
TYPE_WORDS = {"full_member": "full_member", "member": "full_member", "guest": "restricted", "restricted": "restricted",
              "single-channel-guest": "ultra_restricted", "ultra_restricted": "ultra_restricted"}


@st.composite
def typed_commands(draw) -> tuple[str, Command]:
    """A well-formed command as a person would type it (and Slack send it), with the Command it means."""
    kind = draw(st.sampled_from(["list", "ref", "deny", "count", "bare", "invite", "bulk"]))
    if kind == "list":
        team = draw(st.none() | FREE_TEXT)
        return ("list" if team is None else f"list {slack_escaped(team)}"), Command("list", team=team)
    if kind in ("ref", "deny"):
        ref = draw(EMAIL | REQUEST_ID)
        typed = draw(st.sampled_from([ref, f"<mailto:{ref}|{ref}>"])) if "@" in ref else ref
        if kind == "ref":
            name = draw(st.sampled_from(["approve", "show"]))
            return f"{name} {typed}", Command(name, ref=ref)
        reason = draw(st.none() | FREE_TEXT)
        return f"deny {typed}" + (f" {slack_escaped(reason)}" if reason else ""), Command("deny", ref=ref, reason=reason)
    if kind == "count":
        name, top, default = draw(st.sampled_from([("history", 50, 10), ("export", 365, 30)]))
        count = draw(st.none() | st.integers(1, top))
        return (name if count is None else f"{name} {count}"), Command(name, count=default if count is None else count)
    if kind == "bare":
        name = draw(st.sampled_from(["stats", "sync", "mine", "help"]))
        return name, Command(name)
    if kind == "invite":
        email = draw(EMAIL)
        workspace = draw(st.none() | TEAM_WORD)
        channels = draw(st.lists(CHANNEL_ID, min_size=1, max_size=3))
        guest_word = draw(st.none() | st.sampled_from(["guest", "multi-channel-guest", "single-channel-guest"]))
        if guest_word == "single-channel-guest":
            channels = channels[:1]
        guest = {None: None, "guest": "multi", "multi-channel-guest": "multi", "single-channel-guest": "single"}[guest_word]
        expires = TODAY + timedelta(days=draw(st.integers(1, 3650))) if guest and draw(st.booleans()) else None
        message = draw(st.none() | FREE_TEXT.map(lambda text: "Welcome " + text))
        words = [
            "invite", email, *(["in", slack_escaped(workspace)] if workspace else []),
            *[draw(st.sampled_from([c, f"<#{c}>", f"<#{c}|name>"])) for c in channels],
            *([guest_word] if guest_word else []), *(["expires", expires.isoformat()] if expires else []),
            *([slack_escaped(message)] if message else []),
        ]
        invite = DirectInvite(email, channels, guest=guest, expires=expires, message=message, workspace=workspace)
        return " ".join(words), Command("invite", invite=invite)
    name = draw(st.sampled_from(["approve", "deny"]))
    domain = draw(DOMAIN)
    teams = draw(st.lists(TEAM_WORD, max_size=3))
    types = draw(st.lists(st.sampled_from(sorted(TYPE_WORDS)), max_size=3))
    reason = draw(FREE_TEXT.filter(lambda text: text[0] not in "\"'\u201c\u201d\u2018")) if name == "deny" else None
    words = [name, "--domain", draw(st.sampled_from([domain, domain.upper()]))]
    words += [f"--team {team}" for team in teams] + [f"--type {word}" for word in types]
    words += [f"--reason {slack_escaped(reason)}"] if reason else []
    bulk = Bulk(domain, tuple(dict.fromkeys(teams)), tuple(dict.fromkeys(TYPE_WORDS[w] for w in types)), reason)
    return " ".join(words), Command(name, bulk=bulk)


@given(typed_commands())
def test_a_well_formed_command_reads_back_as_what_was_meant(typed):
    text, command = typed
    assert parse(text, TODAY) == command
