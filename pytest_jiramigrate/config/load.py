"""Read a configuration file into a :class:`~pytest_jiramigrate.config.model.Config`:
the ``target``, ``email``, ``archive``, ``report`` and ``rules`` sections and the
``custom_rules`` list, each checked against what the rules declare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from yaml.nodes import MappingNode, Node

from pytest_jiramigrate.config.converters import (
    address,
    boolean,
    choice,
    domains,
    names,
    optional,
    size,
    text,
    whole_number,
)
from pytest_jiramigrate.config.custom import CUSTOM_RULES, read_custom_rules
from pytest_jiramigrate.config.model import Config
from pytest_jiramigrate.config.reader import (
    Converter,
    Document,
    compose,
    is_null,
    mapping_entries,
    read_section,
    read_text,
    refuse_unknown,
)
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.rules.base import SEVERITIES, Rule, RuleSettings, Threshold
from pytest_jiramigrate.rules.site import BILLINGS, PLANS, USERS_STRATEGIES, CloudSite

_SECTIONS = ("target", "email", "archive", "report", "rules")


def load_config(path: Path | None, rules: Sequence[Rule]) -> Config:
    """Read and validate ``path`` (None: built-in defaults) into settings for every rule.

    ``rules`` are the rules from the ``pytest_jiramigrate_rules`` hook.  The
    file's ``custom_rules:`` are read first and become :attr:`Config.custom_rules`;
    the rest of the file is then validated against both, so that
    ``rules.<custom id>`` overrides work like those of any other rule.
    """
    document = Document(path)
    root = None if path is None else compose(document, read_text(path))
    return _build_config(document, root, rules)


_SITE_FIELDS: dict[str, Converter] = {
    "plan": choice(PLANS),
    "billing": choice(BILLINGS),
    "user_tier": optional(whole_number(minimum=1)),
    "users": choice(USERS_STRATEGIES),
    "cloud_groups": names,
    "importer_email": optional(address),
}
_EMAIL_FIELDS: dict[str, Converter] = {"allow_domains": domains, "deny_domains": domains}
_ARCHIVE_FIELDS: dict[str, Converter] = {
    "max_ratio": whole_number(minimum=1),
    "max_uncompressed": size,
}
_REPORT_FIELDS: dict[str, Converter] = {
    "max_listed": whole_number(minimum=0),
    "max_stored": optional(whole_number(minimum=0)),
}

_THRESHOLD_CONVERTERS: dict[str, Converter] = {
    "int": whole_number(minimum=0),
    "size": size,
    "str": text,
    "bool": boolean,
    "list": names,
}


def _threshold_converter(threshold: Threshold) -> Converter:
    if threshold.kind == "choice":
        return choice(threshold.choices)
    return _THRESHOLD_CONVERTERS[threshold.kind]


def _rule_fields(rule: Rule) -> dict[str, Converter]:
    return {
        "severity": choice(SEVERITIES),
        "max_findings": whole_number(minimum=0),
        **{threshold.name: _threshold_converter(threshold) for threshold in rule.thresholds},
    }


def _read_rules(
    document: Document,
    node: Node | None,
    rules: Sequence[Rule],
    site: CloudSite,
    default_max_findings: Mapping[str, int],
) -> dict[str, RuleSettings]:
    """Settings for every rule: its defaults, overridden by what ``rules.<id>`` says.

    ``max_findings`` defaults to 0 unless ``default_max_findings`` (what a
    custom rule's entry declares) says otherwise.
    """
    entries = mapping_entries(document, node, "rules")
    refuse_unknown(document, entries, [rule.id for rule in rules], "rules", what="rule id")
    settings: dict[str, RuleSettings] = {}
    for rule in rules:
        written = entries.get(rule.id)
        overrides = read_section(
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
            site=site,
        )
    return settings


def _build_config(document: Document, root: Node | None, rules: Sequence[Rule]) -> Config:
    if root is not None and not is_null(root) and not isinstance(root, MappingNode):
        raise document.error(
            root,
            None,
            f"the top level must be a mapping of sections ({', '.join(_SECTIONS)}) "
            f"and an optional {CUSTOM_RULES} list",
        )
    sections = mapping_entries(document, root, "")
    refuse_unknown(document, sections, [*_SECTIONS, CUSTOM_RULES], "", what="section")

    def section(name: str) -> Node | None:
        written = sections.get(name)
        return None if written is None else written[1]

    custom = read_custom_rules(document, section(CUSTOM_RULES), rules)
    site = CloudSite(
        **read_section(document, section("target"), "target", _SITE_FIELDS),
        **read_section(document, section("email"), "email", _EMAIL_FIELDS),
    )
    every_rule = [*rules, *(rule for rule, _ in custom)]
    max_findings = {rule.id: written for rule, written in custom if written is not None}
    return Config(
        path=document.path,
        site=site,
        archive=ArchiveLimits(
            **read_section(document, section("archive"), "archive", _ARCHIVE_FIELDS)
        ),
        # the report section's keys have the names of the Config fields they set
        **read_section(document, section("report"), "report", _REPORT_FIELDS),
        rules=_read_rules(document, section("rules"), every_rule, site, max_findings),
        custom_rules=tuple(rule for rule, _ in custom),
    )
