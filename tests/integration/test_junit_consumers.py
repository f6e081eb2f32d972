"""The JUnit file as CI servers read it: schema-valid, and meaningful through a real parser."""

from __future__ import annotations

from pathlib import Path

import junitparser
import pytest
from lxml import etree

from synth import SynthSpec, write_backup

SCHEMA = Path(__file__).parents[1] / "data" / "junit-10.xsd"


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("junit") / "site-backup.zip"
    write_backup(path, SynthSpec(faults=["email-no-tld", "control-char"]))
    return path


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def junit_of(pytester: pytest.Pytester, backup: Path, family: str) -> Path:
    """Run the readiness suite on ``backup`` and return its JUnit file."""
    xml = pytester.path / f"{family}.xml"
    result = pytester.runpytest_inprocess(
        f"--jira-backup={backup}", f"--junitxml={xml}", "-o", f"junit_family={family}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    return xml


def test_xunit2_output_is_valid_against_the_schema(
    pytester: pytest.Pytester, backup: Path, schema: etree.XMLSchema
) -> None:
    document = etree.parse(str(junit_of(pytester, backup, "xunit2")))
    assert schema.validate(document), schema.error_log


def test_schema_is_strict_enough_to_reject_xunit1_attributes(
    pytester: pytest.Pytester, backup: Path, schema: etree.XMLSchema
) -> None:
    """xunit1 adds ``file``/``line`` to each testcase: a schema that accepted it checks nothing."""
    document = etree.parse(str(junit_of(pytester, backup, "xunit1")))
    assert not schema.validate(document)
    assert "'file'" in str(schema.error_log) or "'line'" in str(schema.error_log)


def test_default_family_parses(pytester: pytest.Pytester, backup: Path) -> None:
    xml = pytester.path / "default.xml"
    pytester.runpytest_inprocess(f"--jira-backup={backup}", f"--junitxml={xml}")
    names = {case.get("name") for case in etree.parse(str(xml)).iter("testcase")}
    assert {"email-tld", "xml-valid-characters", "backup-archive"} <= names


def test_junitparser_reads_rules_as_test_cases(pytester: pytest.Pytester, backup: Path) -> None:
    suites = junitparser.JUnitXml.fromfile(str(junit_of(pytester, backup, "xunit2")))
    cases = {case.name: case for suite in suites for case in suite}
    assert {case.classname for case in cases.values()} == {backup.name}

    failed = {name for name, case in cases.items() if not case.is_passed}
    assert {"email-tld", "xml-valid-characters"} <= failed
    assert cases["backup-archive"].is_passed

    (failure,) = cases["email-tld"].result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message == "1 user has an e-mail address without a top-level domain."
    assert "\n" not in failure.message
    assert failure.text.startswith(failure.message)

    properties = {
        prop.name: prop.value
        for block in cases["email-tld"].iterchildren(junitparser.Properties)
        for prop in block
    }
    assert properties["rule"] == "email-tld"
    assert properties["severity"] == "error"
    assert properties["findings"] == "1"
    assert properties["threshold"] == "0"
