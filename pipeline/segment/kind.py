"""Cheque or envelope, for batches sent with kind ``auto``.

Two cues that do not depend on one layout: a cheque is printed with several long rules (payee, legal amount,
memo, signature lines) while an envelope front has none or one; and when the resolution is known, a cheque is
at most about 3.5 in tall while envelopes start at about 3.6 in. Rules decide unless they are ambiguous.
"""

from __future__ import annotations

from pipeline.segment.locate_cheque import horizontal_rules
from pipeline.segment.pageview import PageView

CHEQUE_MAX_HEIGHT_IN = 3.55  # with few rules to go by: taller than this is an envelope
MAX_CHEQUE_HEIGHT_IN = 4.1  # taller than this is never a cheque, whatever its rules


def count_long_rules(view: PageView, min_inches: float = 1.0) -> int:
    """Printed horizontal rules at least ``min_inches`` long."""
    rules, _mask = horizontal_rules(view, view.inch(0.4))
    return sum(1 for r in rules if r.length >= view.inch(min_inches))


def guess_kind(view: PageView, dpi_from_metadata: bool = True) -> str:
    """``"cheque"`` or ``"envelope"``."""
    height_in = view.shape[0] / view.inch(1.0)
    if dpi_from_metadata and height_in > MAX_CHEQUE_HEIGHT_IN:
        return "envelope"  # no cheque stock is this tall (US 2.75-3.5 in, Indian CTS 3.67 in), with scan margins
    rules = count_long_rules(view)
    if rules >= 3:
        return "cheque"
    if rules == 0:
        return "envelope"
    if dpi_from_metadata:
        return "cheque" if height_in <= CHEQUE_MAX_HEIGHT_IN else "envelope"
    h, w = view.shape
    return "cheque" if w / max(h, 1) >= 2.35 else "envelope"
