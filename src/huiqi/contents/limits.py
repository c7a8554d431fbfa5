"""How far a file from outside may go before it is refused, and the refusal itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huiqi.errors import Problem

MB = 1024 * 1024


@dataclass(frozen=True)
class ContentLimits:
    """Defaults here; ``Settings.content_limits()`` builds one from ``HUIQI_*`` settings."""

    #: Entries in a zip-based file (an XLSX has about ten; pictures and sheets add some).
    zip_max_entries: int = 1_000
    #: Bytes all entries of a zip-based file expand to, nested archives included.
    zip_max_uncompressed_bytes: int = 100 * MB
    #: Expansion of one entry (uncompressed ÷ compressed); office XML rarely passes 30.
    zip_max_ratio: int = 100
    #: Entries smaller than this are not held to the ratio (tiny repetitive parts are normal).
    zip_ratio_from_bytes: int = 1 * MB
    #: How deep files may nest: an XLSX embedded in an XLSX, or a PDF attached to a PDF, is 1.
    max_nesting: int = 1
    #: Objects a PDF may hold; each is read, so this bounds the time spent.
    pdf_max_objects: int = 200_000
    #: The largest official-data file imported, in bytes.
    import_max_bytes: int = 20 * MB
    #: Data rows an import reads (after up to 20 title rows).
    import_max_rows: int = 100_000
    #: Columns of an imported sheet (a cell further right is refused).
    import_max_columns: int = 200
    #: Cells of an imported sheet, empty ones inside the used range included.
    import_max_cells: int = 2_000_000
    #: Characters of one cell, one shared string or one CSV field (Excel's own cap).
    import_max_text_chars: int = 32_767
    #: Bytes of an imported workbook's shared-string table (read whole into memory).
    import_max_shared_strings_bytes: int = 20 * MB
    #: Bytes of any other XML part of an imported workbook (styles, the workbook itself…),
    #: which openpyxl also reads whole; real ones are a few hundred KB.
    import_max_part_bytes: int = 5 * MB


class Unsafe(ValueError):  # noqa: N818
    """A file refused for what it holds; ``where`` names the part, sheet, row or object."""

    def __init__(self, zh: str, en: str, where: str | None = None) -> None:
        super().__init__(en if where is None else f"{where}: {en}")
        self.zh = zh
        self.en = en
        self.where = where

    def problem(self, path: str, value: Any) -> Problem:
        """The refusal as a problem of the field ``path``, the place in the file in its text."""
        if self.where is None:
            return Problem(path, value, self.zh, self.en)
        zh, en = f"{self.zh}（位置：{self.where}）", f"{self.en} (at {self.where})"
        return Problem(path, value, zh, en)
