"""The deck's zip in one pass: fixed entry times, media stored, XML deflated on other cores."""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

#: Media already compressed; deflating them again only costs time.
STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
#: The deflate level of everything else (the XML parts).
DEFLATE_LEVEL = 6
#: The version numbers, attributes and flags zipfile writes for such entries, so that the
#: archive is the one zipfile.ZipFile.writestr would write, byte for byte.
VERSION = 20
ZIP64_VERSION = 45
CREATE_SYSTEM = 0
PERMISSIONS = 0o644 << 16
UTF8_NAME = 0x800
#: The most threads deflating at once.
MAX_THREADS = 4
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
END_RECORD = struct.Struct("<4s4H2LH")
ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")
ZIP64_LOCATOR = struct.Struct("<4sLQL")


@dataclass(frozen=True)
class Packed:
    """An entry's bytes as stored in the archive, with the checksum and size of the
    original."""

    data: bytes
    crc: int
    size: int
    method: int


def pack(name: str, data: bytes) -> Packed:
    """An entry stored (media) or deflated (anything else) as zipfile does it."""
    if is_stored(name):
        return Packed(data, zlib.crc32(data), len(data), zipfile.ZIP_STORED)
    deflater = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    return Packed(deflater.compress(data) + deflater.flush(), zlib.crc32(data), len(data),
                  zipfile.ZIP_DEFLATED)


def is_stored(name: str) -> bool:
    """Whether an entry is stored as it is (media, already compressed)."""
    return name.lower().endswith(STORED_SUFFIXES)


class PackedEntries:
    """Entries as an archive packed them, for the next archive of a long-running process
    to reuse: a stored entry (a picture) by its very bytes object, as pictures kept between
    builds are the same objects (hashing them would cost what their checksum costs); a
    deflated entry by its bytes' value."""

    def __init__(self) -> None:
        self.stored: dict[int, Packed] = {}
        self.deflated: dict[bytes, Packed] = {}

    def get(self, name: str, data: bytes) -> Packed | None:
        """The entry packed before, if these bytes were."""
        if is_stored(name):  # a stored entry holds its bytes: no other object has their id
            return self.stored.get(id(data))
        return self.deflated.get(data)

    def add(self, name: str, data: bytes, packed: Packed) -> None:
        """Remember how these bytes were packed."""
        if is_stored(name):
            self.stored[id(data)] = packed
        else:
            self.deflated[data] = packed


class Archive:
    """A zip archive built in memory: entries are packed by a pool of threads as soon as
    they are known (zlib lets go of the interpreter while it deflates, so this overlaps the
    work that makes the next ones), then written in the order they are added."""

    def __init__(self, timestamp: datetime, threads: int | None = None,
                 reuse: PackedEntries | None = None) -> None:
        year = max(timestamp.year, 1980)
        self.dos_date = (year - 1980) << 9 | timestamp.month << 5 | timestamp.day
        self.dos_time = timestamp.hour << 11 | timestamp.minute << 5 | timestamp.second // 2
        self.pool = ThreadPoolExecutor(max_workers=threads or min(MAX_THREADS, _cores()))
        self.pending: dict[str, Future[Packed] | Packed] = {}
        self.entries: list[tuple[str, Packed]] = []
        #: What an earlier archive packed; with it, what this one packs is kept for the next.
        self.reuse = reuse
        self.packed = PackedEntries()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, name: str, data: bytes) -> None:
        """Start packing an entry that will be added later (with these very bytes)."""
        if name not in self.pending:
            self.pending[name] = self.known(name, data) or self.pool.submit(pack, name, data)

    def add(self, name: str, data: bytes) -> None:
        """The next entry of the archive."""
        pending = self.pending.pop(name, None)
        packed = pending.result() if isinstance(pending, Future) else (
            pending or self.known(name, data) or pack(name, data))
        self.entries.append((name, packed))
        if self.reuse is not None:
            self.packed.add(name, data, packed)

    def known(self, name: str, data: bytes) -> Packed | None:
        """The entry as the earlier archive packed it, if it packed these bytes."""
        return self.reuse.get(name, data) if self.reuse is not None else None

    def close(self) -> bytes:
        """The archive's bytes: the entries, the central directory and the end record (with
        the ZIP64 records zipfile writes beyond its limits)."""
        chunks: list[bytes] = []
        offset = 0
        directory: list[bytes] = []
        for name, packed in self.entries:
            encoded, flags = _name_bytes(name)
            if packed.size * 1.05 > zipfile.ZIP64_LIMIT:  # a part of 2 GB: not a deck
                raise ValueError(f"{name} is too large for a deck ({packed.size:,} bytes)")
            header = LOCAL_HEADER.pack(b"PK\x03\x04", VERSION, 0, flags, packed.method,
                                       self.dos_time, self.dos_date, packed.crc,
                                       len(packed.data), packed.size, len(encoded), 0)
            chunks += (header, encoded, packed.data)
            directory.append(self._central_entry(encoded, flags, packed, offset))
            offset += len(header) + len(encoded) + len(packed.data)
        chunks += directory
        size = sum(map(len, directory))
        count = len(self.entries)
        if count > zipfile.ZIP_FILECOUNT_LIMIT or offset > zipfile.ZIP64_LIMIT or \
                size > zipfile.ZIP64_LIMIT:
            chunks.append(ZIP64_END_RECORD.pack(b"PK\x06\x06", 44, ZIP64_VERSION,
                                                ZIP64_VERSION, 0, 0, count, count, size,
                                                offset))
            chunks.append(ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, offset + size, 1))
            count, size, offset = (min(count, 0xFFFF), min(size, 0xFFFFFFFF),
                                   min(offset, 0xFFFFFFFF))
        chunks.append(END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, size, offset, 0))
        return b"".join(chunks)

    def _central_entry(self, encoded: bytes, flags: int, packed: Packed, offset: int) -> bytes:
        version, extra = VERSION, b""
        if offset > zipfile.ZIP64_LIMIT:
            extra = struct.pack("<HHQ", 1, 8, offset)
            offset, version = 0xFFFFFFFF, ZIP64_VERSION
        return CENTRAL_HEADER.pack(b"PK\x01\x02", version, CREATE_SYSTEM, version, 0, flags,
                                   packed.method, self.dos_time, self.dos_date, packed.crc,
                                   len(packed.data), packed.size, len(encoded), len(extra),
                                   0, 0, 0, PERMISSIONS, offset) + encoded + extra


def _name_bytes(name: str) -> tuple[bytes, int]:
    """An entry name as zipfile encodes it: ASCII, else UTF-8 with the flag saying so."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), UTF8_NAME


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
