"""Media rules: will Cloud's "Import media" accept the attachments, avatars and logos?

Each ``--jira-media`` target (a directory or a zip; one per chunk) is its own
test node whose items are these rules.  The media inventory lives in the
``media_*`` tables written by :func:`pytest_jiramigrate.scan.media.scan_media`,
in the same store as the backup's facts when a backup was scanned too.

Which target an item checks is the check's subject (``settings.subject``, its
node name).  Rules about the whole site (``attachments-present``,
``storage-within-plan``) look across every target in the store, because a
chunked upload is one migration.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator

from pytest_jiramigrate.core.sizes import format_size
from pytest_jiramigrate.facts import Facts
from pytest_jiramigrate.rules.base import (
    Finding,
    Rule,
    RuleSettings,
    Threshold,
    Verdict,
    passed,
    plural,
    rule,
)
from pytest_jiramigrate.scan.media import ISSUE_KEY, bucket_of

GB = 1000**3
ATTACHMENTS_ROOT = "data/attachments/"
EXPECTED_ROOTS = "data/attachments, data/avatars and logos"
SPLIT_ADVICE = "split into 2-5 GB chunks with `jiramigrate split-media`"
LEGACY_ADVICE = (
    "Jira 7+ moves legacy folders to the bucketed layout when it upgrades; otherwise move the file"
)


def _target_row(facts: Facts, settings: RuleSettings) -> tuple[str, str, str]:
    """(name, kind 'dir'|'zip', noun for messages) of the media target being checked."""
    name = settings.subject
    kind = facts.scalar("SELECT kind FROM media_target WHERE name = ?", (name,)) or "dir"
    return name, kind, "zip" if kind == "zip" else "directory"


def _has_entities(facts: Facts) -> bool:
    return facts.missing("entities") is None


def _summary(findings: list[Finding], what: str, where: str) -> str:
    """One sentence such as "3 misplaced files in the media zip media.zip.", or on a pass
    "No misplaced file in the media zip media.zip." (a passed rule says what it checked)."""
    return f"{plural(len(findings), what)} {where}." if findings else f"No {what} {where}."


# --------------------------------------------------------------------------- media-archive


@rule(
    id="media-archive",
    title="The media zip is readable and safe; a media directory has no links out of it",
    why="""Cloud's media import reads standard zips only: it cannot open encrypted members or
    Deflate64/bzip2/LZMA compression (Windows Explorer writes Deflate64 over 2 GB), refuses
    paths with '..' or absolute paths, and does not store symbolic links.  When a directory is
    zipped, links leading out of it drag in foreign files, loops never end, and unreadable
    files make the zip tool stop or skip them.""",
    fix="""Re-zip from inside the Jira home with a standard tool, no password, plain relative
    paths: `cd <jira-home> && zip -r media.zip data/attachments data/avatars logos`.
    In a directory, replace links by the real files (or remove them) and make every file
    readable by the user who zips it.""",
    kind="media",
    group="media",
    # no ``needs``: a media target that cannot be read fails this rule (the gate fails
    # closed), as an unreadable backup fails backup-archive
    needs=(),
    sql="SELECT kind, path, detail FROM media_problem WHERE target = :target",
)
def media_archive(facts: Facts, settings: RuleSettings) -> Verdict:
    target, _, noun = _target_row(facts, settings)
    findings = [
        Finding(
            f"{row['path'] or target}: {row['detail']}",
            {"path": row["path"], "problem": row["kind"]},
        )
        for row in facts.rows(
            "SELECT kind, path, detail FROM media_problem WHERE target = ? ORDER BY rowid",
            (target,),
        )
    ]
    unreadable = facts.missing(f"media:{target}")
    if unreadable and not findings:
        findings.append(Finding(f"{target}: {unreadable}", {"path": "", "problem": "unreadable"}))
    return Verdict(findings, _summary(findings, "problem", f"in the media {noun} {target}"))


# --------------------------------------------------------------------------- media-structure


@rule(
    id="media-structure",
    title="The media root holds data/attachments, data/avatars and logos only",
    why="""Cloud's media import looks for data/attachments/, data/avatars/ and logos/ at the
    zip root.  Anything wrapped in another folder is not found (the import reports success
    and imports nothing) and other files are ignored.""",
    fix="""Zip from inside the Jira home directory, naming the three folders:
    `cd <jira-home> && zip -r media.zip data/attachments data/avatars logos`.""",
    kind="media",
    group="media",
    needs=("media",),
)
def media_structure(facts: Facts, settings: RuleSettings) -> Verdict:
    target, _, noun = _target_row(facts, settings)
    if not facts.scalar("SELECT count(*) FROM media_file WHERE target = ?", (target,)):
        finding = Finding(f"the {noun} holds no files", {"path": ""})
        return Verdict([finding], f"The media {noun} {target} is empty.")
    findings: list[Finding] = []
    # stray files are listed one by one at the root and in data/, and per folder below
    # that: a zipped jira-home holds far too many files in caches/, plugins/... to list.
    folders = facts.query(
        "SELECT CASE WHEN path GLOB 'data/*/*'"
        " THEN 'data/' || substr(path, 6, instr(substr(path, 6), '/') - 1)"
        " ELSE substr(path, 1, instr(path, '/') - 1) END AS folder, count(*) AS files"
        f" FROM media_file WHERE target = ? AND kind = 'stray' AND NOT ({_LOOSE_STRAY})"
        " GROUP BY folder ORDER BY folder",
        (target,),
    )
    for row in folders:
        findings.append(_misplaced_folder(facts, target, noun, row["folder"], row["files"]))
    for row in facts.rows(
        f"SELECT path FROM media_file WHERE target = ? AND kind = 'stray' AND {_LOOSE_STRAY}"
        " ORDER BY path",
        (target,),
    ):
        findings.append(
            Finding(f"stray file {row['path']}: not under {EXPECTED_ROOTS}", {"path": row["path"]})
        )
    return Verdict(findings, _summary(findings, "layout fault", f"in the media {noun} {target}"))


#: a stray file directly at the root or directly in data/
_LOOSE_STRAY = "(instr(path, '/') = 0 OR (path GLOB 'data/*' AND NOT path GLOB 'data/*/*'))"


def _misplaced_folder(facts: Facts, target: str, noun: str, top: str, files: int) -> Finding:
    """Name the usual mistakes: a wrapping folder, attachments/ or avatars/ zipped alone."""
    fields = {"path": f"{top}/", "files": files}
    if top in ("attachments", "avatars"):
        return Finding(f"the {noun} holds {top}/ at its root: Cloud expects data/{top}/", fields)
    wrapped = facts.scalar(
        "SELECT count(*) FROM media_file WHERE target = ? AND (path LIKE ? OR path LIKE ?"
        " OR path LIKE ?)",
        (target, f"{top}/data/attachments/%", f"{top}/data/avatars/%", f"{top}/logos/%"),
    )
    if wrapped:
        return Finding(f"everything is inside '{top}/': zip from inside it", fields)
    return Finding(
        f"stray folder {top}/ ({plural(files, 'file')}): not under {EXPECTED_ROOTS}", fields
    )


# --------------------------------------------------------------------------- attachment-paths


@rule(
    id="attachment-paths",
    title="Attachments follow <PROJECT_KEY>/<BUCKET>/<ISSUE_KEY>/<ATTACHMENT_ID>",
    why="""Cloud finds an attachment's file at data/attachments/<original project key>/<bucket>/
    <issue key>/<attachment id>, where bucket = ceil(issue number / 10000) * 10000.  Files
    anywhere else (the pre-7 <KEY>/<KEY-N>/<id>_<name> layout, a wrong bucket, a renamed
    project's new key, a moved issue's old key) are silently not imported.""",
    fix="""Upgrading to Jira 7+ converts legacy folders.  Otherwise move each listed file to
    the path given in the finding, then re-zip.""",
    kind="media",
    group="media",
    needs=("media",),
)
def attachment_paths(facts: Facts, settings: RuleSettings) -> Verdict:
    target, _, noun = _target_row(facts, settings)
    resolve = _backup_resolution if _has_entities(facts) else _folder_resolution
    findings = [
        finding for row in resolve(facts, target) if (finding := _path_finding(row)) is not None
    ]
    return Verdict(findings, _summary(findings, "misplaced file", f"in the media {noun} {target}"))


_FILE_COLUMNS = "f.path, f.kind, f.project, f.bucket, f.issue_key, f.attachment_id"


def _folder_resolution(facts: Facts, target: str) -> Iterator[dict[str, object]]:
    """Without a backup, the path itself says where the file belongs."""
    for row in facts.rows(
        f"SELECT {_FILE_COLUMNS} FROM media_file f WHERE f.target = ? AND f.path LIKE ?"
        " ORDER BY f.path",
        (target, ATTACHMENTS_ROOT + "%"),
    ):
        found = ISSUE_KEY.fullmatch(row["issue_key"] or "")
        yield {
            **dict(row),
            "want_project": row["project"],
            "want_issue": row["issue_key"],
            "want_number": int(found["number"]) if found else None,
            "reason": None,
        }


def _backup_resolution(facts: Facts, target: str) -> Iterator[dict[str, object]]:
    """With a backup, the issue folder must be a real issue under its project's original key."""
    for row in facts.rows(
        f"SELECT {_FILE_COLUMNS}, i.number, coalesce(p.original_key, p.key) AS folder,"
        " ni.key AS new_key, ni.number AS new_number,"
        " coalesce(np.original_key, np.key) AS new_folder"
        " FROM media_file f"
        " LEFT JOIN issue i ON i.key = f.issue_key"
        " LEFT JOIN project p ON p.id = i.project_id"
        " LEFT JOIN moved_issue_key m ON i.id IS NULL AND m.old_key = f.issue_key"
        " LEFT JOIN issue ni ON ni.id = m.issue_id"
        " LEFT JOIN project np ON np.id = ni.project_id"
        " WHERE f.target = ? AND f.path LIKE ? ORDER BY f.path",
        (target, ATTACHMENTS_ROOT + "%"),
    ):
        resolved: dict[str, object] = dict(row)
        if row["issue_key"] is None or row["folder"] is not None:
            resolved.update(
                want_project=row["folder"],
                want_issue=row["issue_key"],
                want_number=row["number"],
                reason=None,
            )
        elif row["new_key"] is not None:
            resolved.update(
                want_project=row["new_folder"],
                want_issue=row["new_key"],
                want_number=row["new_number"],
                reason=f"moved issue: file should be under the new key {row['new_key']}",
            )
        else:
            resolved.update(
                want_project=None,
                want_issue=None,
                want_number=None,
                reason=f"no issue {row['issue_key']} in the backup",
            )
        yield resolved


