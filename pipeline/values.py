"""Normalised field values, shared by the truth the generator writes and the scorer that reads results.

One function per field kind, so a result written as ``1,234.56`` and a truth written as ``1234.56`` compare equal,
and so that every later stage normalises the same way.
"""

from __future__ import annotations

import re

_LEADING = "*$₹#¢ "
_ENDINGS = re.compile(r"(?:/-|/=|/xx|/x|\.-|\.—|\.–|\.=|-|—|–|=)+$", re.IGNORECASE)


def normalise_amount(text: str) -> str:
    """Canonical amount: integer part without separators, then ``.cc`` only when the cents are not zero.

    ``1,234.56`` -> ``1234.56``; ``57`` and ``57.00`` -> ``57``; ``22.970.-`` -> ``22970``;
    ``7,67,000/-`` -> ``767000``; ``125/xx`` -> ``125``; ``*$125.—`` -> ``125``. A separator followed by exactly
    two final digits is the decimal point, any other separator groups thousands (US, Indian, Uruguayan styles).
    Raises ``ValueError`` for text that is not an amount.
    """
    s = text.strip().replace(" ", "").lstrip(_LEADING).rstrip("*")
    s = _ENDINGS.sub("", s)
    if not s or not re.fullmatch(r"\d[\d.,]*", s):
        raise ValueError(f"not an amount: {text!r}")
    match = re.fullmatch(r"([\d.,]*?)[.,](\d{2})", s)
    whole, cents = (match.group(1), match.group(2)) if match else (s, "00")
    whole = re.sub(r"\D", "", whole).lstrip("0") or "0"
    return whole if cents == "00" else f"{whole}.{cents}"


def normalise_zip(text: str) -> str:
    """Canonical ZIP: ``12345`` or ``12345-6789``; other digit counts come back as their bare digits."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    return digits


def normalise_value(name: str, text: str | None) -> str | None:
    """Normalise a field value by field name; unparsable or missing values come back unchanged (or None)."""
    if text is None:
        return None
    text = str(text)
    try:
        if name == "amount":
            return normalise_amount(text)
        if name == "zip":
            return normalise_zip(text)
    except ValueError:
        return text.strip()
    if name == "number":
        return re.sub(r"\D", "", text)
    return text.strip()


def digit_string(text: str | None) -> str:
    """The digits of a field in writing order (``$1,234.56`` -> ``123456``)."""
    return re.sub(r"\D", "", text or "")
