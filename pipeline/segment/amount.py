"""Courtesy-amount syntax: from read characters to a value, deciding decimal vs thousands marks by group lengths.

Conventions (shared with :func:`pipeline.values.normalise_amount`): a ``.`` or ``,`` followed by exactly two final
digits, or two raised final digits, are the cents; every other ``.``/``,`` groups thousands, in groups of three
(``1,234,567``, ``22.970``) or Indian style (``7,67,000``: threes at the end, twos before). Leading ``* $ # . ,``
and endings ``.- = /- / .`` are decoration (a mark before the first digit is a stray, not a decimal point);
two marks in a row (``:``, a dot broken in two) count as one.
The value is the integer without separators, plus ``.cc`` only when the
cents are not zero: ``57``, ``57.00`` and ``57.-`` all give ``57``; ``1,234.56`` gives ``1234.56``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    """One read character: a digit or a symbol, and whether it is raised above the digits' baseline (cents)."""

    char: str
    raised: bool = False


@dataclass(frozen=True)
class ParsedAmount:
    # "1234.56"; when the syntax is bad (ok False), the value its separators most likely meant where only they
    # break it ("4.627.95", "2.49102"), else None
    value: str | None
    digits: str  # every digit in writing order
    text: str  # as read: "1,234.56"; raised cents shown after a "^"
    ok: bool
    problem: str = ""  # why the syntax is bad


_DECORATION = set("*$#-=/x")  # x: the "xx" of "35/xx"
_THOUSANDS = re.compile(r"\d{1,3}(?:([.,])\d{3}(?:\1\d{3})*)?")
_INDIAN = re.compile(r"\d{1,2}(?:([.,])\d{2})*([.,])\d{3}")


def _best_guess(whole: str, cents: str, cents_read: bool) -> str | None:
    """The amount a grouping that breaks the syntax most likely stands for: a reviewer's starting point, never an
    accepted value. The groups after the first must still be thousands (threes, or Indian twos then a three): the
    marks between them were misread (``4.627.95``: a comma read as a point, 4627.95), or one was missed in the
    first group (``2478.000.00``, 2478000). A last group of five digits is a thousands group plus cents whose point
    was missed (``2.49102``, 2491.02). Anything else (``12.5``, ``1.2345``) has no guess."""
    last = re.split(r"[.,]", whole)[-1]
    # (a five-digit group ending in '00' could also be an Indian '1,00,000' with a comma missed: the guess takes
    # the cents reading, and the field stays rejected either way, for the reviewer to settle)
    if not cents_read and len(last) == 5 and last != whole:
        whole, cents = whole[:-2], whole[-2:]
    groups = [len(g) for g in re.split(r"[.,]", whole)[1:]]
    thousands = all(n == 3 for n in groups) or (groups[-1:] == [3] and all(n == 2 for n in groups[:-1]))
    bare = re.sub(r"\D", "", whole)
    if not groups or not thousands or (len(bare) > 1 and bare.startswith("0")):
        return None
    return bare if cents == "00" else f"{bare}.{cents}"


def _as_text(tokens: list[Token]) -> str:
    out = []
    previous_raised = False
    for t in tokens:
        if t.raised and not previous_raised and t.char.isdigit():
            out.append("^")
        out.append(t.char)
        previous_raised = t.raised
    return "".join(out)


def parse_amount(tokens: list[Token] | str) -> ParsedAmount:
    """Parse read characters (or a plain string) into an amount; ``ok`` is False when the syntax does not hold."""
    if isinstance(tokens, str):
        tokens = [Token(c) for c in tokens if not c.isspace()]
    tokens = [t for t in tokens if t.char]
    text = _as_text(tokens)
    digits = "".join(t.char for t in tokens if t.char.isdigit())
    if not digits:
        return ParsedAmount(None, "", text, False, "no digits")
    first = next(i for i, t in enumerate(tokens) if t.char.isdigit())
    last = max(i for i, t in enumerate(tokens) if t.char.isdigit())
    head, body, tail = tokens[:first], tokens[first : last + 1], tokens[last + 1 :]
    if any(t.char not in (_DECORATION - {"x"}) | {".", ","} for t in head):
        return ParsedAmount(None, digits, text, False, "stray mark before the amount")
    if any(t.char not in _DECORATION | {".", ","} for t in tail):
        return ParsedAmount(None, digits, text, False, "stray mark after the amount")
    ending = "".join(t.char for t in tail)
    if "x" in ending and not re.search(r"/xx$", ending):
        return ParsedAmount(None, digits, text, False, "an 'x' not in a '/xx' ending")
    cents = "00"
    raised = [t for t in body if t.raised]
    if raised:
        n_raised = 0
        for t in reversed(body):
            if not t.raised:
                break
            n_raised += 1
        if n_raised != len(raised) or n_raised != 2 or not all(t.char.isdigit() for t in body[-2:]):
            return ParsedAmount(None, digits, text, False, "raised digits are not two final cents")
        cents = body[-2].char + body[-1].char
        body = body[:-2]
        while body and not body[-1].char.isdigit():
            body = body[:-1]  # "57.⁵⁰" or "57-⁵⁰": the mark before raised cents
    # a mark written as two dots (':') or broken in two reads as one separator
    whole = re.sub(r"([.,])[.,]+", r"\1", "".join(t.char for t in body))
    if not whole or not re.fullmatch(r"\d[\d.,]*", whole) or re.search(r"[.,]{2}", whole):
        return ParsedAmount(None, digits, text, False, "separators out of place")
    match = re.fullmatch(r"(.*?)[.,](\d{2})", whole) if cents == "00" and not raised else None
    if match:
        whole, cents = match.group(1), match.group(2)
    if whole and not (re.fullmatch(r"\d+", whole) or _THOUSANDS.fullmatch(whole) or _INDIAN.fullmatch(whole)):
        guess = _best_guess(whole, cents, cents_read=bool(match or raised))
        return ParsedAmount(guess, digits, text, False, f"bad digit grouping {whole!r}")
    if match and re.search(r"[.,]", whole) and match.group(0)[len(whole)] in whole:
        # "1.234.56": the decimal mark must differ from the thousands mark
        guess = _best_guess(whole, cents, cents_read=True)
        return ParsedAmount(guess, digits, text, False, "decimal mark equals thousands mark")
    bare = re.sub(r"\D", "", whole)
    if len(bare) > 1 and bare.startswith("0"):
        return ParsedAmount(None, digits, text, False, "leading zero")
    bare = bare or "0"
    value = bare if cents == "00" else f"{bare}.{cents}"
    return ParsedAmount(value, digits, text, True)
