"""Charts drawn on the server as SVG (matplotlib, Agg): no chart script, nothing from outside.

Text stays text (``svg.fonttype = none``), so the browser draws Chinese with its own fonts;
the font list names common CJK fonts first. Each chart is inlined in the page with its ids
made unique, ``role="img"`` and a label; the page gives every chart a table as well, which
is its text alternative. Amounts arrive as exact fen and are only scaled for drawing.
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

#: What the browser should draw the text with (first found wins); DejaVu Sans last, for metrics.
FONTS = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
    "DejaVu Sans",
]
STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "huiqi",  # the same data always draws the same SVG
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 10.0,
    "axes.edgecolor": "#8a94a3",
    "axes.labelcolor": "#1b1f24",
    "xtick.color": "#4a5563",
    "ytick.color": "#1b1f24",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": False,
}
#: Colours of the stylesheet (each at least 4.5:1 on white).
COLOURS = ["#0b5cad", "#a3171c", "#1d6b3a", "#8a5a00", "#4a5563"]

# rcParams are global: one chart at a time.
_LOCK = threading.Lock()
_AGG: list[bool] = []  # set once the Agg backend is chosen


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]  # fen, or counts


def _text_width(text: str, size: float) -> float:
    """Roughly how wide a label is drawn, in inches (wide CJK characters count a full em)."""
    ems = sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)
    return ems * size / 72


def _wrap(text: str, size: float, limit: float) -> str:
    """Break a long label into lines of at most ``limit`` inches (at spaces, or anywhere in
    Chinese)."""
    if _text_width(text, size) <= limit:
        return text
    lines: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text) if " " in text else list(text):
        if current and _text_width(current + word, size) > limit:
            lines.append(current.rstrip())
            current = word.lstrip()
        else:
            current += word
    return "\n".join([*lines, current.rstrip()])


def _inline(svg: str, key: str, label: str) -> Markup:
    """The SVG document as an inline element: no prologue, ids prefixed, labelled."""
    start = svg.index("<svg")
    body = svg[start:]
    body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', body)
    body = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{key}-{m.group(1)})", body)
    body = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{key}-{m.group(1)}"', body)
    body = body.replace(
        "<svg ", f'<svg role="img" aria-label="{escape(label)}" focusable="false" ', 1
    )
    return Markup(body)


def bar_chart(
    key: str,
    label: str,
    categories: list[str],
    series: list[Series],
    *,
    unit: str,
    scale: int = 1,
    shown: list[list[str]] | None = None,
) -> Markup | None:
    """Horizontal bars, one group per category and one bar per series (None when empty).

    ``scale`` divides the values for the axis (1_000_000 fen = 1万元); ``shown`` are the
    exact figures written at the end of each bar (the page's own money format)."""
    if not categories or not any(v for s in series for v in s.values):
        return None
    size = 10.0
    rows = len(categories)
    labels = [_wrap(c, size, 2.3) for c in categories]
    lines = max(label.count("\n") + 1 for label in labels)
    per_row = max(0.3 * len(series) + 0.16, 0.2 * lines + 0.12)
    legend = 0.35 if len(series) > 1 else 0.0
    height = max(1.5, rows * per_row + 0.75 + legend)
    widest = max(_text_width(part, size) for label in labels for part in label.split("\n"))
    left = min(2.6, widest + 0.2)
    width = 7.0
    # Imported on first use: the application starts without loading matplotlib.
    import matplotlib
    from matplotlib.figure import Figure

    with _LOCK, matplotlib.rc_context(STYLE), warnings.catch_warnings():
        if not _AGG:
            matplotlib.use("Agg")  # a server has no display: draw off-screen
            _AGG.append(True)
        warnings.simplefilter("ignore")  # CJK glyphs are missing from the metric font: expected
        figure = Figure(figsize=(width, height))
        figure.subplots_adjust(
            left=left / width, right=0.83, top=1 - (0.15 + legend) / height, bottom=0.6 / height
        )
        axes = figure.add_subplot()
        bar = 0.8 / len(series)
        for n, one in enumerate(series):
            positions = [i + (n - (len(series) - 1) / 2) * bar for i in range(rows)]
            bars = axes.barh(
                positions,
                [v / scale for v in one.values],
                height=bar * 0.9,
                color=COLOURS[n % len(COLOURS)],
                label=one.label,
            )
            if shown is not None:
                axes.bar_label(bars, labels=shown[n], padding=3, fontsize=8.5, color="#1b1f24")
        axes.set_yticks(range(rows), labels)
        axes.invert_yaxis()
        axes.set_xlabel(unit)
        axes.margins(x=0.02)
        axes.grid(axis="x", color="#d5dae1", linewidth=0.6)
        axes.set_axisbelow(True)
        if len(series) > 1:
            axes.legend(
                loc="lower left",
                bbox_to_anchor=(0, 1.0),
                ncols=len(series),
                frameon=False,
                fontsize=9,
            )
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return _inline(out.getvalue(), key, label)
