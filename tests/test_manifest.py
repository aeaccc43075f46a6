"""manifest.yml: valid for Slack, in step with the listeners the code registers and the scopes of the methods it calls."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from app.main.container import build_runtime
from app.main.http import EVENTS_PATH
from app.sandbox import FakeSlack
from app.slack.bolt import build_app
from app.slack.listeners.command_parse import USAGE
from tests.support.bots import make_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
MANIFEST = REPO / "manifest.yml"
SCHEMA = SHARED / "slack" / "manifest.schema.json"
OPENAPI = SHARED / "slack" / "openapi.json"
GATEWAY = REPO / "app" / "slack" / "api" / "gateway.py"
CLIENT = REPO / "app" / "slack" / "api" / "client.py"  # the clients the gateway is built on: no Web API method of its own

# Scopes an event needs, by the token it is delivered on (events are not in openapi.json; reference.md §2, §5.3).
EVENT_SCOPES: dict[str, str | None] = {
    "invite_requested": "admin.invites:read",
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
    "subteam_members_changed": "usergroups:read",
    # docs.slack.dev/reference/events/team_access_granted (and _revoked): "No scopes required".
    "team_access_granted": None,
    "team_access_revoked": None,
}
# Needed for the slash command itself, not for any Web API method.
COMMAND_SCOPE = "commands"
# Web API methods newer than openapi.json, with the scopes their page on docs.slack.dev lists ("No scopes required").
NOT_IN_OPENAPI: dict[str, frozenset[str]] = {
    "blocks.validate": frozenset(),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
}
# WebClient methods that make several Web API calls of their own (files_upload_v2 never names api_call itself).
SEVERAL_CALLS: dict[str, tuple[str, ...]] = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}
# The gateway's two clients: the org admin's user token and the bot token.
CLIENT_TOKENS = {"_admin": "user", "_bot": "bot"}


def shared_file(path: Path) -> Path:
    if not path.exists():
        message = f"{path} is missing: the shared Slack material sits beside the repository (../shared)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@cache
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


@cache
def openapi() -> dict[str, Any]:
    return json.loads(shared_file(OPENAPI).read_text())


# -- Slack's schema, offline ------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _offline(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)


def manifest_validator(schema: Path = SCHEMA) -> Draft7Validator:
    """A validator for Slack's v1 manifest schema that never touches the network.

    slackapi/manifest-schema's root manifest.schema.json is a dispatcher whose oneOf `$ref`s the versioned schemas on
    raw.githubusercontent.com (v1 when `_metadata.major_version` is 1 or absent). The shared copy is instead the v1
    schema itself, self-contained (every `$ref` is a local `#/definitions/app-manifests.v1.…`), so it is used as is.
    Should the dispatcher ever be dropped in, its remote refs are served from the versioned files beside it
    (schemas/manifest.schema.<version>.json, the repository's layout); anything else fails instead of being fetched.
    """
    root = json.loads(shared_file(schema).read_text())
    resources = []
    for ref in sorted({ref.split("#", 1)[0] for ref in _refs(root)} - {""}):
        local = schema.parent / "schemas" / urlsplit(ref).path.rsplit("/", 1)[-1]
        if not local.exists():
            pytest.fail(f"{schema} refers to {ref}; put that file at {local} to validate offline")
        resources.append((ref, Resource.from_contents(json.loads(local.read_text()), default_specification=DRAFT7)))
    if not resources:
        assert any(name.startswith("app-manifests.v1.") for name in root.get("definitions", {})), "not the v1 schema"
    cls = validator_for(root, default=Draft7Validator)
    cls.check_schema(root)
    return cls(root, registry=Registry(retrieve=_offline).with_resources(resources))


def schema_errors(document: dict[str, Any], schema: Path = SCHEMA) -> list[str]:
    validator = manifest_validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(document)]


def test_manifest_is_valid_against_slacks_v1_schema() -> None:
    assert manifest()["_metadata"]["major_version"] == 1, "the schema used here is Slack's v1 manifest schema"
    assert schema_errors(manifest()) == []


def test_the_schema_check_is_not_vacuous() -> None:
    """A typo'd key, a command without its slash and a missing name are each refused."""
    document = broken(manifest())
    document["features"]["slash_commands"][0]["command"] = "invites"
    del document["display_information"]["name"]
    errors = "\n".join(schema_errors(document))
    assert "socket_mode" in errors
    assert "slash_commands/0/command" in errors
    assert "'name' is a required property" in errors


def broken(document: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    copy["settings"]["socket_mode"] = False
    return copy


def test_a_dispatching_root_schema_is_resolved_from_local_files(tmp_path: Path) -> None:
    """The layout of slackapi/manifest-schema: a root that $refs the versioned v1 file by its GitHub URL."""
    v1 = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json"
    root = tmp_path / "manifest.schema.json"
    root.write_text(json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "oneOf": [{"$ref": v1}]}))
    with pytest.raises(pytest.fail.Exception, match="validate offline"):
        manifest_validator(root)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "manifest.schema.1.0.0.json").write_text(shared_file(SCHEMA).read_text())
    assert schema_errors(manifest(), root) == []
    assert schema_errors(broken(manifest()), root)


