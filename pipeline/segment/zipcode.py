"""ZIP-code syntax: five digits, or five plus four (``12345-6789``, the dash optional); optionally, the list of
valid codes."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pipeline.segment.amount import Token


@dataclass(frozen=True)
class ParsedZip:
    value: str | None  # "12345" or "12345-6789" (ok False: repaired from among marks no ZIP holds); else None
    digits: str
    text: str
    ok: bool
    problem: str = ""


ZIP_PATTERN = r"\d{5}(-?\d{4})?"  # five digits, or nine with or without the dash after the fifth


def parse_zip(tokens: list[Token] | str) -> ParsedZip:
    """Parse read characters into a ZIP code; any mark other than one dash after the fifth digit is bad syntax
    (though the digits of a well-formed code among such marks are still given as the value: the best guess)."""
    if isinstance(tokens, str):
        tokens = [Token(c) for c in tokens if not c.isspace()]
    text = "".join(t.char for t in tokens if t.char)
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ParsedZip(None, "", text, False, "no digits")
    # marks no ZIP holds (a speck read as '.', a stroke as a leading dash) around the digits of a well-formed code:
    # the syntax fails and the field is rejected, but the digits are the reviewer's best guess and tell the right
    # place. A dash (or '=', a dash in two strokes) elsewhere than after the fifth digit is no such mark: '8-4635'
    # is the tail of a cut ZIP+4. A point there is a speck as a rule ('4.1262' twice on the dev seeds)
    bare = re.sub(r"-+", "-", re.sub(r"[^\d-]", "", text.replace("=", "-"))).strip("-")
    if re.fullmatch(ZIP_PATTERN, bare):
        value = digits if len(digits) == 5 else f"{digits[:5]}-{digits[5:]}"
        if re.fullmatch(ZIP_PATTERN, text):
            return ParsedZip(value, digits, text, True)
        return ParsedZip(value, digits, text, False, f"marks a ZIP code does not have: {text!r}")
    return ParsedZip(None, digits, text, False, f"not 5 or 5+4 digits: {text!r}")


class ZipBook:
    """A list of valid five-digit ZIP codes, to read the most probable valid code from per-digit probabilities.

    A misread digit usually makes a code that does not exist; where the mail is known to carry real US codes,
    the code that exists and that the network finds most likely is the better guess (the field is still
    rejected when that code needs a digit the network doubted)."""

    def __init__(self, codes: Iterable[str]) -> None:
        unique = sorted({c for c in codes if len(c) == 5 and c.isdigit()})
        if not unique:
            raise ValueError("a ZIP book needs at least one five-digit code")
        self.codes = unique
        self.digits = np.array([[int(ch) for ch in c] for c in unique], np.int64)
        self._known = set(unique)

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self._known

    def most_probable(self, probabilities: np.ndarray) -> tuple[str, float]:
        """The valid code with the highest product of its digits' probabilities (rows: the five digits)."""
        log_p = np.log(np.clip(np.asarray(probabilities, np.float64)[:5], 1e-12, 1.0))
        scores = log_p[np.arange(5), self.digits].sum(axis=1)
        best = int(np.argmax(scores))
        return self.codes[best], float(scores[best])

    @staticmethod
    @functools.cache
    def us() -> ZipBook:
        """Every US ZIP code, from the ``zipcodes`` package (a data package kept up to date with USPS lists)."""
        try:
            import zipcodes
        except ImportError as exc:  # an optional dependency: say how to get it
            raise RuntimeError(
                "reading ZIP codes against the list of valid US codes needs the 'zipcodes' package: "
                "pip install 'zipcodes>=3' (or this package's [zips] extra)"
            ) from exc
        return ZipBook(z["zip_code"] for z in zipcodes.list_all())
