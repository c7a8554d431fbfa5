"""Attachments: PDF, JPEG, PNG or XLSX, checked by content, kept by content hash.

The kind is judged by the first bytes; a PDF and an XLSX are then read to the bottom
(:mod:`huiqi.contents`): scripts, launch actions, embedded programs or HTML, polyglots and
zip bombs are refused with the reason and where in the file.

Files live outside any served folder, under ``<data_dir>/attachments/ab/abcdef…``;
they are streamed back only to those allowed to see the application.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from sqlalchemy import select

from huiqi.contents import ContentLimits, Unsafe
from huiqi.contents.archive import check_zip
from huiqi.contents.pdf import check_pdf
from huiqi.db.tables import Application, Attachment
from huiqi.errors import Problem
from huiqi.fulfilment.workflow import AppState
from huiqi.service import audit
from huiqi.service.actors import Actor, require_org
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.uow import Services

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = {PDF: ".pdf", "image/png": ".png", "image/jpeg": ".jpg", XLSX: ".xlsx"}


@dataclass(frozen=True)
class AttachmentView:
    id: int
    application_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: str


def sniff(content: bytes) -> str | None:
    """The content type the bytes really are, among those accepted; None for anything else."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return XLSX
    return None


def check_content(content: bytes, kind: str, limits: ContentLimits) -> None:
    """Read a PDF or an XLSX to the bottom; :class:`Unsafe` says what is wrong and where.
    Images are only stored and streamed back as what they are, never decoded here."""
    if kind == PDF:
        check_pdf(content, limits)
    elif kind == XLSX:
        check_zip(content, limits)


def safe_name(name: str, kind: str | None = None) -> str:
    """A file name with no path, no control or direction-changing characters, a sane length
    and, when the real kind is known, that kind's extension (so it saves as what it is)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name).strip(" .")
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    name = (name or "attachment")[:200]
    extension = KINDS.get(kind or "")
    if extension and not name.lower().endswith(extension):
        name = name[: 200 - len(extension)] + extension
    return name


def _store(root: Path, digest: str, content: bytes) -> Path:
    target = root / "attachments" / digest[:2] / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)
    return target


def _view(row: Attachment) -> AttachmentView:
    at = row.uploaded_at
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return AttachmentView(
        row.id,
        row.application_id,
        row.filename,
        row.content_type,
        row.size,
        row.sha256,
        at.isoformat(),
    )


def upload(
    svc: Services,
    actor: Actor,
    application_id: int,
    *,
    filename: str,
    content: bytes,
    data_dir: Path,
    max_bytes: int,
    limits: ContentLimits | None = None,
) -> AttachmentView:
    """Attach a file to one's own draft or returned application, once it is found harmless."""
    problems = []
    if len(content) > max_bytes:
        problems.append(
            Problem(
                "file",
                len(content),
                f"文件超过 {max_bytes // 1024 // 1024} MB",
                f"larger than {max_bytes // 1024 // 1024} MB",
            )
        )
    kind = sniff(content)
    if kind is None and not problems:
        problems.append(
            Problem(
                "file",
                safe_name(filename),
                "只接受 PDF、JPEG、PNG 或 XLSX 文件（按内容判断）",
                "only PDF, JPEG, PNG or XLSX files are accepted (by content)",
            )
        )
    if kind is not None and not problems:
        try:
            check_content(content, kind, limits or ContentLimits())
        except Unsafe as exc:
            problems.append(exc.problem("file", safe_name(filename)))
    if problems:
        raise Invalid("附件不能接受", "the attachment cannot be accepted", problems)
    assert kind is not None
    digest = hashlib.sha256(content).hexdigest()
    with svc.transaction() as s:
        app = s.get(Application, application_id)
        if app is None:
            raise NotFound("未找到该记录", "not found")
        require_org(actor, app.org_id, write=True)
        if app.state not in (AppState.DRAFT, AppState.RETURNED):
            raise Conflict(
                "只有草稿或退回补正的申报可以上传附件",
                "attachments go on a draft or a returned application",
            )
        _store(data_dir, digest, content)
        row = Attachment(
            application_id=app.id,
            filename=safe_name(filename, kind),
            content_type=kind,
            size=len(content),
            sha256=digest,
            uploaded_by=actor.user_id,
            uploaded_at=svc.clock(),
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="attachment.upload",
            object_type="attachment",
            object_id=row.id,
            after={
                "application": app.id,
                "filename": row.filename,
                "sha256": digest,
                "size": row.size,
                "content_type": kind,
            },
        )
        return _view(row)


def list_for(svc: Services, actor: Actor, application_id: int) -> list[AttachmentView]:
    with svc.reading() as s:
        app = s.get(Application, application_id)
        if app is None:
            raise NotFound("未找到该记录", "not found")
        require_org(actor, app.org_id)
        rows = s.scalars(
            select(Attachment).where(Attachment.application_id == app.id).order_by(Attachment.id)
        )
        return [_view(r) for r in rows]


def open_file(
    svc: Services, actor: Actor, attachment_id: int, data_dir: Path
) -> tuple[AttachmentView, Path]:
    """The attachment and where its bytes are, if the actor may see its application."""
    with svc.reading() as s:
        row = s.get(Attachment, attachment_id)
        if row is None:
            raise NotFound("未找到该记录", "not found")
        app = s.get(Application, row.application_id)
        assert app is not None
        require_org(actor, app.org_id)
        path = data_dir / "attachments" / row.sha256[:2] / row.sha256
        if not path.is_file():
            raise NotFound("附件文件缺失", "the attachment's file is missing")
        return _view(row), path
