"""Tests for safe zip inspection and streaming: every fault kind, and its absence."""

from __future__ import annotations

import io
import lzma
import random
import shutil
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_jiramigrate.core.limits import ArchiveLimits
from pytest_jiramigrate.scan.archive import (
    ArchiveReadError,
    Inspection,
    Member,
    inspect_zip,
    locate_backup_files,
    open_member,
)

LIMITS = ArchiveLimits()
ENTITIES = b'<?xml version="1.0" encoding="UTF-8"?>\n<entity-engine-xml>\n</entity-engine-xml>\n'
ACTIVE_OBJECTS = b'<?xml version="1.0"?>\n<backup xmlns="http://www.atlassian.com/ao"/>\n'

# (central directory offset, local header offset) of each header field patched below
FLAGS = (8, 6)
METHOD = (10, 8)
CRC = (16, 14)
COMPRESSED = (20, 18)
SIZE = (24, 22)


def make_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def backup_zip(tmp_path: Path, **extra: bytes) -> Path:
    members = {"entities.xml": ENTITIES, "activeobjects.xml": ACTIVE_OBJECTS, **extra}
    return make_zip(tmp_path / "site-backup.zip", members)


def central_record(data: bytes, name: str) -> int:
    """Offset of ``name``'s central directory record."""
    offset = data.find(b"PK\x01\x02")
    while offset != -1:
        (name_length,) = struct.unpack_from("<H", data, offset + 28)
        if data[offset + 46 : offset + 46 + name_length] == name.encode():
            return offset
        offset = data.find(b"PK\x01\x02", offset + 1)
    raise AssertionError(f"{name} has no central directory record")


def patch(
    path: Path,
    name: str,
    field: tuple[int, int],
    value: int,
    *,
    central: bool = True,
    local: bool = True,
) -> None:
    """Overwrite one header field of ``name`` in the central directory and/or local header."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local_offset = archive.getinfo(name).header_offset
    fmt = "<H" if field in (FLAGS, METHOD) else "<I"
    if central:
        struct.pack_into(fmt, data, central_record(bytes(data), name) + field[0], value)
    if local:
        struct.pack_into(fmt, data, local_offset + field[1], value)
    path.write_bytes(bytes(data))


def member(inspection: Inspection, name: str) -> Member:
    found = inspection.member(name)
    assert found is not None, f"{name} is not in {inspection.members}"
    return found


def kinds(inspection: Inspection) -> list[str]:
    return [problem.kind for problem in inspection.problems]


def read_all(path: Path, name: str, limits: ArchiveLimits = LIMITS, size: int = -1) -> bytes:
    with open_member(path, name, limits) as stream:
        if size < 0:
            return stream.read()
        return b"".join(iter(lambda: stream.read(size), b""))


def xml_like(rows: int) -> bytes:
    rng = random.Random(7)
    return b"".join(
        b'    <Issue id="%d" key="HSP-%d" summary="row %d" reporter="user%d"/>\n'
        % (i, i, rng.randrange(10**9), rng.randrange(500))
        for i in range(rows)
    )


# --------------------------------------------------------------------------- good archives


def test_good_zip_has_no_problems_and_is_left_untouched(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)

    inspection = inspect_zip(path, LIMITS)
    layout = locate_backup_files(inspection)

    assert inspection.readable
    assert inspection.problems == []
    assert [member.name for member in inspection.members] == ["entities.xml", "activeobjects.xml"]
    assert member(inspection, "entities.xml").size == len(ENTITIES)
    assert inspection.member("missing.xml") is None
    assert (layout.entities, layout.activeobjects, layout.problems) == (
        "entities.xml",
        "activeobjects.xml",
        [],
    )
    assert read_all(path, "entities.xml") == ENTITIES
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_real_backup_is_clean_and_streams_what_zipfile_reads(tmp_path: Path, corpus: Path) -> None:
    path = shutil.copy(corpus / "jira-6.4-test-dvcs.zip", tmp_path)
    inspection = inspect_zip(Path(path), LIMITS)
    layout = locate_backup_files(inspection)

    assert inspection.problems == []
    assert layout.problems == []
    with zipfile.ZipFile(path) as archive:
        for member in inspection.members:
            expected = archive.read(member.name)
            assert read_all(Path(path), member.name) == expected
            assert read_all(Path(path), member.name, size=1000) == expected


class _Unseekable(io.RawIOBase):
    """A write-only sink: zipfile then writes data descriptors, as Java's ZipOutputStream does."""

    def __init__(self, sink: io.BytesIO) -> None:
        self._sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        return self._sink.write(data)  # type: ignore[arg-type]


