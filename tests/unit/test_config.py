from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_jiramigrate.config import ConfigError, find_config, load_config
from pytest_jiramigrate.config.model import DEFAULT_MAX_STORED
from pytest_jiramigrate.config.reader import MAX_CONFIG_BYTES
from pytest_jiramigrate.core.emails import DEFAULT_DENY_DOMAINS
from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import Rule, RuleSettings, Threshold, Verdict, passed, rule
from pytest_jiramigrate.rules.site import DEFAULT_CLOUD_GROUPS, CloudSite


def _no_findings(facts: Facts, settings: RuleSettings) -> Verdict:
    return passed("Nothing to check.")


EMAIL_UNIQUE = rule(
    id="email-unique",
    title="E-mail addresses are unique",
    why="Cloud identifies users by e-mail.",
    fix="Give each user their own address.",
)(_no_findings)

MEDIA_CHUNK_SIZE = rule(
    id="media-chunk-size",
    title="Media zips are small enough to upload",
    why="Cloud refuses media zips over 10 GB.",
    fix="Split the media by project.",
    severity="warning",
    thresholds=[
        Threshold("max_zip", 10 * 1000**3, "largest media zip", kind="size"),
        Threshold("max_chunk", 5 * 1000**3, "largest chunk after splitting", kind="size"),
    ],
    kind="media",
)(_no_findings)

EVERY_KIND = rule(
    id="every-kind",
    title="A rule with one threshold of each kind",
    why="Exercises the conversions.",
    fix="None needed.",
    thresholds=[
        Threshold("count", 5, "an int", kind="int"),
        Threshold("budget", 1000, "a size", kind="size"),
        Threshold("prefix", "addon_", "a str", kind="str"),
        Threshold("strict", False, "a bool", kind="bool"),
        Threshold("mode", "fast", "a choice", kind="choice", choices=("fast", "thorough")),
        Threshold("groups", ("jira-users",), "a list", kind="list"),
    ],
)(_no_findings)

RULES: tuple[Rule, ...] = (EMAIL_UNIQUE, MEDIA_CHUNK_SIZE, EVERY_KIND)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jiramigrate.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, RULES)
    return info.value


def assert_error_at(error: ConfigError, path: Path, line: int | None, key: str | None) -> None:
    """The error names the file, the exact line and the dotted key, in that order."""
    assert (error.path, error.line, error.key) == (path, line, key)
    location = str(path) if line is None else f"{path}:{line}"
    prefix = f"{location}: {key}: " if key else f"{location}: "
    assert str(error).startswith(prefix), str(error)
    assert str(error) == prefix + error.message


# --- defaults -------------------------------------------------------------------------


def test_no_file_gives_builtin_defaults_for_every_rule() -> None:
    config = load_config(None, RULES)

    assert config.path is None
    assert config.site == CloudSite()
    assert config.site.cloud_groups == DEFAULT_CLOUD_GROUPS
    assert config.site.deny_domains == DEFAULT_DENY_DOMAINS
    assert config.archive == ArchiveLimits()
    assert config.max_listed == 50
    assert set(config.rules) == {"email-unique", "media-chunk-size", "every-kind"}
    media = config.for_rule("media-chunk-size")
    assert media.severity == "warning"
    assert media.max_findings == 0
    assert dict(media.limits) == {"max_zip": 10 * 1000**3, "max_chunk": 5 * 1000**3}
    assert media["max_zip"] == 10 * 1000**3
    assert media.site is config.site
    assert config.for_rule("email-unique").severity == "error"
    assert dict(config.for_rule("email-unique").limits) == {}


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    path = write_config(tmp_path, text)

    config = load_config(path, RULES)

    assert config.path == path
    assert {**config.as_dict(), "path": None} == load_config(None, RULES).as_dict()


def test_empty_sections_keep_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "target:\nemail:\nrules:\n  email-unique:\n")

    assert {**load_config(path, RULES).as_dict(), "path": None} == load_config(
        None, RULES
    ).as_dict()


