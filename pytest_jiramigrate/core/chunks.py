"""Media chunk planning: group media files into zips of a size band, by project.

Atlassian's guide asks for media over 10 GB to be imported as several 2-5 GB
zips, each keeping the ``data/attachments/...`` root.  The plan packs whole
projects first-fit-decreasing (a project too big for one chunk is split by
its bucket, then issue folders), keeps avatars, logos and any other file in
the first chunk, and then moves small folders into an undersized last chunk
where that keeps every chunk between the minimum and the maximum.

Used by ``jiramigrate split-media`` to write the chunks and by the HTML report
to draw the split a backup's attachments would need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: A chunk's zip costs this much beyond file data per member (local header,
#: central directory entry and Zip64 extras), plus the name twice.
ZIP_ENTRY_OVERHEAD = 128
#: end of central directory record plus the Zip64 end record and locator
ZIP_ARCHIVE_OVERHEAD = 22 + 56 + 20
PROJECT_DEPTH = 3  # data/attachments/<PROJECT>

FileList = Callable[[], Iterable[tuple[str, int]]]


def zip_cost(path: str, size: int) -> int:
    """What one file adds to a stored (uncompressed) chunk zip."""
    return size + ZIP_ENTRY_OVERHEAD + 2 * len(path.encode())


def unit_of(path: str, refined: set[str]) -> str | None:
    """The folder a file moves with: its project, or a deeper folder of a split project.

    None for files outside ``data/attachments/<PROJECT>/``: avatars, logos and
    anything else, which all go in the first chunk.
    """
    parts = path.split("/")
    if parts[:2] != ["data", "attachments"] or len(parts) <= PROJECT_DEPTH:
        return None
    depth = PROJECT_DEPTH
    unit = "/".join(parts[:depth])
    while unit in refined and depth < len(parts):
        depth += 1
        unit = "/".join(parts[:depth])
    return unit


@dataclass
class Unit:
    name: str
    cost: int = 0
    bytes: int = 0
    files: int = 0
    #: True when the unit is a folder that could be split further
    folder: bool = False


@dataclass
class Chunk:
    """One output zip: the folders it holds and running totals of what they weigh."""

    number: int
    units: list[Unit] = field(default_factory=list)
    extras: Unit | None = None
    cost: int = 0
    bytes: int = 0
    files: int = 0

    def __post_init__(self) -> None:
        if self.extras is not None:
            self._count(self.extras, 1)

    @property
    def name(self) -> str:
        return f"media-{self.number}.zip"

    def add(self, unit: Unit) -> None:
        self.units.append(unit)
        self._count(unit, 1)

    def remove(self, unit: Unit) -> None:
        self.units.remove(unit)
        self._count(unit, -1)

    def _count(self, unit: Unit, sign: int) -> None:
        self.cost += sign * unit.cost
        self.bytes += sign * unit.bytes
        self.files += sign * unit.files

    def projects(self) -> list[str]:
        return sorted({u.name.split("/")[PROJECT_DEPTH - 1] for u in self.units})


@dataclass
class Plan:
    chunks: list[Chunk]
    refined: set[str]
    #: single files (or folders that cannot be split) larger than --max
    oversized: list[str]

    def chunk_numbers(self) -> dict[str | None, int]:
        """Unit name (None for the extras) -> chunk number, to route files while writing."""
        routes: dict[str | None, int] = {None: 1}
        for chunk in self.chunks:
            routes.update((unit.name, chunk.number) for unit in chunk.units)
        return routes


def _measure(files: FileList, refined: set[str]) -> tuple[dict[str, Unit], Unit]:
    """One pass over the files: the weight of each unit and of the extras."""
    units: dict[str, Unit] = {}
    extras = Unit("avatars, logos and other files")
    for path, size in files():
        name = unit_of(path, refined)
        unit = extras if name is None else units.setdefault(name, Unit(name))
        unit.cost += zip_cost(path, size)
        unit.bytes += size
        unit.files += 1
        unit.folder = unit.folder or (name is not None and name != path)
    return units, extras


def plan_chunks(files: FileList, max_bytes: int, min_bytes: int) -> Plan:
    """Group the files into chunks of at most ``max_bytes`` (zip size), at least ``min_bytes``
    where the sizes allow.  ``files`` is called once per pass and yields (path, size).
    """
    capacity = max_bytes - ZIP_ARCHIVE_OVERHEAD
    refined: set[str] = set()
    while True:
        units, extras = _measure(files, refined)
        too_big = {u.name for u in units.values() if u.cost > capacity and u.folder}
        if not too_big:
            break
        refined |= too_big
    chunks = [Chunk(1, extras=extras if extras.files else None)]
    oversized: list[str] = []
    for unit in sorted(units.values(), key=lambda u: (-u.cost, u.name)):
        if unit.cost > capacity:
            oversized.append(unit.name)
        home = next((c for c in chunks if c.cost + unit.cost <= capacity), None)
        if home is None:
            home = Chunk(len(chunks) + 1)
            chunks.append(home)
        home.add(unit)
    _fill_small_chunks(chunks, capacity, min_bytes)
    return Plan([c for c in chunks if c.files], refined, oversized)


def _fill_small_chunks(chunks: list[Chunk], capacity: int, min_bytes: int) -> None:
    """Move the smallest folders into a chunk under ``min_bytes`` while donors stay above it."""
    for small in chunks:
        for donor in chunks:
            if donor is small:
                continue
            for unit in sorted(donor.units, key=lambda u: u.cost):
                if small.cost >= min_bytes:
                    break
                fits = small.cost + unit.cost <= capacity
                if fits and donor.cost - unit.cost >= min_bytes:
                    donor.remove(unit)
                    small.add(unit)