def test_zip_with_data_descriptors_is_clean(tmp_path: Path) -> None:
    sink = io.BytesIO()
    with zipfile.ZipFile(_Unseekable(sink), "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("entities.xml", ENTITIES)
    path = tmp_path / "a.zip"
    path.write_bytes(sink.getvalue())
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("entities.xml").flag_bits & 0x8

    assert kinds(inspect_zip(path, LIMITS)) == []
    assert read_all(path, "entities.xml") == ENTITIES


def test_misnamed_real_entity_file_is_named(tmp_path: Path, corpus: Path) -> None:
    path = Path(shutil.copy(corpus / "jira-4.4-misnamed-entities.zip", tmp_path))
    layout = locate_backup_files(inspect_zip(path, LIMITS))

    missing = [problem for problem in layout.problems if problem.kind == "entities-missing"]
    assert layout.entities is None
    assert missing[0].member == "WorkflowBasedPermissions.xml"
    assert "the entity file is called 'WorkflowBasedPermissions.xml'" in missing[0].detail
    assert "named entities.xml at the zip root" in missing[0].detail


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_stream_works_with_small_reads_and_text_wrappers(tmp_path: Path, method: int) -> None:
    data = xml_like(2000)
    path = make_zip(tmp_path / "a.zip", {"entities.xml": data}, method)

    assert read_all(path, "entities.xml", size=7) == data
    with open_member(path, "entities.xml", LIMITS) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8").read()
    assert text == data.decode()


# --------------------------------------------------------------------------- the path itself


def test_missing_path(tmp_path: Path) -> None:
    inspection = inspect_zip(tmp_path / "nope.zip", LIMITS)
    assert kinds(inspection) == ["not-found"]
    assert not inspection.readable
    with pytest.raises(ArchiveReadError) as raised:
        open_member(tmp_path / "nope.zip", "entities.xml", LIMITS)
    assert raised.value.kind == "not-found"


def test_directory_path(tmp_path: Path) -> None:
    inspection = inspect_zip(tmp_path, LIMITS)
    assert kinds(inspection) == ["is-directory"]
    assert "zip its contents" in inspection.problems[0].detail
    with pytest.raises(ArchiveReadError) as raised:
        open_member(tmp_path, "entities.xml", LIMITS)
    assert raised.value.kind == "is-directory"


def test_permission_error_becomes_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the OS refuses to open, faked so that the test means the same as root."""
    path = backup_zip(tmp_path)
    real_open = Path.open

    def denying_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denying_open)
    inspection = inspect_zip(path, LIMITS)
    assert kinds(inspection) == ["unreadable"]
    assert "permission denied" in inspection.problems[0].detail
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "unreadable"


def _tar_gz(path: Path) -> None:
    source = path.with_name("entities.xml")
    source.write_bytes(ENTITIES)
    with tarfile.open(path, "w:gz") as archive:
        archive.add(source, arcname="entities.xml")


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_tar_gz, "this is a tar.gz; Jira's backup is a .zip"),
        (lambda p: p.write_bytes(ENTITIES), "this is a bare XML file; zip entities.xml and"),
        (lambda p: p.write_bytes(lzma.compress(ENTITIES)), "this is an xz file"),
        (lambda p: p.write_bytes(b"7z\xbc\xaf\x27\x1c" + bytes(40)), "this is a 7z archive"),
        (lambda p: p.write_bytes(b"Rar!\x1a\x07\x00" + bytes(40)), "this is a RAR archive"),
        (lambda p: p.write_bytes(b"hello, this is plain text"), "not a zip archive"),
    ],
    ids=["tar.gz", "bare-xml", "xz", "7z", "rar", "text"],
)
def test_not_a_zip_says_what_it_is(
    tmp_path: Path, write: Callable[[Path], object], expected: str
) -> None:
    path = tmp_path / "site-backup.zip"
    write(path)
    inspection = inspect_zip(path, LIMITS)
    assert kinds(inspection) == ["not-a-zip"]
    assert expected in inspection.problems[0].detail
    assert not inspection.readable
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "not-a-zip"


# --------------------------------------------------------------------------- whole-archive faults


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "site-backup.zip"
    path.write_bytes(b"")
    assert kinds(inspect_zip(path, LIMITS)) == ["empty"]


def test_zip_without_members_is_empty(tmp_path: Path) -> None:
    inspection = inspect_zip(make_zip(tmp_path / "a.zip", {}), LIMITS)
    assert kinds(inspection) == ["empty"]
    assert inspection.readable


def test_cut_zip_is_truncated(tmp_path: Path) -> None:
    path = backup_zip(tmp_path, **{"attachments.bin": random.Random(1).randbytes(50_000)})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    inspection = inspect_zip(path, LIMITS)
    assert kinds(inspection) == ["truncated"]
    assert not inspection.readable


def test_member_running_past_the_end_of_the_file_is_truncated(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    patch(path, "entities.xml", COMPRESSED, 10**8)
    assert kinds(inspect_zip(path, LIMITS)) == ["truncated"]


def test_total_declared_size_over_the_limit(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    total = len(ENTITIES) + len(ACTIVE_OBJECTS)
    assert kinds(inspect_zip(path, ArchiveLimits(max_uncompressed=total))) == []

    small = ArchiveLimits(max_uncompressed=total - 1)
    assert kinds(inspect_zip(path, small)) == ["too-large"]
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", ArchiveLimits(max_uncompressed=len(ENTITIES) - 1))
    assert raised.value.kind == "too-large"


# --------------------------------------------------------------------------- member faults


@pytest.mark.parametrize(
    "name",
    ["../evil.xml", "data/../../evil.xml", "/etc/passwd", "C:/evil.xml", "c:evil.xml",
     "data\\..\\..\\evil.xml", "\\\\server\\share\\evil.xml"],
)  # fmt: skip
def test_unsafe_names(tmp_path: Path, name: str) -> None:
    inspection = inspect_zip(backup_zip(tmp_path, **{name: b"x"}), LIMITS)
    assert [(p.kind, p.member) for p in inspection.problems] == [("unsafe-name", name)]


@pytest.mark.parametrize("name", ["notes..txt", "data/..hidden/a.png", "data/attachments/C:x"])
def test_names_that_only_look_unsafe(tmp_path: Path, name: str) -> None:
    assert kinds(inspect_zip(backup_zip(tmp_path, **{name: b"x"}), LIMITS)) == []


def test_duplicate_name(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("entities.xml", ENTITIES)
    inspection = inspect_zip(path, LIMITS)
    assert [(p.kind, p.member) for p in inspection.problems] == [("duplicate-name", "entities.xml")]


def test_symlink(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    link = zipfile.ZipInfo("data/avatars/link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    regular = zipfile.ZipInfo("data/avatars/real.png")
    regular.create_system = 3
    regular.external_attr = (stat.S_IFREG | 0o644) << 16
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(link, b"/etc/passwd")
        archive.writestr(regular, b"png")
    inspection = inspect_zip(path, LIMITS)
    assert [(p.kind, p.member) for p in inspection.problems] == [
        ("symlink", "data/avatars/link.png")
    ]
    assert member(inspection, "data/avatars/link.png").is_symlink
    assert not member(inspection, "data/avatars/real.png").is_symlink


def test_encrypted_flag(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    patch(path, "entities.xml", FLAGS, 0x1)
    inspection = inspect_zip(path, LIMITS)
    assert [(p.kind, p.member) for p in inspection.problems] == [("encrypted", "entities.xml")]
    assert member(inspection, "entities.xml").encrypted
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "encrypted"


def test_deflate64_method(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    patch(path, "entities.xml", METHOD, 9)
    problems = inspect_zip(path, LIMITS).problems
    assert [(p.kind, p.member) for p in problems] == [("unsupported-compression", "entities.xml")]
    assert "Deflate64" in problems[0].detail
    assert "Windows Explorer writes Deflate64 for zips over 2 GB" in problems[0].detail
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "unsupported-compression"


@pytest.mark.parametrize(
    ("method", "named"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")]
)
def test_bzip2_and_lzma_methods(tmp_path: Path, method: int, named: str) -> None:
    path = make_zip(tmp_path / "a.zip", {"entities.xml": ENTITIES}, method)
    problems = inspect_zip(path, LIMITS).problems
    assert [p.kind for p in problems] == ["unsupported-compression"]
    assert named in problems[0].detail
    assert "re-zip with standard deflate" in problems[0].detail
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "unsupported-compression"


def test_declared_ratio_bomb_only_above_one_megabyte(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "a.zip",
        {"zeros.bin": bytes(2 * 1024 * 1024), "small.bin": bytes(1000_000), "x.xml": xml_like(50)},
    )
    inspection = inspect_zip(path, LIMITS)
    assert [(p.kind, p.member) for p in inspection.problems] == [("zip-bomb-ratio", "zeros.bin")]
    assert kinds(inspect_zip(path, ArchiveLimits(max_ratio=10_000))) == []
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "zeros.bin", LIMITS)
    assert raised.value.kind == "zip-bomb-ratio"


def test_streaming_ratio_guard_stops_a_bomb_hidden_behind_an_honest_total(tmp_path: Path) -> None:
    """Zeros then noise: the whole member's ratio is fine, its first megabytes are not."""
    data = bytes(8 * 1024 * 1024) + random.Random(2).randbytes(8 * 1024 * 1024)
    path = make_zip(tmp_path / "a.zip", {"entities.xml": data})
    limits = ArchiveLimits(max_ratio=50)
    assert kinds(inspect_zip(path, limits)) == []

    with pytest.raises(ArchiveReadError) as raised:
        read_all(path, "entities.xml", limits, size=1024 * 1024)
    assert raised.value.kind == "zip-bomb-ratio"
    assert read_all(path, "entities.xml", ArchiveLimits(max_ratio=5000)) == data


def test_central_directory_disagreeing_with_local_header(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    patch(path, "entities.xml", SIZE, len(ENTITIES) + 1, local=False)
    problems = inspect_zip(path, LIMITS).problems
    assert [(p.kind, p.member) for p in problems] == [("size-mismatch", "entities.xml")]
    with pytest.raises(ArchiveReadError) as raised:
        open_member(path, "entities.xml", LIMITS)
    assert raised.value.kind == "size-mismatch"


def test_local_header_with_another_name(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"entities.xml", b"entitiez.xml", 1))
    assert [(p.kind, p.member) for p in inspect_zip(path, LIMITS).problems] == [
        ("size-mismatch", "entities.xml")
    ]


# ------------------------------------------------------------------ faults found while reading


def test_bad_crc_is_raised_while_reading(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    with zipfile.ZipFile(path) as archive:
        crc = archive.getinfo("entities.xml").CRC
    patch(path, "entities.xml", CRC, crc ^ 0xFFFF)
    assert kinds(inspect_zip(path, LIMITS)) == []

    with (
        open_member(path, "entities.xml", LIMITS) as stream,
        pytest.raises(ArchiveReadError) as raised,
    ):
        stream.read()
    assert raised.value.kind == "bad-crc"
    with open_member(path, "entities.xml", LIMITS, verify_crc=False) as stream:
        assert stream.read() == ENTITIES  # for a pass that another pass checks


def test_corrupt_stored_data_is_a_bad_crc(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"entities.xml": ENTITIES}, zipfile.ZIP_STORED)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"entity-engine-xml>\n</", b"entity-engine-xml>\n<<", 1))
    with pytest.raises(ArchiveReadError) as raised:
        read_all(path, "entities.xml")
    assert raised.value.kind == "bad-crc"