def test_for_rule_names_an_unknown_rule() -> None:
    with pytest.raises(KeyError, match="no-such-rule"):
        load_config(None, RULES).for_rule("no-such-rule")


# --- a full, valid file ---------------------------------------------------------------

FULL_CONFIG = """\
    target:
      plan: premium
      billing: annual
      user_tier: 200
      users: overwrite
      cloud_groups: [site-admins, jira-admins-cloud]
    email:
      allow_domains: [Corp.Internal]
      deny_domains: []
    archive:
      max_ratio: 500
      max_uncompressed: 5 GiB
    report:
      max_listed: 10
    rules:
      email-unique:
        severity: off
        max_findings: 3
      media-chunk-size:
        max_zip: 2GB
      every-kind:
        severity: warning
        count: 0x10
        budget: 1_000
        prefix: no
        strict: true
        mode: thorough
        groups: [a, "b", 7.6]
"""


def test_full_file_sets_every_section(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, FULL_CONFIG), RULES)

    assert config.site == CloudSite(
        plan="premium",
        billing="annual",
        user_tier=200,
        users="overwrite",
        cloud_groups=("site-admins", "jira-admins-cloud"),
        allow_domains=("corp.internal",),
        deny_domains=(),
    )
    assert config.archive == ArchiveLimits(max_ratio=500, max_uncompressed=5 * 1024**3)
    assert config.max_listed == 10


def test_plain_off_is_a_severity_not_a_yaml_boolean(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, FULL_CONFIG), RULES)

    email = config.for_rule("email-unique")
    assert (email.severity, email.max_findings) == ("off", 3)


def test_rule_thresholds_are_converted_by_kind(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, FULL_CONFIG), RULES)

    media = config.for_rule("media-chunk-size")
    assert dict(media.limits) == {"max_zip": 2 * 1000**3, "max_chunk": 5 * 1000**3}
    assert media.severity == "warning"
    every = config.for_rule("every-kind")
    assert every.severity == "warning"
    assert dict(every.limits) == {
        "count": 16,
        "budget": 1000,
        "prefix": "no",
        "strict": True,
        "mode": "thorough",
        "groups": ("a", "b", "7.6"),
    }
    assert every.site is config.site


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("", DEFAULT_MAX_STORED),
        ("report:\n  max_stored: 5\n", 5),
        ("report:\n  max_stored:\n", None),
    ],
    ids=["default", "set", "null-keeps-all"],
)
def test_max_stored_defaults_caps_or_keeps_all(
    tmp_path: Path, written: str, stored: int | None
) -> None:
    """report.max_stored caps the findings a report stores per rule; null keeps them all."""
    config = load_config(write_config(tmp_path, written), RULES)
    assert config.max_stored == stored
    assert config.as_dict()["report"]["max_stored"] == stored


def test_as_dict_round_trips_through_json(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL_CONFIG)
    effective = load_config(path, RULES).as_dict()

    assert json.loads(json.dumps(effective)) == effective
    assert effective["path"] == str(path)
    assert effective["target"]["cloud_groups"] == ["site-admins", "jira-admins-cloud"]
    assert effective["email"] == {"allow_domains": ["corp.internal"], "deny_domains": []}
    assert effective["archive"] == {"max_ratio": 500, "max_uncompressed": 5 * 1024**3}
    assert effective["report"] == {"max_listed": 10, "max_stored": DEFAULT_MAX_STORED}
    assert effective["rules"]["email-unique"] == {
        "severity": "off",
        "max_findings": 3,
        "limits": {},
    }
    assert effective["rules"]["every-kind"]["limits"]["groups"] == ["a", "b", "7.6"]
    assert set(effective["rules"]) == {rule.id for rule in RULES}


def test_user_tier_may_be_explicitly_unset(tmp_path: Path) -> None:
    path = write_config(tmp_path, "target:\n  user_tier: ~\n")

    assert load_config(path, RULES).site.user_tier is None


