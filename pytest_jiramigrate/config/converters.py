"""Converters: each turns one YAML value node into a setting, or raises the
:class:`~pytest_jiramigrate.config.reader.ConfigError` that names its line and key."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from pytest_jiramigrate.config.reader import (
    BOOL,
    INT,
    SCALARS,
    STR,
    Converter,
    Document,
    describe,
    is_null,
)
from pytest_jiramigrate.core.sizes import parse_size


def whole_number(minimum: int) -> Converter:
    def convert(document: Document, node: Node, key: str) -> int:
        if not isinstance(node, ScalarNode) or node.tag != INT:
            raise document.error(
                node, key, f"expected a whole number >= {minimum}, got {describe(node)}"
            )
        value: int = SCALARS.construct_yaml_int(node)
        if value < minimum:
            raise document.error(node, key, f"must be >= {minimum}, got {value}")
        return value

    return convert


def optional(convert: Converter) -> Converter:
    """Accept an explicit null (``~`` or nothing) as "not set", for a setting defaulting to None."""

    def convert_or_none(document: Document, node: Node, key: str) -> Any:
        return None if is_null(node) else convert(document, node, key)

    return convert_or_none


def size(document: Document, node: Node, key: str) -> int:
    if isinstance(node, ScalarNode) and node.tag in (INT, STR):
        try:
            return parse_size(SCALARS.construct_yaml_int(node) if node.tag == INT else node.value)
        except ValueError as error:
            raise document.error(node, key, str(error)) from error
    raise document.error(node, key, f"expected a size such as 10GB, got {describe(node)}")


def text(document: Document, node: Node, key: str) -> str:
    """The text as written: ``off``, ``no`` and ``7.6`` stay text, not YAML 1.1 booleans/numbers."""
    if not isinstance(node, ScalarNode) or is_null(node):
        raise document.error(node, key, f"expected text, got {describe(node)}")
    value: str = node.value
    return value


def address(document: Document, node: Node, key: str) -> str:
    """An e-mail address: one ``@`` with a name before it and a dotted domain after it."""
    value = text(document, node, key).strip()
    local, at, domain = value.partition("@")
    if not (at and local and "." in domain.strip(".") and "@" not in domain) or " " in value:
        raise document.error(node, key, f"expected an e-mail address, got {value!r}")
    return value


def boolean(document: Document, node: Node, key: str) -> bool:
    if not isinstance(node, ScalarNode) or node.tag != BOOL:
        raise document.error(node, key, f"expected true or false, got {describe(node)}")
    value: bool = SCALARS.construct_yaml_bool(node)
    return value


def choice(choices: Sequence[str]) -> Converter:
    def convert(document: Document, node: Node, key: str) -> str:
        value = text(document, node, key)
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise document.error(
                node, key, f"expected one of {', '.join(choices)}, got {value!r}{hint}"
            )
        return value

    return convert


def names(document: Document, node: Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        raise document.error(
            node, key, f"expected a list such as [a, b] ([] for none), got {describe(node)}"
        )
    return tuple(text(document, item, f"{key}[{index}]") for index, item in enumerate(node.value))


def domains(document: Document, node: Node, key: str) -> tuple[str, ...]:
    """A list of e-mail domains, lower-cased because domains compare case-insensitively."""
    domains = names(document, node, key)
    for index, (item, domain) in enumerate(zip(node.value, domains, strict=True)):
        if not domain or "@" in domain or any(char.isspace() for char in domain):
            raise document.error(
                item, f"{key}[{index}]", f"expected a domain such as corp.example, got {domain!r}"
            )
    return tuple(domain.lower() for domain in domains)
