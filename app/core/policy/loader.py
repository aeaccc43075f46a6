"""Reading a policy file (INVITES_POLICY): load() turns its YAML into a Policy, or names every problem in it.

load() reads the YAML file through PyYAML's node API, so that every problem it finds names its line; it reports all
of them at once (PolicyError.problems, each `<file>:<line>: <what is wrong>`). A rule without `when` matches every
request; an empty `when` is refused, since it is most often conditions left out by mistake.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Callable

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.core import domains
from app.core.policy.rules import Conditions, Mode, Policy, Rule, Then

MAX_APPROVALS = 10  # require_approvals: more different approvers than this is a typo, not a policy
# Nesting a policy file may have (it needs five: rules, a rule, when, a condition, its list); more is refused early.
MAX_DEPTH = 20
MAX_REASON = 2000  # a deny rule's reason, as long as the Deny modal lets a person write
INVITE_TYPES = ("full_member", "restricted", "ultra_restricted")
_TOP_KEYS = ("mode", "rules")
_RULE_KEYS = ("name", "when", "then", "reason", "count")
_WHEN_KEYS = ("email_domain", "invite_type", "team", "requester", "reason_present", "channels")
_THENS = ", ".join(then.value for then in Then)
# Stored as the decider's id (decision_log.actor_id) when the rule decides, so short and plain.
_RULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
TEAM_ID = re.compile(r"^T[A-Z0-9]{2,}$")
REQUESTER_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"


class PolicyError(Exception):
    """The policy file cannot be used; `problems` holds every reason, each `<file>:<line>: <what is wrong>`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def load(path: Path | str) -> Policy:
    """Read and check a policy file; PolicyError lists every problem found in it, each with its line."""
    shown = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError([f"{shown}: cannot be read: {_os_reason(exc)}"]) from None
    digest = hashlib.sha256(data).hexdigest()[:12]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError([f"{shown}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}): save the file as UTF-8"]) from None
    try:
        too_deep = _too_deep(text)
        if too_deep is not None:
            raise PolicyError([f"{shown}:{too_deep}: nested more than {MAX_DEPTH} levels deep; a policy needs only a few"])
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PolicyError([f"{shown}:{mark.line + 1 if mark else 1}: not valid YAML: {_yaml_reason(exc)}"]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control character, say)
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)  # a code point for text
        what = f"character #x{code:04x}"
        raise PolicyError([f"{shown}:{line}: not valid YAML: {what} is not allowed (a control character?)"]) from None
    return _Reader(shown).policy(root, digest)


def _too_deep(text: str) -> int | None:
    """The line where the YAML nests deeper than MAX_DEPTH, read event by event (composing it would recurse that deep)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark.line + 1 if event.start_mark is not None else 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def _yaml_reason(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "it cannot be parsed"
    if "'\\t'" in problem:
        return "a tab character: YAML indents with spaces only"
    return f"{exc.context}, {problem}" if exc.context else problem


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "empty" if node.tag == _NULL else f"{node.value!r}"


def _scalar(node: Node, tag: str) -> object:
    """A scalar's value when YAML reads it as `tag` (an int or a bool), else None: '2' in quotes is text, not a number."""
    if not isinstance(node, ScalarNode) or node.tag != tag:
        return None
    try:
        value = SafeConstructor().construct_object(node)
    except (ValueError, KeyError, yaml.YAMLError):  # `!!int x`, `!!bool maybe`
        return None
    return value if tag != _INT or not isinstance(value, bool) else None


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