def test_importer_email_is_read_and_recorded(tmp_path: Path) -> None:
    path = write_config(tmp_path, "target:\n  importer_email: ' Site.Admin@acme.com '\n")
    config = load_config(path, RULES)
    assert config.site.importer_email == "Site.Admin@acme.com"
    assert config.as_dict()["target"]["importer_email"] == "Site.Admin@acme.com"
    assert load_config(write_config(tmp_path, "target:\n"), RULES).site.importer_email is None


def test_severity_may_be_quoted(tmp_path: Path) -> None:
    path = write_config(tmp_path, "rules:\n  media-chunk-size:\n    severity: 'error'\n")

    assert load_config(path, RULES).for_rule("media-chunk-size").severity == "error"


# --- validation errors: exact line and dotted key --------------------------------------

INVALID = [
    pytest.param(
        "targets:\n  plan: free\n",
        1,
        "targets",
        "unknown section (did you mean 'target'?)",
        id="unknown-section",
    ),
    pytest.param(
        "target:\n  plan: free\n  plann: free\n",
        3,
        "target.plann",
        "unknown key (did you mean 'plan'?)",
        id="unknown-target-key",
    ),
    pytest.param(
        "target:\n  colour: blue\n",
        2,
        "target.colour",
        "unknown key (expected one of: plan, billing, user_tier, users, cloud_groups,"
        " importer_email)",
        id="unknown-key-lists-valid-ones",
    ),
    pytest.param(
        "target:\n  importer_email: admin\n",
        2,
        "target.importer_email",
        "expected an e-mail address, got 'admin'",
        id="importer-email-not-an-address",
    ),
    pytest.param(
        "target:\n  importer_email: [a@b.com]\n",
        2,
        "target.importer_email",
        "expected text, got a list",
        id="importer-email-a-list",
    ),
    pytest.param(
        "rules:\n  email-uniq:\n    severity: off\n",
        2,
        "rules.email-uniq",
        "unknown rule id (did you mean 'email-unique'?)",
        id="unknown-rule-close",
    ),
    pytest.param(
        "rules:\n  zzz:\n    severity: off\n",
        2,
        "rules.zzz",
        "unknown rule id (expected one of: email-unique, media-chunk-size, every-kind)",
        id="unknown-rule-far",
    ),
    pytest.param(
        "rules:\n  email-unique:\n    severity: off\n    max_findng: 1\n",
        4,
        "rules.email-unique.max_findng",
        "unknown key (did you mean 'max_findings'?)",
        id="unknown-rule-key",
    ),
    pytest.param(
        "rules:\n  email-unique:\n    max_zip: 1GB\n",
        3,
        "rules.email-unique.max_zip",
        "unknown key (expected one of: severity, max_findings)",
        id="threshold-of-another-rule",
    ),
    pytest.param(
        "target:\n  plan: premum\n",
        2,
        "target.plan",
        "expected one of free, standard, premium, enterprise, got 'premum' "
        "(did you mean 'premium'?)",
        id="bad-plan",
    ),
    pytest.param(
        "target:\n  billing: weekly\n",
        2,
        "target.billing",
        "expected one of monthly, annual, got 'weekly'",
        id="bad-billing",
    ),
    pytest.param(
        "target:\n  users: [merge]\n",
        2,
        "target.users",
        "expected text, got a list",
        id="choice-given-a-list",
    ),
    pytest.param(
        "target:\n  user_tier: 0\n",
        2,
        "target.user_tier",
        "must be >= 1, got 0",
        id="user-tier-zero",
    ),
    pytest.param(
        "target:\n  user_tier: '200'\n",
        2,
        "target.user_tier",
        "expected a whole number >= 1, got text '200'",
        id="user-tier-quoted",
    ),
    pytest.param(
        "target:\n  cloud_groups: site-admins\n",
        2,
        "target.cloud_groups",
        "expected a list such as [a, b] ([] for none), got text 'site-admins'",
        id="groups-not-a-list",
    ),
    pytest.param(
        "target:\n  cloud_groups:\n    - site-admins\n    - {name: x}\n",
        4,
        "target.cloud_groups[1]",
        "expected text, got a mapping",
        id="group-is-a-mapping",
    ),
    pytest.param(
        "target:\n  cloud_groups:\n    -\n",
        3,
        "target.cloud_groups[0]",
        "expected text, got nothing ''",
        id="group-is-empty",
    ),
    pytest.param(
        "email:\n  deny_domains: [example.com, bob@acme.com]\n",
        2,
        "email.deny_domains[1]",
        "expected a domain such as corp.example, got 'bob@acme.com'",
        id="domain-is-an-address",
    ),
    pytest.param(
        "email:\n  allow_domains:\n",
        2,
        "email.allow_domains",
        "expected a list such as [a, b] ([] for none), got nothing ''",
        id="domains-null",
    ),
    pytest.param(
        "archive:\n  max_ratio: 0\n",
        2,
        "archive.max_ratio",
        "must be >= 1, got 0",
        id="ratio-zero",
    ),
    pytest.param(
        "archive:\n  max_ratio: 2.5\n",
        2,
        "archive.max_ratio",
        "expected a whole number >= 1, got number '2.5'",
        id="ratio-float",
    ),
    pytest.param(
        "archive:\n  max_uncompressed: 10 XB\n",
        2,
        "archive.max_uncompressed",
        "unknown size unit 'XB' in '10 XB'",
        id="size-unknown-unit",
    ),
    pytest.param(
        "archive:\n  max_uncompressed: -1GB\n",
        2,
        "archive.max_uncompressed",
        "a size cannot be negative",
        id="size-negative-text",
    ),
    pytest.param(
        "archive:\n  max_uncompressed: -5\n",
        2,
        "archive.max_uncompressed",
        "a size cannot be negative, got -5",
        id="size-negative-int",
    ),
    pytest.param(
        "archive:\n  max_uncompressed: 1.5\n",
        2,
        "archive.max_uncompressed",
        "expected a size such as 10GB, got number '1.5'",
        id="size-float",
    ),
    pytest.param(
        "report:\n  max_listed: -1\n",
        2,
        "report.max_listed",
        "must be >= 0, got -1",
        id="max-listed-negative",
    ),
    pytest.param(
        "report:\n  max_stored: -1\n",
        2,
        "report.max_stored",
        "must be >= 0, got -1",
        id="max-stored-negative",
    ),
    pytest.param(
        "rules:\n  email-unique:\n    severity: fatal\n",
        3,
        "rules.email-unique.severity",
        "expected one of error, warning, off, got 'fatal'",
        id="bad-severity",
    ),
    pytest.param(
        "rules:\n  email-unique:\n    max_findings: -1\n",
        3,
        "rules.email-unique.max_findings",
        "must be >= 0, got -1",
        id="max-findings-negative",
    ),
    pytest.param(
        "rules:\n  email-unique:\n    max_findings: true\n",
        3,
        "rules.email-unique.max_findings",
        "expected a whole number >= 0, got true/false 'true'",
        id="max-findings-bool",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    count: 1.5\n",
        3,
        "rules.every-kind.count",
        "expected a whole number >= 0, got number '1.5'",
        id="int-threshold-float",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    budget: lots\n",
        3,
        "rules.every-kind.budget",
        "expected a size such as 10GB or 5 GiB, got 'lots'",
        id="size-threshold-text",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    prefix: ~\n",
        3,
        "rules.every-kind.prefix",
        "expected text, got nothing '~'",
        id="str-threshold-null",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    strict: maybe\n",
        3,
        "rules.every-kind.strict",
        "expected true or false, got text 'maybe'",
        id="bool-threshold-text",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    mode: thorogh\n",
        3,
        "rules.every-kind.mode",
        "expected one of fast, thorough, got 'thorogh' (did you mean 'thorough'?)",
        id="choice-threshold",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    groups: {a: 1}\n",
        3,
        "rules.every-kind.groups",
        "expected a list such as [a, b] ([] for none), got a mapping",
        id="list-threshold",
    ),
    pytest.param(
        "rules:\n  every-kind:\n    groups: [a, [b]]\n",
        3,
        "rules.every-kind.groups[1]",
        "expected text, got a list",
        id="list-threshold-nested",
    ),
    pytest.param(
        "target: standard\n",
        1,
        "target",
        "expected a mapping of keys, got text 'standard'",
        id="section-not-a-mapping",
    ),
    pytest.param(
        "rules:\n  email-unique: 3\n",
        2,
        "rules.email-unique",
        "expected a mapping of keys, got number '3'",
        id="rule-not-a-mapping",
    ),
    pytest.param(
        "rules: [email-unique]\n",
        1,
        "rules",
        "expected a mapping of keys, got a list",
        id="rules-not-a-mapping",
    ),
    pytest.param(
        "target:\n  plan: free\n\n  plan: premium\n",
        4,
        "target.plan",
        "duplicate key (first given on line 2)",
        id="duplicate-key",
    ),
    pytest.param(
        "- target\n- rules\n",
        1,
        None,
        "the top level must be a mapping of sections (target, email, archive, report, rules)",
        id="top-level-list",
    ),
    pytest.param(
        "just text\n",
        1,
        None,
        "the top level must be a mapping of sections (target, email, archive, report, rules)",
        id="top-level-scalar",
    ),
    pytest.param(
        "target:\n  ? [plan]\n  : free\n",
        2,
        "target",
        "keys must be plain names",
        id="complex-key",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), INVALID)
