"""Third-party rules: Python rules from a conftest.py hook, and SQL rules from the YAML."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest

from pytest_jiramigrate.rules.custom import QueryBudget, SQLError, run_read_only
from synth import Manifest, SynthSpec, write_backup

CONTRACTORS = "contractors.acmecorp.com"

CONFTEST_RULES = """
from pytest_jiramigrate import Finding, Threshold, Verdict, rule


@rule(
    id="no-contractors",
    title="No contractor accounts",
    why="Contractors lose access with the migration.",
    fix="Delete their accounts.",
    thresholds=[Threshold("domain", "contractors.acmecorp.com", "their domain", "str")],
)
def no_contractors(facts, settings):
    rows = facts.query(
        "SELECT user_name FROM user WHERE lower(email) LIKE '%@' || ? ORDER BY user_name",
        (settings["domain"],),
    )
    findings = [Finding(f"contractor {row['user_name']}") for row in rows]
    return Verdict(findings, f"{len(findings)} contractor accounts")


@rule(id="always-raises", title="Raises", why="A bug.", fix="Fix the rule.")
def always_raises(facts, settings):
    raise RuntimeError("the rule's author made a mistake")


def pytest_jiramigrate_rules(config):
    return [no_contractors, always_raises]
"""


@pytest.fixture(scope="module")
def staff_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A small backup whose users are all on acmecorp.com, two of them inactive."""
    path = tmp_path_factory.mktemp("staff") / "site-backup.zip"
    return path, write_backup(path, SynthSpec(users=6, inactive_users=2, issues=6, projects=1))


@pytest.fixture(scope="module")
def contractor_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A small backup whose users are all on the contractors' domain."""
    path = tmp_path_factory.mktemp("contractors") / "site-backup.zip"
    spec = SynthSpec(users=6, inactive_users=0, issues=6, projects=1, email_domain=CONTRACTORS)
    return path, write_backup(path, spec)


def run(
    pytester: pytest.Pytester, backup: Path, *args: str, config: str | None = None
) -> pytest.RunResult:
    if config is not None:
        pytester.makefile(".yaml", jiramigrate=textwrap.dedent(config))
    return pytester.runpytest_inprocess(
        f"--jira-backup={backup}", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args
    )


def inactive_users(manifest: Manifest) -> list[str]:
    return sorted(user["username"] for user in manifest.users if not user["active"])


# --- Python rules through the conftest.py hook --------------------------------------------


def test_conftest_rule_fails_naming_the_contractors(
    pytester: pytest.Pytester, contractor_backup: tuple[Path, Manifest]
) -> None:
    backup, manifest = contractor_backup
    pytester.makeconftest(CONFTEST_RULES)

    result = run(pytester, backup, "-k", "no-contractors")

    result.assert_outcomes(failed=1)
    first = sorted(user["username"] for user in manifest.users)[0]
    result.stdout.fnmatch_lines([f"*contractor {first}*", "*6 contractor accounts*"])


