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

if TYPE_CHECKING:
    from pytest_jiramigrate.run.session import JiraSession

SESSION_KEY = pytest.StashKey["JiraSession"]()

#: The exit code of a run whose rules passed but where an error-severity rule could not
#: be checked: pytest's "tests failed", because the gate fails closed (a rule that did
#: not run is not ready) and every CI treats 1 as a failed gate.
UNCHECKED_EXIT_CODE = pytest.ExitCode.TESTS_FAILED

OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("backup", "PATH", "the Jira site backup zip (entities.xml + activeobjects.xml) to check"),
    ("config", "PATH", "YAML thresholds (default: jiramigrate.yaml in the rootdir, if present)"),
    ("report", "PATH", "write the JSON readiness report (schema jiramigrate-report/1) here"),
    ("summary", "PATH", "append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)"),
    ("export", "DIR", "write one CSV of offenders per failed or warned rule into DIR"),
    ("html", "PATH", "write the self-contained HTML readiness report here"),
)
#: on/off options: (name, help, whether an ini key can set it too)
FLAGS: tuple[tuple[str, str, bool], ...] = (
    ("strict", "readiness warnings fail too", True),
    ("redact", "mask e-mail addresses, usernames and display names in every output", True),
    (
        "rules",
        "list every readiness rule with its effective severity and thresholds, and exit",
        False,
    ),
    ("rescan", "scan the backup again even if its facts are cached", False),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jiramigrate", "Jira Cloud migration readiness")
    for name, metavar, help_text in OPTIONS:
        group.addoption(f"--jira-{name}", dest=f"jira_{name}", metavar=metavar, help=help_text)
        parser.addini(f"jira_{name}", help_text, type="string", default="")
    group.addoption(
        "--jira-media",
        dest="jira_media",
        metavar="PATH",
        action="append",
        default=[],
        help="a media directory or media zip (attachments, avatars, logos); repeat per chunk",
    )
    parser.addini("jira_media", "media directories or zips, one per line", type="linelist")
    for name, help_text, ini in FLAGS:
        group.addoption(
            f"--jira-{name}",
            dest=f"jira_{name}",
            action="store_true",
            default=None,
            help=help_text,
        )
        if ini:
            parser.addini(f"jira_{name}", help_text, type="bool", default=False)


def flag(config: pytest.Config, name: str) -> bool:
    """A ``--jira-<name>`` flag, else its ini key where it has one."""
    if config.getoption(f"jira_{name}"):
        return True
    return any(name == flag_name and ini for flag_name, _, ini in FLAGS) and bool(
        config.getini(f"jira_{name}")
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def option_or_ini(config: pytest.Config, name: str) -> str | None:
    """A ``--jira-<name>`` option, else the ``jira_<name>`` ini key; paths from ini are
    relative to the ini file's directory (the rootdir without one)."""
    value = config.getoption(f"jira_{name}")
    if value:
        return str(value)
    ini_value = config.getini(f"jira_{name}")
    if not ini_value:
        return None
    base = config.inipath.parent if config.inipath else config.rootpath
    return str(base / ini_value)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--jira-rules``: list the rules as ``--markers`` lists markers, and run nothing."""
    if not flag(config, "rules"):
        return None
    from pytest_jiramigrate.report.listing import render_rules
    from pytest_jiramigrate.run.session import collect_rules, read_config

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


def media_paths(config: pytest.Config) -> list[Path]:
    """Every ``--jira-media`` (one per chunk), else the ``jira_media`` ini lines."""
    given = config.getoption("jira_media")
    if given:
        return [config.invocation_params.dir / path for path in given]
    base = config.inipath.parent if config.inipath else config.rootpath
    return [base / line for line in config.getini("jira_media")]


def pytest_configure(config: pytest.Config) -> None:
    backup, media = option_or_ini(config, "backup"), media_paths(config)
    if backup is None and not media:
        return
    from pytest_jiramigrate.run.session import start_session

    missing = [path for path in media if not path.exists()]
    if missing:
        raise pytest.UsageError(
            f"--jira-media: {missing[0]} does not exist; name a media directory or zip"
        )
    backup_path = config.invocation_params.dir / backup if backup else None
    if backup_path is not None:
        warn_of_config_beside(config, backup_path)
    jira = start_session(config, backup_path, media)
    config.stash[SESSION_KEY] = jira
    config.pluginmanager.register(ReadinessRun(jira), "jiramigrate-run")


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
        from pytest_jiramigrate.run.items import TargetFile

        for target in self.jira.targets:
            collector = TargetFile.for_target(session, self.jira, target)
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
            for t in self.jira.targets
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
        writes the reports, also from a pytest-xdist worker."""
        report: pytest.TestReport = yield
        outcome = getattr(item, "outcome", None)
        ran = report.when == "call" or (report.when == "setup" and report.skipped)
        if outcome is not None and ran:
            entry = self.jira.report_item(outcome)
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

        node.workerinput[RUN_STARTED] = self.jira.started

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.jira.close()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        jira = self.jira
        source = jira.config.path or "built-in defaults"
        lines = [f"jiramigrate: config {source}"]
        lines += [f"jiramigrate: {t.kind} {t.path}" for t in jira.targets]
        return [printable(line) for line in lines]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.jira.entries:
            return
        terminalreporter.section("jiramigrate readiness")
        for line in self.jira.summary_table():
            terminalreporter.write_line(printable(line))
        written = self.jira.written_report
        if written is not None:
            terminalreporter.write_line(printable(f"JSON report written to {written}"))
        if self.jira.exports:
            count, where = len(self.jira.exports), self.jira.export_dir
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
        try:
            self.jira.write_reports()
        except NoSpaceError as error:
            pytest.exit(printable(str(error)), returncode=pytest.ExitCode.USAGE_ERROR)
        if session.exitstatus == pytest.ExitCode.OK and self.jira.unchecked():
            session.exitstatus = UNCHECKED_EXIT_CODE
