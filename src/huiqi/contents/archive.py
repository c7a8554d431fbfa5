"""Zip-based files (XLSX, and what an XLSX may embed) walked entry by entry.

The central directory is read with :mod:`zipfile`; every entry is then expanded to its end
(which also checks its CRC), so a size the directory understates cannot slip by. Refused:
more entries than allowed, more bytes in all than allowed, one entry expanding more than the
ratio allows (a zip bomb), archives nested deeper than allowed, names that climb out of the
folder (``../``, ``/``, ``C:``, backslashes), the same name twice, encrypted entries, and
anything that is a program: by name (``.exe`` ``.dll`` ``.js`` ``.vbs`` ``.bat`` ``.ps1``
``.sh`` ``.jar`` …) or by content (Windows ``MZ``, ELF, Mach-O, Java classes, ``#!``
scripts). OLE compound files are refused too: that is what macros (``vbaProject.bin``),
ActiveX controls and embedded "packages" are, and a package can be any program.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from huiqi.contents.limits import MB, ContentLimits, Unsafe

PROGRAM_SUFFIXES = frozenset(
    (
        *(".exe", ".dll", ".com", ".scr", ".msi", ".msp", ".pif", ".cpl", ".sys", ".drv"),
        *(".ocx", ".efi", ".lnk", ".reg", ".inf", ".hta", ".js", ".jse", ".vbs", ".vbe"),
        *(".wsf", ".wsh", ".ps1", ".psm1", ".psd1", ".bat", ".cmd", ".sh", ".bash", ".zsh"),
        *(".csh", ".jar", ".class", ".apk", ".dex", ".elf", ".so", ".dylib", ".app", ".deb"),
        *(".rpm", ".py", ".pyc", ".pl", ".rb", ".php"),
    )
)
#: (first bytes, what they are in Chinese, in English)
PROGRAM_MAGIC = (
    (b"MZ", "Windows 可执行程序", "a Windows program"),
    (b"\x7fELF", "Linux 可执行程序", "a Linux program"),
    (b"\xfe\xed\xfa\xce", "macOS 可执行程序", "a macOS program"),
    (b"\xfe\xed\xfa\xcf", "macOS 可执行程序", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "macOS 可执行程序", "a macOS program"),
    (b"\xcf\xfa\xed\xfe", "macOS 可执行程序", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "macOS 或 Java 程序", "a macOS or Java program"),
    (b"#!", "脚本程序", "a script"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "OLE 对象（宏、ActiveX 控件或嵌入的程序包）",
        "an OLE object (macros, an ActiveX control or an embedded package)",
    ),
)
ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class _Budget:
    """Bytes still allowed across an archive and everything nested in it."""

    left: int


def program_in(name: str, head: bytes) -> tuple[str, str] | None:
    """Why a file with this name and these first bytes is a program, or None."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix in PROGRAM_SUFFIXES or name.lower().endswith("vbaproject.bin"):
        return f"可执行程序或宏（{suffix or name}）", f"a program or macros ({suffix or name})"
    for magic, zh, en in PROGRAM_MAGIC:
        if head.startswith(magic):
            return zh, en
    return None


def check_zip(data: bytes, limits: ContentLimits, *, label: str = "", depth: int = 0) -> list[str]:
    """The names of a zip-based file's entries, once every entry has been found harmless."""
    budget = _Budget(limits.zip_max_uncompressed_bytes)
    return _walk(data, limits, budget, depth=depth, label=label)


def _walk(data: bytes, limits: ContentLimits, budget: _Budget, depth: int, label: str) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_directory(infos, limits, budget, label)
            for info in infos:
                if not info.is_dir():
                    _check_entry(archive, info, limits, budget, depth, label)
            return [info.filename for info in infos]
    except Unsafe:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise Unsafe(
            "压缩包已损坏，无法读取", f"a broken archive ({type(exc).__name__})", label or None
        ) from None
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        raise Unsafe(
            "压缩包使用了不支持的压缩或加密方式",
            f"the archive uses an unsupported compression or encryption ({type(exc).__name__})",
            label or None,
        ) from None


def _check_directory(
    infos: list[zipfile.ZipInfo], limits: ContentLimits, budget: _Budget, label: str
) -> None:
    """What the central directory alone tells: count, names, declared sizes, ratios."""
    if len(infos) > limits.zip_max_entries:
        raise Unsafe(
            f"压缩包内文件过多（{len(infos)} 个，最多 {limits.zip_max_entries} 个）",
            f"too many entries in the archive ({len(infos)}, at most {limits.zip_max_entries})",
            label or None,
        )
    seen: set[str] = set()
    declared = 0
    for info in infos:
        where = _where(label, info.filename)
        _check_name(info.filename, where)
        if info.filename in seen:
            raise Unsafe("压缩包内有重名文件", "the same name twice in the archive", where)
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise Unsafe(
                "压缩包内的文件已加密，无法检查", "an encrypted entry cannot be checked", where
            )
        declared += info.file_size
        too_big = info.file_size > limits.zip_ratio_from_bytes
        if too_big and info.file_size > limits.zip_max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise Unsafe(
                f"压缩比过高（{ratio}:1，最多 {limits.zip_max_ratio}:1），疑似压缩炸弹",
                f"compressed {ratio}:1 (at most {limits.zip_max_ratio}:1): a zip bomb",
                where,
            )
    if declared > budget.left:
        raise _too_large(limits, label)


def _check_name(name: str, where: str) -> None:
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or ":" in parts[0]
        or ".." in parts
    ):
        raise Unsafe("压缩包内的文件路径越出所在目录", "an entry's path leaves its folder", where)


def _check_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: ContentLimits,
    budget: _Budget,
    depth: int,
    label: str,
) -> None:
    where = _where(label, info.filename)
    nested: list[bytes] | None = None
    with archive.open(info) as entry:
        head = entry.read(16)
        program = program_in(info.filename, head)
        if program is not None:
            raise Unsafe(f"压缩包内含{program[0]}", f"the archive holds {program[1]}", where)
        if head.startswith(ZIP_MAGIC):
            if depth >= limits.max_nesting:
                raise Unsafe(
                    f"压缩包嵌套过深（最多 {limits.max_nesting} 层）",
                    f"archives nested too deep (at most {limits.max_nesting})",
                    where,
                )
            nested = [head]
        size = len(head)
        # Expanded to the end: zipfile stops at the declared size and checks the CRC.
        while chunk := entry.read(MB):
            size += len(chunk)
            if nested is not None:
                nested.append(chunk)
        budget.left -= size
        if budget.left < 0:
            raise _too_large(limits, label)
    if nested is not None:
        _walk(b"".join(nested), limits, budget, depth + 1, where)


def _too_large(limits: ContentLimits, label: str) -> Unsafe:
    most = limits.zip_max_uncompressed_bytes // MB
    return Unsafe(
        f"解压后过大（最多 {most} MB），疑似压缩炸弹",
        f"expands to more than {most} MB: a zip bomb",
        label or None,
    )


def _where(label: str, name: str) -> str:
    return f"{label} › {name}" if label else name