def test_conftest_rule_passes_without_contractors(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    pytester.makeconftest(CONFTEST_RULES)

    run(pytester, staff_backup[0], "-k", "no-contractors").assert_outcomes(passed=1)


def test_conftest_rule_threshold_is_set_in_the_yaml(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    pytester.makeconftest(CONFTEST_RULES)
    config = "rules:\n  no-contractors:\n    domain: acmecorp.com\n    max_findings: 5\n"

    result = run(pytester, staff_backup[0], "-k", "no-contractors", config=config)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*6 contractor accounts*"])


def test_rule_that_raises_fails_alone_with_its_message(
    pytester: pytest.Pytester, contractor_backup: tuple[Path, Manifest]
) -> None:
    pytester.makeconftest(CONFTEST_RULES)

    result = run(pytester, contractor_backup[0], "-k", "always-raises or email-present")

    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*rule always-raises raised RuntimeError: the rule's author made a mistake*"]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_two_rules_with_one_id_are_a_usage_error(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    pytester.makeconftest(CONFTEST_RULES.replace('id="always-raises"', 'id="no-contractors"'))

    result = run(pytester, staff_backup[0])

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*two readiness rules share the id 'no-contractors'*"])


# --- SQL rules from the YAML ----------------------------------------------------------


INACTIVE_USERS_RULE = """
custom_rules:
  - id: no-inactive-users
    title: No deactivated users
    why: They would be imported.
    fix: Delete them.
    sql: SELECT user_name, email FROM user WHERE active = 0 ORDER BY user_name
"""


def test_yaml_rule_fails_naming_the_rows(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    backup, manifest = staff_backup
    report = pytester.path / "report.json"

    result = run(
        pytester, backup, "-k", "no-inactive-users", "--jira-report", str(report),
        config=INACTIVE_USERS_RULE,
    )  # fmt: skip

    result.assert_outcomes(failed=1)
    names = inactive_users(manifest)
    assert len(names) == 2
    result.stdout.fnmatch_lines(
        ["*returned 2 offending rows*", *(f"*user_name={name}, email={name}@*" for name in names)]
    )
    written = json.loads(report.read_text())
    entry = next(r for r in written["rules"] if r["id"] == "no-inactive-users")
    assert [item["user_name"] for item in entry["items"]] == names
    assert [rule["id"] for rule in written["config"]["custom_rules"]] == ["no-inactive-users"]


def test_yaml_rule_passes_when_the_query_returns_nothing(
    pytester: pytest.Pytester, contractor_backup: tuple[Path, Manifest]
) -> None:
    result = run(
        pytester, contractor_backup[0], "-k", "no-inactive-users", config=INACTIVE_USERS_RULE
    )

    result.assert_outcomes(passed=1)


def test_yaml_rule_finding_format_and_declared_max_findings(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    backup, manifest = staff_backup
    config = INACTIVE_USERS_RULE + '    finding: "{user_name} <{email}> is inactive"\n'

    failing = run(pytester, backup, "-k", "no-inactive-users", config=config)
    failing.stdout.fnmatch_lines(
        [f"*{name} <{name}@acmecorp.com> is inactive*" for name in inactive_users(manifest)]
    )

    allowing = run(
        pytester, backup, "-k", "no-inactive-users", config=config + "    max_findings: 2\n"
    )
    allowing.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("override", "outcome"),
    [
        ("severity: warning", {"passed": 1, "warnings": 1}),
        ("severity: 'off'", {"skipped": 1}),
        ("max_findings: 2", {"passed": 1}),
        ("max_findings: 1", {"failed": 1}),
    ],
)
def test_yaml_rule_settings_are_overridden_under_rules(
    pytester: pytest.Pytester,
    staff_backup: tuple[Path, Manifest],
    override: str,
    outcome: dict[str, int],
) -> None:
    config = INACTIVE_USERS_RULE + f"rules:\n  no-inactive-users:\n    {override}\n"

    result = run(pytester, staff_backup[0], "-k", "no-inactive-users", config=config)

    result.assert_outcomes(**outcome)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT user_name FORM user", 'SQL error: near "user": syntax error'),
        ("SELECT nope FROM user", "SQL error: no such column: nope"),
        ("DELETE FROM user", "only a read-only SELECT is allowed, and the query asks for DELETE"),
        ("UPDATE user SET active = 1", "query asks for UPDATE (user, active)"),
        ("ATTACH DATABASE ':memory:' AS other", "query asks for ATTACH (:memory:)"),
        ("PRAGMA writable_schema = 1", "query asks for PRAGMA (writable_schema, 1)"),
        ("SELECT 1; DELETE FROM user", "SQL error: You can only execute one statement at a time"),
        ("SELECT fts3_tokenizer('simple')", "the query calls fts3_tokenizer(), which custom rules"),
        ("SELECT load_extension('evil.so')", "the query calls load_extension(), which custom"),
        ("SELECT zeroblob(1000000000)", "the query calls zeroblob(), which custom rules may not"),
    ],
)
def test_bad_or_writing_query_is_that_items_error(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest], sql: str, message: str
) -> None:
    config = INACTIVE_USERS_RULE.replace(
        "SELECT user_name, email FROM user WHERE active = 0 ORDER BY user_name", f'"{sql}"'
    )

    result = run(
        pytester, staff_backup[0], "-k", "no-inactive-users or email-present", config=config
    )

    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*rule no-inactive-users raised SQLError: *{message}*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_finding_format_naming_a_missing_column_is_that_items_error(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    config = INACTIVE_USERS_RULE + '    finding: "{login} is inactive"\n'

    result = run(pytester, staff_backup[0], "-k", "no-inactive-users", config=config)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the finding format names {login} "
            "but the query returns only the columns user_name, email"
        ]
    )


