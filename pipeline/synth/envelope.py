"""Envelopes as they reach a mail sorter: printed return address with its own ZIP, stamp or meter mark, a
postmark with printed digits, the handwritten destination address (house number and the ZIP at the end of the
last line, 5 digits or ZIP+4), sometimes an extra line, pre-printed ZIP boxes, or the sorter's barcode.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from pipeline.synth import names
from pipeline.synth.amounts import random_house_number, random_zip
from pipeline.synth.digits import DigitSource
from pipeline.synth.document import Rendered, field_truth, single
from pipeline.synth.handwriting import WriterStyle, compose, ink_box, make_glyph, random_writer, scribble
from pipeline.synth.printing import Page, font, paper

SIZES = {  # inches
    "#10": (9.5, 4.125),
    "#9": (8.875, 3.875),
    "#6-3/4": (6.5, 3.625),
    "C6": (6.38, 4.49),
    "DL": (8.66, 4.33),
    "A7": (7.25, 5.25),
}
PAPERS = {
    "white": (246, 245, 240),
    "cream": (243, 236, 220),
    "manila": (226, 204, 152),
    "kraft": (198, 163, 115),
    "grey-blue": (232, 236, 242),
}
BOX_PITCH = 0.27  # inches from one pre-printed ZIP box to the next
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _stamp(page: Page, rng: np.random.Generator, x: float, y: float, bg) -> None:
    """A perforated postage stamp with a simple picture and its printed denomination."""
    w, h = rng.uniform(0.78, 0.9), rng.uniform(0.9, 1.02)
    page.rect(x, y, x + w, y + h, fill=(250, 250, 247))
    hue = [tuple(int(v) for v in rng.integers(30, 220, 3)) for _ in range(3)]
    page.rect(x + 0.06, y + 0.06, x + w - 0.06, y + h - 0.2, fill=hue[0])
    cx, cy, r = page.px(x + w / 2), page.px(y + h * 0.4), page.px(w * rng.uniform(0.15, 0.3))
    page.draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=hue[1])
    for k in range(int(rng.integers(0, 4))):
        yy = y + 0.1 + k * 0.08
        page.rect(x + 0.06, yy, x + w - 0.06, yy + 0.03, fill=hue[2])
    page.text(x + 0.08, y + h - 0.08, "USA", 7, "sans-bold", (30, 30, 30))
    choices = ["FOREVER", str(int(rng.integers(20, 99))), f"{rng.integers(1, 5)}.{rng.integers(0, 99):02d}"]
    denomination = str(rng.choice(choices))
    size = 6 if denomination == "FOREVER" else 8
    page.text(x + w - 0.08, y + h - 0.08, denomination, size, "sans-bold", (30, 30, 30), anchor="rs")
    step, rad = page.px(0.07), max(2, page.px(0.018))
    for px in range(page.px(x), page.px(x + w) + 1, step):
        for py in (page.px(y), page.px(y + h)):
            page.draw.ellipse([px - rad, py - rad, px + rad, py + rad], fill=bg)
    for py in range(page.px(y), page.px(y + h) + 1, step):
        for px in (page.px(x), page.px(x + w)):
            page.draw.ellipse([px - rad, py - rad, px + rad, py + rad], fill=bg)


def _meter(page: Page, rng: np.random.Generator, x: float, y: float) -> dict:
    """A postage-meter imprint: printed amount, date and the origin ZIP (digits that are not the address ZIP)."""
    ink = (200, 40, 60) if rng.random() < 0.5 else (40, 60, 150)
    zip5 = f"{int(rng.integers(501, 99951)):05d}"
    amount = f"${rng.integers(0, 3)}.{rng.integers(40, 99):02d}"
    page.rect(x, y, x + 1.5, y + 0.85, outline=ink, width_pt=1.2)
    page.text(x + 0.08, y + 0.2, "US POSTAGE", 7, "sans-bold", ink)
    page.text(x + 0.08, y + 0.45, amount, 13, "sans-bold", ink)
    page.text(x + 0.08, y + 0.62, f"ZIP {zip5}", 6.5, "sans", ink)
    page.text(x + 0.08, y + 0.77, f"{rng.integers(1, 28):02d}{MONTHS[int(rng.integers(12))]}20{rng.integers(24, 27)}",
              6.5, "sans", ink)  # fmt: skip
    return {"meter_zip": zip5, "meter_amount": amount}


def _postmark(page: Page, rng: np.random.Generator, x: float, y: float) -> dict:
    """A round date stamp with wavy cancel lines, inked unevenly, laid over the stamp."""
    dpi = page.dpi
    w, h = int(2.2 * dpi), int(1.1 * dpi)
    im = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(im)
    r = int(0.42 * dpi)
    cx, cy = int(0.5 * dpi), h // 2
    lw = max(2, dpi // 100)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=lw)
    town, state = names.pick(rng, names.TOWNS)
    date = f"{MONTHS[int(rng.integers(12))]} {rng.integers(1, 29)} 20{rng.integers(24, 27)}"
    zip3 = f"{int(rng.integers(5, 999)):03d}"
    small = font("sans-bold", int(dpi * 0.085))
    d.text((cx, cy - r * 0.55), town[:12], font=small, fill=255, anchor="mm")
    d.text((cx, cy), date, font=font("sans-bold", int(dpi * 0.075)), fill=255, anchor="mm")
    d.text((cx, cy + r * 0.55), f"{state} {zip3}", font=small, fill=255, anchor="mm")
    xs = np.linspace(cx + r + dpi * 0.05, w - 4, 60)
    phase = rng.uniform(0, 6)
    for k in range(int(rng.integers(4, 7))):
        yy = cy - r * 0.8 + k * r * 0.32 + dpi * 0.04 * np.sin(xs / dpi * 9 + phase)
        d.line(list(zip(xs.tolist(), yy.tolist(), strict=True)), fill=255, width=lw)
    alpha = np.asarray(im, np.float32) / 255.0
    blotch = rng.random((8, 16)).astype(np.float32)
    blotch = cv2.resize(blotch, (w, h), interpolation=cv2.INTER_CUBIC)
    alpha *= np.clip(0.3 + blotch, 0, 1)
    color = (200, 40, 50) if rng.random() < 0.2 else (35, 35, 45)
    page.ink(alpha, page.px(x), page.px(y), color, float(rng.uniform(0.6, 0.95)))
    return {"postmark_date": date, "postmark_zip3": zip3}


def _barcode(page: Page, rng: np.random.Generator, x: float, y: float) -> None:
    """An Intelligent Mail barcode as sorters spray it: 65 bars of four kinds."""
    pitch, bw = 0.0476, 0.02
    full, tracker = 0.145, 0.05
    for k in range(65):
        kind = int(rng.integers(4))
        top = y - (full / 2 if kind in (0, 1) else tracker / 2)
        bottom = y + (full / 2 if kind in (0, 2) else tracker / 2)
        page.rect(x + k * pitch, top, x + k * pitch + bw, bottom, fill=(25, 25, 25), width_pt=0.1)


def render_envelope(
    rng: np.random.Generator, source: DigitSource, dpi: int, record: bool = False, cover: int | None = None
) -> Rendered:
    """Draw one envelope front at ``dpi`` with its handwritten house number and ZIP; returns pixels and truth.

    ``cover`` 0..3 forces, in turn, ZIP boxes, an extra address line, a ZIP+4 and a meter imprint, so that the
    first envelopes of a batch show each; None draws them at their usual frequencies.
    """
    size_name = str(rng.choice(list(SIZES), p=[0.45, 0.1, 0.15, 0.1, 0.1, 0.1]))
    w_in, h_in = SIZES[size_name]
    paper_name = str(rng.choice(list(PAPERS), p=[0.5, 0.15, 0.15, 0.1, 0.1]))
    bg = PAPERS[paper_name]
    page = Page(paper(round(w_in * dpi), round(h_in * dpi), bg), dpi, record)
    printed: dict = {}

    pen = str(rng.choice(["blue", "blue-black", "black", "royal-blue"], p=[0.4, 0.15, 0.35, 0.1]))
    hand = rng.uniform(1.1, 1.45) * min(1.0, h_in / 4.1)  # larger than cheque amounts; smaller on small envelopes
    writer_base = random_writer(rng, dpi, hand, pen)

    # return address with its own ZIP: printed, or (personal mail) handwritten small by the same hand
    ret_zip = f"{int(rng.integers(501, 99951)):05d}"
    rx, ry = rng.uniform(0.25, 0.45), rng.uniform(0.3, 0.45)
    handwritten_return = bool(rng.random() < 0.25)
    if handwritten_return:
        printed["return_zip_handwritten"] = _handwritten_return(page, rng, source, writer_base, rx, ry, ret_zip)
    else:
        ink = (30, 30, 35) if rng.random() < 0.7 else (30, 50, 120)
        size = rng.uniform(7, 9)
        face = str(rng.choice(["sans", "serif", "sans-bold"]))
        company = rng.random() < 0.5
        first = names.pick(rng, names.COMPANIES) if company else names.person(rng)
        if company and rng.random() < 0.6:
            page.rect(rx, ry - 0.18, rx + 0.3, ry + 0.12, fill=ink)
            rx += 0.38
        bold = {"sans": "sans-bold", "serif": "serif-bold"}.get(face, face)
        for k, line in enumerate([first, names.street_line(rng), names.town_line(rng, ret_zip)]):
            page.text(rx, ry + k * size / 72 * 1.3, line, size, face if k else bold, ink)
        printed["return_zip"] = ret_zip

    # postage: a stamp (with a postmark over it) or a meter imprint
    if rng.random() < 0.7 and cover != 3:
        sx = w_in - rng.uniform(1.05, 1.25)
        _stamp(page, rng, sx, rng.uniform(0.2, 0.3), bg)
        postage = "stamp"
    else:
        printed.update(_meter(page, rng, w_in - 1.8, 0.25))
        postage = "meter"
    if postage == "stamp" and rng.random() < 0.85:
        printed.update(_postmark(page, rng, w_in - rng.uniform(2.0, 2.4), rng.uniform(0.15, 0.3)))
    barcode = bool(rng.random() < 0.4)
    if barcode:
        _barcode(page, rng, w_in - 3.6, h_in - 0.3)

    # destination address, handwritten
    xh = max(8, int(writer_base.height * rng.uniform(0.4, 0.5)))
    pen_px = writer_base.pen
    x0 = w_in * rng.uniform(0.3, 0.42)
    y0 = h_in * rng.uniform(0.48, 0.56)
    spacing = writer_base.height / dpi * rng.uniform(1.8, 2.3)  # lines far enough apart for loops not to collide
    extra = bool(rng.random() < 0.3) or cover == 1
    boxes = bool(rng.random() < 0.2) or cover == 0
    lines = ["name", *(["extra"] if extra else []), "street", "city"]
    y0 = min(y0, h_in - 0.6 - (len(lines) - 1) * spacing)  # keep the last line clear of the sorter's barcode
    fields = []
    for k, line in enumerate(lines):
        base = page.px(y0 + k * spacing) + int(rng.integers(-3, 4))
        lx = page.px(x0 + rng.uniform(-0.06, 0.06))
        if line in ("name", "extra"):
            words = int(rng.integers(2, 4))
            alpha = scribble(rng, page.px(w_in - x0 - 0.5), xh, pen_px, writer_base.slant, words)
            page.ink(alpha, lx, base - int(alpha.shape[0] * 0.72), writer_base.ink)
        elif line == "street":
            house = random_house_number(rng)
            writer = _same_hand(random_writer(rng, dpi, hand, pen), writer_base, rng)
            written = compose(house.text, writer, rng, source)
            chars = page.write(written, lx, base, writer.ink)
            fields.append(field_truth("number", house, chars, writer, written))
            right = max(c["bbox"][2] for c in chars)
            alpha = scribble(rng, page.px(2.2), xh, pen_px, writer_base.slant, int(rng.integers(2, 4)))
            page.ink(alpha, right + page.px(0.12), base - int(alpha.shape[0] * 0.72), writer_base.ink)
        else:
            zip_field = random_zip(rng, True if cover == 2 else None)
            writer = _same_hand(random_writer(rng, dpi, hand, pen), writer_base, rng)
            written = None if boxes else compose(zip_field.text, writer, rng, source)
            if boxes:
                zip_w = len(zip_field.text.replace("-", "")) * page.px(BOX_PITCH) + page.px(0.22) * (
                    "-" in zip_field.text
                )
            else:
                zip_w = written.alpha.shape[1]
            right = page.width - page.px(0.3)  # the ZIP must end on the envelope
            gap, state_w = page.px(rng.uniform(0.12, 0.3)), page.px(0.35)
            room = right - zip_w - gap - state_w - page.px(0.15) - lx
            city_w = max(page.px(0.5), min(page.px(1.6), room))
            alpha = scribble(rng, city_w, xh, pen_px, writer_base.slant, int(rng.integers(1, 3)))[:, :city_w]
            page.ink(alpha, lx, base - int(alpha.shape[0] * 0.72), writer_base.ink)
            sx = lx + (ink_box(alpha) or (0, 0, alpha.shape[1], 0))[2] + page.px(0.15)
            state = scribble(rng, page.px(0.4), xh, pen_px, writer_base.slant, 1)[:, :state_w]
            page.ink(state, sx, base - int(state.shape[0] * 0.72), writer_base.ink)
            zx = min(sx + state.shape[1] + gap, right - zip_w)
            if boxes:
                chars = _boxed_zip(page, rng, source, writer, zip_field.text, zx, base)
                fields.append(field_truth("zip", zip_field, chars, writer, None, layout="boxes"))
            else:
                chars = page.write(written, zx, base, writer.ink)
                fields.append(field_truth("zip", zip_field, chars, writer, written, layout="line"))
    style = {
        "layout": size_name,
        "size_in": [w_in, h_in],
        "paper": paper_name,
        "pen": pen,
        "postage": postage,
        "extra_line": extra,
        "zip_boxes": boxes,
        "barcode": barcode,
        "return_address": "handwritten" if handwritten_return else "printed",
    }
    mask = page.field_mask() if record else None
    return Rendered("envelope", page.array(), dpi, fields, style, printed, mask)


def _handwritten_return(page: Page, rng: np.random.Generator, source: DigitSource, base: WriterStyle, rx: float,
                        ry: float, zip_text: str) -> dict:  # fmt: skip
    """A small handwritten return address; its ZIP is real handwriting but not the field to read (a distractor)."""
    small = type(base)(**{**base.__dict__, "height": max(12, int(base.height * rng.uniform(0.55, 0.7)))})
    xh = max(6, int(small.height * 0.45))
    step = small.height / page.dpi * 1.9
    for k in range(2):
        alpha = scribble(rng, page.px(1.6), xh, max(2, small.pen - 1), small.slant, int(rng.integers(2, 4)))
        page.ink(alpha, page.px(rx), page.px(ry + k * step) - int(alpha.shape[0] * 0.72), small.ink)
    base_y = page.px(ry + 2 * step)
    alpha = scribble(rng, page.px(1.0), xh, max(2, small.pen - 1), small.slant, 2)[:, : page.px(1.0)]
    page.ink(alpha, page.px(rx), base_y - int(alpha.shape[0] * 0.72), small.ink)
    written = compose(zip_text, small, rng, source)
    written.placed_at = (page.px(rx) + alpha.shape[1] + page.px(0.12), base_y - written.baseline)
    page.ink(written.alpha, *written.placed_at, small.ink)  # not page.write: this is no field
    return {"text": zip_text, "bbox": written.ink_bbox()}


def _same_hand(writer: WriterStyle, base: WriterStyle, rng: np.random.Generator) -> WriterStyle:
    """The address is one person's: a field's writer keeps its own jitter but the address writer's size and slant."""
    height = max(12, int(base.height * rng.uniform(0.92, 1.08)))
    return type(writer)(**{**writer.__dict__, "height": height, "slant": base.slant})


