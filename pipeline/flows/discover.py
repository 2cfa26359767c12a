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
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, message): could not be hashed
    unlisted: list[tuple[str, str]] = field(default_factory=list)  # (folder/, message): could not be listed

    def extend(self, other: Discovery) -> None:
        self.files += other.files
        self.unsettled += other.unsettled
        self.unreadable += other.unreadable
        self.unlisted += other.unlisted


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _reached_by_walk(path: Path, folder: Path, exclude: Path | None) -> bool:
    """Whether a walk of ``folder`` reaches ``path`` (both resolved): it lies inside, not under a hidden folder
    nor under the excluded one."""
    if not _inside(path, folder) or (exclude is not None and _inside(path, exclude) and not _inside(folder, exclude)):
        return False
    return not any(part.startswith(".") for part in path.relative_to(folder).parts)


def _walk_sorted(root: Path, skip: list[Path], unlisted: list[tuple[str, str]]) -> Iterator[tuple[Path, str]]:
    """(path, name relative to root) of the non-hidden files under ``root``, in the order of those names as
    strings, without descending into the (resolved) folders in ``skip``. Symbolic links to folders are not
    followed; links to files are files (another name for the same content: a copy). A folder that cannot be
    listed goes to ``unlisted``."""

    def entries(folder: str, relative: str) -> Iterator[str]:
        """The folder's visible entries as sort keys, sorted: a file's name, a folder's name + "/" (then every
        file under it sorts where its relative path does). Only the names are kept: ~80 bytes an entry, where
        the listing's own entries take ~4x that (a flat folder of 100,000 scans is listed at once)."""
        try:
            with os.scandir(folder) as listing:
                keys = [e.name + "/" if e.is_dir(follow_symlinks=False) else e.name
                        for e in listing if not e.name.startswith(".")]  # fmt: skip
        except OSError as exc:
            unlisted.append((relative or "./", f"cannot list folder ({exc.strerror or exc})"))
            return iter(())
        keys.sort()
        return iter(keys)

    # (folder on disk, its name relative to root with a trailing "/" or "", its remaining sort keys)
    stack = [(str(root), "", entries(str(root), ""))]
    while stack:
        folder, relative, keys = stack[-1]
        key = next(keys, None)
        if key is None:
            stack.pop()
            continue
        path = os.path.join(folder, key.rstrip("/"))
        if key.endswith("/"):
            if not skip or Path(path).resolve() not in skip:
                stack.append((path, relative + key, entries(path, relative + key)))
        elif os.path.isfile(path):  # follows a symbolic link; False for a link to a folder or a broken one
            yield Path(path), relative + key


def _is_candidate(path: Path) -> bool:
    return path.suffix.lower() in SCAN_SUFFIXES or _sniffs_as_scan(path)


def candidates(
    inputs: list[Path], exclude: Path | None = None, unlisted: list[tuple[str, str]] | None = None
) -> Iterator[tuple[Path, str]]:
    """(path, relative name) of every candidate scan under the inputs, input by input, each folder in sorted
    order. A file given by name is a candidate whatever its extension; in folders, by extension or content.

    Nothing is found twice because inputs overlap: a folder given inside one walked before (or given again) is
    not walked again, and a folder given that holds one walked before skips it; a file given by name that the
    walk of a folder given also finds is left to that walk. So a file's name is the one the first folder to reach
    it gives (a file given by name keeps its own only when no folder given holds it)."""
    exclude = exclude.resolve() if exclude else None
    unlisted = [] if unlisted is None else unlisted
    folders = [p.resolve() for p in inputs if p.is_dir()]
    walked: list[Path] = []
    named: set[Path] = set()
    for root in inputs:
        resolved = root.resolve()
        if root.is_file():
            found_by_walk = any(_reached_by_walk(resolved, f, exclude) for f in folders) and _is_candidate(root)
            if not found_by_walk and resolved not in named:
                named.add(resolved)
                yield root, root.name
            continue
        if not root.is_dir() or any(_reached_by_walk(resolved, w, exclude) for w in walked):
            continue  # its files were found under a folder given before
        skip = [w for w in walked if _inside(w, resolved)] + ([exclude] if exclude else [])
        for path, name in _walk_sorted(root, skip, unlisted):
            if _is_candidate(path):
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
    modified just now) are left out and named, as are files that could not be read and folders that could not
    be listed."""
    unlisted: list[tuple[str, str]] = []
    found = candidates(inputs, exclude, unlisted)
    while True:
        part = list(itertools.islice(found, chunk))
        result = Discovery()
        for path, document in part:
            _hash_one(path, document, settle_seconds, result)
        result.unlisted += unlisted
        unlisted.clear()
        if not part and not result.unlisted:
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
