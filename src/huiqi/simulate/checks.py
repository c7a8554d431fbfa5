"""Checking a table as read from a file and turning it into memory form.

The files may come from anywhere (a bureau's export, Excel via CSV, ``huiqi synth``), so
a table is checked as strictly as one facts file: unknown columns, wrong types, binary
floats, negative or too large numbers, more than two decimals, unknown choices, missing
required values, bad credit codes, duplicate ids and impossible loan dates are refused
with the table, column and first offending ``row_id``. Once checked, every number is an
exact integer, so evaluation never needs to look again.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from huiqi import credit_code
from huiqi.errors import InputError, Problem
from huiqi.facts.paths import ITEM_LISTS
from huiqi.simulate import schema
from huiqi.simulate.schema import Column, Kind

_EXACT_TEXT = r"^\s*\d+(\.\d{1,2})?\s*$"


class Problems:
    """Collects problems, one per table and column, naming the first bad row.

    Checks are queued and run together — one pass over a table answers "is anything
    wrong?" for every check at once; only a failed check looks for its rows.
    """

    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.pending: list[tuple[pl.DataFrame, str, str, pl.Expr, pl.Expr | None, str, str]] = []

    def check(
        self,
        df: pl.DataFrame,
        table: str,
        name: str,
        bad: pl.Expr,
        zh: str,
        en: str,
        quick: pl.Expr | None = None,
    ) -> None:
        """Queue: rows where ``bad`` holds are wrong (``quick``: a cheaper "any?" test)."""
        self.pending.append((df, table, name, bad, quick, zh, en))

    def _run(self) -> None:
        pending, self.pending = self.pending, []
        by_frame: dict[int, list[int]] = {}
        for i, item in enumerate(pending):
            by_frame.setdefault(id(item[0]), []).append(i)
        for indices in by_frame.values():
            df = pending[indices[0]][0]
            tests = []
            for i in indices:
                quick = pending[i][4]
                tests.append((pending[i][3].any() if quick is None else quick).alias(f"c{i}"))
            flags = df.select(tests).row(0)
            for i, flag in zip(indices, flags, strict=True):
                if flag:
                    self._describe(*pending[i])

    def _describe(
        self, df: pl.DataFrame, table: str, name: str, bad: pl.Expr, _: object, zh: str, en: str
    ) -> None:
        hits = df.filter(bad)
        if hits.height:
            key = "row_id" if "row_id" in hits.columns else "applicant_id"
            first = hits.row(0, named=True)
            where = f"{table}[{key}={first.get(key)}].{name}"
            value = first.get(name)
            self.found.append(
                Problem(where, value, f"{zh}（共{hits.height}行）", f"{en} ({hits.height} rows)")
            )

    def raise_if_any(self) -> None:
        self._run()
        if self.found:
            raise InputError(self.found)


def _to_memory(df: pl.DataFrame, table: str, col: Column, out: Problems) -> pl.Expr:
    """The column in memory form, recording problems of type and precision."""
    name, dtype = col.name, df.schema.get(col.name)
    expr = pl.col(name)
    if dtype is None or dtype == pl.Null:
        return pl.lit(None, col.memory_dtype).alias(name)
    if dtype.is_float():
        out.found.append(
            Problem(
                f"{table}.{name}",
                str(dtype),
                "不接受二进制浮点数，请用小数或文本",
                "binary floats are not exact; use a decimal or text column",
            )
        )
        return pl.lit(None, col.memory_dtype).alias(name)
    if col.kind is Kind.EXACT:
        if dtype == pl.String:
            out.check(
                df,
                table,
                name,
                expr.is_not_null() & ~expr.str.contains(_EXACT_TEXT),
                "应为非负数，最多两位小数",
                "a number ≥ 0 with at most two decimals",
            )
            expr = expr.str.strip_chars().cast(schema.FILE_DECIMAL, strict=False)
        elif isinstance(dtype, pl.Decimal):
            scale = dtype.scale or 0
            if scale > 2:
                exact = expr.cast(pl.Decimal(38, 2)).cast(pl.Decimal(38, scale))
                out.check(
                    df,
                    table,
                    name,
                    expr != exact,
                    "最多两位小数（金额精确到分）",
                    "at most two decimals",
                )
            expr = expr.cast(schema.FILE_DECIMAL)
        elif dtype.is_integer():
            return (expr.cast(pl.Int64) * schema.SCALE).alias(name)
        return expr.to_physical().cast(pl.Int64).alias(name)
    if col.kind is Kind.CHOICE:
        text = expr.cast(pl.String)
        out.check(
            df,
            table,
            name,
            text.is_not_null() & ~text.is_in(list(col.choices)),
            f"取值不在允许范围内：{'/'.join(col.choices)}",
            f"not one of {'/'.join(col.choices)}",
        )
        return pl.when(text.is_in(list(col.choices))).then(text).cast(col.memory_dtype).alias(name)
    if col.kind is Kind.DATE and dtype == pl.String:
        parsed = expr.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        out.check(
            df,
            table,
            name,
            expr.is_not_null() & parsed.is_null(),
            "日期无效（YYYY-MM-DD）",
            "not a date (YYYY-MM-DD)",
        )
        return parsed.alias(name)
    if col.kind is Kind.FLAG and dtype == pl.String:
        low = expr.str.strip_chars().str.to_lowercase()
        out.check(
            df,
            table,
            name,
            expr.is_not_null() & ~low.is_in(["true", "false"]),
            "应为 true 或 false",
            "expected true or false",
        )
        return (low == "true").alias(name)
    try:
        return expr.cast(col.memory_dtype, strict=True).alias(name)
    except pl.exceptions.InvalidOperationError:  # pragma: no cover - caught below on collect
        return expr.alias(name)


def normalise(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """A table as read from a file → memory form, or :class:`InputError` with every problem."""
    cols = schema.columns(table)
    problems = Problems()
    extra = [c for c in df.columns if c not in cols and c not in schema.PARTITION_KEYS]
    for name in extra:
        problems.found.append(
            Problem(
                f"{table}.{name}", name, "未知列（请检查拼写）", "unknown column (check spelling)"
            )
        )
    exprs = [_to_memory(df, table, c, problems) for c in cols.values()]
    problems.raise_if_any()
    try:
        out = df.select(exprs)
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            [Problem(table, None, f"列类型不符：{exc}", f"wrong column type: {exc}")]
        ) from exc
    out = _fill_defaults(out, table)
    _check_values(out, table, problems)
    problems.raise_if_any()
    return out


def _fill_defaults(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Defaults of present objects: an item always, a section when any of its fields is given."""
    cols = schema.columns(table)
    if table != "applicants":
        return df.with_columns(
            pl.col(c.name).fill_null(pl.lit(c.default, c.memory_dtype))
            for c in cols.values()
            if c.default is not None
        )
    fills = []
    for section in schema.sections():
        members = schema.section_columns(section)
        with_default = [c for c in members if c.default is not None]
        if not with_default:
            continue
        present = pl.any_horizontal(pl.col(c.name).is_not_null() for c in members)
        fills += [
            pl.when(present)
            .then(pl.col(c.name).fill_null(pl.lit(c.default, c.memory_dtype)))
            .alias(c.name)
            for c in with_default
        ]
    return df.with_columns(fills) if fills else df


