"""Earlier awards (the ledger) and other policies' awards, as columns the clauses read.

For the applicant-year (applicant A, award year Y), the single-case engine is given A's
ledger entries of years up to Y as ``earlier_awards`` and A's other-policy awards as
``other_policy_awards`` (it keeps those of year Y, or of any year for a clause whose
subject is paid once: interpretations E). Here an entry is linked to its
applicant-year by ``applicant_id`` — an integer lookup, not a string join — and summed
per clause and scope: per subject (the entry's ``subject_id``, or the applicant itself
when empty) or per applicant; over the policy's life or in year Y only.

Only clauses that have entries get columns; every other clause reads 0 without a column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from huiqi.policy.model import Clause

CODE = "applicant.credit_code"


class RowIndex:
    """Where each key (``row_id``, ``applicant_id``) sits in a table: built once, used often.

    Keys 0 … n−1 in order need nothing; dense keys use a lookup array; others a join.
    """

    def __init__(self, keys: pl.Series) -> None:
        self.keys = keys
        n = keys.len()
        self.identity = bool(
            n == 0
            or (keys.is_sorted() and keys[0] == 0 and keys[-1] == n - 1 and keys.n_unique() == n)
        )
        self.lookup: np.ndarray | None = None
        if not self.identity and n:
            top = int(keys.max())  # type: ignore[arg-type]
            if top < 8 * n + 1_000_000:
                self.lookup = np.full(top + 1, -1, dtype=np.int64)
                self.lookup[keys.to_numpy()] = np.arange(n, dtype=np.int64)

    def __call__(self, targets: pl.Series) -> pl.Series:
        """Position of each target key; null when the table has no such key."""
        n = self.keys.len()
        if self.identity:
            return pl.select(pl.when(targets < n).then(targets)).to_series().alias("pos")
        if self.lookup is not None:
            values = targets.to_numpy()
            inside = values < self.lookup.size
            found = np.where(inside, self.lookup[np.where(inside, values, 0)], -1)
            return pl.Series("pos", found).set(pl.Series(found < 0), None)
        frame = pl.DataFrame({"k": self.keys, "pos": pl.int_range(n, eager=True, dtype=pl.Int64)})
        return pl.DataFrame({"k": targets}).join(frame, on="k", how="left", maintain_order="left")[
            "pos"
        ]


@dataclass
class Entries:
    """A year's entries by clause: ``pos`` (applicant-year), ``subject`` (null: the
    applicant itself), ``same`` (awarded in this year) and ``fen``."""

    earlier: dict[str, pl.DataFrame]
    others: dict[str, pl.DataFrame]
    codes: pl.Series  # the applicant-years' credit codes, by position

    def clauses(self) -> set[str]:
        return set(self.earlier) | set(self.others)

    def own(self, part: pl.DataFrame) -> pl.Series:
        """Each entry's subject key: its subject id, or its applicant's code."""
        if part["subject"].null_count() == 0:
            return part["subject"]
        code = self.codes.gather(part["pos"])
        return pl.select(pl.coalesce(part["subject"], code)).to_series()


def link(
    apps: pl.DataFrame, index: RowIndex, ledger: pl.DataFrame, others: pl.DataFrame, year: int
) -> Entries:
    """Entries of this year's applicant-years: earlier ones up to ``year``; other policies'
    of every year (``same`` marks this year's: a yearly clause reads only those)."""

    def prepare(df: pl.DataFrame, keep: pl.Expr) -> dict[str, pl.DataFrame]:
        df = df.filter(keep)
        if not df.height:
            return {}
        subject = pl.col("subject_id")
        df = df.select(
            pos=index(df["applicant_id"]),
            clause="clause",
            subject=pl.when(subject != "").then(subject),
            same=pl.col("award_year") == year,
            fen="amount_cny",
        ).filter(pl.col("pos").is_not_null())
        parts = df.partition_by("clause", as_dict=True, include_key=False)
        return {str(key[0]): part for key, part in parts.items()}

    return Entries(
        prepare(ledger, pl.col("award_year") <= year),
        prepare(others, pl.lit(True)),
        apps[CODE],
    )


def _others_mask(clause: Clause, part: pl.DataFrame) -> np.ndarray:
    """Which other-policy entries count: every year's for a one-time subject, else this year's."""
    if clause.one_time_subject:
        return np.ones(part.height, dtype=bool)
    same: np.ndarray = part["same"].to_numpy()
    return same


def _sum_into(size: int, where: np.ndarray, fen: np.ndarray) -> np.ndarray:
    """Integer sums of ``fen`` at positions ``where`` (exact: no float ever)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, where, fen)
    return out


def _matching(entries: Entries, part: pl.DataFrame, subject: pl.Series | None) -> np.ndarray:
    """Entries whose subject is the applicant-year's subject of the clause.

    ``subject`` is the clause's subject column (e.g. the distribution centre's id; empty:
    the applicant itself), or None when the subject is the applicant.
    """
    if subject is None and part["subject"].null_count() == part.height:
        return np.ones(part.height, dtype=bool)
    own = entries.own(part)
    code = entries.codes.gather(part["pos"])
    if subject is None:
        return (own == code).fill_null(False).to_numpy()
    theirs = subject.gather(part["pos"])
    theirs = pl.select(pl.when(theirs != "").then(theirs).otherwise(code)).to_series()
    return (own == theirs).fill_null(False).to_numpy()


def row_sums(
    entries: Entries, clause: Clause, subject: pl.Series | None, scopes: set[str], n: int
) -> dict[str, pl.Series]:
    """N-long columns of one clause's sums: ``subject_life`` … ``all_year``, ``others_subject``.

    ``subject`` is the clause's subject column, or None when it is the applicant itself.
    """
    out: dict[str, pl.Series] = {}
    earlier = entries.earlier.get(clause.id)
    wanted = scopes - {"others_subject"}
    if earlier is not None and wanted:
        pos, fen = earlier["pos"].to_numpy(), earlier["fen"].to_numpy()
        same = earlier["same"].to_numpy()
        match = (
            _matching(entries, earlier, subject)
            if wanted & {"subject_life", "subject_year"}
            else None
        )
        masks = {
            "all_life": None,
            "all_year": same,
            "subject_life": match,
            "subject_year": None if match is None else match & same,
        }
        for scope in wanted:
            mask = masks[scope]
            out[scope] = pl.Series(
                _sum_into(n, pos, fen) if mask is None else _sum_into(n, pos[mask], fen[mask])
            )
    others = entries.others.get(clause.id)
    if others is not None and "others_subject" in scopes:
        mask = _matching(entries, others, subject) & _others_mask(clause, others)
        pos, fen = others["pos"].to_numpy()[mask], others["fen"].to_numpy()[mask]
        out["others_subject"] = pl.Series(_sum_into(n, pos, fen))
    return out


def item_sums(entries: Entries, clause: Clause, items: pl.DataFrame) -> dict[str, pl.Series]:
    """Per listed item (``items`` has ``pos`` and ``item.id``, in order): what earlier awards
    (``subject_life``, ``subject_year``) and other policies (``others_subject``) paid for it."""
    out: dict[str, pl.Series] = {}
    keys = items.select("pos", key=pl.col("item.id"), row=pl.int_range(pl.len(), dtype=pl.Int64))
    for table, scopes in (
        (entries.earlier, ("subject_life", "subject_year")),
        (entries.others, ("others_subject",)),
    ):
        part = table.get(clause.id)
        if part is None:
            continue
        if table is entries.others and not clause.one_time_subject:
            part = part.filter(pl.col("same"))
        hits = part.with_columns(key=entries.own(part)).join(keys, on=["pos", "key"], how="inner")
        row, fen = hits["row"].to_numpy(), hits["fen"].to_numpy()
        for scope in scopes:
            if scope == "subject_year":
                same = hits["same"].to_numpy()
                out[scope] = pl.Series(_sum_into(items.height, row[same], fen[same]))
            else:
                out[scope] = pl.Series(_sum_into(items.height, row, fen))
    return out


def applicant_sums(entries: Entries, clause: Clause, rows: np.ndarray) -> dict[str, pl.Series]:
    """Per applicant-year of ``rows`` (sorted positions): all earlier awards of the clause
    (``all_life``, ``all_year``) and other policies' for the applicant (``others_code``)."""
    out: dict[str, pl.Series] = {}

    def index(part: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        pos = part["pos"].to_numpy()
        at = np.searchsorted(rows, pos)
        inside = at < rows.size
        inside[inside] = rows[at[inside]] == pos[inside]
        return at, inside

    earlier = entries.earlier.get(clause.id)
    if earlier is not None:
        at, inside = index(earlier)
        fen, same = earlier["fen"].to_numpy(), earlier["same"].to_numpy()
        out["all_life"] = pl.Series(_sum_into(rows.size, at[inside], fen[inside]))
        both = inside & same
        out["all_year"] = pl.Series(_sum_into(rows.size, at[both], fen[both]))
    others = entries.others.get(clause.id)
    if others is not None:
        at, inside = index(others)
        inside &= _matching(entries, others, None) & _others_mask(clause, others)
        fen = others["fen"].to_numpy()
        out["others_code"] = pl.Series(_sum_into(rows.size, at[inside], fen[inside]))
    return out
