"""Files from outside read to the bottom before anything else reads them.

:mod:`.pdf` walks every object of a PDF (through pypdf, object streams included),
:mod:`.archive` every entry of a zip-based file (XLSX and what it nests), :mod:`.xlsx` every
cell and shared string of a workbook to be imported; each refuses with :class:`Unsafe`, in
Chinese and English, naming where. :mod:`.cells` writes text into spreadsheets and CSV so
that it stays text. The limits are :class:`ContentLimits`, filled from the settings.
"""

from huiqi.contents.limits import ContentLimits, Unsafe

__all__ = ["ContentLimits", "Unsafe"]