def test_listed_functions_are_allowed(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    sql = (
        "SELECT lower(user_name) AS name, count(*) OVER () AS n, "
        "json_extract(json_object('a', 1), '$.a') AS one, substr(email, 1, 3) AS head "
        "FROM user WHERE active = 0 AND email LIKE '%@%' ORDER BY name"
    )
    config = INACTIVE_USERS_RULE.replace(
        "SELECT user_name, email FROM user WHERE active = 0 ORDER BY user_name", f'"{sql}"'
    )

    result = run(pytester, staff_backup[0], "-k", "no-inactive-users", config=config)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*returned 2 offending rows*", "*n=2, one=1, head=*"])


#: Twelve copies of the user table joined: 6**12 rows, which would run for hours.
CROSS_JOIN = "SELECT count(*) FROM " + ", ".join(f"user u{index}" for index in range(12))


@pytest.mark.parametrize(
    ("sql", "budget", "message"),
    [
        (CROSS_JOIN, "timeout: 0.2s", "ran out of its time budget of 0.2 s and was stopped"),
        (
            "SELECT user_name FROM user",
            "max_rows: 3",
            "returned more than 3 rows, its row budget, and was stopped",
        ),
    ],
    ids=["timeout", "max-rows"],
)
def test_query_over_its_budget_fails_its_item(
    pytester: pytest.Pytester,
    staff_backup: tuple[Path, Manifest],
    sql: str,
    budget: str,
    message: str,
) -> None:
    config = (
        INACTIVE_USERS_RULE.replace(
            "SELECT user_name, email FROM user WHERE active = 0 ORDER BY user_name", f'"{sql}"'
        )
        + f"    {budget}\n"
    )

    result = run(pytester, staff_backup[0], "-k", "no-inactive-users", config=config)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*rule no-inactive-users raised SQLError: *{message}*"])


def test_query_within_its_budget_runs_to_the_end() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE user (user_name TEXT)")
    db.executemany("INSERT INTO user VALUES (?)", [(f"user{index}",) for index in range(3)])

    assert run_read_only(db, "SELECT count(*) FROM user", QueryBudget(max_rows=1)) == (
        ["count(*)"],
        [(3,)],
    )
    assert len(run_read_only(db, "SELECT * FROM user", QueryBudget(max_rows=3))[1]) == 3
    with pytest.raises(SQLError, match=r"time budget of 0\.05 s"):
        run_read_only(
            db,
            "SELECT count(*) FROM user a, user b, user c, user d, user e, "
            "user f, user g, user h, user i, user j, user k, user l, user m, "
            "user n, user o, user p, user q, user r, user s, user t, user u",
            QueryBudget(seconds=0.05),
        )
    # the progress handler is gone again: a long query on the shared connection is not stopped
    assert run_read_only(db, "SELECT count(*) FROM user a, user b")[1] == [(9,)]


@pytest.mark.skipif(not hasattr(sqlite3.Connection, "setlimit"), reason="Python 3.11+")
def test_one_huge_value_is_refused_and_the_limit_restored() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE user (user_name TEXT)")
    db.execute("INSERT INTO user VALUES (?)", ("x" * 1000,))
    # each replace multiplies the length by 1000: 1 GB after two, made in one VM step each
    sql = "SELECT length(replace(replace(user_name, 'x', user_name), 'x', user_name)) FROM user"

    with pytest.raises(SQLError, match="string or blob too big"):
        run_read_only(db, sql)

    assert db.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) == 1_000_000_000
    assert run_read_only(db, "SELECT length(replace(user_name, 'x', user_name)) FROM user") == (
        ["length(replace(user_name, 'x', user_name))"],
        [(1_000_000,)],
    )


def test_read_only_guard_leaves_the_data_and_the_connection_as_they_were() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE user (user_name TEXT)")
    db.execute("INSERT INTO user VALUES ('admin')")

    with pytest.raises(SQLError, match=r"asks for DELETE \(user\)"):
        run_read_only(db, "DELETE FROM user")

    assert run_read_only(db, "SELECT user_name FROM user") == (["user_name"], [("admin",)])
    db.execute("INSERT INTO user VALUES ('second')")  # the authorizer was removed again
    assert db.execute("SELECT count(*) FROM user").fetchone() == (2,)


# --- invalid custom_rules in the YAML -------------------------------------------------


SQL_LINE = "    sql: SELECT user_name, email FROM user WHERE active = 0 ORDER BY user_name\n"
SECOND_RULE = INACTIVE_USERS_RULE.replace("custom_rules:\n", "")