def test_display_information_fits_slacks_limits() -> None:
    info = manifest()["display_information"]
    # The schema keeps this pattern under a non-standard "regex" keyword, so jsonschema does not enforce it.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    assert 175 <= len(info["long_description"]) <= 4000
    assert manifest()["features"]["bot_user"]["display_name"]


# -- settings --------------------------------------------------------------------------------------


def request_urls() -> list[str]:
    m = manifest()
    return [
        *(command.get("url") for command in m["features"].get("slash_commands", [])),
        m["settings"]["event_subscriptions"].get("request_url"),
        m["settings"]["interactivity"].get("request_url"),
    ]


def test_http_mode_every_request_url_is_the_bolt_endpoint() -> None:
    """Socket Mode is off, so Slack needs a URL for events, interactivity and each command: Bolt's one path."""
    assert manifest()["settings"]["socket_mode_enabled"] is False
    for url in request_urls():
        assert url is not None, "with Socket Mode off every surface needs a request URL"
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname and parts.path == EVENTS_PATH, url
    assert len(set(request_urls())) == 1, "one host for every surface"


def test_org_wide_deployment() -> None:
    """admin.* scopes only work on an install on the whole Enterprise org."""
    assert manifest()["settings"]["org_deploy_enabled"] is True
    assert any(scope.startswith("admin.") for scope in manifest()["oauth_config"]["scopes"]["user"])


def test_slash_command_is_escaped_and_its_hint_names_real_subcommands() -> None:
    (command,) = manifest()["features"]["slash_commands"]
    assert command["command"] == "/invites"
    # The parser reads channels as <#C…|name> and emails as <mailto:…>: Slack only sends those when escaping.
    assert command["should_escape"] is True
    known = set(re.findall(r"/invites (\w+)", USAGE))
    hinted = set(re.findall(r"[a-z]+", command["usage_hint"]))
    assert hinted and hinted <= known, hinted - known
    assert known <= hinted, f"usage_hint leaves out {known - hinted}"


def test_home_tab_is_on_for_app_home_opened() -> None:
    assert "app_home_opened" in manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True


# -- listeners ---------------------------------------------------------------------------------------

# App's listener decorators; the first argument of each is what it matches (a name, a pattern or constraints).
LISTENER_DECORATORS = (
    "command",
    "event",
    "message",
    "action",
    "block_action",
    "attachment_action",
    "view",
    "view_submission",
    "view_closed",
    "shortcut",
    "global_shortcut",
    "message_shortcut",
    "options",
    "block_suggestion",
    "dialog_submission",
    "dialog_cancellation",
    "dialog_suggestion",
    "function",
)
INTERACTIVE = frozenset(LISTENER_DECORATORS) - {"command", "event", "message", "function"}


@dataclass
class Registered:
    app: App
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Any]:
        return [what for kind, what in self.calls if kind in kinds]

    def names(self, *kinds: str, key: str) -> set[str]:
        """The plain names registered; a regex or a constraint this test cannot read fails it (extend it then)."""
        found = set()
        for what in self.of(*kinds):
            if isinstance(what, dict):
                what = what.get(key)
            assert isinstance(what, str), f"cannot compare a {kinds} listener on {what!r} with the manifest"
            found.add(what)
        return found