def test_corrupt_deflate_data_raises_archive_error_not_zlib_error(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"entities.xml": xml_like(3000)})
    with zipfile.ZipFile(path) as archive:
        start = archive.getinfo("entities.xml").header_offset + 30 + len("entities.xml")
    data = bytearray(path.read_bytes())
    data[start + 100 : start + 400] = bytes(range(256)) + bytes(44)
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveReadError) as raised:
        read_all(path, "entities.xml", size=4096)
    assert raised.value.kind in {"truncated", "bad-crc", "size-mismatch"}


def test_understated_size_raises_instead_of_streaming_on(tmp_path: Path) -> None:
    data = xml_like(40_000)
    path = make_zip(tmp_path / "a.zip", {"entities.xml": data})
    patch(path, "entities.xml", SIZE, 1000)

    produced = 0
    with (
        open_member(path, "entities.xml", LIMITS) as stream,
        pytest.raises(ArchiveReadError) as raised,
    ):
        while chunk := stream.read(4096):
            produced += len(chunk)
    assert raised.value.kind == "too-large"
    assert produced <= 1000
    with pytest.raises(ArchiveReadError):
        read_all(path, "entities.xml")


def test_overstated_size_is_a_size_mismatch_at_the_end(tmp_path: Path) -> None:
    path = backup_zip(tmp_path)
    patch(path, "entities.xml", SIZE, len(ENTITIES) + 10)
    assert kinds(inspect_zip(path, LIMITS)) == []
    with pytest.raises(ArchiveReadError) as raised:
        read_all(path, "entities.xml")
    assert raised.value.kind == "size-mismatch"