@pytest.mark.parametrize(
    ("config", "location"),
    [
        (
            INACTIVE_USERS_RULE.replace(SQL_LINE, ""),
            "jiramigrate.yaml:2: custom_rules[0].sql: "
            "missing; every custom rule needs id, title, why, fix, sql",
        ),
        (
            INACTIVE_USERS_RULE + "    sevrity: warning\n",
            "jiramigrate.yaml:7: custom_rules[0].sevrity: unknown key (did you mean 'severity'?)",
        ),
        (
            INACTIVE_USERS_RULE + SECOND_RULE,
            "jiramigrate.yaml:8: custom_rules[1].id: "
            "duplicate custom rule id 'no-inactive-users' (first given on line 2)",
        ),
        (
            INACTIVE_USERS_RULE.replace("no-inactive-users", "email-unique"),
            "jiramigrate.yaml:2: custom_rules[0].id: 'email-unique' is already the id of a rule*",
        ),
        (
            INACTIVE_USERS_RULE.replace("no-inactive-users", "No_Inactive"),
            "jiramigrate.yaml:2: custom_rules[0].id: expected a kebab-case id*",
        ),
        (
            INACTIVE_USERS_RULE + "    severity: fatal\n",
            "jiramigrate.yaml:7: custom_rules[0].severity: expected one of error, warning, off*",
        ),
        (
            INACTIVE_USERS_RULE + '    finding: "{user_name"\n',
            "jiramigrate.yaml:7: custom_rules[0].finding: not a valid format string*",
        ),
        (
            INACTIVE_USERS_RULE + '    finding: "{user_name.__class__}"\n',
            "jiramigrate.yaml:7: custom_rules[0].finding: {user_name.__class__} is not a column*",
        ),
        (
            INACTIVE_USERS_RULE + '    finding: "{user_name:>200000000}"\n',
            "jiramigrate.yaml:7: custom_rules[0].finding: "
            "{user_name:>200000000} has a format spec or conversion; write a plain {user_name}",
        ),
        (
            INACTIVE_USERS_RULE + '    finding: "{user_name!r}"\n',
            "jiramigrate.yaml:7: custom_rules[0].finding: {user_name!r} has a format spec*",
        ),
        (
            INACTIVE_USERS_RULE + "    timeout: soon\n",
            "jiramigrate.yaml:7: custom_rules[0].timeout: expected a duration such as 30s or 2m*",
        ),
        (
            INACTIVE_USERS_RULE + "    timeout: 0s\n",
            "jiramigrate.yaml:7: custom_rules[0].timeout: must be more than 0 seconds, got 0s",
        ),
        (
            INACTIVE_USERS_RULE + "    max_rows: 0\n",
            "jiramigrate.yaml:7: custom_rules[0].max_rows: must be >= 1, got 0",
        ),
        (
            "custom_rules:\n  id: one-rule\n",
            "jiramigrate.yaml:2: custom_rules: expected a list of rules*",
        ),
        (
            INACTIVE_USERS_RULE + "rules:\n  no-inactive-user:\n    severity: warning\n",
            "jiramigrate.yaml:8: rules.no-inactive-user: "
            "unknown rule id (did you mean 'no-inactive-users'?)",
        ),
    ],
    ids=[
        "missing-sql", "unknown-key", "duplicate-id", "builtin-id", "not-kebab-case",
        "bad-severity", "broken-format", "format-attribute", "format-spec", "format-conversion",
        "bad-timeout", "zero-timeout", "zero-max-rows", "not-a-list", "override-typo",
    ],
)  # fmt: skip
def test_invalid_custom_rules_are_usage_errors_with_line_and_key(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest], config: str, location: str
) -> None:
    result = run(pytester, staff_backup[0], config=config)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    pattern = location.replace("[", "[[]")
    result.stderr.fnmatch_lines([f"*jiramigrate configuration: */{pattern}"])


def test_custom_id_may_not_take_a_conftest_rules_id(
    pytester: pytest.Pytester, staff_backup: tuple[Path, Manifest]
) -> None:
    pytester.makeconftest(CONFTEST_RULES)
    config = INACTIVE_USERS_RULE.replace("no-inactive-users", "no-contractors")

    result = run(pytester, staff_backup[0], config=config)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*custom_rules[[]0[]].id: 'no-contractors' is already the id*"])
