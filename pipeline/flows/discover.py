"""Find the scans to read: files and folders (recursive), by extension and by content sniffing.

Each file is identified by the SHA-256 of its bytes, so a re-run skips what is done and a copy under another name
is recognised. A file whose size or modification time is still changing is left for the next run.

Files are found and hashed a chunk at a time, in a stable order, and nothing is kept between chunks: reading
starts after the first chunk instead of after the whole tree is hashed, and the flow's memory does not grow with
the number of files (a list of every file found held ~770 bytes a file, 7.7 MB for 10,000).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.hashing import file_sha256
from pipeline.segment.pages import SCAN_SUFFIXES, sniff_format

SETTLE_SECONDS = 2.0  # a file modified more recently than this may still be being written
CHUNK_FILES = 256  # files hashed (and their sightings recorded) together


@dataclass(frozen=True)
class ScanFile:
    """One input file: where it is, its name relative to the input folder, and its content hash."""

    path: Path
    document: str  # path relative to the input folder it was found under (the name in results)
    size: int
    sha256: str


@dataclass
class Discovery:
    files: list[ScanFile] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # still being written: left for the next run
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (name, message): could not be listed or hashed

    def extend(self, other: Discovery) -> None:
        self.files += other.files
        self.unsettled += other.unsettled
        self.unreadable += other.unreadable


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _hidden_below(path: Path, folder: Path) -> bool:
    """Whether a walk of ``folder`` skips ``path`` (it lies inside) because a part of the way is hidden."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _walk_sorted(root: Path, skip: list[Path], unreadable: list[tuple[str, str]]) -> Iterator[tuple[Path, str]]:
    """(path, name relative to root) of the non-hidden files under ``root``, in the order of those names as
    strings, without descending into the (resolved) folders in ``skip``. Symbolic links to folders are not
    followed; links to files are files. A folder that cannot be listed goes to ``unreadable``."""

    def entries(folder: str) -> Iterator[tuple[str, os.DirEntry]]:
        try:
            with os.scandir(folder) as listing:
                found = [e for e in listing if not e.name.startswith(".")]
        except OSError as exc:
            name = os.path.relpath(folder, root) + "/"
            unreadable.append((name, f"cannot list folder ({exc.strerror or exc})"))
            return iter(())
        # a folder sorts as its name + "/": then every file under it sorts where its relative path does
        keyed = [(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in found]
        return iter(sorted(keyed, key=lambda item: item[0]))

    stack = [entries(str(root))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        key, entry = item
        if key.endswith("/"):
            if not skip or Path(entry.path).resolve() not in skip:
                stack.append(entries(entry.path))
        elif entry.is_file():
            yield Path(entry.path), os.path.relpath(entry.path, root)


def candidates(
    inputs: list[Path], exclude: Path | None = None, unreadable: list[tuple[str, str]] | None = None
) -> Iterator[tuple[Path, str]]:
    """(path, relative name) of every candidate scan under the inputs, input by input, each folder in sorted
    order. A file given by name is a candidate whatever its extension; in folders, by extension or content. A
    folder given inside one already walked (or one walked again) is not walked twice; a folder given that holds
    one walked before skips it."""
    exclude = exclude.resolve() if exclude else None
    unreadable = [] if unreadable is None else unreadable
    walked: list[Path] = []
    for root in inputs:
        if root.is_file():
            yield root, root.name
            continue
        if not root.is_dir():
            continue
        resolved = root.resolve()
        if any(_inside(resolved, w) and not _hidden_below(resolved, w) for w in walked):
            continue  # its files were found under a folder given before
        skip = [w for w in walked if _inside(w, resolved)] + ([exclude] if exclude else [])
        for path, name in _walk_sorted(root, skip, unreadable):
            if path.suffix.lower() in SCAN_SUFFIXES or _sniffs_as_scan(path):
                yield path, name
        walked.append(resolved)


def _sniffs_as_scan(path: Path) -> bool:
    try:
        return sniff_format(path) is not None
    except OSError:
        return False


def _hash_one(path: Path, document: str, settle_seconds: float, found: Discovery) -> None:
    """Hash one file into ``found``, or say why not (still changing, or unreadable)."""
    try:
        before = path.stat()
        if time.time() - before.st_mtime < settle_seconds:
            found.unsettled.append(document)
            return
        sha = file_sha256(path)
        after = path.stat()
    except OSError as exc:
        found.unreadable.append((document, f"cannot read file ({exc.strerror or exc})"))
        return
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        found.unsettled.append(document)
        return
    found.files.append(ScanFile(path, document, after.st_size, sha))


def discover_chunks(
    inputs: list[Path], exclude: Path | None = None, settle_seconds: float = SETTLE_SECONDS, chunk: int = CHUNK_FILES
) -> Iterator[Discovery]:
    """The candidates hashed ``chunk`` at a time; files still changing (size or mtime moved while hashing, or
    modified just now) are left out and named, as are those that could not be read."""
    listing_errors: list[tuple[str, str]] = []
    found = candidates(inputs, exclude, listing_errors)
    while True:
        part = list(itertools.islice(found, chunk))
        result = Discovery()
        for path, document in part:
            _hash_one(path, document, settle_seconds, result)
        result.unreadable += listing_errors
        listing_errors.clear()
        if not part and not result.unreadable:
            return
        yield result
        if not part:
            return


def discover(inputs: list[Path], exclude: Path | None = None, settle_seconds: float = SETTLE_SECONDS) -> Discovery:
    """Every candidate at once (for tools and tests; the flow reads chunk by chunk)."""
    whole = Discovery()
    for part in discover_chunks(inputs, exclude, settle_seconds):
        whole.extend(part)
    return whole


def count_candidates(inputs: list[Path], exclude: Path | None = None) -> int:
    """How many candidates there are now (a listing, no hashing): the total a progress bar shows."""
    return sum(1 for _ in candidates(inputs, exclude))
