"""Attachments: the kinds accepted (by content), the size limit, disguised files, harmful content
read to the bottom (scripts, programs, HTML, zip bombs), path tricks in names, where the bytes
land, and who may download them."""

from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import DictionaryObject, NameObject, PdfObject, TextStringObject

from .conftest import API, PDF, MakeWeb, Web

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png() -> bytes:
    """A 1×1 grey PNG: signature, IHDR, IDAT, IEND."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + png_chunk(b"IEND", b"")
    )


def tiny_jpeg() -> bytes:
    """Start of image, a JFIF APP0 segment, end of image."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def tiny_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["费用", "金额（元）"])
    sheet.append(["培训费", 12000])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_of(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return out.getvalue()


def unique_pdf() -> bytes:
    """A PDF whose hash no other upload shares."""
    return PDF + f"% {uuid.uuid4()}\n".encode()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(
    web: Web, name: str, content: bytes, app: int | None = None, user: str = "alice"
) -> httpx.Response:
    response: httpx.Response = web.client.post(
        f"{API}/applications/{app or web.world.draft_app}/attachments",
        files={"file": (name, content, "application/octet-stream")},
        headers=web.bearer(user),
    )
    return response


def stored_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def where_stored(web: Web, digest: str) -> Path:
    return web.settings.data_dir / "attachments" / digest[:2] / digest


# -- accepted kinds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("发票.pdf", PDF, "application/pdf"),
        ("照片.png", tiny_png(), "image/png"),
        ("照片.jpg", tiny_jpeg(), "image/jpeg"),
        ("明细.xlsx", tiny_xlsx(), XLSX),
    ],
    ids=["pdf", "png", "jpeg", "xlsx"],
)
def test_pdf_png_jpeg_and_xlsx_are_accepted_and_kept_by_their_hash(
    web: Web, name: str, content: bytes, kind: str
) -> None:
    response = upload(web, name, content)
    assert response.status_code == 201, response.text
    view = response.json()
    digest = hashlib.sha256(content).hexdigest()
    assert view["content_type"] == kind
    assert view["size"] == len(content)
    assert view["sha256"] == digest
    assert view["filename"] == name
    assert where_stored(web, digest).read_bytes() == content
    listed = web.client.get(
        f"{API}/applications/{web.world.draft_app}/attachments", headers=web.bearer("alice")
    ).json()
    same = [a for a in listed if a["id"] == view["id"]]
    assert [{**a, "uploaded_at": None} for a in same] == [{**view, "uploaded_at": None}]


def test_an_attachment_lists_with_the_upload_time_it_was_given(web: Web) -> None:
    view = upload(web, "a.pdf", unique_pdf()).json()
    listed = web.client.get(
        f"{API}/applications/{web.world.draft_app}/attachments", headers=web.bearer("alice")
    ).json()
    assert view in listed


def test_the_kind_is_judged_by_content_not_by_name(web: Web) -> None:
    response = upload(web, "看起来是.pdf", tiny_png())
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    download = web.client.get(
        f"{API}/attachments/{response.json()['id']}", headers=web.bearer("alice")
    )
    assert download.headers["content-type"] == "image/png"


def test_the_same_file_twice_is_stored_once(web: Web) -> None:
    content = unique_pdf()
    first, second = upload(web, "a.pdf", content), upload(web, "b.pdf", content)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    digest = hashlib.sha256(content).hexdigest()
    assert [p for p in stored_files(web.settings.data_dir) if p.name == digest] == [
        where_stored(web, digest)
    ]


