"""Printed matter on a page: fonts, text, rules, security backgrounds and the MICR code line.

Printing goes through Pillow's C drawing code on one RGB image per document, which keeps a 300 dpi business cheque
well under the time budget; the fonts are the DejaVu/STIX/Computer Modern files matplotlib ships, so no font
download is needed on any machine.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.synth.handwriting import Written

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "sans-oblique": "DejaVuSans-Oblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-italic": "DejaVuSerif-Italic.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
    "stix": "STIXGeneral.ttf",
    "stix-bold": "STIXGeneralBol.ttf",
    "roman": "cmr10.ttf",
}


@lru_cache(maxsize=256)
def font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    """A cached TrueType font of ``size_px`` pixels."""
    return ImageFont.truetype(str(FONT_DIR / FONTS[name]), max(4, size_px))


class Page:
    """One document being drawn: an RGB image with helpers in inches and points at the page's dpi."""

    def __init__(self, background: np.ndarray, dpi: int, record_fields: bool = False) -> None:
        self.dpi = dpi
        self.record_fields = record_fields
        self.field_ink: list[tuple[np.ndarray, int, int]] = []
        self.height, self.width = background.shape[:2]
        self.image = Image.fromarray(background)
        self.draw = ImageDraw.Draw(self.image)
        self._array: np.ndarray | None = None
        self._pending: list[tuple] = []

    def px(self, inches: float) -> int:
        return round(inches * self.dpi)

    def pt(self, points: float) -> int:
        return max(4, round(points * self.dpi / 72))

    def text(self, x: float, y: float, text: str, points: float, face: str = "sans", fill=(20, 20, 20),
             anchor: str = "ls") -> tuple[int, int, int, int]:  # fmt: skip
        """Print ``text`` at (x, y) inches (default anchor: left end of the baseline); returns its pixel box."""
        f = font(face, self.pt(points))
        xy = (self.px(x), self.px(y))
        self.draw.text(xy, text, font=f, fill=fill, anchor=anchor)
        return tuple(int(v) for v in self.draw.textbbox(xy, text, font=f, anchor=anchor))

    def line(self, x0: float, y0: float, x1: float, y1: float, width_pt: float = 0.6, fill=(30, 30, 30)) -> None:
        w = max(1, round(width_pt * self.dpi / 72))
        self.draw.line([(self.px(x0), self.px(y0)), (self.px(x1), self.px(y1))], fill=fill, width=w)

    def rect(self, x0: float, y0: float, x1: float, y1: float, outline=None, fill=None, width_pt: float = 0.6) -> None:
        w = max(1, round(width_pt * self.dpi / 72))
        box = [self.px(x0), self.px(y0), self.px(x1), self.px(y1)]
        self.draw.rectangle(box, outline=outline, fill=fill, width=w)

    def field_mask(self) -> np.ndarray:
        """Alpha of the ink of all fields that have truth (only when recording): what the tests hold boxes to."""
        mask = np.zeros((self.height, self.width), np.float32)
        for alpha, left, top in self.field_ink:
            x0, y0 = max(0, left), max(0, top)
            x1, y1 = min(self.width, left + alpha.shape[1]), min(self.height, top + alpha.shape[0])
            if x1 > x0 and y1 > y0:
                region = mask[y0:y1, x0:x1]
                np.maximum(region, alpha[y0 - top : y1 - top, x0 - left : x1 - left], out=region)
        return mask

    def array(self) -> np.ndarray:
        """The finished page as a numpy array: printing first, then all the ink laid so far on top of it."""
        if self._array is None:
            self._array = np.array(self.image)
            self.draw = None  # printing after this point would be lost
        for args in self._pending:
            self._lay(*args)
        self._pending.clear()
        return self._array

    def ink(self, alpha: np.ndarray, left: int, top: int, color, strength: float = 1.0) -> None:
        """Lay ink ``alpha`` (float 0..1) with its top-left at (left, top) pixels, after all printing is done."""
        self._pending.append((alpha, left, top, color, strength))

    def _lay(self, alpha: np.ndarray, left: int, top: int, color, strength: float) -> None:
        """Multiply the paper by the ink's absorption, as pen ink over print and security background does."""
        page = self._array
        h, w = alpha.shape
        x0, y0 = max(0, left), max(0, top)
        x1, y1 = min(self.width, left + w), min(self.height, top + h)
        if x1 <= x0 or y1 <= y0:
            return
        a = alpha[y0 - top : y1 - top, x0 - left : x1 - left, None] * strength
        absorb = 1.0 - np.asarray(color, np.float32) / 255.0
        region = page[y0:y1, x0:x1].astype(np.float32)
        page[y0:y1, x0:x1] = (region * (1.0 - a * absorb)).astype(np.uint8)

    def write(self, written: Written, left: int, baseline: int, color, strength: float = 1.0) -> list[dict]:
        """Put a composed field with its baseline at ``baseline``; returns its characters in page pixels."""
        top = baseline - written.baseline
        written.placed_at = (left, top)
        self.ink(written.alpha, left, top, color, strength)
        if self.record_fields:
            self.field_ink.append((written.alpha, left, top))
        chars = []
        for c in written.chars:
            x0, y0, x1, y1 = c["bbox"]
            box = [x0 + left, y0 + top, x1 + left, y1 + top]
            chars.append({**c, "bbox": box})
        return chars


def union_box(boxes: list[list[int]]) -> list[int]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