def _check_values(df: pl.DataFrame, table: str, out: Problems) -> None:
    cols = schema.columns(table)
    for col in cols.values():
        name, expr = col.name, pl.col(col.name)
        if col.required:
            present = pl.lit(True)
            if col.section is not None and not schema.required_section(col.section):
                members = schema.section_columns(col.section)
                present = pl.any_horizontal(pl.col(c.name).is_not_null() for c in members)
            out.check(
                df, table, name, present & expr.is_null(), "缺少必填值", "a value is required"
            )
        if col.lower is not None:
            out.check(df, table, name, expr < col.lower, "不能小于下限", f"must be ≥ {col.lower}")
        if col.upper is not None:
            out.check(
                df, table, name, expr > col.upper, "超过允许的最大值", f"must be ≤ {col.upper}"
            )
        if col.kind is Kind.TEXT and (name.endswith(".id") or name == "id"):
            out.check(
                df,
                table,
                name,
                expr.str.contains(r"[\s/\\]") | (expr == ""),
                "编号格式不正确",
                "an id has no spaces or slashes",
            )
    if table == "applicants":
        out.check(
            df,
            table,
            "row_id",
            pl.col("row_id").is_duplicated(),
            "row_id 重复",
            "duplicate row_id",
            quick=pl.col("row_id").n_unique() < pl.len(),
        )
        for flow in ("export", "import"):
            both = (
                pl.col(f"trade.{flow}_usd").is_not_null()
                & pl.col(f"trade.{flow}_cny").is_not_null()
            )
            out.check(
                df,
                table,
                f"trade.{flow}_usd",
                both,
                "美元与人民币只能填写一种",
                "give USD or CNY, not both",
            )
        _check_codes(df, out)
    if table in ITEM_LISTS:
        pair = pl.struct("row_id", "id")
        out.check(
            df,
            table,
            "id",
            pair.is_duplicated(),
            "同一行内编号重复",
            "duplicate id within a row",
            quick=pair.n_unique() < pl.len(),
        )
    if table == "loans":
        out.check(
            df,
            table,
            "repaid_date",
            pl.col("repaid_date") < pl.col("drawdown_date"),
            "还款日期早于放款日期",
            "repaid_date is before drawdown_date",
        )


_VALUE = np.full(256, -1, dtype=np.int16)
for _i, _ch in enumerate(credit_code.ALPHABET):
    _VALUE[ord(_ch)] = _i


def code_check_ok(codes: pl.Series) -> np.ndarray:
    """GB 32100-2015 check characters of many codes at once (vectorised, exact)."""
    n = codes.len()
    ok = (codes.str.len_bytes() == 18).fill_null(False).to_numpy()
    if n == 0 or not ok.all():
        result = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(ok)
        if idx.size:
            result[idx] = code_check_ok(codes.gather(idx))
        return result
    raw = np.frombuffer(codes.str.join("").item().encode("ascii", "replace"), np.uint8)
    values = _VALUE[raw.reshape(n, 18)]
    total = np.zeros(n, dtype=np.int32)
    for i, weight in enumerate(credit_code.WEIGHTS):
        total += values[:, i] * weight
    expected = (31 - total % 31) % 31
    good: np.ndarray = (values.min(axis=1) >= 0) & (values[:, 17] == expected)
    return good


def _check_codes(df: pl.DataFrame, out: Problems) -> None:
    name = "applicant.credit_code"
    codes = df[name]
    if codes.null_count():
        return  # reported as required
    good = code_check_ok(codes.str.strip_chars().str.to_uppercase())
    if not good.all():
        bad = df.filter(pl.Series(~good))
        first = bad.row(0, named=True)
        out.found.append(
            Problem(
                f"applicants[row_id={first['row_id']}].{name}",
                first[name],
                f"统一社会信用代码无效（共{bad.height}行）",
                f"not a valid unified social credit code ({bad.height} rows)",
            )
        )