# -- size ------------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_stored(make_web: MakeWeb) -> None:
    web = make_web(max_upload_bytes=2048)
    before = stored_files(web.settings.data_dir)
    content = PDF + b"0" * (2049 - len(PDF))
    response = upload(web, "大文件.pdf", content)
    assert response.status_code in (413, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["file"]
    assert stored_files(web.settings.data_dir) == before


def test_a_file_of_exactly_the_size_limit_is_accepted(make_web: MakeWeb) -> None:
    web = make_web(max_upload_bytes=2048)
    content = PDF + b"0" * (2048 - len(PDF))
    assert upload(web, "刚好.pdf", content).status_code == 201


# -- disguised files -------------------------------------------------------------------------------

DISGUISED = {
    "html named .pdf": (
        "invoice.pdf",
        b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
    ),
    "svg named .png": (
        "photo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    ),
    "zip that is no xlsx": ("sheet.xlsx", zip_of({"readme.txt": b"hello"})),
    "docx named .xlsx": (
        "sheet.xlsx",
        zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
    ),
    "broken zip": ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 40),
    "windows program named .jpg": ("photo.jpg", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56),
    "gif named .png": ("photo.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    "empty": ("empty.pdf", b""),
    "pdf with a leading space": ("doc.pdf", b" " + PDF),
}


@pytest.mark.parametrize("case", list(DISGUISED))
def test_a_disguised_file_is_refused_and_nothing_is_stored(web: Web, case: str) -> None:
    name, content = DISGUISED[case]
    before = stored_files(web.settings.data_dir)
    response = upload(web, name, content)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["file"]
    assert "PDF" in problem["errors"][0]["zh"] and "PDF" in problem["errors"][0]["en"]
    assert stored_files(web.settings.data_dir) == before


# -- names -----------------------------------------------------------------------------------------

TRICKY_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\x.pdf",
    "/etc/cron.d/evil.pdf",
    "C:\\Windows\\System32\\evil.pdf",
    "..",
    ".",
    "",
    "a\x00b.pdf",
    "x\r\nSet-Cookie: huiqi_session=evil.pdf",
    'a";filename=evil.html',
    "\u202efdp.exe",
    "a" * 5000 + ".pdf",
    "发票" * 300 + ".pdf",
]


def safe(name: str) -> bool:
    return (
        0 < len(name) <= 255
        and "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and not name.startswith(".")
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    )


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body with the file name exactly as given (no client-side escaping)."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("name", TRICKY_NAMES, ids=lambda n: repr(n)[:40])
@pytest.mark.parametrize("raw", [False, True], ids=["escaped-by-client", "raw"])
def test_path_tricks_in_file_names_are_stored_as_a_plain_name_under_the_data_folder_only(
    web: Web, name: str, raw: bool, tmp_path: Path
) -> None:
    root = web.settings.data_dir.parent  # the test's copy: database and data folder
    before = stored_files(root)
    content = unique_pdf()
    if raw:
        body, kind = multipart(name, content)
        response = web.client.post(
            f"{API}/applications/{web.world.draft_app}/attachments",
            content=body,
            headers={**web.bearer("alice"), "Content-Type": kind},
        )
    else:
        response = upload(web, name, content)
    assert response.status_code < 500, response.text
    digest = hashlib.sha256(content).hexdigest()
    added = stored_files(root) - before
    database_files = {p for p in added if p.name.startswith("huiqi.sqlite3")}
    if response.status_code != 201:
        assert added - database_files == set()
        return
    view = response.json()
    assert safe(view["filename"]), view["filename"]
    assert view["filename"] != "passwd.pdf" or name.endswith("passwd.pdf")
    assert added - database_files == {where_stored(web, digest)}
    assert where_stored(web, digest).read_bytes() == content
    download = web.client.get(f"{API}/attachments/{view['id']}", headers=web.bearer("alice"))
    assert download.status_code == 200
    assert download.content == content
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert "\r" not in disposition and "\n" not in disposition
    assert "huiqi_session=evil" not in download.headers.get("set-cookie", "")


def test_a_name_is_cut_to_a_length_the_database_holds(web: Web) -> None:
    response = upload(web, "长" * 1000 + ".pdf", unique_pdf())
    assert response.status_code == 201
    assert 0 < len(response.json()["filename"]) <= 255


def test_a_path_in_the_name_keeps_only_its_last_part(web: Web) -> None:
    for name, kept in (
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\x.pdf", "x.pdf"),
        ("C:\\Users\\甲\\发票.pdf", "发票.pdf"),
    ):
        response = upload(web, name, unique_pdf())
        assert response.json()["filename"] == kept
    assert not (web.settings.data_dir.parent.parent / "etc").exists()


# -- downloads -------------------------------------------------------------------------------------


def test_the_owner_and_staff_download_as_an_attachment_that_browsers_do_not_sniff(
    web: Web,
) -> None:
    url = f"{API}/attachments/{web.world.attachment}"
    for user in ("alice", "rui", "fang", "shen"):
        response = web.client.get(url, headers=web.bearer(user))
        assert response.status_code == 200, user
        assert response.content == PDF
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "default-src 'none'"


def test_nobody_else_downloads_and_another_organisation_learns_nothing(web: Web) -> None:
    url = f"{API}/attachments/{web.world.attachment}"
    assert web.client.get(url).status_code == 401
    for user in ("charlie", "admin"):
        response = web.client.get(url, headers=web.bearer(user))
        assert response.status_code == 404, user
        assert PDF not in response.content
    missing = web.client.get(f"{API}/attachments/999999", headers=web.bearer("charlie"))
    assert missing.status_code == 404
    listing = web.client.get(
        f"{API}/applications/{web.world.draft_app}/attachments", headers=web.bearer("charlie")
    )
    assert listing.status_code == 404


def test_a_file_missing_from_the_data_folder_is_a_404_not_a_500(web: Web) -> None:
    for stored in stored_files(web.settings.data_dir):
        stored.unlink()
    response = web.client.get(
        f"{API}/attachments/{web.world.attachment}", headers=web.bearer("alice")
    )
    assert response.status_code == 404


# -- which applications take attachments -----------------------------------------------------------


def test_a_submitted_or_verified_application_takes_no_more_attachments(web: Web) -> None:
    before = stored_files(web.settings.data_dir)
    for app in (web.world.submitted_app, web.world.verified_app):
        response = upload(web, "补充.pdf", unique_pdf(), app=app)
        assert response.status_code == 409, response.text
    assert stored_files(web.settings.data_dir) == before


def test_an_application_returned_for_correction_takes_attachments(web: Web) -> None:
    response = upload(web, "补正材料.pdf", unique_pdf(), app=web.world.returned_app)
    assert response.status_code == 201


def test_another_organisation_cannot_attach_to_my_application(web: Web) -> None:
    before = stored_files(web.settings.data_dir)
    response = upload(web, "x.pdf", unique_pdf(), user="charlie")
    assert response.status_code in (403, 404)
    assert stored_files(web.settings.data_dir) == before


def test_an_upload_without_a_file_names_the_missing_field(web: Web) -> None:
    response = web.client.post(
        f"{API}/applications/{web.world.draft_app}/attachments",
        data={"other": "x"},
        headers=web.bearer("alice"),
    )
    assert response.status_code == 422
    assert any("file" in e["field"] for e in response.json()["errors"])


def test_a_stored_name_carries_no_bidirectional_override(web: Web) -> None:
    response = upload(web, "\u202efdp.exe", unique_pdf())
    assert response.status_code == 201
    name = response.json()["filename"]
    assert not any(unicodedata.category(c) == "Cf" for c in name)


# -- harmful content, read to the bottom -----------------------------------------------------------


def pdf_of(change: Callable[[PdfWriter], object] | None = None) -> bytes:
    """A one-page PDF written by pypdf, changed by ``change`` first."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    if change is not None:
        change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_in_object_stream(action: bytes) -> bytes:
    """A PDF 1.5 whose catalog, page and ``/OpenAction`` action sit compressed in an object
    stream, listed by a cross-reference stream: no name of the action is in the raw bytes."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
        action,
    ]
    offsets, body = b"", b""
    for number, obj in enumerate(objects, start=1):
        offsets += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    packed = zlib.compress(offsets + body)
    out = bytearray(b"%PDF-1.5\n")
    stream_at = len(out)
    out += b"5 0 obj<</Type/ObjStm/N 4/First %d/Filter/FlateDecode/Length %d>>stream\n" % (
        len(offsets),
        len(packed),
    )
    out += packed + b"\nendstream endobj\n"
    xref_at = len(out)
    entries = [(0, 0, 0xFFFF), *((2, 5, i) for i in range(4)), (1, stream_at, 0), (1, xref_at, 0)]
    table = b"".join(struct.pack(">BIH", kind, a, b) for kind, a, b in entries)
    out += b"6 0 obj<</Type/XRef/Size 7/W[1 4 2]/Root 1 0 R/Length %d>>stream\n" % len(table)
    out += table + b"\nendstream endobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def open_action(kind: str, **keys: str) -> Callable[[PdfWriter], None]:
    def change(writer: PdfWriter) -> None:
        action: dict[NameObject, PdfObject] = {NameObject("/S"): NameObject(kind)}
        action.update({NameObject(f"/{k}"): TextStringObject(v) for k, v in keys.items()})
        writer.root_object[NameObject("/OpenAction")] = DictionaryObject(action)

    return change