# ---------------------------------------------------------------------------------------------------------------
# Security backgrounds: fine line patterns like the pantographs and guilloches printed on real cheques.

PATTERNS = ("waves", "guilloche", "dots", "crosshatch", "plain")


@lru_cache(maxsize=48)
def security_pattern(kind: str, width: int, height: int, dpi: int, variant: int) -> np.ndarray:
    """Ink amount (uint8 0..255) of a background pattern; cached, since documents of one size share it."""
    rng = np.random.default_rng([variant, width, height])
    x = np.arange(width, dtype=np.float32)[None, :] / dpi
    y = np.arange(height, dtype=np.float32)[:, None] / dpi
    period = rng.uniform(0.025, 0.05)
    if kind == "plain":
        return np.zeros((height, width), np.uint8)
    if kind == "waves":
        phase = (
            y + 0.08 * np.sin(2 * np.pi * x / rng.uniform(0.6, 1.4)) + 0.03 * np.sin(2 * np.pi * x / 0.23)
        ) / period
        v = (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** 6
    elif kind == "guilloche":
        a = (y + 0.1 * np.sin(2 * np.pi * x / rng.uniform(0.5, 1.0))) / period
        b = (y - 0.1 * np.sin(2 * np.pi * x / rng.uniform(0.5, 1.0) + 1.3)) / period
        v = np.maximum((0.5 + 0.5 * np.cos(2 * np.pi * a)) ** 8, (0.5 + 0.5 * np.cos(2 * np.pi * b)) ** 8)
    elif kind == "dots":
        field = 0.5 + 0.5 * np.sin(2 * np.pi * x / rng.uniform(1.5, 3.0)) * np.cos(2 * np.pi * y / rng.uniform(1, 2))
        cell = np.cos(2 * np.pi * x / period) * np.cos(2 * np.pi * y / period)
        v = np.clip((cell - (1 - 0.9 * field)) * 4, 0, 1)
    else:  # crosshatch
        a = (x + y) / period
        b = (x - y) / (period * 1.3)
        v = np.maximum((0.5 + 0.5 * np.cos(2 * np.pi * a)) ** 10, (0.5 + 0.5 * np.cos(2 * np.pi * b)) ** 10)
    # a faint broad vignette, as printed backgrounds fade towards a logo or the edges
    fade = 0.65 + 0.35 * np.cos(2 * np.pi * (x / (width / dpi) - rng.uniform(0, 1)))
    return np.clip(v * fade * 255, 0, 255).astype(np.uint8)


def tinted_background(pattern: np.ndarray, paper, ink, strength: float) -> np.ndarray:
    """Paper colour with the pattern printed in ``ink`` at ``strength`` (0..1), via per-channel look-up tables."""
    levels = np.arange(256, dtype=np.float32) / 255.0 * strength
    channels = []
    for p, i in zip(paper, ink, strict=True):
        lut = np.clip(p * (1 - levels) + i * levels, 0, 255).astype(np.uint8)
        channels.append(cv2.LUT(pattern, lut))
    return cv2.merge(channels)


@lru_cache(maxsize=16)
def _plain(width: int, height: int, color: tuple) -> np.ndarray:
    return np.full((height, width, 3), color, np.uint8)


def paper(width: int, height: int, color) -> np.ndarray:
    """A blank sheet of ``color`` (copied from a cache: filling a 300 dpi page anew costs more than copying)."""
    return _plain(width, height, tuple(int(c) for c in color)).copy()


# ---------------------------------------------------------------------------------------------------------------
# MICR code line: E-13B is approximated by a bold monospace font; the transit, on-us, amount and dash symbols
# are drawn as their bar-and-block shapes.


def _micr_symbol(draw: ImageDraw.ImageDraw, symbol: str, x: int, base: int, h: int, fill) -> None:
    u = h / 8.0
    bars = {
        "T": [(0, 0, 1.2, 8), (2.4, 0, 5.6, 2.6), (2.4, 5.4, 5.6, 8)],  # transit: bar, two blocks
        "O": [(0, 0, 1.2, 8), (2.2, 0, 3.4, 8), (4.4, 2.6, 6.6, 5.4)],  # on-us: two bars and a block
        "A": [(0, 2, 1.2, 8), (2.2, 0, 3.4, 6), (4.4, 0, 5.6, 8)],  # amount
        "D": [(0, 2.5, 1.4, 5.5), (2.4, 2.5, 3.8, 5.5), (4.8, 2.5, 6.2, 5.5)],  # dash
    }[symbol]
    for bx0, by0, bx1, by1 in bars:
        draw.rectangle([x + bx0 * u, base - 8 * u + by0 * u, x + bx1 * u, base - 8 * u + by1 * u], fill=fill)


def micr_line(page: Page, x: float, baseline: float, code: str, fill=(18, 18, 18)) -> tuple[int, int, int, int]:
    """Print a MICR line at (x, baseline) inches; ``T``/``O``/``A``/``D`` in ``code`` are the four symbols.

    E-13B characters are 0.117 inch high on a 0.125 inch pitch; returns the line's pixel box.
    """
    h = page.px(0.117)
    pitch = page.px(0.125)
    f = font("mono-bold", int(h * 1.38))
    cx, base = page.px(x), page.px(baseline)
    for ch in code:
        if ch in "TOAD":
            _micr_symbol(page.draw, ch, cx, base, h, fill)
        elif ch != " ":
            page.draw.text((cx, base), ch, font=f, fill=fill, anchor="ls")
        cx += pitch
    return page.px(x), base - h, cx, base