def expected_path(
    project: str, issue_key: str, number: int, attachment_id: str, thumbnail: bool = False
) -> str:
    """Where Jira 7+ (and Cloud's import) keeps an attachment or its thumbnail."""
    folder = f"{ATTACHMENTS_ROOT}{project}/{bucket_of(number)}/{issue_key}"
    return (
        f"{folder}/thumbs/_thumb_{attachment_id}.png" if thumbnail else f"{folder}/{attachment_id}"
    )


def _path_finding(row: dict[str, object]) -> Finding | None:
    path, kind = str(row["path"]), str(row["kind"])
    fields: dict[str, object] = {
        "path": path,
        "attachment": row["attachment_id"],
        "issue": row["issue_key"],
    }
    if kind == "misplaced":
        return Finding(
            f"{path}: not in the <PROJECT_KEY>/<BUCKET>/<ISSUE_KEY>/<ATTACHMENT_ID> layout", fields
        )
    if row["reason"] is not None and row["want_issue"] is None:
        return Finding(f"{path}: {row['reason']}", fields)
    target = expected_path(
        str(row["want_project"]),
        str(row["want_issue"]),
        int(str(row["want_number"])),
        str(row["attachment_id"]),
        thumbnail=kind.endswith("thumbnail"),
    )
    fields["expected"] = target
    if kind.startswith("legacy-"):
        return Finding(f"{path}: legacy pre-7 layout; {LEGACY_ADVICE} to {target}", fields)
    if path == target:
        return None
    if row["reason"] is not None:
        return Finding(f"{path}: {row['reason']}: move to {target}", fields)
    if row["project"] != row["want_project"]:
        reason = f"project folder must be the project's original key {row['want_project']}"
    else:
        reason = (
            f"issue {row['issue_key']} belongs in bucket {bucket_of(int(str(row['want_number'])))}"
        )
    return Finding(f"{path}: {reason}: move to {target}", fields)


