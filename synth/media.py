"""Media trees and zips (attachments, avatars, logos), with media faults."""

from __future__ import annotations

import random
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.plan import Plan, iter_attachments
from synth.spec import MEDIA_FAULTS, Manifest
from synth.xmlrows import ZIP64_THRESHOLD


class _Pattern:
    """Seeded filler bytes: one random block, repeated, so big files are cheap."""

    def __init__(self, seed: int) -> None:
        self.block = random.Random(f"{seed}:media").randbytes(1 << 16)

    def chunks(self, size: int) -> Iterator[bytes]:
        while size > 0:
            piece = self.block[: min(size, len(self.block))]
            size -= len(piece)
            yield piece


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class _MediaFile:
    path: str
    size: int
    header: bytes = b""


def _media_files(
    manifest: Manifest, layout: str, faults: Sequence[str]
) -> tuple[list[_MediaFile], list[dict[str, Any]]]:
    """Every file of the media tree and the fault records, before anything is written."""
    unknown = sorted(set(faults) - set(MEDIA_FAULTS))
    if unknown:
        raise ValueError(f"unknown media faults {unknown}; known: {', '.join(MEDIA_FAULTS)}")
    if layout not in ("bucketed", "legacy"):
        raise ValueError(f"layout must be 'bucketed' or 'legacy', not {layout!r}")
    attachments = list(iter_attachments(manifest.spec))
    files: list[_MediaFile] = []
    records: list[dict[str, Any]] = []
    missing = attachments[len(attachments) // 3] if "missing-attachment-file" in faults else None
    wrong = attachments[len(attachments) // 2] if "size-mismatch" in faults else None
    for attachment in attachments:
        if layout == "bucketed":
            folder = attachment.bucketed_dir()
            path = f"{folder}/{attachment.id}"
        else:
            folder = attachment.legacy_dir()
            path = f"{folder}/{attachment.id}_{attachment.filename}"
        size = attachment.filesize
        if attachment is missing:
            records.append(
                {
                    "fault": "missing-attachment-file",
                    "attachment_id": str(attachment.id),
                    "issue_key": attachment.issue_key,
                    "path": path,
                }
            )
        else:
            if attachment is wrong:
                size += 100
                records.append(
                    {
                        "fault": "size-mismatch",
                        "attachment_id": str(attachment.id),
                        "path": path,
                        "expected": attachment.filesize,
                        "actual": size,
                    }
                )
            files.append(_MediaFile(path, size))
        if attachment.thumbnailable:
            thumb = f"{folder}/thumbs/_thumb_{attachment.id}.png"
            files.append(_MediaFile(thumb, 600, _PNG_SIGNATURE))
    if "orphan-file" in faults and attachments:
        template = attachments[-1]
        orphan_id = template.id + 1000
        folder = template.bucketed_dir() if layout == "bucketed" else template.legacy_dir()
        path = f"{folder}/{orphan_id}"
        files.append(_MediaFile(path, 2048))
        records.append({"fault": "orphan-file", "attachment_id": str(orphan_id), "path": path})
    for avatar in range(10100, 10100 + manifest.spec.projects):
        for variant in ("xsmall_", "small_", "medium_", ""):
            files.append(
                _MediaFile(f"data/avatars/{avatar}_{variant}avatar.png", 900, _PNG_SIGNATURE)
            )
    files.append(_MediaFile("logos/jira-logo-scaled.png", 1500, _PNG_SIGNATURE))
    if "stray-file" in faults:
        files.append(_MediaFile("data/notes.txt", 120))
        files.append(_MediaFile("README.txt", 80))
        records.append({"fault": "stray-file", "paths": ["README.txt", "data/notes.txt"]})
    if "wrapping-folder" in faults:
        for media_file in files:
            media_file.path = f"jira-home/{media_file.path}"
        for record in records:
            if "path" in record:
                record["path"] = f"jira-home/{record['path']}"
            if "paths" in record:
                record["paths"] = [f"jira-home/{p}" for p in record["paths"]]
        records.append({"fault": "wrapping-folder", "prefix": "jira-home/"})
    return files, records


def _file_bytes(media_file: _MediaFile, pattern: _Pattern) -> Iterator[bytes]:
    header = media_file.header[: media_file.size]
    if header:
        yield header
    yield from pattern.chunks(media_file.size - len(header))


def write_media(
    root: Path,
    manifest: Manifest,
    layout: str = "bucketed",
    faults: Sequence[str] = (),
    sparse: bool = False,
) -> list[dict[str, Any]]:
    """Write the media tree (attachments, thumbnails, avatars, logos) under ``root``.

    ``sparse`` makes each attachment a hole of the right size (``truncate``), so
    multi-gigabyte media costs no disk.  Returns the media fault records, which
    are also added to ``manifest.media_faults``.
    """
    files, records = _media_files(manifest, layout, faults)
    pattern = _Pattern(manifest.spec.seed)
    for media_file in files:
        target = Path(root) / media_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            if sparse:
                handle.truncate(media_file.size)
            else:
                for chunk in _file_bytes(media_file, pattern):
                    handle.write(chunk)
    manifest.media_faults.extend(records)
    return records


def write_media_zip(
    zip_path: Path,
    manifest: Manifest,
    layout: str = "bucketed",
    faults: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Like :func:`write_media`, into one zip (as a customer uploads it)."""
    files, records = _media_files(manifest, layout, faults)
    pattern = _Pattern(manifest.spec.seed)
    plan_time = Plan(manifest.spec).export_time.timetuple()[:6]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for media_file in files:
            info = zipfile.ZipInfo(media_file.path, date_time=plan_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=media_file.size > ZIP64_THRESHOLD) as out:
                for chunk in _file_bytes(media_file, pattern):
                    out.write(chunk)
    manifest.media_faults.extend(records)
    return records
