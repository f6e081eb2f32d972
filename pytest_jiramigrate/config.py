"""Readiness configuration: the Cloud target, e-mail domain lists, per-rule thresholds
and custom SQL rules.

Read from ``--jira-config``, the ``jira_config`` ini key, or ``jiramigrate.yaml``
in the rootdir.  Every key has a documented built-in default.

The file decides whether a migration gate passes, so a typo must never be
silently ignored: every unknown key, wrong type and bad value is a
:class:`ConfigError` naming the file, the line and the dotted key.  The file is
also untrusted input (it travels with customer data), so only plain YAML is
accepted: no anchors or aliases, no custom tags, bounded size and nesting.
"""

from __future__ import annotations

import difflib
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_jiramigrate.core.emails import DEFAULT_DENY_DOMAINS
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.core.sizes import format_size, parse_size
from pytest_jiramigrate.rules.base import SEVERITIES, Rule, RuleSettings, Threshold
from pytest_jiramigrate.rules.custom import (
    QueryBudget,
    custom_rule_entry,
    format_problem,
    sql_rule,
)

Plan = Literal["free", "standard", "premium", "enterprise"]
Billing = Literal["monthly", "annual"]
UsersStrategy = Literal["merge", "overwrite"]

PLANS: tuple[str, ...] = get_args(Plan)
BILLINGS: tuple[str, ...] = get_args(Billing)
USERS_STRATEGIES: tuple[str, ...] = get_args(UsersStrategy)

#: The file looked for in the rootdir when neither option nor ini key names one.
DEFAULT_CONFIG_NAME = "jiramigrate.yaml"

#: A real configuration is a few kilobytes; anything bigger is a mistake or an attack.
MAX_CONFIG_BYTES = 1_000_000

#: The schema nests four levels deep; deeper input would only exhaust the recursive composer.
MAX_NESTING = 16

#: Groups every Jira Cloud site has; merging users merges same-named groups.
DEFAULT_CLOUD_GROUPS: tuple[str, ...] = (
    "site-admins",
    "system-administrators",
    "atlassian-addons",
    "atlassian-addons-admin",
    "administrators",
    "jira-software-users",
    "jira-core-users",
    "jira-servicemanagement-users",
    "jira-work-management-users",
    "confluence-users",
)


class ConfigError(Exception):
    """The configuration cannot be used; the plugin reports it as a usage error.

    ``path`` is the file, ``line`` is 1-based (None when the fault is not at a
    line, e.g. a missing file) and ``key`` is the dotted key at fault, such as
    ``rules.email-unique.max_findings`` (None when no key is involved).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        location = "" if path is None else str(path)
        if line is not None:
            location = f"{location}:{line}"
        super().__init__(": ".join(part for part in (location, key, message) if part))


@dataclass(frozen=True)
class TargetSettings:
    """The Cloud site the backup is imported into (the ``target:`` section).

    ``allow_domains``/``deny_domains`` come from the ``email:`` section; they
    live here because the target is what every rule receives with its settings.
    """

    plan: Plan = "standard"
    billing: Billing = "monthly"
    #: the upper bound of the annual user tier, e.g. 200 for the 101-200 tier
    user_tier: int | None = None
    users: UsersStrategy = "merge"
    cloud_groups: tuple[str, ...] = DEFAULT_CLOUD_GROUPS
    allow_domains: tuple[str, ...] = ()
    deny_domains: tuple[str, ...] = DEFAULT_DENY_DOMAINS


@dataclass(frozen=True)
class Config:
    """The effective configuration of one run."""

    path: Path | None
    target: TargetSettings = field(default_factory=TargetSettings)
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    #: offenders listed in a failure message before "and N more"
    max_listed: int = 50
    rules: dict[str, RuleSettings] = field(default_factory=dict)
    #: the rules of the ``custom_rules:`` section, to be checked beside the hook's rules
    custom_rules: tuple[Rule, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration, as recorded in the JSON report.

        Laid out like the YAML file (plus ``path``), so an auditor can read
        which thresholds a run used and paste them back into a file.
        """
        target = self.target
        return {
            "path": None if self.path is None else str(self.path),
            "target": {
                "plan": target.plan,
                "billing": target.billing,
                "user_tier": target.user_tier,
                "users": target.users,
                "cloud_groups": list(target.cloud_groups),
            },
            "email": {
                "allow_domains": list(target.allow_domains),
                "deny_domains": list(target.deny_domains),
            },
            "archive": {
                "max_ratio": self.archive.max_ratio,
                "max_uncompressed": self.archive.max_uncompressed,
            },
            "report": {"max_listed": self.max_listed},
            "rules": {
                rule_id: {
                    "severity": settings.severity,
                    "max_findings": settings.max_findings,
                    "limits": {name: _jsonable(value) for name, value in settings.limits.items()},
                }
                for rule_id, settings in self.rules.items()
            },
            "custom_rules": [custom_rule_entry(rule) for rule in self.custom_rules],
        }

    def for_rule(self, rule_id: str) -> RuleSettings:
        """The settings ``rule_id`` runs with; every rule passed to load_config has them."""
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KeyError(f"no settings for rule {rule_id!r}: it was not loaded") from None