# --------------------------------------------------------------------------- media-chunk-size


@rule(
    id="media-chunk-size",
    title="The media is at most 10 GB, or split into 2-5 GB chunks",
    why="""Atlassian's guide: media over 10 GB often fails to import and must be split into
    2-5 GB zips, each with the data/attachments root, imported one after another.  Chunks
    under 2 GB work but multiply the uploads.""",
    fix="""Split the media with `jiramigrate split-media <media> --out <dir>`, which groups whole
    projects into 2-5 GB zips, then pass each with its own --jira-media.""",
    thresholds=(
        Threshold(
            "max_zip", 10 * GB, "largest media zip (or directory) imported in one go", "size"
        ),
        Threshold("max_chunk", 5 * GB, "largest chunk when the media is split", "size"),
        Threshold(
            "min_chunk", 2 * GB, "smallest sensible chunk (below it: a note, not a fault)", "size"
        ),
    ),
    kind="media",
    group="media",
    needs=("media",),
)
def media_chunk_size(facts: Facts, settings: RuleSettings) -> Verdict:
    """Fails over ``max_zip`` (and over ``max_chunk`` when split); a small chunk is advisory.

    A chunk under ``min_chunk`` (only when several targets are given) imports
    fine, so it is an advisory, not a finding: a warning that never fails the
    item unless warnings are made errors, plus the ``undersized_chunks`` property.
    """
    target, kind, noun = _target_row(facts, settings)
    row = facts.query("SELECT total_bytes, zip_bytes FROM media_target WHERE name = ?", (target,))[
        0
    ]
    size = int(row["zip_bytes"] if kind == "zip" else row["total_bytes"])
    chunks = int(facts.scalar("SELECT count(*) FROM media_target"))
    limit = settings["max_chunk"] if chunks > 1 else settings["max_zip"]
    findings: list[Finding] = []
    fields = {"path": target, "bytes": size, "limit": limit}
    if size > settings["max_zip"]:
        advice = "split into 2-5 GB chunks" if kind == "zip" else SPLIT_ADVICE
        findings.append(
            Finding(
                f"{target} is {format_size(size)}, over "
                f"{format_size(settings['max_zip'])}: {advice}",
                fields,
            )
        )
    elif size > limit:
        findings.append(
            Finding(
                f"chunk {target} is {format_size(size)}, over {format_size(limit)}: split it again",
                fields,
            )
        )
    if findings:
        return Verdict(
            findings,
            f"The media {noun} {target} is too large to import in one go.",
            observed=size,
            limit=limit,
        )
    if chunks > 1 and size < settings["min_chunk"]:
        note = (
            f"chunk {target} is {format_size(size)}, under {format_size(settings['min_chunk'])}: "
            "it imports, but fewer larger chunks mean fewer uploads"
        )
        return Verdict(
            (),
            f"The media {noun} {target} is a small chunk.",
            observed=size,
            limit=limit,
            properties={"undersized_chunks": target},
            advisories=[Finding(note, {"path": target, "bytes": size})],
        )
    return passed(
        f"The media {noun} {target} is {format_size(size)}, within {format_size(limit)}.",
        observed=size,
        limit=limit,
    )