class _Reader:
    """Walks the YAML node tree, collecting every problem with its line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[tuple[int, str]] = []

    def problem(self, at: Node | int, what: str) -> None:
        self.found.append((at if isinstance(at, int) else _line(at), what))

    def policy(self, root: Node | None, digest: str) -> Policy:
        if root is None:
            self.problem(1, "the file is empty: it should hold `mode` and a list of `rules`")
        elif not isinstance(root, MappingNode):
            self.problem(root, f"the file should be a mapping with `mode` and `rules`, not {_kind(root)}")
        else:
            entries = self.entries(root, "", _TOP_KEYS, "top-level key")
            mode = self.mode(entries.get("mode"))
            rules = self.rules(entries.get("rules"), root)
            if not self.found:
                return Policy(mode=mode, rules=rules, path=self.path, digest=digest)
        self.found.sort(key=lambda found: found[0])  # stable: within a line, in the order found
        raise PolicyError([f"{self.path}:{line}: {what}" for line, what in self.found])

    def entries(self, node: MappingNode, label: str, known: tuple[str, ...], word: str) -> dict[str, tuple[Node, Node]]:
        """A mapping's keys and values, each key once; unknown and repeated keys are problems."""
        entries: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if not isinstance(name, str) or name not in known:
                shown = repr(name) if isinstance(name, str) else _kind(key)
                hint = _did_you_mean(name, known) if isinstance(name, str) else ""
                self.problem(key, f"{label}unknown {word} {shown}: {hint}expected {', '.join(known)}")
            elif name in entries:
                self.problem(key, f"{label}{name} is given twice (first at line {_line(entries[name][0])})")
            else:
                entries[name] = (key, value)
        return entries

    def mode(self, entry: tuple[Node, Node] | None) -> Mode:
        if entry is None:
            return Mode.SHADOW
        value = entry[1]
        text = value.value if isinstance(value, ScalarNode) and value.tag != _NULL else None
        if text not in (Mode.SHADOW.value, Mode.ENFORCE.value):
            self.problem(value, f"mode is {_kind(value)}: write shadow (say what a rule would do) or enforce (let rules decide)")
            return Mode.SHADOW
        return Mode(text)

    def rules(self, entry: tuple[Node, Node] | None, root: MappingNode) -> tuple[Rule, ...]:
        if entry is None:
            self.problem(root, "no `rules`: add a list of rules, each with a name, when and then")
            return ()
        value = entry[1]
        if not isinstance(value, SequenceNode):
            if isinstance(value, ScalarNode) and value.tag == _NULL:
                self.problem(value, "rules is empty: add at least one rule, or unset INVITES_POLICY")
            else:
                self.problem(value, f"rules should be a list of rules (each starting with '- name:'), not {_kind(value)}")
            return ()
        if not value.value:
            self.problem(value, "rules is empty: add at least one rule, or unset INVITES_POLICY")
        rules: list[Rule] = []
        names: dict[str, int] = {}
        catch_all: Rule | None = None
        for index, node in enumerate(value.value, start=1):
            rule = self.rule(index, node, names, catch_all)
            if rule is not None:
                rules.append(rule)
                if rule.when == Conditions() and catch_all is None:
                    catch_all = rule
        return tuple(rules)

    def rule(self, index: int, node: Node, names: dict[str, int], catch_all: Rule | None) -> Rule | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"rule {index} should be a mapping with name, when and then, not {_kind(node)}")
            return None
        given = next((v.value for k, v in node.value if isinstance(k, ScalarNode) and k.value == "name" and isinstance(v, ScalarNode)), "")
        # Messages name the rule by its name, or by its place while it has no usable one.
        label = f"rule {given}: " if _RULE_NAME.match(given) and given.lower() not in names else f"rule {index}: "
        entries = self.entries(node, label, _RULE_KEYS, "key")
        name = self.name(index, entries.get("name"), node, names)
        then = self.then(label, entries.get("then"), node)
        reason = self.reason(label, then, entries.get("reason"), node)
        count = self.count(label, then, entries.get("count"), node)
        when = self.when(label, entries.get("when"))
        if catch_all is not None:
            self.problem(node, f"{label}it can never match: rule {catch_all.name} (line {catch_all.line}) has no `when`, "
                               "so it matches every request first")
        if name is None or then is None or when is None:
            return None
        return Rule(name=name, when=when, then=then, reason=reason, count=count, line=_line(node))

    def name(self, index: int, entry: tuple[Node, Node] | None, rule: MappingNode, names: dict[str, int]) -> str | None:
        label = f"rule {index}: "
        if entry is None:
            self.problem(rule, f"{label}it has no name: add `name:` (up to 32 letters, digits, '-', '_' or '.')")
            return None
        value = entry[1]
        if not isinstance(value, ScalarNode) or value.tag == _NULL or not value.value.strip():
            self.problem(value, f"{label}name is {_kind(value) if not isinstance(value, ScalarNode) else 'empty'}: "
                                "write up to 32 letters, digits, '-', '_' or '.'")
            return None
        name = value.value
        if len(name) > 32:
            self.problem(value, f"{label}name {name!r} is longer than 32 characters (it is stored as the decider's id)")
            return None
        if not _RULE_NAME.match(name):
            self.problem(value, f"{label}name {name!r} may hold only letters, digits, '-', '_' and '.' (it is stored as the decider's id)")
            return None
        first = names.get(name.lower())
        if first is not None:
            self.problem(value, f"{label}the name {name} is already used by the rule at line {first}")
            return None
        names[name.lower()] = _line(rule)
        return name

    def then(self, label: str, entry: tuple[Node, Node] | None, rule: MappingNode) -> Then | None:
        if entry is None:
            self.problem(rule, f"{label}it has no `then`: write {_THENS}")
            return None
        value = entry[1]
        text = value.value if isinstance(value, ScalarNode) and value.tag != _NULL else None
        if text not in {then.value for then in Then}:
            hint = _did_you_mean(text, tuple(then.value for then in Then)) if text else ""
            self.problem(value, f"{label}then is {_kind(value)}: {hint}write {_THENS}")
            return None
        return Then(text)

    def reason(self, label: str, then: Then | None, entry: tuple[Node, Node] | None, rule: MappingNode) -> str | None:
        if then is not None and then is not Then.DENY:
            if entry is not None:
                self.problem(entry[0], f"{label}reason is only for deny rules (this rule's then is {then.value})")
            return None
        if entry is None:
            if then is Then.DENY:
                self.problem(rule, f"{label}a deny rule needs a `reason`: the requester is told it")
            return None
        value = entry[1]
        if not isinstance(value, ScalarNode):
            self.problem(value, f"{label}reason should be text, not {_kind(value)}")
            return None
        text = value.value.strip() if value.tag != _NULL else ""
        if not text:
            self.problem(value, f"{label}reason is empty: write what the requester should be told")
            return None
        if len(text) > MAX_REASON:
            self.problem(value, f"{label}reason is {len(text)} characters long: at most {MAX_REASON}")
            return None
        return text

    def count(self, label: str, then: Then | None, entry: tuple[Node, Node] | None, rule: MappingNode) -> int | None:
        wanted = f"a whole number of different approvers from 2 to {MAX_APPROVALS}"
        if then is not None and then is not Then.REQUIRE_APPROVALS:
            if entry is not None:
                self.problem(entry[0], f"{label}count is only for require_approvals rules (this rule's then is {then.value})")
            return None
        if entry is None:
            if then is Then.REQUIRE_APPROVALS:
                self.problem(rule, f"{label}require_approvals needs `count`: {wanted}")
            return None
        value = entry[1]
        number = _scalar(value, _INT)
        if not isinstance(number, int):
            self.problem(value, f"{label}count is {_kind(value)}: write {wanted}")
            return None
        if number < 2:
            self.problem(value, f"{label}count is {number}: write {wanted} (one approval is what happens without a rule)")
            return None
        if number > MAX_APPROVALS:
            self.problem(value, f"{label}count is {number}: at most {MAX_APPROVALS} different approvers")
            return None
        return int(number)

    def when(self, label: str, entry: tuple[Node, Node] | None) -> Conditions | None:
        """No `when` is a rule for every request; an empty one is a problem (conditions left out by mistake)."""
        if entry is None:
            return Conditions()
        value = entry[1]
        if (isinstance(value, ScalarNode) and value.tag == _NULL) or (isinstance(value, MappingNode) and not value.value):
            self.problem(value, f"{label}when is empty: add conditions, or leave `when` out for a rule that matches every request")
            return None
        if not isinstance(value, MappingNode):
            self.problem(value, f"{label}when should be a mapping of conditions (such as email_domain: [example.com]), not {_kind(value)}")
            return None
        before = len(self.found)
        entries = self.entries(value, label, _WHEN_KEYS, "condition")
        found: dict[str, object] = {}
        for name, (_key, node) in entries.items():
            if name == "reason_present":
                present = _scalar(node, _BOOL)
                if not isinstance(present, bool):
                    self.problem(node, f"{label}reason_present is {_kind(node)}: write true or false")
                else:
                    found[name] = present
            else:
                found[name] = self.ids(label, name, node)
        if len(self.found) > before:
            return None
        return Conditions(**found)  # type: ignore[arg-type]

    def ids(self, label: str, name: str, node: Node) -> tuple[str, ...]:
        """A condition's list (a single value counts as a list of one), each item checked."""
        if isinstance(node, ScalarNode) and node.tag != _NULL:
            items: list[Node] = [node]
        elif isinstance(node, SequenceNode):
            items = list(node.value)
        elif isinstance(node, MappingNode):
            self.problem(node, f"{label}{name} should be a list, not a mapping")
            return ()
        else:
            items = []
        if not items:
            self.problem(node, f"{label}{name} is empty: list at least one, or leave the condition out")
            return ()
        values: list[str] = []
        for item in items:
            text = item.value if isinstance(item, ScalarNode) and item.tag != _NULL else None
            problem = _ITEM_CHECKS[name](text) if text is not None else f"{_kind(item)} is not a value"
            if problem:
                self.problem(item, f"{label}{name}: {problem}")
            else:
                assert text is not None  # a missing value is always a problem
                value = domains.pattern(text) if name == "email_domain" else text
                assert value is not None  # a domain that is none is a problem above
                values.append(value)
        return tuple(values)


