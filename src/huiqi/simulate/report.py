"""Tables of a simulation: CSV (exact fen and yuan) and Markdown, in Chinese or English.

Every money column is kept in integer fen (``*_fen``) and repeated as yuan text with two
decimals (``*_yuan``), so a spreadsheet can sum the fen and a reader sees yuan.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.table import Table

from huiqi.contents.cells import FORMULA_START, PLAIN_NUMBER
from huiqi.engine.render import msg
from huiqi.money import format_yuan
from huiqi.simulate.compare import Comparison

_HEAD = {
    "clause": ("条款", "clause"),
    "kind": ("金额类型", "kind"),
    "county": ("县市区（园区）", "county/zone"),
    "eligible_base": ("基线符合数", "eligible (base)"),
    "eligible_reform": ("改革后符合数", "eligible (reform)"),
    "cost_base_fen": ("基线金额", "baseline"),
    "cost_reform_fen": ("改革后金额", "reform"),
    "change_fen": ("变化", "change"),
    "direction": ("方向", "direction"),
    "applicant_years": ("申报主体·年度", "applicant-years"),
    "from": ("原状态", "from"),
    "to": ("新状态", "to"),
    "cost_fen": ("金额", "cost"),
    "eligible": ("符合数", "eligible"),
    "award_year": ("年度", "year"),
}


def with_yuan(df: pl.DataFrame) -> pl.DataFrame:
    """Each ``*_fen`` column followed by its yuan text (exact: integer division by 100)."""
    extra = []
    for name in df.columns:
        if name.endswith("_fen"):
            fen = pl.col(name)
            sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
            yuan = pl.concat_str(
                [
                    sign,
                    (fen.abs() // 100).cast(pl.String),
                    pl.lit("."),
                    (fen.abs() % 100).cast(pl.String).str.zfill(2),
                ]
            )
            extra.append(yuan.alias(name.removesuffix("_fen") + "_yuan"))
    return df.with_columns(extra)


def as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Formula-like text (a county or clause named ``=…``) behind an apostrophe, by the rule of
    :mod:`huiqi.contents.cells`; numbers, and text that is just a number, unchanged."""
    changed = []
    for name, dtype in df.schema.items():
        if dtype == pl.String:
            col = pl.col(name)
            risky = col.str.contains(FORMULA_START) & ~col.str.contains(PLAIN_NUMBER)
            changed.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return df.with_columns(changed)


def write_csv(df: pl.DataFrame, path: Path) -> None:
    """A table for people: fen with their yuan beside, text kept as text."""
    as_text(with_yuan(df)).write_csv(path)


def write_tables(comparison: Comparison, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("by_clause", "by_county", "by_kind", "gains", "crossings", "movers"):
        path = out / f"{name}.csv"
        write_csv(getattr(comparison, name), path)
        written.append(path)
    return written


_DIRECTION = {
    "gain": ("得益", "gain"),
    "loss": ("受损", "loss"),
    "same": ("不变", "same"),
    "up": ("新符合或升档", "in or up"),
    "down": ("不再符合或降档", "out or down"),
}


def _cell(name: str, value: object, lang: str) -> str:
    if name == "kind" and value is not None:
        return msg(f"kind.{value}", lang)
    if name == "direction" and value in _DIRECTION:
        return _DIRECTION[str(value)][0 if lang == "zh" else 1]
    if name.endswith("_fen") or name in ("change", "base_total", "reform_total"):
        if value is None:
            return ""
        fen = int(value)  # type: ignore[call-overload]
        text = format_yuan(abs(fen), lang)
        return (
            f"-{text}" if fen < 0 else (f"+{text}" if name.startswith("change") and fen else text)
        )
    return "" if value is None else str(value)


def rich_table(df: pl.DataFrame, title: str, lang: str) -> Table:
    table = Table(title=title, show_lines=False)
    zh = lang == "zh"
    for name in df.columns:
        head = _HEAD.get(name, (name, name))[0 if zh else 1]
        numeric = df.schema[name].is_numeric()
        table.add_column(head, justify="right" if numeric else "left")
    for row in df.iter_rows():
        table.add_row(*(_cell(n, v, lang) for n, v in zip(df.columns, row, strict=True)))
    return table


def markdown(df: pl.DataFrame, lang: str) -> str:
    zh = lang == "zh"
    heads = [_HEAD.get(n, (n, n))[0 if zh else 1] for n in df.columns]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for row in df.iter_rows():
        lines.append(
            "| "
            + " | ".join(_cell(n, v, lang) for n, v in zip(df.columns, row, strict=True))
            + " |"
        )
    return "\n".join(lines)


def write_markdown(comparison: Comparison, out: Path, lang: str) -> Path:
    zh = lang == "zh"
    parts = [f"# {'改革测算' if zh else 'Reform simulation'}: {comparison.name}", ""]
    titles = {
        "by_clause": ("按条款", "By clause"),
        "by_county": ("按县市区（园区）", "By county or zone"),
        "by_kind": ("按金额类型", "By kind of amount"),
        "gains": ("得益与受损", "Who gains, who loses"),
        "crossings": ("跨越门槛", "Threshold crossings"),
    }
    for name, (zh_title, en_title) in titles.items():
        parts += [
            f"## {zh_title if zh else en_title}",
            "",
            markdown(getattr(comparison, name), lang),
            "",
        ]
    path = out / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