@pytest.fixture
def registered(fake: FakeSlack, database_url: str) -> Iterator[Registered]:
    """The real Bolt app, built by app.slack.bolt.build_app, with every listener registration recorded."""
    calls: list[tuple[str, Any]] = []
    runtime = build_runtime(make_settings(fake, database_url))
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in LISTENER_DECORATORS:
                original = getattr(App, name)

                def spy(self: App, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                    calls.append((_name, args[0] if args else next(iter(kwargs.values()), None)))
                    return _original(self, *args, **kwargs)

                patch.setattr(App, name, spy)
            app = build_app(runtime)
        yield Registered(app, calls)
    finally:
        runtime.close()


def manifest_events() -> set[str]:
    subscriptions = manifest()["settings"]["event_subscriptions"]
    return {*subscriptions.get("bot_events", []), *subscriptions.get("user_events", [])}


def matches_a_listener(app: App, body: dict[str, Any] | str) -> bool:
    request = BoltRequest(body=body if isinstance(body, str) else json.dumps(body))
    return any(listener.matches(req=request, resp=BoltResponse(status=200)) for listener in app._listeners)


def command_body(command: str) -> str:
    return urlencode({"command": command, "text": "", "user_id": "U0APPROV01", "team_id": "T0ALPHA01", "response_url": "x"})


def event_body(event_type: str) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T0ALPHA01", "event": {"type": event_type, "user": "U0APPROV01"}}


def test_every_registration_went_through_a_known_decorator(registered: Registered) -> None:
    """Otherwise a listener (a workflow step, say) would escape the comparisons below."""
    assert len(registered.app._listeners) == len(registered.calls)


def test_slash_commands_match_the_listeners(registered: Registered) -> None:
    declared = {command["command"] for command in manifest()["features"].get("slash_commands", [])}
    assert registered.names("command", key="command") == declared
    for command in declared:
        assert matches_a_listener(registered.app, command_body(command)), command
    assert not matches_a_listener(registered.app, command_body("/not-invites"))


def test_events_match_the_listeners(registered: Registered) -> None:
    listened = registered.names("event", key="type")
    declared = manifest_events()
    if registered.of("message"):  # message listeners need one of the message.* subscriptions
        listened.add("message")
        assert any(event.startswith("message.") for event in declared)
        declared = {event for event in declared if not event.startswith("message.")} | {"message"}
    assert listened == declared
    for event in declared - {"message"}:
        assert matches_a_listener(registered.app, event_body(event)), event
    assert not matches_a_listener(registered.app, event_body("member_joined_channel"))


def test_interactivity_matches_the_listeners(registered: Registered) -> None:
    interactivity = manifest()["settings"]["interactivity"]
    assert interactivity["is_enabled"] is bool(registered.of(*INTERACTIVE))
    shortcuts = {s["callback_id"] for s in manifest()["features"].get("shortcuts", [])}
    assert registered.names("shortcut", "global_shortcut", "message_shortcut", key="callback_id") == shortcuts
    # External select menus load their options from this URL.
    assert ("message_menu_options_url" in interactivity) is bool(registered.of("options", "block_suggestion"))


# -- scopes ----------------------------------------------------------------------------------------


def normalized(scope: str) -> str:
    """openapi.json predates granular bot scopes: chat:write:bot / chat:write:user are today's chat:write."""
    return "chat:write" if scope in ("chat:write:bot", "chat:write:user") else scope


def method_scopes(method: str) -> set[str]:
    """Scopes that allow a Web API method (any one suffices); empty for methods that need none."""
    operations = openapi()["paths"].get(f"/{method}")
    if method in NOT_IN_OPENAPI:
        assert not operations, f"{method} is in openapi.json now: drop it from NOT_IN_OPENAPI"
        return set(NOT_IN_OPENAPI[method])
    assert operations, f"{method} is not in openapi.json"
    operation = operations.get("post") or operations.get("get")
    return {normalized(scope) for scope in operation["security"][0]["slackAuth"] if scope != "none"}


@cache
def client_method_name(attribute: str) -> str | None:
    """'admin_users_invite' → 'admin.users.invite', read from slack_sdk's own WebClient method; None if not one."""
    function = getattr(WebClient, attribute, None)
    if not callable(function) or attribute.startswith("_") or attribute == "api_call":
        return None
    try:
        found = re.search(r"api_call\(\s*\"([^\"]+)\"", inspect.getsource(function))
    except (OSError, TypeError):
        return None
    return found.group(1) if found else None


def gateway_calls() -> dict[str, set[str]]:
    """The Web API methods app/slack/api/gateway.py calls, by token ("user" for the admin client, "bot").

    A method is named either as a string ("chat.postMessage", handed to api_call through a helper) or as a WebClient
    method (self._admin.admin_users_invite). It is called with the token(s) of the function naming it: the clients
    that function uses, directly (self._admin, self._bot) or through the gateway's own helpers (self._bot_call).
    """
    tree = ast.parse(GATEWAY.read_text())
    paths = openapi()["paths"]
    functions: dict[str, ast.FunctionDef] = {}
    owners: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    functions[f"{node.name}.{item.name}"] = item
                    owners[f"{node.name}.{item.name}"] = node.name
    for item in tree.body:
        if isinstance(item, ast.FunctionDef):
            functions[item.name] = item

    def self_attributes(function: ast.FunctionDef) -> set[str]:
        return {
            node.attr
            for node in ast.walk(function)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
        }

    tokens = {name: {CLIENT_TOKENS[a] for a in self_attributes(f) if a in CLIENT_TOKENS} for name, f in functions.items()}
    changed = True
    while changed:  # a function uses the tokens of the gateway helpers it calls
        changed = False
        for name, function in functions.items():
            if name not in owners:
                continue
            for attribute in self_attributes(function):
                helper = f"{owners[name]}.{attribute}"
                if helper in tokens and not tokens[helper] <= tokens[name]:
                    tokens[name] |= tokens[helper]
                    changed = True

    calls: dict[str, set[str]] = {"user": set(), "bot": set()}
    for name, function in functions.items():
        named = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                f"/{node.value}" in paths or node.value in NOT_IN_OPENAPI
            ):
                named.add(node.value)
            elif isinstance(node, ast.Attribute) and (method := client_method_name(node.attr)):
                named.add(method)
            elif isinstance(node, ast.Attribute) and node.attr in SEVERAL_CALLS:
                named.update(SEVERAL_CALLS[node.attr])
        if named:
            assert tokens[name], f"{name} in gateway.py names {sorted(named)} but uses neither client"
            for token in tokens[name]:
                calls[token] |= named
    return calls