def _domain_problem(text: str) -> str | None:
    if "@" in text:
        domain = text.rsplit("@", 1)[1] or "example.com"
        return f"{text!r} is an email address: write only its domain, {domain}"
    if any(c.isspace() for c in text) or not text:
        return f"{text!r} has a space in it: write a domain like example.com or *.example.com"
    if "*" in text and not (text.startswith("*.") and "*" not in text[2:]):
        return f"{text!r}: a wildcard may only stand at the start, as *. (as in *.example.com, any subdomain)"
    if domains.pattern(text) is None:  # stored as requests are matched: ASCII (A-label) form, lower case
        return f"{text!r} is not a domain like example.com or *.example.com"
    return None


def _invite_type_problem(text: str) -> str | None:
    if text in INVITE_TYPES:
        return None
    return f"{text!r} is not an invite type: {_did_you_mean(text, INVITE_TYPES)}write {', '.join(INVITE_TYPES)}"


def _team_problem(text: str) -> str | None:
    if TEAM_ID.match(text):
        return None
    if text.startswith("E"):
        return f"{text!r} is the Enterprise org, not a workspace: write workspace ids (T…)"
    return f"{text!r} is not a workspace id (T…)"


def _requester_problem(text: str) -> str | None:
    if REQUESTER_ID.match(text):
        return None
    if text.startswith("@"):
        return f"{text!r} is a name: write the user id (U…/W…) or user-group id (S…)"
    if re.match(r"^S[A-Z0-9]{2,}@", text):
        return f"{text!r}: write the user-group id alone ({text.split('@', 1)[0]})"
    return f"{text!r} is not a user id (U…/W…) or user-group id (S…)"


def _channel_problem(text: str) -> str | None:
    if CHANNEL_ID.match(text):
        return None
    if text.startswith("#"):
        return f"{text!r} is a channel's name: write its id (C…/G…, at the bottom of the channel's details)"
    return f"{text!r} is not a channel id (C…/G…)"


_ITEM_CHECKS: dict[str, Callable[[str], str | None]] = {
    "email_domain": _domain_problem,
    "invite_type": _invite_type_problem,
    "team": _team_problem,
    "requester": _requester_problem,
    "channels": _channel_problem,
}