def find_config(explicit: str | None, ini_value: str | None, rootdir: Path) -> Path | None:
    """Choose the configuration file: ``--jira-config``, else ``jira_config``, else the default.

    A path the user gave must exist (a typo would otherwise silently run with
    defaults); the default ``jiramigrate.yaml`` is optional.  An empty ini
    value counts as unset, because that is what pytest returns for an ini key
    nobody wrote.
    """
    if explicit is not None:
        return _existing(Path(explicit).expanduser().absolute(), "--jira-config")
    if ini_value:
        given = Path(ini_value).expanduser()
        return _existing(
            given if given.is_absolute() else rootdir / given, "the jira_config ini key"
        )
    default = rootdir / DEFAULT_CONFIG_NAME
    return default if default.exists() else None


def load_config(path: Path | None, rules: Sequence[Rule]) -> Config:
    """Read and validate ``path`` (None: built-in defaults) into settings for every rule.

    ``rules`` are the rules from the ``pytest_jiramigrate_rules`` hook.  The
    file's ``custom_rules:`` are read first and become :attr:`Config.custom_rules`;
    the rest of the file is then validated against both, so that
    ``rules.<custom id>`` overrides work like those of any other rule.
    """
    document = _Document(path)
    root = None if path is None else _compose(document, _read_text(path))
    return _build_config(document, root, rules)


def _existing(path: Path, source: str) -> Path:
    if not path.exists():
        raise ConfigError(
            f"file not found (given by {source}); create it or correct the path", path=path
        )
    return path


