"""Small files the tests upload, shared by the API, page and browser tests."""

from __future__ import annotations

#: The smallest whole PDF (one blank page, a cross-reference table): uploads are parsed to the
#: bottom, so a fragment without ``startxref`` would be refused as unreadable.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000053 00000 n \n"
    b"0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n167\n%%EOF\n"
)