def test_understated_compressed_size_is_truncated(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"entities.xml": xml_like(3000)})
    with zipfile.ZipFile(path) as archive:
        compressed = archive.getinfo("entities.xml").compress_size
    patch(path, "entities.xml", COMPRESSED, compressed // 2)
    with pytest.raises(ArchiveReadError) as raised:
        read_all(path, "entities.xml")
    assert raised.value.kind == "truncated"


def test_unknown_member(tmp_path: Path) -> None:
    with pytest.raises(ArchiveReadError) as raised:
        open_member(backup_zip(tmp_path), "nope.xml", LIMITS)
    assert (raised.value.kind, raised.value.member) == ("not-found", "nope.xml")


# --------------------------------------------------------------------------- backup layout


def test_zipped_folder_is_nested(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "a.zip",
        {"backup/entities.xml": ENTITIES, "backup/activeobjects.xml": ACTIVE_OBJECTS},
    )
    layout = locate_backup_files(inspect_zip(path, LIMITS))
    assert (layout.entities, layout.activeobjects) == (None, None)
    assert [(p.kind, p.member) for p in layout.problems] == [
        ("entities-nested", "backup/entities.xml"),
        ("activeobjects-nested", "backup/activeobjects.xml"),
    ]
    assert layout.problems[0].detail.startswith(
        "entities.xml is inside the folder 'backup/': you zipped the folder; zip the files "
        "themselves, e.g. `cd backup && zip ../site-backup.zip entities.xml activeobjects.xml`"
    )


def test_missing_files_and_a_misnamed_active_objects_file(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "a.zip",
        {"readme.xml": b"<?xml version='1.0'?><notes/>", "ao.xml": ACTIVE_OBJECTS},
    )
    layout = locate_backup_files(inspect_zip(path, LIMITS))
    assert [(p.kind, p.member) for p in layout.problems] == [
        ("entities-missing", None),
        ("activeobjects-missing", "ao.xml"),
    ]
    assert "the zip has no entities.xml" in layout.problems[0].detail
    assert "the Active Objects file is called 'ao.xml'" in layout.problems[1].detail


def test_layout_of_an_unreadable_archive_points_at_the_archive(tmp_path: Path) -> None:
    layout = locate_backup_files(inspect_zip(tmp_path / "nope.zip", LIMITS))
    assert [p.kind for p in layout.problems] == ["entities-missing", "activeobjects-missing"]
    assert "cannot be read" in layout.problems[0].detail
