"""Handwriting composed from real digit images: one simulated writer per field, as a person fills in one field.

A writer fixes size, slant, stroke width, spacing and baseline wobble for a whole field, so the digits of a field
look like one hand; per-character jitter, touching pairs and broken strokes add what real fields show. Digits come
from real MNIST/USPS test images; separators and signs (``, . - / $ * x``) are drawn as pen strokes with the same
pen, and words (payee, signature) are cursive-like scribbles that carry no truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from pipeline.synth.digits import DigitSource

ALPHA_INK = 0.35  # alpha above which a pixel counts as ink for truth boxes

PENS = {
    "blue": (28, 45, 140),
    "blue-black": (25, 30, 80),
    "black": (28, 28, 32),
    "royal-blue": (40, 60, 175),
}


@dataclass(frozen=True)
class WriterStyle:
    """How one person writes one field; recorded in the truth so errors can be traced to styles."""

    height: int  # digit height in pixels
    slant: float  # shear: horizontal shift per pixel of height (tan of the slant angle), + leans right
    stroke: float  # threshold on the up-scaled digit grey level (0..1): lower draws thicker strokes
    pen: int  # pen width in pixels for drawn separators and scribbles
    spacing: float  # gap between characters, fraction of height (negative overlaps)
    width: float  # horizontal scale of digits
    baseline_jitter: float  # std of baseline wobble, fraction of height
    size_jitter: float  # std of per-character size change
    rotation_jitter: float  # std of per-character rotation, degrees
    touching: float  # probability that a digit is pushed against the next
    broken: float  # probability that a digit gets a gap in its stroke
    pen_name: str
    ink: tuple[int, int, int] = field(default=(28, 45, 140))

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ink"] = list(self.ink)
        for key in ("slant", "stroke", "spacing", "width", "baseline_jitter", "size_jitter", "rotation_jitter"):
            out[key] = round(float(out[key]), 3)
        return out


def random_writer(rng: np.random.Generator, dpi: int, size: float = 1.0, pen_name: str | None = None) -> WriterStyle:
    """A plausible writer at ``dpi``: digits 0.12-0.21 inch high (times ``size``), slant -8..+25 degrees."""
    height = round(dpi * rng.uniform(0.12, 0.21) * size)
    pen_name = pen_name or str(rng.choice(list(PENS), p=[0.45, 0.15, 0.3, 0.1]))
    pen = max(2, round(dpi / 300 * rng.uniform(3.5, 7.0)))
    return WriterStyle(
        height=max(14, height),
        slant=float(np.tan(np.radians(rng.uniform(-8, 25)))),
        stroke=float(rng.uniform(0.38, 0.56)),
        pen=pen,
        spacing=float(rng.uniform(-0.02, 0.28)),
        width=float(rng.uniform(0.85, 1.2)),
        baseline_jitter=float(rng.uniform(0.0, 0.06)),
        size_jitter=float(rng.uniform(0.0, 0.07)),
        rotation_jitter=float(rng.uniform(0.0, 4.0)),
        touching=float(rng.choice([0.0, 0.1, 0.25], p=[0.55, 0.3, 0.15])),
        broken=float(rng.choice([0.0, 0.08, 0.2], p=[0.65, 0.25, 0.1])),
        pen_name=pen_name,
        ink=PENS[pen_name],
    )


@dataclass
class Glyph:
    """One character's ink (float32 alpha), the row of its baseline, and where it came from."""

    alpha: np.ndarray
    baseline: int
    char: str
    source: str | None = None
    broken: bool = False


@dataclass
class Written:
    """A composed field: its ink alpha (float32) and per-character boxes ``[x0, y0, x1, y1)`` in its coordinates."""

    alpha: np.ndarray
    chars: list[dict]
    baseline: int
    notes: dict = field(default_factory=dict)
    placed_at: tuple[int, int] = (0, 0)  # top-left on the page, set when the field is written there

    def ink_bbox(self) -> list[int]:
        """Box of all the field's ink on the page (characters plus strokes such as a cents underline)."""
        box = ink_box(self.alpha)
        if box is None:
            return [0, 0, 0, 0]
        x, y = self.placed_at
        return [box[0] + x, box[1] + y, box[2] + x, box[3] + y]


