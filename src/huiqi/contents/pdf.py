"""A PDF read to the bottom: every object, through pypdf, object streams included.

Refused, each with its reason: a file pypdf cannot parse; one encrypted with a password
(an owner-only password, which opens with the empty password, is decrypted and checked like
any other; a file that will not open so cannot be checked, nor read by a reviewer);
JavaScript anywhere (``/JS``, ``/JavaScript``, actions of type JavaScript, in ``/OpenAction``,
``/AA`` or any annotation); ``/Launch`` actions (they start programs); ``/RichMedia`` and
``/3D`` content (Flash, video and 3-D scenes that carry their own scripts); XFA forms (an
Acrobat-only format whose templates carry scripts; printing the form to a plain PDF keeps
what it shows); embedded files that are programs, scripts, HTML, or archives and PDFs that
hold such things; and an HTML document anywhere in the bytes (a PDF/HTML polyglot that a
browser would run as a page). Object streams are decompressed by pypdf within its own
output limits; a raw-byte scan for the long action names runs first as an extra net for
objects a lenient parser might skip.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from huiqi.contents.archive import ZIP_MAGIC, check_zip, program_in
from huiqi.contents.limits import ContentLimits, Unsafe

HTML_MARKERS = re.compile(rb"<(?:!doctype\s+html|html[\s>]|script[\s>]|iframe[\s>])", re.I)
HTML_SUFFIXES = frozenset((".html", ".htm", ".xhtml", ".shtml", ".mht", ".mhtml", ".svg"))
_RAW_ACTIONS = re.compile(rb"/(JavaScript|Launch|RichMedia)(?![A-Za-z0-9#])")
_SCRIPT_KEYS = frozenset({"/JS", "/JavaScript"})
_ACTIONS = {
    "/JavaScript": ("JavaScript 脚本", "JavaScript"),
    "/Launch": ("启动外部程序的动作（/Launch）", "an action that starts a program (/Launch)"),
}
_MEDIA = {"/RichMedia", "/3D"}


def check_pdf(data: bytes, limits: ContentLimits, *, label: str = "", depth: int = 0) -> None:
    """Return quietly if every object of the PDF is harmless; :class:`Unsafe` otherwise."""
    html = HTML_MARKERS.search(data)
    if html is not None:
        raise Unsafe(
            "PDF 文件中含有 HTML 网页内容（PDF/HTML 混合文件）",
            "the PDF also holds an HTML document (a PDF/HTML polyglot)",
            _at(label, f"byte {html.start()}"),
        )
    raw = _RAW_ACTIONS.search(data)
    if raw is not None:
        zh, en = _ACTIONS.get("/" + raw.group(1).decode(), ("富媒体内容", "rich media"))
        raise Unsafe(f"PDF 含有{zh}", f"the PDF holds {en}", _at(label, f"byte {raw.start()}"))
    reader = _open(data, label)
    for seen, (number, obj) in enumerate(_objects(reader, label), start=1):
        if seen > limits.pdf_max_objects:
            raise Unsafe(
                f"PDF 对象过多（最多 {limits.pdf_max_objects} 个）",
                f"too many objects in the PDF (at most {limits.pdf_max_objects})",
                label or None,
            )
        where = _at(label, f"object {number}")
        try:
            for value in _direct(obj):
                if isinstance(value, DictionaryObject):
                    _check_dict(value, limits, where, depth)
        except Unsafe:
            raise
        except Exception as exc:  # as in _open: an unreadable object refuses
            raise _unreadable(exc, where) from None


def _open(data: bytes, label: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise Unsafe(
                "PDF 设有打开密码，无法检查，请上传未加密的文件",
                "the PDF needs a password to open, so it cannot be checked: upload it unencrypted",
                label or None,
            )
        reader.trailer  # noqa: B018 -- read the trailer now, while errors mean "unreadable"
    except Unsafe:
        raise
    except Exception as exc:  # any failure to parse a file from outside refuses it
        raise Unsafe(
            "无法解析该 PDF 文件（已损坏、加密方式不受支持或不是 PDF）",
            f"the PDF cannot be parsed (broken, unsupported encryption or no PDF: "
            f"{type(exc).__name__})",
            label or None,
        ) from None
    return reader


def _objects(reader: PdfReader, label: str) -> Iterator[tuple[str, Any]]:
    """The trailer, then every object the cross-reference lists or anything refers to."""
    todo: list[tuple[int, int]] = [
        *((num, gen) for gen, table in reader.xref.items() for num in table),
        *((num, 0) for num in reader.xref_objStm),
    ]
    done: set[tuple[int, int]] = set()
    yield "trailer", reader.trailer
    todo.extend(_refs(reader.trailer))
    while todo:
        key = todo.pop()
        if key in done:
            continue
        done.add(key)
        try:
            obj = reader.get_object(IndirectObject(key[0], key[1], reader))
        except Exception as exc:  # as in _open: an unreadable object refuses
            raise _unreadable(exc, _at(label, f"object {key[0]}")) from None
        yield str(key[0]), obj
        todo.extend(_refs(obj))


def _direct(obj: Any) -> Iterator[Any]:
    """The object and everything written inside it (not what it refers to)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, DictionaryObject):
            stack.extend(v for v in item.values() if not isinstance(v, IndirectObject))
        elif isinstance(item, ArrayObject):
            stack.extend(v for v in item if not isinstance(v, IndirectObject))


