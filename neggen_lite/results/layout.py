"""What fits the book's text column (688 px wide at a 1280-px window): figure sizes, multi-panel
figures that wrap onto rows, and table cells that put the paper's number beside ours.

``book/check_browser.py`` fails a page whose outputs are wider than the column, or whose figures are shown
at under 60 % of their natural width; these helpers keep a chapter inside both limits.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

#: the text column's width in pixels at a 1280-px window (sphinx-book-theme)
COLUMN_PX = 688
#: a figure's width in inches: 680 px at matplotlib's default 100 dpi, shown at its natural size
FIG_WIDTH = 6.8
#: printed lines of at most this many characters fit the column in the book's monospace font
LINE_CHARS = 80
#: the longest code-cell input line that fits the column at a 1280-px window (652 px, 8.43 px a character)
CODE_CHARS = 77


def subplots(n: int, ncols: int = 2, height: float = 2.6, **kw):
    """``n`` panels on rows of at most ``ncols``, the whole figure :data:`FIG_WIDTH` wide and ``height``
    inches per row; returns ``(fig, axes)`` with ``axes`` a flat list of the ``n`` used axes (unused ones
    are removed)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(FIG_WIDTH, height * nrows), squeeze=False, **kw)
    flat = list(np.ravel(axes))
    for ax in flat[n:]:
        ax.remove()
    return fig, flat[:n]


def pair(ours: float | None, paper: float | None, digits: int = 4) -> str:
    """One table cell with our number and the paper's: ``"0.0913 (paper 0.0973)"``; a missing side
    shows as ``"-"`` (``"0.0913 (paper -)"``, ``"- (paper 0.0973)"``)."""
    def num(x):
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"
    return f"{num(ours)} (paper {num(paper)})"
