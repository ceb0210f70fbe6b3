"""What a long-running build process (`build --watch`) keeps from one build to the next."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deckgen.images import Encoded, ImageSource

#: A file's state: what changes when it is written, replaced or touched.
Signature = tuple[int, int, int, int]
#: An encoded picture's key: the source's content digest and the pixel size it was made for.
EncodedKey = tuple[str, tuple[int, int]]
#: The most bytes of encoded pictures kept; the least recently used go first.
MAX_ENCODED_BYTES = 512 * 2**20


def file_signature(path: Path) -> Signature | None:
    """The file's modification and change times, size and inode (None when it is gone)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino)


@dataclass
class BuildCache:
    """Pictures inspected and encoded by earlier builds: inspections by file and file state,
    encodings by content digest and target size (a file saved unchanged, renamed or copied
    is not encoded again); a file's digest is computed again only when its state changed."""

    inspected: dict[tuple[Path, Signature], ImageSource] = field(default_factory=dict)
    digests: dict[tuple[Path, Signature], str] = field(default_factory=dict)
    encoded: OrderedDict[EncodedKey, Encoded] = field(default_factory=OrderedDict)
    encoded_bytes: int = 0

    def inspection(self, path: Path) -> tuple[tuple[Path, Signature] | None,
                                              ImageSource | None]:
        """The file's key and what an earlier build read from its header, if the file has
        not changed since."""
        signature = file_signature(path)
        if signature is None:
            return None, None
        key = (path, signature)
        return key, self.inspected.get(key)

    def digest(self, source: ImageSource) -> str | None:
        """The digest of a picture's bytes (None when the file cannot be read)."""
        import hashlib  # here: a build that keeps nothing (`check`, one-off) never digests

        if source.path is None:
            return hashlib.sha256(source.inline).hexdigest()
        signature = file_signature(source.path)
        if signature is None:
            return None
        key = (source.path, signature)
        known = self.digests.get(key)
        if known is None:
            try:
                with source.path.open("rb") as stream:
                    known = hashlib.file_digest(stream, "sha256").hexdigest()
            except OSError:
                return None
            self.digests[key] = known
        return known

    def encoded_for(self, key: EncodedKey) -> Encoded | None:
        """The picture an earlier build encoded from the same bytes for the same size."""
        found = self.encoded.get(key)
        if found is not None:
            self.encoded.move_to_end(key)
        return found

    def remember(self, key: EncodedKey, encoded: Encoded) -> None:
        """Keep an encoded picture, forgetting the least recently used beyond the limit."""
        if key in self.encoded:
            return
        self.encoded[key] = encoded
        self.encoded_bytes += len(encoded.data)
        while self.encoded_bytes > MAX_ENCODED_BYTES and len(self.encoded) > 1:
            _, dropped = self.encoded.popitem(last=False)
            self.encoded_bytes -= len(dropped.data)


_cache: BuildCache | None = None


def keep_between_builds() -> BuildCache:
    """Start keeping pictures between the builds of this process (`build --watch`); a
    one-off build does not, as it would only pay for the digests."""
    global _cache
    if _cache is None:
        _cache = BuildCache()
    return _cache


def build_cache() -> BuildCache | None:
    """The cache builds of this process share, if it keeps one."""
    return _cache


def forget_between_builds() -> None:
    """Stop keeping pictures between builds and drop what was kept."""
    global _cache
    _cache = None
