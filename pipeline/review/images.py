"""Images for the page, always addressed by a row id: a field's review crop, or its whole page with the field outlined.

Paths come from the store, never from the request, and must resolve inside the output's ``review/`` folder (crops) or
pass the scan locator's checks (pages), so no request can read another file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.segment.pages import Page, ScanError, load_pages

PAGE_SIDE = 1600  # longest side of a page view, pixels
PAD = 8  # the margin process.py leaves around a field's box in its review crop


def crop_file(out_dir: Path, relative: str | None) -> Path | None:
    """The review crop's file when it is a PNG inside ``out_dir/review``; None for anything else."""
    if not relative:
        return None
    folder = (out_dir / "review").resolve()
    try:
        path = (out_dir / relative).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(folder) or path.suffix.lower() != ".png" or not path.is_file():
        return None
    return path


def crop_origin(bbox: list[int] | None) -> tuple[int, int]:
    """Where a review crop starts on its page (process.py pads the field's box, clipped at the page edge)."""
    if not bbox:
        return 0, 0
    return max(0, bbox[0] - PAD), max(0, bbox[1] - PAD)


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return None


def load_page(path: Path, index: int) -> Page:
    """One page of a scan file; raises :class:`ScanError` when it cannot be read."""
    for item in load_pages(path):
        if item.index == index:
            if isinstance(item, Page):
                return item
            raise ScanError(item.message)
    raise ScanError(f"page {index + 1} is not in the file")


@functools.lru_cache(maxsize=16)
def render_page(path: str, mtime_ns: int, index: int, bbox_json: str | None) -> bytes:
    """A JPEG of the page, longest side at most PAGE_SIDE, with the field's box outlined in red (cached)."""
    _ = mtime_ns  # part of the cache key: a changed file is rendered again
    grey = load_page(Path(path), index).image
    scale = min(1.0, PAGE_SIDE / max(grey.shape[:2]))
    if scale < 1.0:
        grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)  # fmt: skip
    colour = cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2BGR)
    bbox = json.loads(bbox_json) if bbox_json else None
    if bbox:
        x0, y0, x1, y1 = (round(v * scale) for v in bbox)
        margin = 6
        cv2.rectangle(colour, (x0 - margin, y0 - margin), (x1 + margin, y1 + margin), (0, 0, 230), 3)
    ok, encoded = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ScanError("could not encode the page view")
    return encoded.tobytes()


def page_view(path: Path, index: int, bbox: list[int] | None) -> bytes:
    return render_page(str(path), path.stat().st_mtime_ns, index, json.dumps(bbox) if bbox else None)
