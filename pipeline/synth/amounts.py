"""What people write in the number fields: courtesy amounts in the styles seen on real cheques, dates and ZIPs.

Each generator returns the characters to draw plus the truth: the normalised value (see :mod:`pipeline.values`)
and the style choices, so a reading error can later be traced to, say, raised cents or Indian digit grouping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from pipeline.values import normalise_amount, normalise_zip

AMOUNT_FORMATS = {
    # name: (weight, description)
    "us_comma": (0.2, "1,234.56"),
    "plain": (0.14, "1234.56"),
    "no_cents": (0.1, "57"),
    "raised_cents": (0.12, "1234 with small raised 56, maybe underlined"),
    "dot_dash": (0.08, "125.- or 125.—"),
    "slash_xx": (0.08, "125/xx"),
    "slash_dash_us": (0.04, "125/-"),
    "zero_cents": (0.06, "125.00"),
    "uruguay": (0.09, "22.970.-"),
    "india": (0.09, "7,67,000/-"),
}


@dataclass
class FieldText:
    """Characters to write, which of them are raised cents, and the truth that goes with them."""

    text: str
    value: str
    style: dict = field(default_factory=dict)
    raised: frozenset[int] = frozenset()
    underline_raised: bool = False

    @property
    def digits(self) -> str:
        return "".join(c for c in self.text if c.isdigit())


def group_us(n: int) -> str:
    return f"{n:,}"


def group_india(n: int) -> str:
    """Indian grouping: the last three digits, then pairs (7,67,000)."""
    s = str(n)
    if len(s) <= 3:
        return s
    head, tail = s[:-3], s[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail])


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> int:
    return int(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def random_amount(rng: np.random.Generator, fmt: str | None = None) -> FieldText:
    """A courtesy amount as a person writes it, in format ``fmt`` (random by weight when None)."""
    names = list(AMOUNT_FORMATS)
    weights = np.array([AMOUNT_FORMATS[n][0] for n in names])
    fmt = fmt or str(rng.choice(names, p=weights / weights.sum()))
    cents = int(rng.integers(0, 100)) if rng.random() < 0.7 else 0
    whole = _log_uniform(rng, 5, 25000)
    raised: frozenset[int] = frozenset()
    underline = False
    if fmt == "us_comma":
        whole = _log_uniform(rng, 1000, 99999) if rng.random() < 0.8 else whole
        text = f"{group_us(whole)}.{cents:02d}"
    elif fmt == "plain":
        text = f"{whole}.{cents:02d}"
    elif fmt == "no_cents":
        text = str(whole)
    elif fmt == "raised_cents":
        body = group_us(whole) if rng.random() < 0.4 else str(whole)
        text = body + f"{cents:02d}"
        raised = frozenset({len(text) - 2, len(text) - 1})
        underline = bool(rng.random() < 0.5)
    elif fmt == "dot_dash":
        text = f"{whole}." + ("—" if rng.random() < 0.5 else "-")
    elif fmt == "slash_xx":
        text = f"{whole}/xx"
    elif fmt == "slash_dash_us":
        text = f"{whole}/-"
    elif fmt == "zero_cents":
        text = f"{group_us(whole) if rng.random() < 0.5 else whole}.00"
    elif fmt == "uruguay":
        whole = _log_uniform(rng, 1000, 999999)
        text = f"{whole:,}".replace(",", ".") + ".-"
    elif fmt == "india":
        whole = _log_uniform(rng, 1000, 9999999) // 10 * 10
        text = group_india(whole) + ("/-" if rng.random() < 0.75 else ".00")
    else:
        raise ValueError(f"unknown amount format {fmt!r}")
    prefix = str(rng.choice(["", "*", "$", "*$"], p=[0.7, 0.12, 0.12, 0.06]))
    # the value as it reads: raised cents are the decimal part even though no point is drawn
    readable = text if not raised else text[:-2] + "." + text[-2:]
    value = normalise_amount(readable)
    shifted = frozenset(i + len(prefix) for i in raised)
    style = {"format": fmt, "prefix": prefix, "underlined_cents": underline}
    return FieldText(prefix + text, value, style, shifted, underline)


DATE_FORMATS = ("m/d/yy", "mm/dd/yyyy", "dd-mm-yyyy", "d.m.yy", "mm-dd-yy")


def random_date(rng: np.random.Generator, boxed: bool = False) -> FieldText:
    """A handwritten date; in printed boxes it is eight bare digits (DDMMYYYY, as on the real Indian cheques)."""
    day = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1000)))
    if boxed:
        text = day.strftime("%d%m%Y")
        return FieldText(text, day.isoformat(), {"format": "boxes-ddmmyyyy"})
    fmt = str(rng.choice(DATE_FORMATS))
    y2, y4 = f"{day.year % 100:02d}", str(day.year)
    text = {
        "m/d/yy": f"{day.month}/{day.day}/{y2}",
        "mm/dd/yyyy": f"{day.month:02d}/{day.day:02d}/{y4}",
        "dd-mm-yyyy": f"{day.day:02d}-{day.month:02d}-{y4}",
        "d.m.yy": f"{day.day}.{day.month}.{y2}",
        "mm-dd-yy": f"{day.month:02d}-{day.day:02d}-{y2}",
    }[fmt]
    return FieldText(text, day.isoformat(), {"format": fmt})


def random_zip(rng: np.random.Generator, plus4: bool | None = None) -> FieldText:
    """A ZIP code: five digits, or ZIP+4 with its dash (about a quarter of them)."""
    plus4 = bool(rng.random() < 0.25) if plus4 is None else plus4
    five = f"{int(rng.integers(501, 99951)):05d}"
    text = five + (f"-{int(rng.integers(0, 10000)):04d}" if plus4 else "")
    return FieldText(text, normalise_zip(text), {"format": "zip+4" if plus4 else "zip5"})


def random_house_number(rng: np.random.Generator) -> FieldText:
    n = _log_uniform(rng, 1, 99999)
    return FieldText(str(n), str(n), {"format": "house-number"})
