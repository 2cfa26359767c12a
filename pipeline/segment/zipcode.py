"""ZIP-code syntax: five digits, or five plus four (``12345-6789``, the dash optional)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.segment.amount import Token


@dataclass(frozen=True)
class ParsedZip:
    value: str | None  # "12345" or "12345-6789"; None when the syntax is bad
    digits: str
    text: str
    ok: bool
    problem: str = ""


def parse_zip(tokens: list[Token] | str) -> ParsedZip:
    """Parse read characters into a ZIP code; any mark other than one dash after the fifth digit is bad syntax."""
    if isinstance(tokens, str):
        tokens = [Token(c) for c in tokens if not c.isspace()]
    text = "".join(t.char for t in tokens if t.char)
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ParsedZip(None, "", text, False, "no digits")
    if re.fullmatch(r"\d{5}", text):
        return ParsedZip(digits, digits, text, True)
    if re.fullmatch(r"\d{5}-?\d{4}", text):
        return ParsedZip(f"{digits[:5]}-{digits[5:]}", digits, text, True)
    return ParsedZip(None, digits, text, False, f"not 5 or 5+4 digits: {text!r}")
