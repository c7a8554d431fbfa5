"""Same data, same bytes: fixed timestamps inside ZIP-based files (XLSX) and PDFs."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

#: ZIP's earliest date, for every entry of an XLSX.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def utc_text(when: datetime) -> str:
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite an OOXML package with every entry dated 1980-01-01, in name order, and its
    core properties' created/modified set to ``when`` (a time taken from the stored data)."""
    stamp = utc_text(when)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        names = src.namelist()
        # [Content_Types].xml first, as Office writes it; then the rest in their order.
        for name in sorted(names, key=lambda n: (n != "[Content_Types].xml", names.index(n))):
            content = src.read(name)
            if name == "docProps/core.xml":
                text = content.decode("utf-8")
                for tag in ("created", "modified"):
                    text = re.sub(
                        rf"(<dcterms:{tag}[^>]*>)[^<]*(</dcterms:{tag}>)",
                        rf"\g<1>{stamp}\g<2>",
                        text,
                    )
                content = text.encode("utf-8")
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, content)
    return out.getvalue()