def test_invalid_value_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str | None, message: str
) -> None:
    path = write_config(tmp_path, text)

    error = config_error(path)

    assert_error_at(error, path, line, key)
    assert message in error.message


def test_error_deep_in_a_realistic_file_reports_its_line(tmp_path: Path) -> None:
    text = FULL_CONFIG.replace("        mode: thorough", "        mode: thorough\n        mdoe: x")
    path = write_config(tmp_path, text)

    error = config_error(path)

    assert str(error) == (f"{path}:28: rules.every-kind.mdoe: unknown key (did you mean 'mode'?)")


# --- malformed and hostile YAML -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param("target:\n  plan: [free\nrules: {}\n", 3, "invalid YAML", id="flow"),
        pytest.param("target:\n  plan: free\n bad: indent\n", 3, "invalid YAML", id="indent"),
        pytest.param("target: {}\n---\nrules: {}\n", 2, "invalid YAML", id="two-documents"),
        pytest.param("target:\n  plan: 'free\n", 3, "invalid YAML", id="unterminated-quote"),
        pytest.param("target:\n  plan: fr\x00ee\n", 2, "character U+0000 is not allowed", id="nul"),
        pytest.param(
            "base: &tier\n  plan: free\ntarget: *tier\n", 1, "anchors and aliases", id="anchor"
        ),
        pytest.param(
            'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\n',
            1,
            "anchors and aliases",
            id="billion-laughs",
        ),
        pytest.param(
            "target:\n  plan: !!python/object/apply:os.system [echo pwned]\n",
            2,
            "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not accepted",
            id="python-tag",
        ),
        pytest.param("target:\n  plan: !plan free\n", 2, "YAML tag '!plan'", id="local-tag"),
        pytest.param(
            "target:\n  plan: !!timestamp 2024-01-01\n", 2, "YAML tag", id="timestamp-tag"
        ),
        pytest.param("x: " + "[" * 40 + "]" * 40 + "\n", 1, "nested more than", id="nesting"),
    ],
)
def test_malformed_or_hostile_yaml_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write_config(tmp_path, text)

    error = config_error(path)

    assert_error_at(error, path, line, None)
    assert message in error.message


