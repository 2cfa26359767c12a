"""One batch of scan files in, one result object per page out: the work inside a Prefect task.

Pages of all files in the batch are located one by one and read together (``read_located``), so the network
runs over the whole batch at once (twice when runner-up places are read). A file or page that cannot be read
becomes an ``error`` result with the reason; it never stops the batch. Rejected fields get a review crop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.flows.discover import ScanFile
from pipeline.segment.document import REVIEW_PAD
from pipeline.segment.pages import DEFAULT_MAX_PIXELS, Page, PageError, ScanError, load_pages

# oneDNN (PyTorch's CPU kernels) keeps up to 1,024 compiled primitives, one set per input shape; when the
# network saw as many shapes as batches had digits, the flow grew by hundreds of MB over a long run
# (docs/flow-benchmarks.md). DigitClassifier now pads every chunk to one shape; the small cache stays as a guard
# for callers with shapes of their own, and is as fast here. It must be set before torch first uses oneDNN (read
# once, when the cache is made); this module is imported by the flow, its Dask workers and served runs before any
# reader is built. A setting of the operator's own wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")


@dataclass(frozen=True)
class ReadSettings:
    """What a worker needs to build its reader; hashable, so each worker process loads the weights once."""

    kind: str = "auto"
    device: str = "auto"
    target_error: float | None = None
    weights: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    valid_zips: bool = False  # read ZIP codes against the list of valid US codes


@functools.lru_cache(maxsize=2)
def field_reader(settings: ReadSettings):
    """The reader (and its LeNet-5 weights), loaded once per process and reused for every batch."""
    from pipeline.recognize.classifier import DigitClassifier
    from pipeline.segment.field import FieldReader, ReaderConfig
    from pipeline.segment.zipcode import ZipBook

    classifier = DigitClassifier(
        Path(settings.weights) if settings.weights else None, device=settings.device, target_error=settings.target_error
    )
    return FieldReader(classifier, ReaderConfig(zip_book=ZipBook.us() if settings.valid_zips else None))


@functools.cache
def _libc_malloc_trim():
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS, Windows)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    return trim


def release_freed_memory() -> None:
    """Give the memory freed by a batch back to the system.

    A batch decodes dozens of page images (megabytes each) in worker threads; glibc keeps what they freed in its
    per-thread heaps, so without this the resident size creeps up batch after batch (measured: +165 MB over 1,000
    documents, flat with a trim per batch; docs/flow-benchmarks.md). A trim costs about a millisecond.
    """
    trim = _libc_malloc_trim()
    if trim is not None:
        trim(0)


def corners(box) -> list[int] | None:
    """The reader's (x, y, w, h) box as [x0, y0, x1, y1] page pixels, the results' convention."""
    if box is None:
        return None
    x, y, w, h = (int(v) for v in box)
    return [x, y, x + w, y + h]


def field_dict(result) -> dict:
    """A reader FieldResult as a results.jsonl field object."""
    return {
        "name": result.name or result.kind,
        "status": result.status,
        "value": result.value,
        "digits": result.digits,
        "text": result.text,
        "confidence": round(float(result.confidence), 6),
        "reason": result.reason,
        "bbox": corners(result.bbox),
        "characters": [
            {
                "char": c.char,
                "bbox": corners(c.bbox),
                "confidence": round(float(c.confidence), 6),
                "alternatives": [{"char": a, "probability": round(float(p), 6)} for a, p in c.alternatives],
            }
            for c in result.characters
        ],
    }


def error_result(scan: ScanFile, page: int, kind: str, message: str) -> dict:
    """The result of a page (or file) that could not be read: status error, the reason, no fields."""
    return {
        "document": scan.document, "sha256": scan.sha256, "page": page, "kind": kind, "status": "error",
        "error": message, "fields": [],
    }  # fmt: skip


@dataclass(frozen=True)
class _PageKept:
    """What a page leaves behind once located: the pixels its review crops may need, where they sit, its size."""

    index: int
    dpi: float
    width: int
    height: int
    pixels: np.ndarray | None  # the page region holding its fields (or the whole page); None: a page that failed
    origin: tuple[int, int]  # page pixels of pixels[0, 0]


def _keep(page: Page, located) -> _PageKept:
    h, w = page.image.shape[:2]
    if not located.result.ok:
        return _PageKept(page.index, page.dpi, w, h, None, (0, 0))
    if located.review_box is None:
        return _PageKept(page.index, page.dpi, w, h, page.image, (0, 0))
    x0, y0, x1, y1 = located.review_box
    return _PageKept(page.index, page.dpi, w, h, page.image[y0:y1, x0:x1].copy(), (x0, y0))


def _write_crop(out_dir: Path, page: _PageKept, field: dict, scan: ScanFile, position: int) -> str:
    """Save the field's region (the whole page when it has no box) for the reviewer; returns its relative path."""
    box = field["bbox"]
    image = page.pixels
    if box:
        pad = REVIEW_PAD
        ox, oy = page.origin
        x0, y0, x1, y1 = box
        image = image[max(0, y0 - pad - oy) : max(0, y1 + pad - oy), max(0, x0 - pad - ox) : max(0, x1 + pad - ox)]
        if image.size == 0:  # not expected (the kept region holds every place read): show all that was kept
            image = page.pixels
    relative = f"review/{scan.sha256[:16]}-p{page.index}-{position}-{field['name']}.png"
    # plain strings, not Path: pathlib (3.11) interns every part it parses, so a new name for every crop churns the
    # interpreter's table of interned strings (tracemalloc over 26 batches of a reading process: its one growth
    # of note, a 3.8 MB regrowth of that table, came from here)
    target = os.path.join(out_dir, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + ".tmp.png"
    cv2.imwrite(tmp, np.ascontiguousarray(image))
    os.replace(tmp, target)
    return relative


def process_files(files: list[ScanFile], settings: ReadSettings, out_dir: Path) -> list[dict]:
    """Read every page of every file; one result dict per page, in file then page order.

    Each page is located as soon as it is decoded, and its image let go but for the region its review crops may
    need: a batch holds crops, not decoded pages (32 pages of a 300 dpi colour scan are ~250 MB)."""
    from pipeline.segment.document import PageInput, locate, read_located

    reader = field_reader(settings)
    slots: list[dict | None] = []
    located = []
    owners: list[tuple[int, ScanFile, _PageKept]] = []
    for scan in files:
        try:
            loaded = list(load_pages(scan.path, settings.max_pixels))
        except ScanError as exc:  # bad content; transient I/O (OSError) propagates so the task retries
            slots.append(error_result(scan, 0, settings.kind, str(exc)))
            continue
        while loaded:
            item = loaded.pop(0)
            if isinstance(item, PageError):
                slots.append(error_result(scan, item.index, settings.kind, item.message))
                continue
            page = locate(PageInput(item.image, item.dpi, settings.kind, item.dpi_from_metadata))
            slots.append(None)
            located.append(page)
            owners.append((len(slots) - 1, scan, _keep(item, page)))
            del item
    results = read_located(located, reader) if located else []
    for (slot, scan, page), result in zip(owners, results, strict=True):
        if result.error is not None:
            slots[slot] = error_result(scan, page.index, result.kind, f"could not read this page: {result.error}")
            continue
        fields = [field_dict(r) for r in result.fields]
        for position, field in enumerate(fields):
            if field["status"] == "rejected":
                field["crop"] = _write_crop(out_dir, page, field, scan, position)
        slots[slot] = {
            "document": scan.document, "sha256": scan.sha256, "page": page.index, "kind": result.kind,
            "status": "ok", "error": None, "fields": fields, "width": page.width, "height": page.height,
            "dpi": page.dpi,
        }  # fmt: skip
    return [s for s in slots if s is not None]
