"""Archive and XML rules: can Cloud's import open the zip and parse what is inside?

These fail first and fail hardest: the site import reads the archive before
anything else and stops at the first XML fault, hours into the upload.
"""

from __future__ import annotations

from pytest_jiramigrate.facts import Facts, parse_release
from pytest_jiramigrate.rules.base import Finding, RuleSettings, Threshold, Verdict, plural, rule

#: archive_problem kinds that concern where the XML files are, not the zip itself
LAYOUT_KINDS = (
    "entities-nested",
    "entities-missing",
    "activeobjects-nested",
    "activeobjects-missing",
)


def _archive_findings(facts: Facts, kinds: tuple[str, ...], include: bool) -> list[Finding]:
    marks = ",".join("?" * len(kinds))
    operator = "IN" if include else "NOT IN"
    rows = facts.query(
        f"SELECT kind, member, detail FROM archive_problem WHERE kind {operator} ({marks})"
        " ORDER BY rowid",
        kinds,
    )
    return [
        Finding(
            f"{row['member'] + ': ' if row['member'] else ''}{row['detail']}",
            {"kind": row["kind"], "member": row["member"], "detail": row["detail"]},
        )
        for row in rows
    ]


@rule(
    id="backup-archive",
    title="The backup is a readable, safe zip",
    group="archive",
    needs=(),
    why="""Cloud's site import takes a .zip whose members it can inflate with standard
    deflate. A truncated upload, a bad CRC, encrypted members, Deflate64 from Windows
    Explorer or an archive that unpacks to far more than its size make the import fail
    (often after a long upload), and unsafe member names are refused outright.""",
    fix="""Take a new backup in Jira (Administration > System > Backup system) and copy it
    with a checksum (sha256sum on both ends). If you re-zipped it yourself, use
    `zip -X site-backup.zip entities.xml activeobjects.xml` (standard deflate, no
    encryption), not a desktop archiver.""",
)
def backup_archive(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = _archive_findings(facts, LAYOUT_KINDS, include=False)
    if findings:
        return Verdict(findings, f"The backup archive has {plural(len(findings), 'problem')}.")
    members = facts.scalar("SELECT count(*) FROM member")
    return Verdict((), f"The backup is a readable zip of {plural(members, 'member')}.")


def _at_root(file: str) -> tuple[str, ...]:
    stem = file.removesuffix(".xml")
    return (f"{stem}-nested", f"{stem}-missing")


@rule(
    id="entities-xml-at-root",
    title="entities.xml lies at the root of the zip",
    group="archive",
    needs=("archive",),
    why="""Cloud's import looks for entities.xml at the root of the archive and rejects
    anything else with "The import archive doesn't contain entities.xml file": a zip
    of the folder holding the files, or an entity file with another name.""",
    fix="""Zip the files themselves, not their folder:
    `cd backup && zip ../site-backup.zip entities.xml activeobjects.xml`.
    Rename a differently named entity file to entities.xml.""",
)
def entities_xml_at_root(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = _archive_findings(facts, _at_root("entities.xml"), include=True)
    if findings:
        return Verdict(findings, "The backup has no entities.xml at the root of the zip.")
    return Verdict((), "entities.xml lies at the root of the zip.")


@rule(
    id="activeobjects-xml-at-root",
    title="activeobjects.xml lies at the root of the zip",
    group="archive",
    needs=("archive",),
    why="""Jira's backup holds the data of apps (boards, sprints, Service Management
    queues, ...) in activeobjects.xml beside entities.xml. Without it at the zip root
    that data is not imported.""",
    fix="""Use the zip Jira wrote, or zip both files together at the root:
    `zip site-backup.zip entities.xml activeobjects.xml`.""",
)
def activeobjects_xml_at_root(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = _archive_findings(facts, _at_root("activeobjects.xml"), include=True)
    if findings:
        return Verdict(findings, "The backup has no activeobjects.xml at the root of the zip.")
    return Verdict((), "activeobjects.xml lies at the root of the zip.")


def _where(row: dict) -> str:
    place = f"{row['file']} line {row['line']}, column {row['column']}"
    if row.get("entity"):
        place += f" in {row['entity']}"
        if row.get("entity_id"):
            place += f" id={row['entity_id']}"
    if row.get("issue_key"):
        place += f" ({row['issue_key']})"
    return place


def _xml_findings(facts: Facts, kinds: tuple[str, ...]) -> list[Finding]:
    marks = ",".join("?" * len(kinds))
    rows = facts.query(
        f"""SELECT p.file, p.kind, p.line, p.column, p.entity, p.entity_id, p.codepoint,
                   p.detail,
                   CASE p.entity
                     WHEN 'Issue' THEN (SELECT key FROM issue WHERE id = p.entity_id)
                     WHEN 'Action' THEN (SELECT i.key FROM comment c JOIN issue i
                                         ON i.id = c.issue_id WHERE c.id = p.entity_id)
                   END AS issue_key
            FROM xml_problem p WHERE p.kind IN ({marks}) ORDER BY p.file DESC, p.rowid""",
        kinds,
    )
    findings = []
    for row in rows:
        fields = {key: row[key] for key in row.keys() if row[key] is not None}  # noqa: SIM118
        findings.append(Finding(f"{_where(fields)}: {row['detail']}", fields))
    return findings


@rule(
    id="xml-well-formed",
    title="entities.xml and activeobjects.xml are well-formed XML",
    group="archive",
    needs=("entities.xml",),
    why="""The import parses the whole backup with a strict XML parser and stops at the
    first syntax error: a file cut short by a full disk or an interrupted copy, an
    unclosed element, garbage bytes, or a DOCTYPE (Jira never writes one).""",
    fix="""Take a new backup and check it before copying: `xmllint --stream --noout
    entities.xml`. A truncated file usually means the backup ran out of disk space in
    <jira-home>/export, or the copy was interrupted.""",
)
def xml_well_formed(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = _xml_findings(facts, ("not-well-formed", "doctype", "encoding"))
    if findings:
        return Verdict(findings, f"The backup's XML is not well-formed: {findings[0].text}.")
    unread = facts.missing("activeobjects.xml")
    if unread is None:
        return Verdict((), "entities.xml and activeobjects.xml are well-formed.")
    return Verdict(
        (), f"entities.xml is well-formed; activeobjects.xml was not checked: {unread.rstrip('.')}."
    )


@rule(
    id="xml-valid-characters",
    title="The XML holds only characters XML 1.0 allows",
    group="archive",
    needs=("entities.xml",),
    why="""Jira's backup writer does not escape raw control characters, U+FFFE/U+FFFF or
    bytes that are not UTF-8, so they reach entities.xml (often pasted into issues
    from e-mails and terminals). Cloud's XML parser stops at the first one and the
    whole import fails.""",
    fix="""Write a cleaned copy of the backup:

    `jiramigrate clean-xml <backup> --out <cleaned-backup> --log changes.csv`

    It removes every listed character (or use `--replace ?` to keep a
    mark), keeps every other byte, puts entities.xml and activeobjects.xml at the zip
    root and lists each change with its issue key in changes.csv; import the
    .clean.zip. Or remove the characters on the server (edit each listed issue,
    comment or change-history row) and take a new backup.""",
    sql="""-- PostgreSQL: issues whose summary or description holds a control character
SELECT p.pkey || '-' || i.issuenum AS issue_key, i.id
FROM jiraissue i JOIN project p ON p.id = i.project
WHERE i.summary ~ '[\\x01-\\x08\\x0B\\x0C\\x0E-\\x1F]'
   OR i.description ~ '[\\x01-\\x08\\x0B\\x0C\\x0E-\\x1F]';""",
)
def xml_valid_characters(facts: Facts, settings: RuleSettings) -> Verdict:
    findings = _xml_findings(facts, ("invalid-char",))
    if findings:
        return Verdict(
            findings,
            f"The backup holds {plural(len(findings), 'character')} that XML 1.0 forbids.",
        )
    return Verdict((), "The backup holds no character that XML 1.0 forbids.")


@rule(
    id="jira-version-supported",
    title="The backup comes from a Jira version Cloud imports",
    group="archive",
    needs=("entities.xml",),
    thresholds=(
        Threshold("supported", "7.6.0", "oldest version Cloud's import supports", "str"),
        Threshold(
            "oldest", "7.0.0", "older than this always fails; up to `supported` may work", "str"
        ),
    ),
    why="""Cloud's site import upgrades the data of supported Server/Data Center versions
    only (7.6.0 and later). From 7.0.0 it may work; backups from before 7.0 use data
    layouts the import cannot upgrade.""",
    fix="""Upgrade the Jira Server/Data Center instance (a test copy is enough) to 7.6.0
    or later, then take the backup from the upgraded instance.""",
    sql="SELECT propertyvalue FROM propertystring ps JOIN propertyentry pe ON pe.id = ps.id"
    " WHERE pe.property_key = 'jira.version.patched';",
)
def jira_version_supported(facts: Facts, settings: RuleSettings) -> Verdict:
    found = facts.jira_version()
    supported, oldest = parse_release(settings["supported"]), parse_release(settings["oldest"])
    fields = {
        "version": found.text if found else "",
        "source": found.source if found else None,
        "supported": settings["supported"],
        "oldest": settings["oldest"],
    }
    if found is None or found.release is None:
        finding = Finding(
            "neither the entities.xml header nor the jira.version.patched property names"
            " a Jira version",
            fields,
        )
        return Verdict([finding], "The backup does not say which Jira version wrote it.")
    text, version = found.text, found.release
    said = f"Jira {text}" + ("" if found.source.endswith("header") else f" (from {found.source})")
    limits = {"observed": text, "limit": settings["supported"]}
    if oldest is not None and version < oldest:
        finding = Finding(f"{said} is older than {settings['oldest']}", fields)
        return Verdict(
            [finding],
            f"The backup comes from {said}, which Cloud's import does not support.",
            **limits,
        )
    if supported is not None and version < supported:
        advisory = Finding(f"{said} is older than {settings['supported']}", fields)
        return Verdict(
            (),
            f"The backup comes from {said}: Cloud's import may work but does not promise to.",
            advisories=[advisory],
            **limits,
        )
    return Verdict((), f"The backup comes from {said}, which Cloud's import supports.", **limits)


@rule(
    id="backup-complete",
    title="Every entity the trailer declares was read",
    group="archive",
    needs=("entities",),
    why="""Jira 4.x and later end entities.xml with a comment counting the rows it wrote
    per entity. Fewer rows than declared mean the file was damaged, and Cloud imports
    an incomplete site or fails near the end. Jira 3.x wrote no such comment, nor do
    some real 7.x backups: without it, a file whose root element closes is complete as
    far as anyone can tell (a file cut short leaves its root open, which
    xml-well-formed reports).""",
    fix="""Take a new backup; make sure <jira-home>/export has room for it and that the
    copy to your workstation completes (compare sha256sum on both ends).""",
)
def backup_complete(facts: Facts, settings: RuleSettings) -> Verdict:
    read = facts.scalar("SELECT sum(rows) FROM entity_count WHERE file = 'entities.xml'") or 0
    if facts.meta.get("trailer") != "present":
        return Verdict(
            (),
            f"entities.xml has no '___ Entities ___' trailer to compare with; its root element"
            f" closes after {plural(read, 'row')}, so it is complete as far as can be told.",
            observed=read,
        )
    rows = facts.query(
        """SELECT entity, sum(read) AS read, sum(declared) AS declared FROM (
             SELECT entity, rows AS read, 0 AS declared FROM entity_count
             WHERE file = 'entities.xml'
             UNION ALL SELECT entity, 0, declared FROM trailer_count WHERE entity != 'Total')
           GROUP BY entity HAVING sum(read) != sum(declared) ORDER BY entity"""
    )
    findings = [
        Finding(
            f"{row['entity']}: {row['read']} rows read, the trailer declares {row['declared']}",
            {"entity": row["entity"], "read": row["read"], "declared": row["declared"]},
        )
        for row in rows
    ]
    total = facts.scalar("SELECT declared FROM trailer_count WHERE entity = 'Total'")
    if findings:
        return Verdict(
            findings,
            f"{plural(len(findings), 'entity', 'entities')} disagree with the trailer's counts.",
            observed=read,
            limit=total,
        )
    return Verdict(
        (),
        f"All {plural(read, 'row')} the trailer declares were read.",
        observed=read,
        limit=total,
    )


RULES = (
    backup_archive,
    entities_xml_at_root,
    activeobjects_xml_at_root,
    xml_well_formed,
    xml_valid_characters,
    jira_version_supported,
    backup_complete,
)
