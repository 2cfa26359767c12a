"""Scans in: every supported file becomes grey pages, or a clear per-file (or per-page) error.

PNG, JPEG, BMP and TIFF (8-bit, bitonal CCITT G4, multi-page: each page its own document) are read with Pillow,
PDF pages are rendered with pypdfium2. EXIF orientation is honoured. The pixel budget is checked from the header,
before any pixel is decoded, so a decompression bomb is refused instead of exhausting memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, ImageSequence, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 80_000_000  # a 300 dpi A3 page is ~17.4 Mpx; anything far above is not a scan
MIN_SIDE = 16  # smaller than this cannot hold a handwritten field
PDF_DPI = 200
ASSUMED_WIDTH_INCHES = 8.0  # to infer DPI without metadata: cheques are 6-8.5 in wide, #10 envelopes 9.5 in

SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"BM": "bmp",
    b"%PDF-": "pdf",
}
SCAN_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pdf"}


class ScanError(Exception):
    """A file or page that cannot be read as a scan; the message says why, in words an operator can act on."""


@dataclass
class Page:
    """One page of a scan, grey (uint8, paper light), with its resolution."""

    index: int  # 0-based page number within the file
    image: np.ndarray
    dpi: float
    dpi_from_metadata: bool


@dataclass
class PageError:
    """A page of a multi-page file that could not be read, while the file's other pages could."""

    index: int
    message: str


def sniff_format(path: Path) -> str | None:
    """The file's real format from its first bytes (extensions lie), or None if it is no scan format we read."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    for magic, name in SIGNATURES.items():
        if head.startswith(magic):
            return name
    return None


def _dpi(info: dict, width_px: int) -> tuple[float, bool]:
    dpi = info.get("dpi")
    if dpi and dpi[0] and float(dpi[0]) > 20:
        return float(dpi[0]), True
    return round(width_px / ASSUMED_WIDTH_INCHES), False


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ScanError(
            f"image is {width}x{height} = {width * height / 1e6:.0f} Mpx, above the pixel budget of "
            f"{max_pixels / 1e6:.0f} Mpx (possible decompression bomb); refused"
        )
    if min(width, height) < MIN_SIDE:
        raise ScanError(f"image is {width}x{height} px, too small to hold a handwritten field")


def _grey(frame: Image.Image) -> np.ndarray:
    if frame.mode == "L":
        return np.asarray(frame)  # convert("L") would only copy it first
    if frame.mode in ("RGBA", "LA", "P"):
        frame = frame.convert("RGBA")
        background = Image.new("RGBA", frame.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(background, frame)
    return np.asarray(frame.convert("L"))


def _image_pages(path: Path, max_pixels: int) -> Iterator[Page | PageError]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ScanError(f"not a readable image ({exc})") from None
    except OSError as exc:
        raise ScanError(f"cannot open image ({exc})") from None
    with image:
        frames = getattr(image, "n_frames", 1)
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            try:
                _check_size(frame.width, frame.height, max_pixels)
                frame.load()
                upright = frame
                if index == 0 and frame.getexif().get(ExifTags.Base.Orientation, 1) != 1:
                    upright = ImageOps.exif_transpose(frame)  # (which copies the page when nothing is to be done)
                grey = _grey(upright)
                dpi, from_metadata = _dpi(frame.info, grey.shape[1])
                yield Page(index, grey, dpi, from_metadata)
            except ScanError as exc:
                if frames == 1:
                    raise
                yield PageError(index, str(exc))
            except (OSError, ValueError, SyntaxError) as exc:
                message = f"truncated or corrupt image data ({exc})"
                if frames == 1:
                    raise ScanError(message) from None
                yield PageError(index, f"page {index + 1} of {frames}: {message}")


def _pdf_pages(path: Path, max_pixels: int) -> Iterator[Page | PageError]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise ScanError(f"not a readable PDF ({exc})") from None
    try:
        if len(document) == 0:
            raise ScanError("PDF has no pages")
        scale = PDF_DPI / 72
        for index in range(len(document)):
            page = document[index]
            try:
                width, height = page.get_size()
                _check_size(int(width * scale), int(height * scale), max_pixels)
                bitmap = page.render(scale=scale, grayscale=True)
                grey = np.array(bitmap.to_pil().convert("L"))
                yield Page(index, grey, float(PDF_DPI), True)
            except ScanError as exc:
                yield PageError(index, str(exc))
            except pdfium.PdfiumError as exc:
                yield PageError(index, f"page {index + 1}: cannot render ({exc})")
            finally:
                page.close()
    finally:
        document.close()


def load_pages(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Page | PageError]:
    """Yield the pages of one scan file. Raises :class:`ScanError` when the file as a whole cannot be read."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScanError(f"cannot read file ({exc.strerror})") from None
    if size == 0:
        raise ScanError("file is empty (0 bytes)")
    kind = sniff_format(path)
    if kind is None:
        raise ScanError(f"not a scan: content is not PNG, JPEG, TIFF, BMP or PDF (extension {path.suffix!r})")
    if kind == "pdf":
        yield from _pdf_pages(path, max_pixels)
    else:
        yield from _image_pages(path, max_pixels)