def test_standard_tags_are_accepted(tmp_path: Path) -> None:
    path = write_config(tmp_path, "report:\n  max_listed: !!int '7'\n")

    assert load_config(path, RULES).max_listed == 7


def test_file_over_one_megabyte_is_refused_unparsed(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1), encoding="utf-8")

    error = config_error(path)

    assert_error_at(error, path, None, None)
    assert "larger than 1.0 MB" in error.message


def test_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    path.write_text("#" * (MAX_CONFIG_BYTES - 1) + "\n", encoding="utf-8")

    assert load_config(path, RULES).max_listed == 50


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    path.write_bytes(b"target:\n  plan: free\nemail:\n  allow_domains: [caf\xe9.fr]\n")

    error = config_error(path)

    assert_error_at(error, path, 4, None)
    assert "not UTF-8" in error.message


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    path.write_bytes(b"\xef\xbb\xbftarget:\n  plan: free\n")

    assert load_config(path, RULES).site.plan == "free"


# --- files that cannot be read --------------------------------------------------------


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    error = config_error(path)

    assert_error_at(error, path, None, None)
    assert "file not found" in error.message
    assert "--jira-config" in error.message


def test_directory_is_refused(tmp_path: Path) -> None:
    error = config_error(tmp_path)

    assert_error_at(error, tmp_path, None, None)
    assert "is a directory" in error.message


