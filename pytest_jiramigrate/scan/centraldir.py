"""Stream a zip's central directory one entry at a time.

``zipfile.ZipFile`` reads the whole central directory into memory and keeps a
``ZipInfo`` per member (plus a name index), so a media zip of 400,000
attachments cost hundreds of megabytes before a single row was stored.  Media
zips are inventoried, never extracted, so here the End Of Central Directory
record (and its zip64 locator and record, when present) is found in the file's
tail exactly as zipfile finds it, and the directory is then read sequentially
through a buffered file, yielding one short-lived ``ZipInfo`` per entry.  Only
the public standard library and :mod:`struct` are used; the checks that
zipfile makes while reading (and their messages) are repeated so that a bad
zip is reported the same way on both paths.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from pytest_jiramigrate.scan.archive import FLAG_UTF8_NAME, ZIP64_EXTRA_ID

#: bytes of central directory read per step: sequential, and flat in the member count
READ_BLOCK = 1024 * 1024

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
#: the newest "version needed to extract" zipfile accepts (zipfile.MAX_EXTRACT_VERSION)
_MAX_EXTRACT_VERSION = 63
_MAX_COMMENT = 1 << 16


class CentralDirectoryError(Exception):
    """The central directory cannot be read; the message is zipfile's for the same fault."""


class UnsupportedZipError(Exception):
    """The zip needs a feature zipfile refuses (a newer "version needed to extract")."""


def central_directory(fp: BinaryIO) -> Iterator[zipfile.ZipInfo]:
    """Yield each central directory entry of the zip open as ``fp``, in order.

    ``fp`` should be buffered and is read sequentially after the tail lookup;
    nothing is kept between entries.  Raises :class:`CentralDirectoryError`,
    :class:`UnsupportedZipError` or :class:`UnicodeDecodeError` (a UTF-8
    flagged name that is not UTF-8), as zipfile would, possibly after some
    entries were yielded.
    """
    start_dir, size_cd, concat = _directory_span(fp)
    fp.seek(start_dir)
    reader = _Bounded(fp, size_cd)
    total = 0
    while total < size_cd:
        record = reader.read(_CENTRAL.size)
        if len(record) != _CENTRAL.size:
            raise CentralDirectoryError("Truncated central directory")
        fields = _CENTRAL.unpack(record)
        if fields[0] != _CENTRAL_SIGNATURE:
            raise CentralDirectoryError("Bad magic number for central directory")
        name_length, extra_length, comment_length = fields[12:15]
        raw_name = reader.read(name_length)
        flags = fields[5]
        name = raw_name.decode("utf-8" if flags & FLAG_UTF8_NAME else "cp437")
        info = zipfile.ZipInfo(name)
        info.extra = reader.read(extra_length)
        info.comment = reader.read(comment_length)
        (info.create_version, info.create_system, info.extract_version, info.reserved) = fields[1:5]
        info.flag_bits, info.compress_type = flags, fields[6]
        info.CRC, info.compress_size, info.file_size = fields[9:12]
        if info.extract_version > _MAX_EXTRACT_VERSION:
            raise UnsupportedZipError(f"zip file version {info.extract_version / 10:.1f}")
        info.volume, info.internal_attr, info.external_attr = fields[15:18]
        info.header_offset = fields[18]
        _decode_zip64(info)
        info.header_offset += concat
        yield info
        total += _CENTRAL.size + name_length + extra_length + comment_length


class _Bounded:
    """Reads of at most ``limit`` bytes in all, like zipfile's ``BytesIO(fp.read(size_cd))``."""

    def __init__(self, fp: BinaryIO, limit: int) -> None:
        self.fp = fp
        self.left = limit

    def read(self, size: int) -> bytes:
        data = self.fp.read(min(size, self.left))
        self.left -= len(data)
        return data


