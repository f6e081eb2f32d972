"""The state of one readiness run: subjects, rules, the facts store and the outcomes.

Registered as a pytest plugin only when ``--jira-backup`` (or ``--jira-media``)
is given; without them pytest-jiramigrate adds options and nothing else.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_jiramigrate.config import Config, ConfigError, find_config, load_config
from pytest_jiramigrate.core.outputs import OutputError, check_output, refuse_input
from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.core.terminal import name_text, printable
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.report.files import ReportPaths, Written, write_reports
from pytest_jiramigrate.report.model import (
    Entry,
    build_report,
    summary_table,
    unchecked,
    unrun_entry,
)
from pytest_jiramigrate.report.text import failure_text
from pytest_jiramigrate.rules.base import Rule, plural
from pytest_jiramigrate.rules.outcome import Outcome, evaluate
from pytest_jiramigrate.rules.users import licensed_users
from pytest_jiramigrate.run.facts_source import FactsSource
from pytest_jiramigrate.run.options import Options, options

#: the ``workerinput`` key by which pytest-xdist workers learn when the run started
RUN_STARTED = "jiramigrate_run_started"

#: the run's state, for the items: set in ``pytest_configure``, removed in ``pytest_unconfigure``
SESSION_KEY = pytest.StashKey["JiraSession"]()


@dataclass
class Subject:
    """The subject of rule items (the file being checked): the backup zip, or one media
    directory or zip."""

    kind: Literal["backup", "media"]
    path: Path
    #: the node id of its collector, e.g. ``site-backup.zip``
    name: str


@dataclass
class JiraSession:
    pytest_config: pytest.Config
    config: Config
    rules: Sequence[Rule]
    subjects: list[Subject]
    #: where the facts come from: scanning, the cache, the media inventories
    source: FactsSource
    outputs: ReportPaths = field(default_factory=ReportPaths)
    redact: bool = False
    #: the JSON report's entry of every rule that ran, by node id; filled from the
    #: test reports, so that under pytest-xdist the controller has them all
    entries: dict[str, Entry] = field(default_factory=dict)
    written: Written = field(default_factory=Written)

    @property
    def backup(self) -> Subject | None:
        return next((t for t in self.subjects if t.kind == "backup"), None)

    def rules_for(self, subject: Subject) -> list[Rule]:
        return [rule for rule in self.rules if rule.kind == subject.kind]

    def facts(self) -> Facts:
        """The facts of the run, scanned once per session (the backup's from the cache)."""
        return self.source.facts()

    def close(self) -> None:
        """Close the facts store and remove what this run wrote outside the cache."""
        self.source.close()

    def check(self, subject: Subject, rule: Rule) -> Outcome:
        facts = self.facts()
        return evaluate(rule, facts, self.config.rules[rule.id], subject.name)

    def placeholders(self, subject: Subject) -> dict[str, str]:
        """What ``<backup>`` and ``<cleaned-backup>`` mean in a rule's fix text: paths as
        they can be typed where pytest was started."""
        here = self.pytest_config.invocation_params.dir
        path = subject.path
        shown = path.relative_to(here) if path.is_relative_to(here) else path
        cleaned = shown.with_name(shown.name.removesuffix(".zip") + ".clean.zip")
        return {"<backup>": shlex.quote(str(shown)), "<cleaned-backup>": shlex.quote(str(cleaned))}

    def warning_text(self, outcome: Outcome) -> str:
        return failure_text(
            outcome, self.config.max_listed, full=False, max_stored=self.config.max_stored
        )

    def inventory_line(self, facts: Facts) -> str:
        """The backup at a glance, printed once it is scanned."""
        if self.backup is None:
            return f"jiramigrate: media only ({plural(len(self.subjects), 'target')}), no backup"
        meta, counts = facts.meta, facts.counts()
        found = facts.jira_version()
        version = found.text if found else "unknown version"
        attachment_bytes = format_size(counts.pop("attachment_bytes"))
        licensed = licensed_users(facts)
        shown = {name: plural(value, name.removesuffix("s")) for name, value in counts.items()}
        shown["users"] += (
            f" ({licensed.count:,} with product access, counted as {licensed.counting})"
        )
        parts = ", ".join(shown.values())
        parts += f" ({attachment_bytes} of attachments)"
        return f"jiramigrate: {meta.get('backup_name')} (Jira {version}): {parts}"

    def summary_table(self) -> list[str]:
        """The terminal table of the rules that ran (:func:`summary_table`)."""
        return summary_table(self.entries, several_subjects=len(self.subjects) > 1)

    def add_unrun(self) -> None:
        """An entry for every rule that never ran: deselected with ``-k`` or ``--deselect``,
        left out by ``--lf``, or after ``-x`` stopped the run. It was not checked, so the
        reports list it as such, and an error-severity one keeps the gate shut."""
        for subject in self.subjects:
            for rule in self.rules_for(subject):
                nodeid = f"{subject.name}::{rule.id}"
                if nodeid not in self.entries:
                    settings = self.config.rules[rule.id]
                    self.entries[nodeid] = unrun_entry(rule, subject.name, settings)

    def unchecked(self) -> list[Entry]:
        """The error-severity rules that could not run: the gate fails closed on them."""
        return unchecked(self.entries.values())

    def report(self) -> dict[str, Any]:
        """The JSON report (schema ``jiramigrate-report/1``)."""
        backup: dict[str, Any] = {}
        if self.backup is not None:
            backup = {"path": name_text(self.backup.path), "name": self.backup.name}
            facts = self.facts()
            meta, version = facts.meta, facts.jira_version()
            backup.update(
                sha256=meta.get("sha256"),
                jira_version=version.text if version else None,
                jira_build=meta.get("jira_build") or facts.jira_property("jira.version.patched"),
                base_url=facts.base_url and facts.mask.url(facts.base_url),
                counts=facts.counts(),
            )
        config = self.config.as_dict()
        importer = config["target"]["importer_email"]
        if self.redact and importer:
            config["target"]["importer_email"] = self.facts().mask.email(importer)
        return build_report(backup, config, self.entries.values())

    def write_reports(self) -> None:
        """The JSON report, the Markdown summary, the CSV exports and the HTML asked for."""
        if self.entries:
            facts = self.facts() if self.outputs.html is not None else None
            self.written = write_reports(self.report(), self.outputs, facts)


def subjects(backup: Path | None, media: Sequence[Path]) -> list[Subject]:
    """The collected subjects, named by file name (``site-backup.zip``), kept unique.

    A name is also a node id, which pytest prints and writes to its cache and
    every report: bytes that are not UTF-8 and control characters are shown
    escaped (:func:`printable`)."""
    found = [Subject("backup", backup, printable(backup.name))] if backup is not None else []
    names = {t.name for t in found}
    for path in media:
        name = printable(path.name or str(path))
        while name in names:
            name = f"{name}~"
        names.add(name)
        found.append(Subject("media", path, name))
    return found


def collect_rules(config: pytest.Config) -> list[Rule]:
    """Every rule from the ``pytest_jiramigrate_rules`` hook (the built-in rules are
    one implementation of it, registered by the plugin); ids must be unique."""
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for contributed in config.hook.pytest_jiramigrate_rules(config=config):
        for rule in contributed:
            if not isinstance(rule, Rule):
                raise pytest.UsageError(
                    f"pytest_jiramigrate_rules returned {rule!r}, not a pytest_jiramigrate.Rule"
                )
            if rule.id in seen:
                raise pytest.UsageError(f"two readiness rules share the id {rule.id!r}")
            seen[rule.id] = rule
            rules.append(rule)
    return rules


def read_config(pytest_config: pytest.Config, rules: Sequence[Rule]) -> Config:
    """The YAML configuration; a bad one is a usage error (exit code 4), before any item.

    pytest picks its rootdir before it knows ``--jira-backup``, so with
    ``--jira-backup PATH`` (a space) the backup's folder can become the rootdir:
    ``jiramigrate.yaml`` is then also looked for where pytest was started.
    """
    given = options(pytest_config)
    try:
        path = find_config(
            given.config_option,
            given.config_ini,
            pytest_config.rootpath,
        ) or find_config(None, None, pytest_config.invocation_params.dir)
        return load_config(path, rules)
    except ConfigError as error:
        raise pytest.UsageError(f"jiramigrate configuration: {error}") from None


def start_session(pytest_config: pytest.Config, given: Options) -> JiraSession:
    """Read the rules and the YAML; a bad configuration is a usage error (exit code 4).

    The YAML's ``custom_rules:`` join the hook's rules here, so that items are
    made from both.
    """
    rules = collect_rules(pytest_config)
    config = read_config(pytest_config, rules)
    rules = [*rules, *config.custom_rules]
    if given.strict:
        pytest_config.addinivalue_line(
            "filterwarnings", "error::pytest_jiramigrate.JiraReadinessWarning"
        )
    here = pytest_config.invocation_params.dir
    inputs = [path for path in (given.backup, *given.media, config.path) if path is not None]
    outputs = {
        name: output_path(name, path, here, inputs, directory=name == "export")
        for name, path in (
            ("report", given.report),
            ("summary", given.summary),
            ("export", given.export),
            ("html", given.html),
        )
    }
    junit = junit_path(pytest_config, here, inputs)
    refuse_shared_outputs({**outputs, "junitxml": junit})
    found = subjects(given.backup, given.media)
    return JiraSession(
        pytest_config=pytest_config,
        config=config,
        rules=rules,
        subjects=found,
        source=FactsSource(
            pytest_config,
            config.archive,
            given.backup,
            [(subject.path, subject.name) for subject in found if subject.kind == "media"],
            rescan=given.rescan,
            started=getattr(pytest_config, "workerinput", {}).get(RUN_STARTED, time.time()),
            workers=given.workers,
            redact=given.redact,
            cache_days=given.cache_days,
            cache_max_mb=given.cache_max_mb,
        ),
        outputs=ReportPaths(
            json=outputs["report"],
            summary=outputs["summary"],
            export=outputs["export"],
            html=outputs["html"],
        ),
        redact=given.redact,
    )


def refuse_shared_outputs(outputs: dict[str, Path | None]) -> None:
    """Two reports named the same file: the second would overwrite the first."""
    seen: dict[Path, str] = {}
    for name, path in outputs.items():
        if path is None:
            continue
        if path in seen:
            raise pytest.UsageError(
                f"{option_name(name)}: {path} is also {option_name(seen[path])}"
            )
        seen[path] = name


def option_name(name: str) -> str:
    """How the user wrote an output option: ``--jira-report``, or pytest's ``--junitxml``."""
    return "--junitxml" if name == "junitxml" else f"--jira-{name}"


def junit_path(pytest_config: pytest.Config, here: Path, inputs: Sequence[Path]) -> Path | None:
    """pytest's ``--junitxml`` file, refused when it is an input (the backup, a media zip, the
    YAML) or lies inside a media directory: pytest would write it over the input. Its folder
    may be missing: pytest makes it."""
    given = getattr(pytest_config.option, "xmlpath", None)
    if not given:
        return None
    path = here / given
    resolved = path.resolve()
    try:
        for source in inputs:
            refuse_input(path, resolved, source)
    except OutputError as error:
        raise pytest.UsageError(f"--junitxml: {error}") from None
    if resolved.is_dir():
        raise pytest.UsageError(f"--junitxml: {path} is a directory; name a file")
    return resolved


def output_path(
    name: str, given: str | None, here: Path, inputs: Sequence[Path], *, directory: bool = False
) -> Path | None:
    """A ``--jira-<name>`` output, checked before anything runs: one that would write over
    an input, or that cannot be written, is a usage error (exit code 4)."""
    if not given:
        return None
    try:
        return check_output(here / given, inputs, directory=directory)
    except OutputError as error:
        raise pytest.UsageError(f"--jira-{name}: {error}") from None