def declared_scopes(token: str) -> set[str]:
    return set(manifest()["oauth_config"]["scopes"].get(token, []))


def event_scopes(token: str) -> set[str]:
    subscriptions = manifest()["settings"]["event_subscriptions"]
    events = subscriptions.get("user_events" if token == "user" else "bot_events", [])
    unknown = set(events) - set(EVENT_SCOPES)
    assert not unknown, f"add the scope each of {unknown} needs to EVENT_SCOPES"
    return {scope for event in events if (scope := EVENT_SCOPES[event])}


def test_the_gateway_scan_finds_the_calls_we_know_of() -> None:
    """A floor, so a broken scan cannot pass silently; new calls are welcome and are checked below."""
    calls = gateway_calls()
    assert {
        "admin.inviteRequests.list",
        "admin.inviteRequests.approve",
        "admin.inviteRequests.deny",
        "admin.inviteRequests.approved.list",
        "admin.inviteRequests.denied.list",
        "admin.users.invite",
        "auth.test",
    } <= calls["user"]
    assert {
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "views.open",
        "views.update",
        "views.publish",
        "usergroups.users.list",
        "conversations.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    } <= calls["bot"]
    assert not {m for m in calls["bot"] if m.startswith("admin.")}, "admin.* methods need the admin's user token"


@pytest.mark.parametrize("token", ["user", "bot"])
def test_every_called_method_is_covered_by_a_declared_scope(token: str) -> None:
    declared = declared_scopes(token)
    uncovered = {
        method: sorted(scopes)
        for method in sorted(gateway_calls()[token])
        if (scopes := method_scopes(method)) and not scopes & declared
    }
    assert uncovered == {}, f"{token} scopes in manifest.yml cover none of these methods' scopes"


@pytest.mark.parametrize("token", ["user", "bot"])
def test_events_are_covered_by_a_declared_scope(token: str) -> None:
    assert event_scopes(token) <= declared_scopes(token)


@pytest.mark.parametrize("token", ["user", "bot"])
def test_no_scope_is_declared_that_nothing_needs(token: str) -> None:
    needed = set().union(*(method_scopes(method) for method in gateway_calls()[token])) | event_scopes(token)
    if token == "bot" and manifest()["features"].get("slash_commands"):
        needed.add(COMMAND_SCOPE)
    assert declared_scopes(token) - needed == set()
    assert not manifest()["oauth_config"]["scopes"].get(f"{token}_optional"), "optional scopes are not checked here"


def test_commands_scope_goes_with_slash_commands() -> None:
    assert (COMMAND_SCOPE in declared_scopes("bot")) is bool(manifest()["features"].get("slash_commands"))


def test_only_the_gateway_calls_slack() -> None:
    """The scope checks read gateway.py alone; that holds only while no other module calls the Web API (client.py only
    builds the clients and counts their calls)."""
    client_call = re.compile(r"\.(api_call|[a-z]+_[a-zA-Z_]+)\(")
    bolt_helpers = re.compile(r"(?<![.\w])(say|respond)\(|(?<![.\w])client\.")  # listener arguments that call Slack themselves
    offenders = []
    for path in sorted((REPO / "app").rglob("*.py")):
        if path in (GATEWAY, CLIENT) or "sandbox" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in client_call.finditer(line):
                name = match.group(1)
                if name == "api_call" or client_method_name(name):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
            if bolt_helpers.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