def _jsonable(value: Any) -> Any:
    """Turn threshold tuples into lists so the report round-trips through JSON unchanged."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    return value


# --- reading and parsing --------------------------------------------------------------

_YAML_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    _YAML_TAG + name for name in ("str", "int", "float", "bool", "null")
)
_STANDARD_TAGS = frozenset(
    _YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_SECTIONS = ("target", "email", "archive", "report", "rules")
#: The one top-level key that is a list rather than a section of settings.
_CUSTOM_RULES = "custom_rules"


@dataclass(frozen=True)
class _Document:
    """The file being validated, so that every error can name it."""

    path: Path | None

    def error(self, node: Node | None, key: str | None, message: str) -> ConfigError:
        line = None if node is None else node.start_mark.line + 1
        return ConfigError(message, path=self.path, line=line, key=key)


def _read_text(path: Path) -> str:
    """Return the file's text, refusing what is missing, not a file, unreadable or too big."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            "file not found; create it or point --jira-config / jira_config at an existing file",
            path=path,
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror}", path=path) from error
    if stat.S_ISDIR(mode):
        raise ConfigError(
            f"is a directory; give the path of a YAML file such as {DEFAULT_CONFIG_NAME}",
            path=path,
        )
    if not stat.S_ISREG(mode):
        raise ConfigError("is not a regular file; give the path of a YAML file", path=path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(
            f"cannot read the file ({error.strerror}); check its permissions", path=path
        ) from error
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"larger than {format_size(MAX_CONFIG_BYTES)}; a configuration file is a few "
            "kilobytes, so this one is not parsed",
            path=path,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError("is not UTF-8 text; save it as UTF-8", path=path, line=line) from error


def _compose(document: _Document, text: str) -> Node | None:
    """Parse ``text`` into a node tree (None for an empty file) after refusing hostile YAML.

    The event stream is checked first because the composer would resolve
    aliases and recurse into nesting before any node could be inspected.
    """
    try:
        _refuse_hostile_events(document, yaml.parse(text, Loader=yaml.SafeLoader))
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise ConfigError(
            f"invalid YAML: {error.problem or error.context}",
            path=document.path,
            line=None if mark is None else mark.line + 1,
        ) from error
    except yaml.reader.ReaderError as error:
        raise ConfigError(
            f"invalid YAML: character U+{error.character:04X} is not allowed in a YAML file",
            path=document.path,
            line=text.count("\n", 0, error.position) + 1,
        ) from error


def _refuse_hostile_events(document: _Document, events: Iterable[yaml.Event]) -> None:
    depth = 0
    for event in events:
        line = None if event.start_mark is None else event.start_mark.line + 1
        if isinstance(event, (yaml.AliasEvent, yaml.NodeEvent)) and event.anchor is not None:
            raise ConfigError(
                "YAML anchors and aliases (&name, *name) are not accepted: they can expand a "
                "small file into a huge document; write each value out instead",
                path=document.path,
                line=line,
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _STANDARD_TAGS:
            raise ConfigError(
                f"YAML tag {tag!r} is not accepted; use plain values, lists and mappings",
                path=document.path,
                line=line,
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise ConfigError(
                    f"nested more than {MAX_NESTING} levels deep; this is not a configuration",
                    path=document.path,
                    line=line,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


# --- validating -----------------------------------------------------------------------

#: Turns one value node into a setting, or raises ConfigError naming its line and key.
Converter = Callable[[_Document, Node, str], Any]

_SCALARS = SafeConstructor()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _describe(node: Node) -> str:
    """Name what the user wrote, for 'expected X, got Y' messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kinds = {_NULL: "nothing", _BOOL: "true/false", _INT: "number", _FLOAT: "number", _STR: "text"}
    return f"{kinds.get(node.tag, 'value')} {node.value!r}"


def _suggestion(name: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(valid)})" if valid else ""


def _entries(document: _Document, node: Node | None, key: str) -> dict[str, tuple[Node, Node]]:
    """Map each key of a mapping node to its (key node, value node); nothing written is empty.

    Duplicate keys are refused: YAML would silently keep the last one, and
    the user would not know which threshold is in force.
    """
    if node is None or _is_null(node):
        return {}
    if not isinstance(node, MappingNode):
        raise document.error(node, key, f"expected a mapping of keys, got {_describe(node)}")
    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise document.error(key_node, key or None, "keys must be plain names")
        dotted = _join(key, key_node.value)
        if key_node.value in entries:
            first = entries[key_node.value][0].start_mark.line + 1
            raise document.error(key_node, dotted, f"duplicate key (first given on line {first})")
        entries[key_node.value] = (key_node, value_node)
    return entries


def _refuse_unknown(
    document: _Document,
    entries: Mapping[str, tuple[Node, Node]],
    valid: Sequence[str],
    key: str,
    what: str = "key",
) -> None:
    for name, (key_node, _) in entries.items():
        if name not in valid:
            raise document.error(
                key_node, _join(key, name), f"unknown {what}{_suggestion(name, valid)}"
            )


def _read_section(
    document: _Document, node: Node | None, key: str, fields: Mapping[str, Converter]
) -> dict[str, Any]:
    """Convert the keys written in one mapping; keys not written keep their defaults."""
    entries = _entries(document, node, key)
    _refuse_unknown(document, entries, list(fields), key)
    return {
        name: fields[name](document, value_node, _join(key, name))
        for name, (_, value_node) in entries.items()
    }


def _whole_number(minimum: int) -> Converter:
    def convert(document: _Document, node: Node, key: str) -> int:
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            raise document.error(
                node, key, f"expected a whole number >= {minimum}, got {_describe(node)}"
            )
        value: int = _SCALARS.construct_yaml_int(node)
        if value < minimum:
            raise document.error(node, key, f"must be >= {minimum}, got {value}")
        return value

    return convert


def _optional(convert: Converter) -> Converter:
    """Accept an explicit null (``~`` or nothing) as "not set", for a setting defaulting to None."""

    def convert_or_none(document: _Document, node: Node, key: str) -> Any:
        return None if _is_null(node) else convert(document, node, key)

    return convert_or_none


def _size(document: _Document, node: Node, key: str) -> int:
    if isinstance(node, ScalarNode) and node.tag in (_INT, _STR):
        try:
            return parse_size(_SCALARS.construct_yaml_int(node) if node.tag == _INT else node.value)
        except ValueError as error:
            raise document.error(node, key, str(error)) from error
    raise document.error(node, key, f"expected a size such as 10GB, got {_describe(node)}")


def _text(document: _Document, node: Node, key: str) -> str:
    """The text as written: ``off``, ``no`` and ``7.6`` stay text, not YAML 1.1 booleans/numbers."""
    if not isinstance(node, ScalarNode) or _is_null(node):
        raise document.error(node, key, f"expected text, got {_describe(node)}")
    value: str = node.value
    return value


def _boolean(document: _Document, node: Node, key: str) -> bool:
    if not isinstance(node, ScalarNode) or node.tag != _BOOL:
        raise document.error(node, key, f"expected true or false, got {_describe(node)}")
    value: bool = _SCALARS.construct_yaml_bool(node)
    return value


def _choice(choices: Sequence[str]) -> Converter:
    def convert(document: _Document, node: Node, key: str) -> str:
        value = _text(document, node, key)
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise document.error(
                node, key, f"expected one of {', '.join(choices)}, got {value!r}{hint}"
            )
        return value

    return convert


def _names(document: _Document, node: Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        raise document.error(
            node, key, f"expected a list such as [a, b] ([] for none), got {_describe(node)}"
        )
    return tuple(_text(document, item, f"{key}[{index}]") for index, item in enumerate(node.value))


def _domains(document: _Document, node: Node, key: str) -> tuple[str, ...]:
    """A list of e-mail domains, lower-cased because domains compare case-insensitively."""
    domains = _names(document, node, key)
    for index, (item, domain) in enumerate(zip(node.value, domains, strict=True)):
        if not domain or "@" in domain or any(char.isspace() for char in domain):
            raise document.error(
                item, f"{key}[{index}]", f"expected a domain such as corp.example, got {domain!r}"
            )
    return tuple(domain.lower() for domain in domains)


_TARGET_FIELDS: dict[str, Converter] = {
    "plan": _choice(PLANS),
    "billing": _choice(BILLINGS),
    "user_tier": _optional(_whole_number(minimum=1)),
    "users": _choice(USERS_STRATEGIES),
    "cloud_groups": _names,
}
_EMAIL_FIELDS: dict[str, Converter] = {"allow_domains": _domains, "deny_domains": _domains}
_ARCHIVE_FIELDS: dict[str, Converter] = {
    "max_ratio": _whole_number(minimum=1),
    "max_uncompressed": _size,
}
_REPORT_FIELDS: dict[str, Converter] = {"max_listed": _whole_number(minimum=0)}

_THRESHOLD_CONVERTERS: dict[str, Converter] = {
    "int": _whole_number(minimum=0),
    "size": _size,
    "str": _text,
    "bool": _boolean,
    "list": _names,
}


def _threshold_converter(threshold: Threshold) -> Converter:
    if threshold.kind == "choice":
        return _choice(threshold.choices)
    return _THRESHOLD_CONVERTERS[threshold.kind]


def _rule_fields(rule: Rule) -> dict[str, Converter]:
    return {
        "severity": _choice(SEVERITIES),
        "max_findings": _whole_number(minimum=0),
        **{threshold.name: _threshold_converter(threshold) for threshold in rule.thresholds},
    }


def _read_rules(
    document: _Document,
    node: Node | None,
    rules: Sequence[Rule],
    target: TargetSettings,
    default_max_findings: Mapping[str, int],
) -> dict[str, RuleSettings]:
    """Settings for every rule: its defaults, overridden by what ``rules.<id>`` says.

    ``max_findings`` defaults to 0 unless ``default_max_findings`` (what a
    custom rule's entry declares) says otherwise.
    """
    entries = _entries(document, node, "rules")
    _refuse_unknown(document, entries, [rule.id for rule in rules], "rules", what="rule id")
    settings: dict[str, RuleSettings] = {}
    for rule in rules:
        written = entries.get(rule.id)
        overrides = _read_section(
            document,
            None if written is None else written[1],
            f"rules.{rule.id}",
            _rule_fields(rule),
        )
        severity = overrides.pop("severity", rule.severity)
        max_findings = overrides.pop("max_findings", default_max_findings.get(rule.id, 0))
        settings[rule.id] = RuleSettings(
            severity=severity,
            max_findings=max_findings,
            limits=MappingProxyType({**rule.defaults(), **overrides}),
            target=target,
        )
    return settings


def _build_config(document: _Document, root: Node | None, rules: Sequence[Rule]) -> Config:
    if root is not None and not _is_null(root) and not isinstance(root, MappingNode):
        raise document.error(
            root,
            None,
            f"the top level must be a mapping of sections ({', '.join(_SECTIONS)}) "
            f"and an optional {_CUSTOM_RULES} list",
        )
    sections = _entries(document, root, "")
    _refuse_unknown(document, sections, [*_SECTIONS, _CUSTOM_RULES], "", what="section")

    def section(name: str) -> Node | None:
        written = sections.get(name)
        return None if written is None else written[1]

    custom = _read_custom_rules(document, section(_CUSTOM_RULES), rules)
    target = TargetSettings(
        **_read_section(document, section("target"), "target", _TARGET_FIELDS),
        **_read_section(document, section("email"), "email", _EMAIL_FIELDS),
    )
    every_rule = [*rules, *(rule for rule, _ in custom)]
    max_findings = {rule.id: written for rule, written in custom if written is not None}
    return Config(
        path=document.path,
        target=target,
        archive=ArchiveLimits(
            **_read_section(document, section("archive"), "archive", _ARCHIVE_FIELDS)
        ),
        # the report section's only key has the name of the Config field it sets
        **_read_section(document, section("report"), "report", _REPORT_FIELDS),
        rules=_read_rules(document, section("rules"), every_rule, target, max_findings),
        custom_rules=tuple(rule for rule, _ in custom),
    )


# --- custom rules ---------------------------------------------------------------------

#: Rule ids are public and name test items: lower-case words joined by hyphens.
_RULE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

_REQUIRED_CUSTOM_KEYS = ("id", "title", "why", "fix", "sql")


def _rule_id(document: _Document, node: Node, key: str) -> str:
    value = _text(document, node, key)
    if not _RULE_ID.fullmatch(value):
        raise document.error(
            node, key, f"expected a kebab-case id such as no-contractor-accounts, got {value!r}"
        )
    return value


def _finding_format(document: _Document, node: Node, key: str) -> str:
    value = _text(document, node, key)
    problem = format_problem(value)
    if problem is not None:
        raise document.error(node, key, problem)
    return value


#: A custom query's time budget: seconds (``30``, ``30s``, ``0.5s``) or minutes (``2m``).
_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>s|m)?")


def _duration(document: _Document, node: Node, key: str) -> float:
    """Seconds, from ``30``, ``30s``, ``0.5s`` or ``2m``; more than zero."""
    written = node.value if isinstance(node, ScalarNode) and not _is_null(node) else None
    match = _DURATION.fullmatch(written.strip()) if isinstance(written, str) else None
    if match is None:
        raise document.error(
            node, key, f"expected a duration such as 30s or 2m, got {_describe(node)}"
        )
    seconds = float(match["number"]) * (60 if match["unit"] == "m" else 1)
    if seconds <= 0:
        raise document.error(node, key, f"must be more than 0 seconds, got {written}")
    return seconds


_CUSTOM_RULE_FIELDS: dict[str, Converter] = {
    "id": _rule_id,
    "title": _text,
    "severity": _choice(SEVERITIES),
    "why": _text,
    "fix": _text,
    "sql": _text,
    "finding": _finding_format,
    "max_findings": _whole_number(minimum=0),
    "timeout": _duration,
    "max_rows": _whole_number(minimum=1),
}


def _read_custom_rules(
    document: _Document, node: Node | None, known: Sequence[Rule]
) -> list[tuple[Rule, int | None]]:
    """Each ``custom_rules:`` entry as a rule, with the ``max_findings`` it declares (if any).

    An id may not repeat one of ``known`` (built-in or conftest rules) nor an
    earlier entry: the id names the test item and the ``rules.<id>`` settings.
    """
    if node is None or _is_null(node):
        return []
    if not isinstance(node, SequenceNode):
        raise document.error(
            node,
            _CUSTOM_RULES,
            f"expected a list of rules (each with {', '.join(_REQUIRED_CUSTOM_KEYS)}), "
            f"got {_describe(node)}",
        )
    known_ids = {rule.id for rule in known}
    first_line: dict[str, int] = {}
    custom: list[tuple[Rule, int | None]] = []
    for index, entry in enumerate(node.value):
        key = f"{_CUSTOM_RULES}[{index}]"
        fields = _read_section(document, entry, key, _CUSTOM_RULE_FIELDS)
        for name in _REQUIRED_CUSTOM_KEYS:
            if name not in fields:
                raise document.error(
                    entry,
                    f"{key}.{name}",
                    f"missing; every custom rule needs {', '.join(_REQUIRED_CUSTOM_KEYS)}",
                )
        id_node = _entries(document, entry, key)["id"][1]
        rule_id = fields["id"]
        if rule_id in known_ids:
            raise document.error(
                id_node, f"{key}.id", f"{rule_id!r} is already the id of a rule; choose another"
            )
        if rule_id in first_line:
            raise document.error(
                id_node,
                f"{key}.id",
                f"duplicate custom rule id {rule_id!r} (first given on line {first_line[rule_id]})",
            )
        first_line[rule_id] = id_node.start_mark.line + 1
        max_findings = fields.pop("max_findings", None)
        default = QueryBudget()
        budget = QueryBudget(
            seconds=fields.pop("timeout", default.seconds),
            max_rows=fields.pop("max_rows", default.max_rows),
        )
        custom.append((sql_rule(**fields, budget=budget), max_findings))
    return custom