# --------------------------------------------------------------------------- attachments-present


@rule(
    id="attachments-present",
    title="Every attachment in the backup has its file in the media, with the same size",
    why="""Cloud imports an attachment's file from the bucketed path the backup implies; a
    FileAttachment row without that file becomes a broken attachment in Cloud, and a file
    whose size differs is a truncated or replaced copy.""",
    fix="""Copy the missing files from the server's <jira-home>/data/attachments (check that the
    backup and the media were taken at the same time), then re-zip.""",
    kind="media",
    group="media",
    needs=("media", "entities"),
    sql="""
SELECT a.id, i.key, a.filename FROM attachment a JOIN issue i ON i.id = a.issue_id
 WHERE NOT EXISTS (SELECT 1 FROM media_file f WHERE f.attachment_id = a.id
                   AND f.kind = 'attachment')""",
)
def attachments_present(facts: Facts, settings: RuleSettings) -> Verdict:
    rows = facts.rows(
        "SELECT a.id, a.filename, a.filesize, i.key AS issue_key, i.number,"
        " coalesce(p.original_key, p.key) AS folder, f.path, f.size, f.target"
        " FROM attachment a LEFT JOIN issue i ON i.id = a.issue_id"
        " LEFT JOIN project p ON p.id = i.project_id"
        " LEFT JOIN media_file f ON f.attachment_id = a.id"
        "  AND f.kind IN ('attachment', 'legacy-attachment')"
        " ORDER BY a.id, f.path"
    )
    findings: list[Finding] = []
    for _, group in itertools.groupby(rows, key=lambda row: row["id"]):
        files = list(group)
        finding = _presence_finding(files)
        if finding is not None:
            findings.append(finding)
    targets = int(facts.scalar("SELECT count(*) FROM media_target"))
    where = "the media" if targets == 1 else f"the {targets} media targets"
    count = plural(len(findings), "attachment") if findings else "No attachment"
    return Verdict(findings, f"{count} of the backup missing or different in {where}.")


