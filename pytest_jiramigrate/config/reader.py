"""The YAML reader: plain YAML only, every fault a :class:`ConfigError` naming the file,
the line and the dotted key.

The configuration (and the ``fix`` plan) travels with customer data, so it is
untrusted input: no anchors or aliases, no custom tags, bounded size and
nesting.  The node helpers here walk the composed tree so that every value
keeps its line for the error message.
"""

from __future__ import annotations

import difflib
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_jiramigrate.core.sizes import format_size

#: The file looked for in the rootdir when neither option nor ini key names one.
DEFAULT_CONFIG_NAME = "jiramigrate.yaml"

#: A real configuration is a few kilobytes; anything bigger is a mistake or an attack.
MAX_CONFIG_BYTES = 1_000_000

#: The schema nests four levels deep; deeper input would only exhaust the recursive composer.
MAX_NESTING = 16


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


YAML_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (YAML_TAG + name for name in ("str", "int", "float", "bool", "null"))
STANDARD_TAGS = frozenset(
    YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


@dataclass(frozen=True)
class Document:
    """The file being validated, so that every error can name it."""

    path: Path | None

    def error(self, node: Node | None, key: str | None, message: str) -> ConfigError:
        line = None if node is None else node.start_mark.line + 1
        return ConfigError(message, path=self.path, line=line, key=key)


def read_text(path: Path) -> str:
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


def compose(document: Document, text: str) -> Node | None:
    """Parse ``text`` into a node tree (None for an empty file) after refusing hostile YAML.

    The event stream is checked first because the composer would resolve
    aliases and recurse into nesting before any node could be inspected.
    """
    try:
        refuse_hostile_events(document, yaml.parse(text, Loader=yaml.SafeLoader))
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


def refuse_hostile_events(document: Document, events: Iterable[yaml.Event]) -> None:
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
        if tag is not None and tag not in STANDARD_TAGS:
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


#: Turns one value node into a setting, or raises ConfigError naming its line and key.
Converter = Callable[[Document, Node, str], Any]

SCALARS = SafeConstructor()


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


def describe(node: Node) -> str:
    """Name what the user wrote, for 'expected X, got Y' messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kinds = {NULL: "nothing", BOOL: "true/false", INT: "number", FLOAT: "number", STR: "text"}
    return f"{kinds.get(node.tag, 'value')} {node.value!r}"


def suggestion(name: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(valid)})" if valid else ""


def mapping_entries(
    document: Document, node: Node | None, key: str
) -> dict[str, tuple[Node, Node]]:
    """Map each key of a mapping node to its (key node, value node); nothing written is empty.

    Duplicate keys are refused: YAML would silently keep the last one, and
    the user would not know which threshold is in force.
    """
    if node is None or is_null(node):
        return {}
    if not isinstance(node, MappingNode):
        raise document.error(node, key, f"expected a mapping of keys, got {describe(node)}")
    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise document.error(key_node, key or None, "keys must be plain names")
        dotted = join(key, key_node.value)
        if key_node.value in entries:
            first = entries[key_node.value][0].start_mark.line + 1
            raise document.error(key_node, dotted, f"duplicate key (first given on line {first})")
        entries[key_node.value] = (key_node, value_node)
    return entries


def refuse_unknown(
    document: Document,
    entries: Mapping[str, tuple[Node, Node]],
    valid: Sequence[str],
    key: str,
    what: str = "key",
) -> None:
    for name, (key_node, _) in entries.items():
        if name not in valid:
            raise document.error(
                key_node, join(key, name), f"unknown {what}{suggestion(name, valid)}"
            )


def read_section(
    document: Document, node: Node | None, key: str, fields: Mapping[str, Converter]
) -> dict[str, Any]:
    """Convert the keys written in one mapping; keys not written keep their defaults."""
    entries = mapping_entries(document, node, key)
    refuse_unknown(document, entries, list(fields), key)
    return {
        name: fields[name](document, value_node, join(key, name))
        for name, (_, value_node) in entries.items()
    }
