"""Writing pages as the files scanners and archives produce: PNG, JPEG, 8-bit TIFF, bitonal CCITT G4 TIFF and
multi-page TIFF, each with its resolution recorded so later stages can find the dpi."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FORMATS = {  # name: (extension, description)
    "png": (".png", "PNG, 8-bit grey or RGB"),
    "jpeg": (".jpg", "baseline JPEG, grey or RGB"),
    "tiff": (".tif", "8-bit grey TIFF, LZW"),
    "tiff-g4": (".tif", "bitonal TIFF, CCITT Group 4 (cheque image exchange)"),
}


def to_pil(page: np.ndarray) -> Image.Image:
    """A PIL image for a scanned page: bool arrays become mode 1 (bitonal), 2-D uint8 grey, 3-D RGB."""
    if page.dtype == bool:
        return Image.fromarray(page).convert("1") if page.ndim == 2 else Image.fromarray(page)
    return Image.fromarray(page)


def write_pages(path: Path, pages: list[np.ndarray], fmt: str, dpi: int, quality: int = 88) -> None:
    """Write one or more pages; more than one page needs a TIFF format (multi-page TIFF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [to_pil(p) for p in pages]
    if len(images) > 1 and not fmt.startswith("tiff"):
        raise ValueError(f"{fmt} cannot hold {len(images)} pages; use a TIFF format")
    options: dict = {"dpi": (dpi, dpi)}
    if fmt == "png":
        options["compress_level"] = 4
    elif fmt == "jpeg":
        options.update(quality=quality, optimize=False)
    elif fmt == "tiff":
        options["compression"] = "tiff_lzw"
    elif fmt == "tiff-g4":
        images = [im if im.mode == "1" else im.convert("1") for im in images]
        options["compression"] = "group4"
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:])
    pil_format = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "tiff-g4": "TIFF"}[fmt]
    images[0].save(path, pil_format, **options)
