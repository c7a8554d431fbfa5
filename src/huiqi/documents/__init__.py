"""Documents from the records: the allocation plan (XLSX), the public notice (PDF, HTML),
decision letters (PDF) and the annual report (PDF, PNG charts).

Each is generated from stored data only, carries the policy citation (document number,
clauses, package version and sha256), and is reproducible: the same data gives the same
bytes (fixed ZIP and PDF metadata, no timestamps in PNGs). PDFs embed the CJK font found by
:mod:`huiqi.documents.fonts`.
"""

from huiqi.documents.files import write_letters, write_notice, write_plan, write_report

__all__ = ["write_letters", "write_notice", "write_plan", "write_report"]
