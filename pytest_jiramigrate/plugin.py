"""pytest glue: options, configuration, collection, terminal output and reports.

Without ``--jira-backup`` (or its ini key) this module only adds options and
hook specs: nothing is imported, scanned or collected.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_jiramigrate import hookspecs
from pytest_jiramigrate.core.space import NoSpaceError
from pytest_jiramigrate.core.terminal import printable
from pytest_jiramigrate.run.options import add_options, options

if TYPE_CHECKING:
    from pytest_jiramigrate.run.session import JiraSession

#: The exit code of a run whose rules passed but where an error-severity rule could not
#: be checked: pytest's "tests failed", because the gate fails closed (a rule that did
#: not run is not ready) and every CI treats 1 as a failed gate.
UNCHECKED_EXIT_CODE = pytest.ExitCode.TESTS_FAILED

#: the name under which ``pytest_configure`` registers a readiness run's hooks
RUN_PLUGIN = "jiramigrate-run"
#: the name of the built-in rules' ``pytest_jiramigrate_rules`` hook implementation
BUILTIN_RULES_PLUGIN = "jiramigrate-builtin-rules"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--jira-rules``: list the rules as ``--markers`` lists markers, and run nothing."""
    if not options(config).list_rules:
        return None
    from pytest_jiramigrate.report.listing import render_rules
    from pytest_jiramigrate.run.session import collect_rules, read_config

    register_builtin_rules(config)
    rules = collect_rules(config)
    print("\n".join(render_rules(rules, read_config(config, rules))))
    return 0


def add_html_extra(report: pytest.TestReport, entry: dict[str, object]) -> None:
    """Show a rule's findings in pytest-html's report too, where that plugin is installed."""
    import pytest_html.extras

    from pytest_jiramigrate.report.html import findings_list

    fragment = findings_list(entry) if entry["outcome"] in ("failed", "warning") else ""
    if fragment:
        extras = list(getattr(report, "extras", []))
        extras.append(pytest_html.extras.html(fragment))
        report.extras = extras  # type: ignore[attr-defined]


def pytest_configure(config: pytest.Config) -> None:
    """Start a readiness run when a backup or media was given; else stay inert."""
    given = options(config)
    if not given.checks_something:
        return
    from pytest_jiramigrate.run.session import SESSION_KEY, start_session

    missing = [path for path in given.media if not path.exists()]
    if missing:
        raise pytest.UsageError(
            f"--jira-media: {missing[0]} does not exist; name a media directory or zip"
        )
    if given.backup is not None:
        warn_of_config_beside(config, given.backup)
    register_builtin_rules(config)
    jira = start_session(config, given)
    config.stash[SESSION_KEY] = jira
    config.pluginmanager.register(ReadinessRun(jira), RUN_PLUGIN)


def register_builtin_rules(config: pytest.Config) -> None:
    """The built-in rules reach the run through the same hook as third-party rules."""
    from pytest_jiramigrate.rules import builtin

    if not config.pluginmanager.is_registered(builtin):
        config.pluginmanager.register(builtin, BUILTIN_RULES_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Undo what ``pytest_configure`` did: the run's hooks, its rules and its state."""
    from pytest_jiramigrate.run.session import SESSION_KEY

    for name in (RUN_PLUGIN, BUILTIN_RULES_PLUGIN):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin, name)
    jira = config.stash.get(SESSION_KEY, None)
    if jira is not None:
        jira.close()
        del config.stash[SESSION_KEY]


def warn_of_config_beside(config: pytest.Config, backup: Path) -> None:
    """Warn when pytest took its configuration file from the backup's folder rather than
    from where it was started: a customer's folder can hold an ini whose ``addopts``
    loads code from it.  ``jiramigrate check`` pins the configuration instead."""
    inipath = config.inipath
    if inipath is None:
        return
    folder = inipath.parent.resolve()
    if folder == backup.parent.resolve() and folder != config.invocation_params.dir.resolve():
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"pytest read its configuration from {inipath}, beside the backup, not from "
                "where it was started: its options (addopts, plugins) came from the backup's "
                "folder. Use `jiramigrate check BACKUP`, or --jira-backup=PATH with an '='."
            ),
            stacklevel=2,
        )