def _affine(glyph: np.ndarray, baseline: int, slant: float, angle: float) -> tuple[np.ndarray, int]:
    """Shear about the baseline and rotate slightly, growing the canvas so no ink is cut off."""
    h, w = glyph.shape
    rot = cv2.getRotationMatrix2D((w / 2, baseline), angle, 1.0)
    shear = np.array([[1.0, -slant, slant * baseline], [0.0, 1.0, 0.0]])
    m = np.vstack([shear, [0, 0, 1]]) @ np.vstack([rot, [0, 0, 1]])
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ m[:2].T
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    m[0, 2] -= x0
    m[1, 2] -= y0
    out = cv2.warpAffine(glyph, m[:2], (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR, borderValue=0)
    new_base = round(m[1, 0] * (w / 2) + m[1, 1] * baseline + m[1, 2])
    return out, new_base


def digit_glyph(label: int, height: int, style: WriterStyle, rng: np.random.Generator, source: DigitSource) -> Glyph:
    """A real digit image scaled to ``height`` and re-inked as a pen stroke of the writer's width."""
    crop, origin = source.pick(label, rng)
    hh = max(6, round(height * (1 + rng.normal(0, style.size_jitter))))
    scale = hh / crop.shape[0]
    ww = max(2, round(crop.shape[1] * scale * style.width))
    pad = max(2, round(scale * 1.5))
    big = cv2.resize(crop, (ww, hh), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    threshold = min(style.stroke, 0.75 * float(big.max()))  # a faint thin digit must still leave a stroke
    alpha = np.clip((big - threshold) / 0.12 + 0.5, 0.0, 1.0).astype(np.float32)
    broken = False
    if rng.random() < style.broken:
        y = int(pad + hh * rng.uniform(0.3, 0.7))
        dy = int(hh * rng.uniform(-0.15, 0.15))
        cv2.line(alpha, (0, y - dy), (alpha.shape[1], y + dy), 0.0, max(1, round(hh * 0.05)))
        broken = True
    angle = float(rng.normal(0, style.rotation_jitter))
    out, base = _affine(alpha, pad + hh, style.slant, angle)
    return Glyph(out, base, str(label), origin, broken)


def _chaikin(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    for _ in range(rounds):
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        points = np.vstack([points[:1], np.column_stack([q, r]).reshape(-1, 2), points[-1:]])
    return points


# Pen strokes in units of digit height: x right, y up from the baseline; (width, strokes, smooth).
_SYMBOLS: dict[str, tuple[float, list[list[tuple[float, float]]], bool]] = {
    ",": (0.16, [[(0.12, 0.06), (0.11, -0.04), (0.03, -0.2)]], True),
    ".": (0.14, [[(0.06, 0.03), (0.08, 0.05)]], False),
    "-": (0.42, [[(0.03, 0.46), (0.38, 0.48)]], False),
    "—": (0.85, [[(0.03, 0.44), (0.8, 0.47)]], False),
    "/": (0.46, [[(0.0, -0.06), (0.44, 1.0)]], False),
    "=": (0.42, [[(0.03, 0.36), (0.38, 0.37)], [(0.03, 0.58), (0.38, 0.59)]], False),
    "x": (0.42, [[(0.03, 0.5), (0.39, 0.0)], [(0.03, 0.0), (0.39, 0.5)]], False),
    "*": (0.5, [[(0.25, 0.48), (0.25, 0.92)], [(0.06, 0.58), (0.44, 0.82)], [(0.06, 0.82), (0.44, 0.58)]], False),
    "$": (
        0.56,
        [
            [
                (0.5, 0.8),
                (0.3, 0.93),
                (0.08, 0.8),
                (0.12, 0.6),
                (0.3, 0.5),
                (0.47, 0.36),
                (0.44, 0.13),
                (0.24, 0.04),
                (0.04, 0.16),
            ],
            [(0.28, -0.1), (0.27, 1.06)],
        ],
        True,
    ),
}


def symbol_glyph(char: str, height: int, style: WriterStyle, rng: np.random.Generator, scale: float = 1.0) -> Glyph:
    """A separator or sign drawn as pen strokes, jittered a little so no two look identical."""
    width, strokes, smooth = _SYMBOLS[char]
    h = height * scale
    pad = style.pen + 2
    top, bottom = 1.15, 0.25
    canvas = np.zeros((int(h * (top + bottom)) + 2 * pad, int(h * width * 1.1) + 2 * pad), np.uint8)
    base = pad + int(h * top)
    for stroke in strokes:
        pts = np.array(stroke, np.float64) + rng.normal(0, 0.025, (len(stroke), 2))
        if smooth:
            pts = _chaikin(pts)
        xy = np.column_stack([pad + pts[:, 0] * h, base - pts[:, 1] * h])
        cv2.polylines(canvas, [np.round(xy * 16).astype(np.int32)], False, 255, style.pen, cv2.LINE_AA, shift=4)
    if char == ".":
        centre = (int(pad + 0.07 * h), int(base - 0.05 * h))
        cv2.circle(canvas, centre, max(1, int(style.pen * 0.7)), 255, -1, cv2.LINE_AA)
    alpha = canvas.astype(np.float32) / 255.0
    out, new_base = _affine(alpha, base, style.slant, float(rng.normal(0, style.rotation_jitter)))
    return Glyph(out, new_base, char)


def ink_box(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """``[x0, y0, x1, y1)`` around the pixels whose alpha is at least ALPHA_INK, or None where there is none."""
    ys, xs = np.nonzero(alpha >= ALPHA_INK)
    if len(ys) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def make_glyph(
    char: str, height: int, style: WriterStyle, rng: np.random.Generator, source: DigitSource, scale: float = 1.0
) -> Glyph:
    """A digit from the real images, or a drawn sign, inked with varying pen pressure."""
    if char.isdigit():
        glyph = digit_glyph(int(char), round(height * scale), style, rng, source)
    else:
        glyph = symbol_glyph(char, height, style, rng, scale)
    glyph.alpha *= pen_pressure(rng, glyph.alpha.shape)
    return glyph


def _touch_shift(prev: tuple[Glyph, int, int], cur: tuple[Glyph, int, int], overlap: int) -> int | None:
    """How far to move ``cur`` left so its ink meets ``prev``'s ink (overlapping by ``overlap`` px) on some row."""
    pg, px, py = prev
    cg, cx, cy = cur
    p_top, c_top = py - pg.baseline, cy - cg.baseline
    top = max(p_top, c_top)
    bottom = min(p_top + pg.alpha.shape[0], c_top + cg.alpha.shape[0])
    if bottom <= top:
        return None
    p_ink = pg.alpha[top - p_top : bottom - p_top] >= 0.5
    c_ink = cg.alpha[top - c_top : bottom - c_top] >= 0.5
    rows = p_ink.any(1) & c_ink.any(1)
    if not rows.any():
        return None
    right = px + (p_ink.shape[1] - 1 - np.argmax(p_ink[:, ::-1], axis=1))
    left = cx + np.argmax(c_ink, axis=1)
    gap = int((left - right)[rows].min())
    return gap + overlap - 1


def compose(
    text: str,
    style: WriterStyle,
    rng: np.random.Generator,
    source: DigitSource,
    raised: frozenset[int] = frozenset(),
    underline_raised: bool = False,
) -> Written:
    """Write ``text`` left to right in one hand; characters whose index is in ``raised`` are small, raised cents."""
    h = style.height
    glyphs: list[tuple[Glyph, int, int]] = []  # glyph, x of its canvas, y of its baseline (in a tall frame)
    frame_base = 2 * h
    x = style.pen + 4
    touching, broken = [], []
    small_flags: list[bool] = []
    prev_box_right = None
    for i, char in enumerate(text):
        small = i in raised
        g = make_glyph(char, h, style, rng, source, 0.6 if small else 1.0)
        box = ink_box(g.alpha) or (0, 0, g.alpha.shape[1], g.alpha.shape[0])
        gap = style.spacing * h
        if char in ",.":
            gap = 0.06 * h
        touch = i > 0 and text[i - 1].isdigit() and char.isdigit() and bool(glyphs) and rng.random() < style.touching
        gx = x if prev_box_right is None else int(prev_box_right + gap - box[0])
        lift = (0.42 * h) if small else 0.0
        gy = round(frame_base - lift + rng.normal(0, style.baseline_jitter * h))
        if touch:
            shift = _touch_shift(glyphs[-1], (g, gx, gy), overlap=max(1, style.pen // 2))
            if shift is not None:
                gx -= shift
                touching.append(i - 1)
        glyphs.append((g, gx, gy))
        small_flags.append(small)
        if g.broken:
            broken.append(i)
        prev_box_right = gx + box[2]
        x = prev_box_right
    x0s = [gx for g, gx, gy in glyphs]
    y0s = [gy - g.baseline for g, gx, gy in glyphs]
    left, top = min([*x0s, 0]), min(y0s)
    right = max(gx + g.alpha.shape[1] for g, gx, gy in glyphs)
    bottom = max(gy - g.baseline + g.alpha.shape[0] for g, gx, gy in glyphs)
    pad = style.pen + 4
    canvas = np.zeros((bottom - top + 2 * pad, right - left + 2 * pad), np.float32)
    chars = []
    for (g, gx, gy), small in zip(glyphs, small_flags, strict=True):
        ox, oy = gx - left + pad, gy - g.baseline - top + pad
        region = canvas[oy : oy + g.alpha.shape[0], ox : ox + g.alpha.shape[1]]
        np.maximum(region, g.alpha, out=region)
        bx0, by0, bx1, by1 = ink_box(g.alpha) or (0, 0, g.alpha.shape[1], g.alpha.shape[0])
        chars.append({"char": g.char, "bbox": [ox + bx0, oy + by0, ox + bx1, oy + by1], "source": g.source,
                      "raised": small})  # fmt: skip
    if underline_raised and raised:
        boxes = [c["bbox"] for c, (g, _, _) in zip(chars, glyphs, strict=True) if g.char.isdigit()][-len(raised) :]
        ux0, ux1 = min(b[0] for b in boxes), max(b[2] for b in boxes)
        uy = max(b[3] for b in boxes) + max(2, style.pen)
        cv2.line(canvas, (ux0, uy), (ux1 + style.pen, uy - int(rng.integers(-2, 3))), 1.0, style.pen, cv2.LINE_AA)
    notes = {"touching_after": touching, "broken": broken}
    return Written(canvas, chars, frame_base - top + pad, notes)


def pen_pressure(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A smooth 0.72..1 factor: a ballpoint's ink thins and thickens along the stroke, so ink is never flat."""
    coarse = rng.uniform(0.72, 1.0, (max(2, shape[0] // 24), max(2, shape[1] // 24))).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0.6, 1.0)


def scribble(
    rng: np.random.Generator, max_width: int, xheight: int, pen: int, slant: float, words: int, signature: bool = False
) -> np.ndarray:
    """Cursive-looking pen trace (prolate cycloid loops with ascenders and descenders): words without truth.

    Used for payee names, legal amounts, memos, street and city names and signatures, where only the look matters.
    """
    pts_all: list[np.ndarray] = []
    x = float(pen + 2)
    base = 2.6 * xheight
    amp_scale = 1.6 if signature else 1.0
    for w in range(words):
        letters = int(rng.integers(2, 6) if signature else rng.integers(3, 9))
        advance = xheight * rng.uniform(0.7, 1.0) * (1.3 if signature else 1.0)
        a = advance / (2 * np.pi)
        # per letter: a loop (e, l), an arch (n, m) or a flat joint (u, i), with ascenders and descenders
        kinds = rng.choice(3, letters, p=[0.45, 0.35, 0.2])
        b_letter = a * np.choose(kinds, [rng.uniform(1.3, 2.1, letters), rng.uniform(0.3, 0.8, letters),
                                         rng.uniform(0.0, 0.3, letters)])  # fmt: skip
        tops = xheight * amp_scale * rng.uniform(0.8, 1.1, letters)
        tall = rng.random(letters) < 0.22
        tops[tall] = xheight * amp_scale * rng.uniform(1.8, 2.4, int(tall.sum()))
        if w == 0 or rng.random() < 0.3:
            tops[0] = xheight * amp_scale * rng.uniform(1.9, 2.6)
            b_letter[0] = a * 1.8
        bottoms = np.where(rng.random(letters) < 0.12, -xheight * rng.uniform(0.8, 1.2, letters), 0.0)
        t = np.linspace(0, 2 * np.pi * letters, 24 * letters)
        idx = np.minimum((t / (2 * np.pi)).astype(int), letters - 1)
        y_top, y_bot, b = tops[idx], bottoms[idx], b_letter[idx]
        xs = x + a * t - b * np.sin(t)
        ys = y_bot + (y_top - y_bot) * (0.5 - 0.5 * np.cos(t))
        if xs[-1] > max_width - xheight and w > 0:
            break
        drift = 0.08 * xheight * np.sin(t / letters + rng.uniform(0, 6))
        px = xs + slant * ys
        py = base - ys + drift
        pts_all.append(np.column_stack([px, py]))
        x = xs[-1] + xheight * rng.uniform(0.7, 1.1)
    if signature:
        sx = np.linspace(pen, x, 30)
        sy = base + xheight * (0.5 + 0.25 * np.sin(np.linspace(0, 3, 30)) + rng.uniform(-0.2, 0.2))
        pts_all.append(np.column_stack([sx, sy]))
    width = int(max(p[:, 0].max() for p in pts_all) + pen + 3)
    height = int(base + 2.0 * xheight)
    canvas = np.zeros((height, max(width, 4)), np.uint8)
    for pts in pts_all:
        cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, 255, pen, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0 * pen_pressure(rng, canvas.shape)