def _boxed_zip(page: Page, rng: np.random.Generator, source: DigitSource, writer: WriterStyle, text: str, left: int,
               base: int) -> list[dict]:  # fmt: skip
    """Pre-printed ZIP boxes (five, or five + dash + four) with one handwritten digit centred in each."""
    bw, bh = page.px(BOX_PITCH - 0.03), page.px(0.3)
    box_ink = (120, 120, 130) if rng.random() < 0.5 else (200, 90, 60)
    height = int(bh * 0.72)
    writer = type(writer)(**{**writer.__dict__, "height": height})
    chars, x = [], left
    top = base - bh + page.px(0.06)
    line_w = max(1, page.dpi // 150)
    for ch in text:
        g = make_glyph(ch, height, writer, rng, source)
        box = ink_box(g.alpha)
        if ch == "-":
            gx, gy = x + page.px(0.03) - box[0], base - g.baseline - page.px(0.04)
            x += page.px(0.22)
        else:
            page.draw.rectangle([x, top, x + bw, top + bh], outline=box_ink, width=line_w)
            gx = x + bw // 2 - (box[0] + box[2]) // 2 + int(rng.integers(-2, 3))
            gy = top + bh - page.px(0.05) - g.baseline + int(rng.integers(-2, 3))
            x += bw + page.px(0.03)
        chars += page.write(single(g), gx, gy + g.baseline, writer.ink)
    return chars
