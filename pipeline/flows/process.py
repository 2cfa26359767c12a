"""One batch of scan files in, one result object per page out: the work inside a Prefect task.

Pages of all files in the batch are read together, so the network runs once per batch. A file or page that cannot
be read becomes an ``error`` result with the reason; it never stops the batch. Rejected fields get a review crop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.flows.discover import ScanFile
from pipeline.segment.pages import DEFAULT_MAX_PIXELS, Page, PageError, ScanError, load_pages

KINDS = ("auto", "cheque", "envelope", "amount", "zip", "number")
FIELD_KINDS = ("amount", "zip", "number")


@dataclass(frozen=True)
class ReadSettings:
    """What a worker needs to build its reader; hashable, so each worker process loads the weights once."""

    kind: str = "auto"
    device: str = "auto"
    target_error: float | None = None
    weights: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS


@functools.lru_cache(maxsize=2)
def field_reader(settings: ReadSettings):
    """The reader (and its LeNet-5 weights), loaded once per process and reused for every batch."""
    from pipeline.recognize.classifier import DigitClassifier
    from pipeline.segment.field import FieldReader

    classifier = DigitClassifier(
        Path(settings.weights) if settings.weights else None, device=settings.device, target_error=settings.target_error
    )
    return FieldReader(classifier)


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


def _error(scan: ScanFile, page: int, kind: str, message: str) -> dict:
    return {
        "document": scan.document, "sha256": scan.sha256, "page": page, "kind": kind, "status": "error",
        "error": message, "fields": [],
    }  # fmt: skip


def _read_fields(pages: list[Page], kinds: list[str], reader) -> list[list | str]:
    """Field results per page (or an error message per page), one reader call for the whole batch."""
    from pipeline.segment.field import FieldCrop

    out: list[list | str] = [[] for _ in pages]
    crops, owners = [], []
    whole_documents = [i for i, k in enumerate(kinds) if k not in FIELD_KINDS]
    for i, (page, kind) in enumerate(zip(pages, kinds, strict=True)):
        if kind in FIELD_KINDS:
            h, w = page.image.shape
            crops.append(FieldCrop(page.image, kind, kind, (0, 0, w, h)))  # type: ignore[arg-type]
            owners.append(i)
    if whole_documents:
        try:
            from pipeline.segment.document import read_pages
        except ImportError:
            for i in whole_documents:
                out[i] = f"kind {kinds[i]!r} needs field location, which this version does not have"
        else:
            located = read_pages([(pages[i].image, pages[i].dpi, kinds[i]) for i in whole_documents], reader)
            for i, result in zip(whole_documents, located, strict=True):
                out[i] = result if isinstance(result, list) else str(result)
    for i, result in zip(owners, reader.read_many(crops) if crops else [], strict=True):
        out[i] = [result]
    return out


def _write_crop(out_dir: Path, page: Page, field: dict, scan: ScanFile, position: int) -> str:
    """Save the field's region (the whole page when it has no box) for the reviewer; returns its relative path."""
    box = field["bbox"]
    image = page.image
    if box:
        pad = 8
        x0, y0, x1, y1 = box
        image = image[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
    relative = f"review/{scan.sha256[:16]}-p{page.index}-{position}-{field['name']}.png"
    target = out_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp.png")
    cv2.imwrite(str(tmp), np.ascontiguousarray(image))
    tmp.replace(target)
    return relative


def process_files(files: list[ScanFile], settings: ReadSettings, out_dir: Path) -> list[dict]:
    """Read every page of every file; one result dict per page, in file then page order."""
    reader = field_reader(settings)
    slots: list[dict | None] = []
    pages: list[Page] = []
    page_slots: list[tuple[int, ScanFile, str]] = []
    for scan in files:
        try:
            loaded = list(load_pages(scan.path, settings.max_pixels))
        except ScanError as exc:  # bad content; transient I/O (OSError) propagates so the task retries
            slots.append(_error(scan, 0, settings.kind, str(exc)))
            continue
        for item in loaded:
            if isinstance(item, PageError):
                slots.append(_error(scan, item.index, settings.kind, item.message))
                continue
            kind = settings.kind if settings.kind != "auto" else _guess_kind(item)
            slots.append(None)
            pages.append(item)
            page_slots.append((len(slots) - 1, scan, kind))
    results = _read_fields(pages, [k for _, _, k in page_slots], reader) if pages else []
    for page, (slot, scan, kind), result in zip(pages, page_slots, results, strict=True):
        if isinstance(result, str):
            slots[slot] = _error(scan, page.index, kind, result)
            continue
        fields = [field_dict(r) for r in result]
        for position, field in enumerate(fields):
            if field["status"] == "rejected":
                field["crop"] = _write_crop(out_dir, page, field, scan, position)
        h, w = page.image.shape
        slots[slot] = {
            "document": scan.document, "sha256": scan.sha256, "page": page.index, "kind": kind, "status": "ok",
            "error": None, "fields": fields, "width": w, "height": h, "dpi": page.dpi,
        }  # fmt: skip
    return [s for s in slots if s is not None]


def _guess_kind(page: Page) -> str:
    """``auto``: cheque or envelope, told apart by the segmenter from the page's content."""
    from pipeline.segment.kind import guess_kind

    return guess_kind(page.image, page.dpi)