def attach(name: str, data: bytes, *, compress: bool = False) -> Callable[[PdfWriter], None]:
    """Embed a file; compressed, its bytes appear in the PDF only deflated."""

    def change(writer: PdfWriter) -> None:
        writer.add_attachment(name, data)
        if compress:
            names: Any = writer.root_object["/Names"]
            stream = names["/EmbeddedFiles"]["/Names"][1].get_object()["/EF"]["/F"].get_object()
            stream.set_data(zlib.compress(data))
            stream[NameObject("/Filter")] = NameObject("/FlateDecode")

    return change


def xlsx_with(extra: dict[str, bytes], *, level: int = 6) -> bytes:
    """A real workbook with more entries added."""
    out = io.BytesIO(tiny_xlsx())
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in extra.items():
            archive.writestr(name, data)
    return out.getvalue()


HTML_PAGE = b"<!DOCTYPE html><html><body><script>fetch('/api/v1/me')</script></body></html>"
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 54 + b"PE\x00\x00"

HARMFUL = {
    "pdf with javascript on opening": (
        pdf_of(lambda w: w.add_open_action(JavaScript("app.alert(1)"))),
        ("JavaScript", "JavaScript"),
    ),
    "pdf with javascript in a compressed object stream": (
        pdf_in_object_stream(b"<</S/JavaScript/JS(app.launchURL('http://evil.example'))>>"),
        ("JavaScript", "JavaScript"),
    ),
    "pdf that launches a program": (
        pdf_of(open_action("/Launch", F="cmd.exe")),
        ("启动外部程序", "starts a program"),
    ),
    "pdf with an embedded html file": (
        pdf_of(attach("说明.html", HTML_PAGE, compress=True)),
        ("HTML", "HTML"),
    ),
    "pdf with an embedded windows program": (
        pdf_of(attach("invoice.txt", WINDOWS_PROGRAM, compress=True)),
        ("Windows 可执行程序", "a Windows program"),
    ),
    "pdf/html polyglot": (pdf_of() + HTML_PAGE, ("HTML", "HTML document")),
    "pdf locked with a password": (
        pdf_of(lambda w: w.encrypt("secret", algorithm="RC4-128")),
        ("密码", "password"),
    ),
    "pdf that cannot be parsed": (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n%%EOF\n",
        ("无法解析", "cannot be parsed"),
    ),
    "xlsx holding an .exe": (xlsx_with({"xl/embeddings/setup.exe": b"x"}), ("可执行程序", ".exe")),
    "xlsx holding a windows program under a picture's name": (
        xlsx_with({"xl/media/image1.png": WINDOWS_PROGRAM}),
        ("Windows 可执行程序", "a Windows program"),
    ),
    "xlsx with macros": (
        xlsx_with({"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504}),
        ("宏", "macros"),
    ),
    "xlsx zip bomb": (
        xlsx_with({"xl/media/image1.png": b"\x00" * (20 * 1024 * 1024)}, level=9),
        ("压缩炸弹", "zip bomb"),
    ),
    "xlsx with too many entries": (
        xlsx_with({f"xl/media/image{i}.png": b"" for i in range(1000)}),
        ("文件过多", "too many entries"),
    ),
    "xlsx with a path out of its folder": (
        xlsx_with({"../../etc/cron.d/evil": b"* * * * * root sh"}),
        ("越出", "leaves its folder"),
    ),
}


@pytest.mark.parametrize("case", list(HARMFUL))
def test_harmful_content_is_refused_with_the_reason_and_nothing_is_stored(
    web: Web, case: str
) -> None:
    content, (zh, en) = HARMFUL[case]
    before = stored_files(web.settings.data_dir)
    response = upload(web, "材料" + (".pdf" if content.startswith(b"%PDF") else ".xlsx"), content)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "file"
    assert zh in error["zh"] and en in error["en"], error
    assert stored_files(web.settings.data_dir) == before


HARMLESS = {
    "pdf with a link": pdf_of(open_action("/URI", URI="https://www.czs.gov.cn/")),
    "pdf with an embedded text file": pdf_of(attach("明细.txt", "培训费 12000".encode())),
    "pdf with an owner password only": pdf_of(
        lambda w: w.encrypt("", "owner", algorithm="RC4-128")
    ),
    "xlsx with a picture": xlsx_with({"xl/media/image1.png": tiny_png()}),
}


@pytest.mark.parametrize("case", list(HARMLESS))
def test_ordinary_pdfs_and_workbooks_are_still_accepted(web: Web, case: str) -> None:
    response = upload(web, "材料.bin", HARMLESS[case])
    assert response.status_code == 201, response.text
