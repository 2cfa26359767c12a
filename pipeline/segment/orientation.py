"""Which way up a page is: pages fed upside down are common in batch scanning, and a field locator that looks
for the amount on the right or the address below the postage finds nothing (or the wrong thing) on them.

Skew (small angles) is measured in :mod:`pipeline.segment.pageview`; this module decides the 180-degree turn.
Envelopes are judged by where the postage is (a stamp or meter always sits in the top-right corner, and the
bottom-left corner is blank); cheques by how convincing the best amount zone is each way up, since a cheque's
amount zone (right half, middle band, a box or line with a sign before it) has no counterpart when turned.
"""

from __future__ import annotations

import numpy as np

from pipeline.segment.pageview import PageView, make_view

WEAK_AMOUNT = 2.2  # an amount zone scoring this or more as scanned settles it: the page is not turned
STRONG_AMOUNT = 4.5  # turned, the page must show a zone this convincing (box or line, sign, right place)


def turned(view: PageView) -> PageView:
    """The same view turned by 180 degrees (arrays reversed, matrix composed), without resampling."""
    h, w = view.shape
    flip = np.array([[-1.0, 0.0, w], [0.0, -1.0, h], [0.0, 0.0, 1.0]])
    matrix = (flip @ np.vstack([view.matrix, [0.0, 0.0, 1.0]]))[:2]
    return PageView(view.page, view.dpi, view.angle, matrix, view.norm[::-1, ::-1].copy(),
                    view.ink[::-1, ::-1].copy())  # fmt: skip


def _corner_darkness(view: PageView, right: bool, top: bool) -> float:
    """Mean darkness of a corner (1.6 x 1.3 in, 0.25 in in from the edges), against the page's paper level."""
    h, w = view.shape
    inch = view.inch
    inset, cw, ch = inch(0.25), inch(1.6), inch(1.3)
    x0 = w - inset - cw if right else inset
    y0 = inset if top else h - inset - ch
    region = view.norm[max(0, y0) : y0 + ch, max(0, x0) : x0 + cw]
    ink = view.ink[max(0, y0) : y0 + ch, max(0, x0) : x0 + cw]
    if region.size == 0:
        return 0.0
    # edges of a stamp picture are ink; its flat dark inside is kept by light normalisation only at its edges
    return float(ink.mean())


def envelope_upside_down(view: PageView) -> bool:
    """Postage found in the bottom-left corner and not in the top-right one."""
    top_right = _corner_darkness(view, right=True, top=True)
    bottom_left = _corner_darkness(view, right=False, top=False)
    return bottom_left > 2.0 * top_right + 0.01


def cheque_upside_down(view: PageView) -> bool:
    """Turned, the cheque shows a convincing amount zone that it does not show as scanned.

    Deliberately conservative: a correct page turned over is worse than an upside-down page left for a person,
    so the turned page must score as a confident amount zone and clearly beat the page as scanned.
    """
    from pipeline.segment.locate_cheque import best_score

    upright = best_score(view)
    if upright >= WEAK_AMOUNT:
        return False
    return best_score(turned(view)) >= STRONG_AMOUNT


def upright_view(page: np.ndarray, dpi: float, kind: str, view: PageView | None = None) -> tuple[PageView, bool]:
    """The page's view (made here unless given), turned when it was scanned upside down; and whether it was."""
    view = view if view is not None else make_view(page, dpi)
    if kind == "cheque" and cheque_upside_down(view):
        return turned(view), True
    if kind == "envelope" and envelope_upside_down(view):
        return turned(view), True
    return view, False
