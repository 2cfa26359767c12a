"""Find the scans to read: files and folders (recursive), by extension and by content sniffing.

Each file is identified by the SHA-256 of its bytes, so a re-run skips what is done and a copy under another name
is recognised. A file whose size or modification time is still changing is left for the next run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.hashing import file_sha256
from pipeline.segment.pages import SCAN_SUFFIXES, sniff_format

SETTLE_SECONDS = 2.0  # a file modified more recently than this may still be being written


@dataclass(frozen=True)
class ScanFile:
    """One input file: where it is, its name relative to the input folder, and its content hash."""

    path: Path
    document: str  # path relative to the input folder it was found under (the name in results)
    size: int
    sha256: str


@dataclass
class Discovery:
    files: list[ScanFile]
    unsettled: list[str]  # still being written: left for the next run
    unreadable: list[tuple[str, str]]  # (document, message): could not even be hashed


def _candidates(inputs: list[Path], exclude: Path | None) -> list[tuple[Path, str]]:
    """(path, relative name) for every candidate file under the inputs, sorted, without duplicates."""
    found: dict[Path, str] = {}
    for root in inputs:
        if root.is_file():
            found.setdefault(root.resolve(), root.name)
            continue
        for directory, subdirs, names in os.walk(root):
            here = Path(directory)
            subdirs[:] = sorted(
                d for d in subdirs if not d.startswith(".") and (exclude is None or (here / d).resolve() != exclude)
            )
            for name in sorted(names):
                path = here / name
                if name.startswith(".") or not path.is_file():
                    continue
                if path.suffix.lower() in SCAN_SUFFIXES or _sniffs_as_scan(path):
                    found.setdefault(path.resolve(), str(path.relative_to(root)))
    return sorted(((p, rel) for p, rel in found.items()), key=lambda item: item[1])


def _sniffs_as_scan(path: Path) -> bool:
    try:
        return sniff_format(path) is not None
    except OSError:
        return False


def discover(inputs: list[Path], exclude: Path | None = None, settle_seconds: float = SETTLE_SECONDS) -> Discovery:
    """Hash every candidate file; leave out those still changing (size or mtime moved, or modified just now)."""
    exclude = exclude.resolve() if exclude else None
    result = Discovery([], [], [])
    for path, document in _candidates(inputs, exclude):
        try:
            before = path.stat()
            if time.time() - before.st_mtime < settle_seconds:
                result.unsettled.append(document)
                continue
            sha = file_sha256(path)
            after = path.stat()
        except OSError as exc:
            result.unreadable.append((document, f"cannot read file ({exc.strerror or exc})"))
            continue
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            result.unsettled.append(document)
            continue
        result.files.append(ScanFile(path, document, after.st_size, sha))
    return result