def _presence_finding(files: list[sqlite3.Row]) -> Finding | None:
    """The fault of one FileAttachment row, given every media file carrying its id."""
    first = files[0]
    attachment = {
        "attachment": first["id"],
        "issue": first["issue_key"],
        "filename": first["filename"],
    }
    label = f"attachment {first['id']} ({first['filename']}) of {first['issue_key']}"
    if first["number"] is None or first["folder"] is None:
        return Finding(f"{label}: its issue is not in the backup", attachment)
    want = expected_path(first["folder"], first["issue_key"], first["number"], first["id"])
    fields = {**attachment, "expected": want}
    placed = [row for row in files if row["path"] == want]
    if not placed:
        elsewhere = [row["path"] for row in files if row["path"] is not None]
        found = f" (found at {', '.join(elsewhere)})" if elsewhere else ""
        return Finding(f"{label}: no file at {want}{found}", fields)
    sizes = sorted({int(row["size"]) for row in placed})
    if first["filesize"] is not None and int(first["filesize"]) not in sizes:
        return Finding(
            f"{label}: {want} is {plural(sizes[0], 'byte')}, the backup says {first['filesize']}",
            {**fields, "size": sizes[0], "filesize": first["filesize"]},
        )
    return None


# --------------------------------------------------------------------------- attachments-orphaned


@rule(
    id="attachments-orphaned",
    title="Every attachment file in the media belongs to a FileAttachment row of the backup",
    why="""Cloud imports only the files the backup's FileAttachment rows point at.  A file with no
    row is uploaded and processed for nothing, and often means the backup and the media were
    taken at different times.""",
    fix="""Take the backup and the media at the same time, or leave the listed files out of
    the media zip.""",
    severity="warning",
    kind="media",
    group="media",
    needs=("media", "entities"),
    sql="""
SELECT f.path FROM media_file f
 WHERE f.attachment_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM attachment a WHERE a.id = f.attachment_id)""",
)
def attachments_orphaned(facts: Facts, settings: RuleSettings) -> Verdict:
    target, _, noun = _target_row(facts, settings)
    findings = [
        Finding(
            f"{row['path']}: no attachment {row['attachment_id']} in the backup",
            {"path": row["path"], "attachment": row["attachment_id"]},
        )
        for row in facts.rows(
            "SELECT f.path, f.attachment_id FROM media_file f"
            " WHERE f.target = ? AND f.attachment_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM attachment a WHERE a.id = f.attachment_id)"
            " ORDER BY f.path",
            (target,),
        )
    ]
    return Verdict(
        findings,
        _summary(findings, "file", f"without a FileAttachment row in the media {noun} {target}"),
    )


# --------------------------------------------------------------------------- attachment-size-limit