class ReadinessRun:
    """The hooks of a readiness run; all state lives in :class:`JiraSession`."""

    def __init__(self, jira: JiraSession) -> None:
        self.jira = jira

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Add the rule items before ``-k``, ``--lf`` and friends select from them.

        The backup may lie outside the rootdir and the directory may hold no
        tests, so it is not found by pytest's file collection: its collector is
        made here, and reported like any collected file.
        """
        from pytest_jiramigrate.run.items import SubjectFile

        for subject in self.jira.subjects:
            collector = SubjectFile.for_subject(session, subject)
            session.ihook.pytest_collectstart(collector=collector)
            collected = list(collector.collect())
            result: list[pytest.Item | pytest.Collector] = [*collected]
            report = pytest.CollectReport(collector.nodeid, "passed", None, result)
            session.ihook.pytest_collectreport(report=report)
            items.extend(collected)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Scan the backup once, before the first rule runs, and show its inventory.

        Nothing is scanned for ``--collect-only`` or when no rule item was selected.
        """
        if session.config.option.collectonly or not any(
            item.nodeid.startswith(f"{t.name}::")
            for item in session.items
            for t in self.jira.subjects
        ):
            return
        try:
            facts = self.jira.facts()
        except NoSpaceError as error:  # no rule can be checked without its facts
            pytest.exit(printable(str(error)), returncode=pytest.ExitCode.USAGE_ERROR)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(printable(self.jira.inventory_line(facts)))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        from pytest_jiramigrate.run.items import RuleItem

        if isinstance(item, RuleItem):
            item.prepare()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Carry the rule's JSON entry on its report: the report reaches the process that
        writes the reports, also from a pytest-xdist worker.

        The entry is capped at ``report.max_stored`` findings here, where it is
        made: a worker sends the controller the capped entry, not every finding."""
        from pytest_jiramigrate.report.model import rule_entry

        report: pytest.TestReport = yield
        outcome = getattr(item, "outcome", None)
        ran = report.when == "call" or (report.when == "setup" and report.skipped)
        if outcome is not None and ran:
            entry = rule_entry(outcome, self.jira.config.max_stored)
            report.jiramigrate = entry  # type: ignore[attr-defined]
            if item.config.pluginmanager.hasplugin("html"):
                add_html_extra(report, entry)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "jiramigrate", None)
        if entry is not None:
            self.jira.entries[report.nodeid] = entry

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: tell each worker when the run started, so that under
        ``--jira-rescan`` the workers and the controller share one new scan."""
        from pytest_jiramigrate.run.session import RUN_STARTED

        node.workerinput[RUN_STARTED] = self.jira.source.started

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        jira = self.jira
        source = jira.config.path or "built-in defaults"
        lines = [f"jiramigrate: config {source}"]
        lines += [f"jiramigrate: {t.kind} {t.path}" for t in jira.subjects]
        return [printable(line) for line in lines]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.jira.entries:
            return
        terminalreporter.section("jiramigrate readiness")
        for line in self.jira.summary_table():
            terminalreporter.write_line(printable(line))
        written = self.jira.written.json
        if written is not None:
            terminalreporter.write_line(printable(f"JSON report written to {written}"))
        if self.jira.written.exports:
            count, where = len(self.jira.written.exports), self.jira.outputs.export
            terminalreporter.write_line(
                printable(f"{count} CSV exports of offenders written to {where}")
            )
        unchecked = self.jira.unchecked()
        if unchecked:
            from pytest_jiramigrate.rules.base import plural

            reasons = sorted({str(entry["message"]) for entry in unchecked})
            terminalreporter.write_line(
                printable(
                    f"{plural(len(unchecked), 'error-severity rule')} not checked, so the run "
                    f"cannot pass (exit code {int(UNCHECKED_EXIT_CODE)}): " + "; ".join(reasons)
                ),
                red=True,
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):  # a pytest-xdist worker reports nothing
            return
        if self.jira.entries and not session.config.option.collectonly:
            self.jira.add_unrun()
        try:
            self.jira.write_reports()
        except NoSpaceError as error:
            pytest.exit(printable(str(error)), returncode=pytest.ExitCode.USAGE_ERROR)
        if session.exitstatus == pytest.ExitCode.OK and self.jira.unchecked():
            session.exitstatus = UNCHECKED_EXIT_CODE