def _directory_span(fp: BinaryIO) -> tuple[int, int, int]:
    """(offset, size, concat) of the central directory, from the EOCD record found as zipfile
    finds it; ``concat`` is how far the zip was shifted by bytes prepended to it."""
    file_size = fp.seek(0, 2)
    if file_size < _EOCD.size:
        raise CentralDirectoryError("File is not a zip file")
    fp.seek(file_size - _EOCD.size)
    tail = fp.read(_EOCD.size)
    if tail[:4] == _EOCD_SIGNATURE and tail[-2:] == b"\x00\x00":
        location = file_size - _EOCD.size
        record = tail
    else:
        search_from = max(file_size - _MAX_COMMENT - _EOCD.size, 0)
        fp.seek(search_from)
        data = fp.read()
        start = data.rfind(_EOCD_SIGNATURE)
        record = data[start : start + _EOCD.size]
        if start < 0 or len(record) != _EOCD.size:
            raise CentralDirectoryError("File is not a zip file")
        location = search_from + start
    fields = _EOCD.unpack(record)
    size_cd, offset_cd = fields[5], fields[6]
    concat = location - size_cd - offset_cd
    zip64 = _zip64_span(fp, location)
    if zip64 is not None:
        size_cd, offset_cd = zip64
        concat = location - size_cd - offset_cd - _ZIP64_EOCD.size - _ZIP64_LOCATOR.size
    start_dir = offset_cd + concat
    if start_dir < 0:
        raise CentralDirectoryError("Bad offset for central directory")
    return start_dir, size_cd, concat


def _zip64_span(fp: BinaryIO, location: int) -> tuple[int, int] | None:
    """The zip64 EOCD record's (size, offset) of the directory, when a locator precedes EOCD."""
    locator_at = location - _ZIP64_LOCATOR.size
    locator = _record_at(fp, locator_at, _ZIP64_LOCATOR)
    if locator is None:
        return None
    signature, disk, _, disks = locator
    if signature != _ZIP64_LOCATOR_SIGNATURE:
        return None
    if disk != 0 or disks > 1:
        raise CentralDirectoryError("zipfiles that span multiple disks are not supported")
    fields = _record_at(fp, locator_at - _ZIP64_EOCD.size, _ZIP64_EOCD)
    if fields is None or fields[0] != _ZIP64_EOCD_SIGNATURE:
        return None
    return fields[8], fields[9]


def _record_at(fp: BinaryIO, offset: int, record: struct.Struct) -> tuple[Any, ...] | None:
    """The fixed-size ``record`` at ``offset``; None when it lies outside the file."""
    if offset < 0:
        return None
    fp.seek(offset)
    data = fp.read(record.size)
    return record.unpack(data) if len(data) == record.size else None


def _decode_zip64(info: zipfile.ZipInfo) -> None:
    """Take the sizes and offset that overflow 32 bits from the zip64 extra field, as zipfile
    does (and with its complaints about a malformed extra field)."""
    extra = info.extra
    while len(extra) >= 4:
        field_id, length = struct.unpack("<HH", extra[:4])
        if length + 4 > len(extra):
            raise CentralDirectoryError(f"Corrupt extra field {field_id:04x} (size={length})")
        if field_id == ZIP64_EXTRA_ID:
            data = extra[4 : length + 4]
            field = ""
            try:
                if info.file_size in (0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF):
                    field = "File size"
                    (info.file_size,) = struct.unpack("<Q", data[:8])
                    data = data[8:]
                if info.compress_size == 0xFFFF_FFFF:
                    field = "Compress size"
                    (info.compress_size,) = struct.unpack("<Q", data[:8])
                    data = data[8:]
                if info.header_offset == 0xFFFF_FFFF:
                    field = "Header offset"
                    (info.header_offset,) = struct.unpack("<Q", data[:8])
            except struct.error:
                raise CentralDirectoryError(
                    f"Corrupt zip64 extra field. {field} not found."
                ) from None
        extra = extra[length + 4 :]
