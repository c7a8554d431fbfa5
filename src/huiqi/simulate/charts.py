"""Charts of a comparison, as PNG and SVG (matplotlib, headless).

Labels are Chinese when a CJK font is installed (Noto Sans CJK, WenQuanYi, Source Han,
SimHei …) and English otherwise, so a chart never shows empty boxes for missing glyphs.
Amounts are shown in 万元 (10,000 yuan), converted from integer fen only for drawing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from huiqi.engine.evaluate import clause_sort_key
from huiqi.simulate.compare import Comparison

_CJK_HINTS = (
    "CJK",
    "WenQuanYi",
    "Source Han",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Heiti",
    "Droid Sans Fallback",
    "AR PL",
    "Sarasa",
    "Noto Sans SC",
    "Noto Serif SC",
)

_TEXT = {
    "by_clause": (
        "各条款资金需求：基线与改革（万元）",
        "Cost by clause: baseline vs reform (10k CNY)",
    ),
    "by_county": ("各县市区（园区）资金需求（万元）", "Cost by county or zone (10k CNY)"),
    "crossings": ("跨越门槛的申报主体数", "Applicant-years crossing a threshold"),
    "base": ("基线", "baseline"),
    "reform": ("改革", "reform"),
    "in": ("新符合或升档", "newly eligible or up a tier"),
    "out": ("不再符合或降档", "no longer eligible or down a tier"),
    "clause": ("条款", "clause"),
    "count": ("申报主体·年度", "applicant-years"),
    "wan": ("万元", "10k CNY"),
}


def cjk_font() -> str | None:
    """The name of an installed font that has Chinese glyphs, if any."""
    for font in font_manager.fontManager.ttflist:
        if any(hint.lower() in font.name.lower() for hint in _CJK_HINTS):
            return str(font.name)
    return None


def _t(key: str, zh: bool) -> str:
    return _TEXT[key][0 if zh else 1]


def _save(fig: Figure, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        for path in paths:
            fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def draw(comparison: Comparison, out: Path, lang: str = "zh") -> list[Path]:
    """Three charts (cost by clause, by county, threshold crossings), each PNG and SVG."""
    out.mkdir(parents=True, exist_ok=True)
    font = cjk_font()
    zh = lang == "zh" and font is not None
    style: dict[str, Any] = {"font.family": [font, "DejaVu Sans"]} if font else {}
    written: list[Path] = []
    with plt.rc_context(style):  # type: ignore[arg-type]
        written += _bars(comparison, out, zh)
        written += _counties(comparison, out, zh)
        written += _crossings(comparison, out, zh)
    return written


def _paired(ax: Axes, labels: list[str], base: list[float], reform: list[float], zh: bool) -> None:
    ys = range(len(labels))
    ax.barh([y - 0.2 for y in ys], base, height=0.4, label=_t("base", zh), color="#8da0cb")
    ax.barh([y + 0.2 for y in ys], reform, height=0.4, label=_t("reform", zh), color="#fc8d62")
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlabel(_t("wan", zh))
    ax.legend()


def _bars(c: Comparison, out: Path, zh: bool) -> list[Path]:
    rows = c.by_clause.filter(c.by_clause["kind"] != "discretionary")
    fig, ax = plt.subplots(figsize=(8, 0.35 * rows.height + 1.5))
    _paired(
        ax,
        rows["clause"].to_list(),
        [v / 1_000_000 for v in rows["cost_base_fen"].to_list()],
        [v / 1_000_000 for v in rows["cost_reform_fen"].to_list()],
        zh,
    )
    ax.set_title(f"{_t('by_clause', zh)} · {_label(c.name, zh)}")
    return _save(fig, out, "cost_by_clause")


def _label(text: object, zh: bool, fallback: str = "reform") -> str:
    """Text as it can be drawn: without a CJK font, only its ASCII part (or a fallback)."""
    shown = str(text)
    if zh or shown.isascii():
        return shown
    ascii_part = "".join(ch for ch in shown if ch.isascii()).strip(" /·-")
    return ascii_part or fallback


def _counties(c: Comparison, out: Path, zh: bool) -> list[Path]:
    rows = c.by_county
    # without a CJK font a Chinese name is shown as its row number in by_county.csv
    labels = [_label(v, zh, f"#{i + 1}") for i, v in enumerate(rows["county"].to_list())]
    fig, ax = plt.subplots(figsize=(8, 0.35 * rows.height + 1.5))
    _paired(
        ax,
        labels,
        [v / 1_000_000 for v in rows["cost_base_fen"].to_list()],
        [v / 1_000_000 for v in rows["cost_reform_fen"].to_list()],
        zh,
    )
    ax.set_title(_t("by_county", zh))
    return _save(fig, out, "cost_by_county")


def _crossings(c: Comparison, out: Path, zh: bool) -> list[Path]:
    table = c.crossings
    clauses = sorted(set(table["clause"].to_list()), key=clause_sort_key) or ["-"]
    ups, downs = [], []
    for cid in clauses:
        part = table.filter(table["clause"] == cid)
        ups.append(int(part.filter(part["direction"] == "up")["applicant_years"].sum()))
        downs.append(int(part.filter(part["direction"] == "down")["applicant_years"].sum()))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(clauses) + 1.5))
    ys = range(len(clauses))
    ax.barh(list(ys), ups, color="#66c2a5", label=_t("in", zh))
    ax.barh(list(ys), [-d for d in downs], color="#e78ac3", label=_t("out", zh))
    ax.set_yticks(list(ys), clauses)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(_t("count", zh))
    ax.set_title(_t("crossings", zh))
    ax.legend()
    return _save(fig, out, "threshold_crossings")
