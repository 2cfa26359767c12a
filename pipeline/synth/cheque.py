"""US personal and business cheques, drawn like the real scans: security background, printed payer and bank
blocks, cheque number, date, payee and legal-amount lines, memo, signature, MICR line, and the handwritten
courtesy amount after a printed currency sign in a box, on an underline or in a shaded field, at varying places.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.synth import names
from pipeline.synth.amounts import AMOUNT_FORMATS, FieldText, random_amount, random_date
from pipeline.synth.digits import DigitSource
from pipeline.synth.document import Rendered, field_truth, single
from pipeline.synth.handwriting import WriterStyle, Written, compose, ink_box, make_glyph, random_writer, scribble
from pipeline.synth.printing import PATTERNS, Page, micr_line, paper, security_pattern, tinted_background

SIZES = {  # inches: US personal, personal wide, business (3-on-a-page), compact business
    "personal": (6.0, 2.75),
    "personal-wide": (6.25, 2.83),
    "business": (8.5, 3.5),
    "business-compact": (8.25, 3.0),
}

PALETTES = [  # (paper, pattern ink, dark print colour)
    ((236, 244, 232), (150, 200, 150), (20, 70, 40)),  # green
    ((232, 240, 248), (140, 175, 215), (20, 45, 100)),  # blue
    ((246, 240, 226), (205, 180, 140), (90, 60, 25)),  # tan
    ((246, 236, 238), (215, 160, 175), (100, 30, 50)),  # rose
    ((240, 240, 240), (175, 175, 180), (40, 40, 45)),  # grey
    ((250, 248, 242), (200, 205, 215), (25, 25, 25)),  # nearly white
]

AMOUNT_PLACES = ("payee-box", "payee-underline", "payee-shaded", "legal-box", "upper-right-box")


def _fit(
    text_field: FieldText,
    writer_fn: Callable[[float], WriterStyle],
    rng: np.random.Generator,
    source: DigitSource,
    max_w: int,
    max_h: int,
) -> tuple[WriterStyle, Written]:
    """Compose, shrinking the writer until the field fits the space people leave for it."""
    writer = writer_fn(1.0)
    for _ in range(6):
        written = compose(text_field.text, writer, rng, source, text_field.raised, text_field.underline_raised)
        box = ink_box(written.alpha)
        if box and box[2] - box[0] <= max_w and box[3] - box[1] <= max_h:
            return writer, written
        writer = type(writer)(**{**writer.__dict__, "height": max(12, int(writer.height * 0.85))})
    return writer, written


def render_cheque(
    rng: np.random.Generator, source: DigitSource, dpi: int, record: bool = False, cover: int | None = None
) -> Rendered:
    """Draw one cheque at ``dpi`` with its handwritten date and courtesy amount; returns pixels and truth.

    ``cover`` (0, 1, 2, ...) forces the amount format and place in turn, so the first cheques of a batch show
    every style; None (and any value past the list) draws them at their usual frequencies.
    """
    size_name = str(rng.choice(list(SIZES), p=[0.45, 0.15, 0.25, 0.15]))
    w_in, h_in = SIZES[size_name]
    business = size_name.startswith("business")
    pal_paper, pal_ink, dark = PALETTES[int(rng.integers(len(PALETTES)))]
    pattern_kind = str(rng.choice(PATTERNS, p=[0.3, 0.25, 0.15, 0.15, 0.15]))
    width, height = round(w_in * dpi), round(h_in * dpi)
    pattern = security_pattern(pattern_kind, width, height, dpi, int(rng.integers(4)))
    strength = float(rng.uniform(0.35, 0.8))
    background = tinted_background(pattern, pal_paper, pal_ink, strength) if pattern_kind != "plain" else None
    page = Page(background if background is not None else paper(width, height, pal_paper), dpi, record)
    print_ink = dark if rng.random() < 0.6 else (25, 25, 28)

    # frame
    inset = rng.uniform(0.05, 0.1)
    page.rect(inset, inset, w_in - inset, h_in - inset, outline=dark, width_pt=rng.uniform(0.8, 2.0))
    if rng.random() < 0.4:
        page.rect(inset + 0.04, inset + 0.04, w_in - inset - 0.04, h_in - inset - 0.04, outline=dark, width_pt=0.5)

    # payer block (printed digits in the street and ZIP)
    left = 0.3 + rng.uniform(0, 0.15)
    payer = names.pick(rng, names.COMPANIES) if business else names.person(rng)
    y = 0.32
    page.text(left, y, payer, 9.5 if business else 8.5, "sans-bold", print_ink)
    street, town = names.street_line(rng), names.town_line(rng)
    page.text(left, y + 0.14, street, 7, "sans", print_ink)
    page.text(left, y + 0.26, town, 7, "sans", print_ink)
    if rng.random() < 0.4:
        page.text(left, y + 0.38, f"({rng.integers(200, 999)}) {rng.integers(200, 999)}-{rng.integers(0, 9999):04d}",
                  6.5, "sans", print_ink)  # fmt: skip

    # bank block with a logo mark
    bank_name, bank_town = names.bank(rng)
    bx = w_in * rng.uniform(0.4, 0.47)
    logo = page.px(0.22)
    page.draw.ellipse([page.px(bx), page.px(0.16), page.px(bx) + logo, page.px(0.16) + logo], fill=dark)
    page.text(bx + 0.11, 0.27, bank_name[0], 9, "serif-bold", (250, 250, 250), anchor="mm")
    page.text(bx + 0.28, 0.3, bank_name, 8.5, str(rng.choice(["serif-bold", "sans-bold"])), dark)
    page.text(bx + 0.28, 0.42, bank_town, 6.5, "sans", print_ink)

    # cheque number and routing fraction, top right
    cheque_no = str(int(rng.integers(101, 9999)) if not business else int(rng.integers(1001, 99999)))
    page.text(w_in - 0.3, 0.32, cheque_no, 11 if business else 10, "sans-bold", print_ink, anchor="rs")
    fraction = f"{rng.integers(1, 99)}-{rng.integers(100, 9999)}/{rng.integers(100, 9999)}"
    page.text(w_in - 0.3, 0.45, fraction, 6, "sans", print_ink, anchor="rs")

    pen = str(rng.choice(["blue", "blue-black", "black", "royal-blue"], p=[0.45, 0.15, 0.3, 0.1]))
    fields = []

    place = str(rng.choice(AMOUNT_PLACES, p=[0.45, 0.15, 0.15, 0.15, 0.1]))
    if cover is not None and cover < len(AMOUNT_FORMATS):
        place = AMOUNT_PLACES[cover % len(AMOUNT_PLACES)]

    # date: on a line, or in printed boxes (DDMMYYYY)
    date_boxed = bool(rng.random() < 0.3) and place != "upper-right-box"
    date = random_date(rng, boxed=date_boxed)
    date_y = h_in * rng.uniform(0.27, 0.33)
    date_writer = random_writer(rng, dpi, 0.9, pen)  # the boxed date's writer; a date on a line is fitted
    if date_boxed:
        bw, bh = 0.19, 0.24
        x0 = w_in - 0.35 - 8 * bw
        date_writer = type(date_writer)(**{**date_writer.__dict__, "height": page.px(bh * 0.72)})
        chars = []
        for k, ch in enumerate(date.text):
            bx0 = x0 + k * bw
            page.rect(bx0, date_y - bh, bx0 + bw, date_y, outline=dark, width_pt=0.7)
            page.text(bx0 + bw / 2, date_y + 0.1, "DDMMYYYY"[k], 5.5, "sans", dark, anchor="ms")
            g = make_glyph(ch, date_writer.height, date_writer, rng, source)
            box = ink_box(g.alpha)
            cx = page.px(bx0 + bw / 2) - (box[0] + box[2]) // 2
            base = page.px(date_y - 0.035) + int(rng.integers(-2, 3))
            chars += page.write(single(g), cx, base, date_writer.ink)
        page.text(x0 - 0.08, date_y - 0.05, "DATE", 7, "sans", print_ink, anchor="rs")
        fields.append(field_truth("date", date, chars, date_writer, None, layout="boxes"))
    else:
        # beside an amount box in the upper right, the date line moves to the middle
        x0, x1 = (
            (w_in * 0.42, w_in * 0.64) if place == "upper-right-box" else (w_in * rng.uniform(0.62, 0.7), w_in - 0.35)
        )
        page.text(x0 - 0.06, date_y, "DATE", 7, "sans", print_ink, anchor="rs")
        page.line(x0, date_y, x1, date_y, 0.6, print_ink)
        lead = rng.uniform(0.05, 0.25)
        room = page.px(x1 - x0 - lead)
        date_writer, written = _fit(
            date, lambda s: random_writer(rng, dpi, 0.9 * s, pen), rng, source, room, page.px(0.4)
        )
        chars = page.write(written, page.px(x0 + lead), page.px(date_y - 0.03), date_writer.ink)
        fields.append(field_truth("date", date, chars, date_writer, written, layout="line"))

    # payee line, amount place, legal amount line
    payee_y = h_in * rng.uniform(0.45, 0.5)
    legal_y = payee_y + h_in * rng.uniform(0.15, 0.19)
    forced = list(AMOUNT_FORMATS)[cover] if cover is not None and cover < len(AMOUNT_FORMATS) else None
    amount = random_amount(rng, forced)
    sign = "₹" if amount.style["format"] == "india" and rng.random() < 0.5 else "$"
    box_w = rng.uniform(1.35, 1.75) * (1.15 if business else 1.0)
    box_h = rng.uniform(0.28, 0.36)
    box_x1 = w_in - rng.uniform(0.25, 0.45)
    box_x0 = box_x1 - box_w
    if place == "legal-box":
        line_y = legal_y
    elif place == "upper-right-box":
        line_y = payee_y - h_in * 0.1
    else:
        line_y = payee_y
    payee_end = box_x0 - 0.3 if place != "upper-right-box" else w_in - 0.35
    legal_end = box_x0 - 0.3 if place == "legal-box" else w_in - 0.35
    page.text(left, payee_y - 0.12, "PAY TO THE", 6, "sans", print_ink)
    page.text(left, payee_y - 0.01, "ORDER OF", 6, "sans", print_ink)
    page.line(left + 0.6, payee_y, payee_end, payee_y, 0.6, print_ink)
    page.line(left, legal_y, legal_end - 0.7, legal_y, 0.6, print_ink)
    page.text(legal_end, legal_y, "DOLLARS", 7, "sans-bold", print_ink, anchor="rs")

    sign_x = box_x0 - 0.05
    if place in ("payee-box", "legal-box", "upper-right-box"):
        page.rect(box_x0, line_y - box_h, box_x1, line_y, outline=print_ink, width_pt=rng.uniform(0.6, 1.2))
    elif place == "payee-shaded":
        shade = tuple(int(c * 0.93) for c in pal_paper)
        page.rect(box_x0, line_y - box_h, box_x1, line_y, fill=shade)
        sign_x = box_x0 + 0.2
        box_x0 += 0.22
    else:
        page.line(box_x0, line_y, box_x1, line_y, 0.7, print_ink)
    printed_sign = not (amount.style["prefix"].endswith("$") and place == "payee-underline")
    if printed_sign:
        page.text(sign_x, line_y - 0.04, sign, 13, "sans-bold", print_ink, anchor="rs")

    # memo and signature lines
    memo_y = h_in * rng.uniform(0.76, 0.8)
    page.text(left, memo_y, "MEMO" if rng.random() < 0.7 else "FOR", 7, "sans", print_ink)
    page.line(left + 0.42, memo_y, w_in * 0.45, memo_y, 0.6, print_ink)
    sig_x0 = w_in * rng.uniform(0.55, 0.6)
    page.line(sig_x0, memo_y, w_in - 0.35, memo_y, 0.6, print_ink)
    if business or rng.random() < 0.3:
        page.text((sig_x0 + w_in - 0.35) / 2, memo_y + 0.1, "AUTHORIZED SIGNATURE", 5, "sans", print_ink, anchor="ms")

    # MICR line
    routing = f"{int(rng.integers(10000000, 99999999)):08d}{int(rng.integers(10))}"
    account = f"{int(rng.integers(10**7, 10**11))}"
    number = cheque_no.zfill(4 if not business else 6)
    code = f"O{number}O T{routing}T {account}O" if business else f"T{routing}T {account}O {number}"
    micr_line(page, rng.uniform(0.5, 0.9), h_in - rng.uniform(0.17, 0.22), code)

    # handwriting: the courtesy amount first (its truth), then the words (no truth)
    inner_w = page.px(box_x1 - box_x0) - page.px(0.12)
    inner_h = int(page.px(box_h) * 1.5) if place != "payee-underline" else page.px(0.5)
    writer, written = _fit(amount, lambda s: random_writer(rng, dpi, 1.15 * s, pen), rng, source, inner_w, inner_h)
    box = ink_box(written.alpha)
    slack = max(0, inner_w - (box[2] - box[0]))
    ax = page.px(box_x0) + page.px(0.06) - box[0] + int(slack * rng.uniform(0.0, 0.7))
    descent = written.alpha.shape[0] - written.baseline
    base = page.px(line_y) - max(page.px(0.04), min(descent, page.px(0.08))) - int(rng.integers(0, page.px(0.03) + 1))
    chars = page.write(written, ax, base, writer.ink)
    fields.append(
        field_truth("amount", amount, chars, writer, written, place=place, currency_sign=printed_sign and sign)
    )

    xh = page.px(rng.uniform(0.05, 0.075))
    pen_px = max(2, writer.pen - 1)
    word_ink = writer.ink
    for y_in, x_in, end_in, words, sig in [
        (payee_y, left + 0.75, payee_end, int(rng.integers(2, 4)), False),
        (legal_y, left + 0.1, legal_end - 0.8, int(rng.integers(3, 7)), False),
        (memo_y, left + 0.5, w_in * 0.45, int(rng.integers(0, 3)), False),
        (memo_y, sig_x0 + 0.15, w_in - 0.4, 2, True),
    ]:
        if words == 0:
            continue
        alpha = scribble(
            rng, page.px(end_in - x_in), xh if not sig else int(xh * 1.2), pen_px, writer.slant, words, sig
        )
        top = page.px(y_in) - int(alpha.shape[0] * (0.72 if not sig else 0.8))
        page.ink(alpha[:, : page.px(end_in - x_in)], page.px(x_in), top, word_ink)
        if not sig and y_in == legal_y:
            end = page.px(x_in) + min(alpha.shape[1], page.px(end_in - x_in))
            dash = np.zeros((pen_px + 4, max(4, page.px(legal_end - 0.8) - end)), np.float32)
            dash[2 : 2 + pen_px, : int(dash.shape[1] * rng.uniform(0.3, 0.95))] = 1.0
            page.ink(dash, end, page.px(y_in) - page.px(rng.uniform(0.03, 0.07)), word_ink)

    style = {
        "layout": size_name,
        "size_in": [w_in, h_in],
        "background": pattern_kind,
        "pen": pen,
        "amount_place": place,
        "date_layout": "boxes" if date_boxed else "line",
    }
    printed = {"cheque_number": cheque_no, "routing": routing, "account": account, "micr": code}
    mask = page.field_mask() if record else None
    return Rendered("cheque", page.array(), dpi, fields, style, printed, mask)