def _refs(obj: Any) -> Iterator[tuple[int, int]]:
    for item in _direct(obj):
        values = item.values() if isinstance(item, DictionaryObject) else item
        if isinstance(item, DictionaryObject | ArrayObject):
            for v in values:
                if isinstance(v, IndirectObject):
                    yield v.idnum, v.generation


def _check_dict(d: DictionaryObject, limits: ContentLimits, where: str, depth: int) -> None:
    keys = set(d.keys())
    if keys & _SCRIPT_KEYS:
        raise Unsafe("PDF 含有 JavaScript 脚本", "the PDF holds JavaScript", where)
    action = _value(d, "/S")
    if action in _ACTIONS:
        zh, en = _ACTIONS[str(action)]
        raise Unsafe(f"PDF 含有{zh}", f"the PDF holds {en}", where)
    if _value(d, "/Subtype") in _MEDIA or _value(d, "/Type") in _MEDIA:
        raise Unsafe(
            "PDF 含有富媒体或三维内容（可携带脚本）",
            "the PDF holds rich media or 3-D content (which carries scripts)",
            where,
        )
    if "/XFA" in keys:
        raise Unsafe(
            "PDF 是 XFA 动态表单（可携带脚本），请打印为普通 PDF 后上传",
            "the PDF is an XFA form (which carries scripts): print it to a plain PDF",
            where,
        )
    if "/EF" in keys:
        _check_attachment(d, limits, where, depth)


def _check_attachment(
    spec: DictionaryObject, limits: ContentLimits, where: str, depth: int
) -> None:
    """A file specification with embedded files: each by name, type and content."""
    name = str(spec.get("/UF") or spec.get("/F") or "")
    where = f"{where} › {name}" if name else where
    files = spec["/EF"].get_object()
    streams = files.values() if isinstance(files, DictionaryObject) else []
    for stream in (s.get_object() for s in streams):
        if not isinstance(stream, StreamObject):
            continue
        content = stream.get_data()
        mime = str(stream.get("/Subtype", "")).lower()
        _check_embedded(name, mime, content, limits, where, depth)


def _check_embedded(
    name: str, mime: str, content: bytes, limits: ContentLimits, where: str, depth: int
) -> None:
    program = program_in(name, content[:16])
    if program is not None:
        raise Unsafe(f"PDF 附带{program[0]}", f"the PDF carries {program[1]}", where)
    if (
        PurePosixPath(name.lower()).suffix in HTML_SUFFIXES
        or "html" in mime
        or "javascript" in mime
        or HTML_MARKERS.search(content[:4096])
    ):
        raise Unsafe("PDF 附带 HTML 网页文件", "the PDF carries an HTML file", where)
    if content.startswith((ZIP_MAGIC, b"%PDF-")):
        if depth >= limits.max_nesting:
            raise Unsafe(
                f"文件嵌套过深（最多 {limits.max_nesting} 层）",
                f"files nested too deep (at most {limits.max_nesting})",
                where,
            )
        if content.startswith(ZIP_MAGIC):
            check_zip(content, limits, label=where, depth=depth + 1)
        else:
            check_pdf(content, limits, label=where, depth=depth + 1)


def _unreadable(exc: Exception, where: str) -> Unsafe:
    return Unsafe(
        "PDF 中有无法解析的对象",
        f"an object of the PDF cannot be parsed ({type(exc).__name__})",
        where,
    )


def _value(d: DictionaryObject, key: str) -> Any:
    value = d.get(key)
    return value.get_object() if isinstance(value, IndirectObject) else value


def _at(label: str, place: str) -> str:
    return f"{label} › {place}" if label else place