def test_path_through_a_file_is_unreadable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    path = blocker / "jiramigrate.yaml"

    error = config_error(path)

    assert_error_at(error, path, None, None)
    assert "cannot read the file" in error.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "jiramigrate.yaml"
    os.mkfifo(path)

    error = config_error(path)

    assert "not a regular file" in error.message


def test_unreadable_file_is_refused(tmp_path: Path, deny_read: Any) -> None:
    path = write_config(tmp_path, "target: {}\n")
    deny_read(path)

    error = config_error(path)

    assert "check its permissions" in error.message


# --- finding the file -----------------------------------------------------------------


def test_find_config_prefers_the_option_resolved_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rootdir = tmp_path / "root"
    rootdir.mkdir()
    (rootdir / "jiramigrate.yaml").write_text("", encoding="utf-8")
    (rootdir / "from-ini.yaml").write_text("", encoding="utf-8")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "mine.yaml").write_text("", encoding="utf-8")
    monkeypatch.chdir(cwd)

    assert find_config("mine.yaml", "from-ini.yaml", rootdir) == cwd / "mine.yaml"


def test_find_config_resolves_the_ini_value_against_rootdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "gate.yaml").write_text("", encoding="utf-8")
    (tmp_path / "jiramigrate.yaml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "conf")

    assert find_config(None, "conf/gate.yaml", tmp_path) == tmp_path / "conf" / "gate.yaml"


def test_find_config_falls_back_to_the_rootdir_default(tmp_path: Path) -> None:
    (tmp_path / "jiramigrate.yaml").write_text("", encoding="utf-8")

    assert find_config(None, "", tmp_path) == tmp_path / "jiramigrate.yaml"
    assert find_config(None, None, tmp_path) == tmp_path / "jiramigrate.yaml"


def test_find_config_without_any_file_means_defaults(tmp_path: Path) -> None:
    assert find_config(None, None, tmp_path) is None


def test_find_config_absolute_ini_value_is_used_as_is(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    target.write_text("", encoding="utf-8")

    assert find_config(None, str(target), tmp_path / "root") == target


def test_missing_file_named_by_the_option_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as info:
        find_config("typo.yaml", None, tmp_path)

    assert info.value.path == tmp_path / "typo.yaml"
    assert str(info.value) == (
        f"{tmp_path / 'typo.yaml'}: file not found (given by --jira-config); "
        "create it or correct the path"
    )


def test_missing_file_named_by_the_ini_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(None, "gate.yaml", tmp_path)

    assert info.value.path == tmp_path / "gate.yaml"
    assert "jira_config ini key" in str(info.value)