@rule(
    id="attachment-size-limit",
    title="No single attachment is larger than Cloud's maximum",
    why="""Jira Cloud stores attachments of at most 2 GB (the default setting is 1 GB); a larger
    file is not imported.""",
    fix="""Remove the listed attachments from the issues on the server (keep them elsewhere,
    e.g. a file share linked from the issue), or compress them below the limit.""",
    thresholds=(Threshold("max_size", 2 * GB, "largest attachment Cloud accepts", "size"),),
    kind="media",
    group="media",
    needs=("media",),
)
def attachment_size_limit(facts: Facts, settings: RuleSettings) -> Verdict:
    target, _, noun = _target_row(facts, settings)
    limit = int(settings["max_size"])
    findings = [
        Finding(
            f"{row['path']} is {format_size(row['size'])}, over {format_size(limit)}",
            {"path": row["path"], "attachment": row["attachment_id"], "size": row["size"]},
        )
        for row in facts.rows(
            "SELECT path, size, attachment_id FROM media_file WHERE target = ? AND size > ?"
            " ORDER BY path",
            (target, limit),
        )
    ]
    # FileAttachment rows over the limit whose file is not in this target (another chunk,
    # or missing): the backup alone already says the import will drop them.
    findings += [
        Finding(
            f"attachment {row['id']} ({row['filename']}) is {format_size(row['filesize'])} in "
            f"the backup, over {format_size(limit)}",
            {"attachment": row["id"], "filename": row["filename"], "size": row["filesize"]},
        )
        for row in facts.rows(
            "SELECT a.id, a.filename, a.filesize FROM attachment a WHERE a.filesize > ?"
            " AND NOT EXISTS (SELECT 1 FROM media_file f WHERE f.attachment_id = a.id"
            " AND f.target = ? AND f.kind IN ('attachment', 'legacy-attachment'))"
            " ORDER BY a.id",
            (limit, target),
        )
    ]
    return Verdict(
        findings,
        _summary(findings, "attachment", f"over {format_size(limit)} in the media {noun} {target}"),
        limit=limit,
    )


# --------------------------------------------------------------------------- storage-within-plan

UNLIMITED_PLANS = ("premium", "enterprise")


@rule(
    id="storage-within-plan",
    title="All attachments fit in the Cloud plan's storage",
    why="""Jira Cloud Free includes 2 GB of file storage and Standard 250 GB (Premium and
    Enterprise are unlimited); an import over the plan's storage stops adding attachments.""",
    fix="""Choose a plan with enough storage (set target.plan), or archive or delete old large
    attachments on the server before taking the media.""",
    thresholds=(
        Threshold("free_storage", 2 * GB, "file storage of the Free plan", "size"),
        Threshold("standard_storage", 250 * GB, "file storage of the Standard plan", "size"),
    ),
    kind="media",
    group="media",
    needs=("media",),
    sql="SELECT sum(size) FROM media_file WHERE path LIKE 'data/attachments/%'",
)
def storage_within_plan(facts: Facts, settings: RuleSettings) -> Verdict:
    """Sums the attachments of every media target in the store: storage is site-wide."""
    plan = settings.site.plan
    total = int(
        facts.scalar(
            "SELECT coalesce(sum(size), 0) FROM media_file WHERE path LIKE ?",
            (ATTACHMENTS_ROOT + "%",),
        )
    )
    if plan in UNLIMITED_PLANS:
        return passed(f"The {plan.capitalize()} plan has unlimited storage.", observed=total)
    limit = int(settings["free_storage"] if plan == "free" else settings["standard_storage"])
    if total <= limit:
        return passed(
            f"The attachments ({format_size(total)}) fit the {plan.capitalize()} plan's "
            f"{format_size(limit)} of storage.",
            observed=total,
            limit=limit,
        )
    text = (
        f"attachments total {format_size(total)}, over the {plan.capitalize()} plan's "
        f"{format_size(limit)} of storage"
    )
    return Verdict(
        [Finding(text, {"plan": plan, "bytes": total, "limit": limit})],
        f"The attachments ({format_size(total)}) exceed the {plan.capitalize()} plan's storage "
        f"({format_size(limit)}).",
        observed=total,
        limit=limit,
    )


RULES: tuple[Rule, ...] = (
    media_archive,
    media_structure,
    attachment_paths,
    media_chunk_size,
    attachments_present,
    attachments_orphaned,
    attachment_size_limit,
    storage_within_plan,
)
