"""The CJK font every PDF and chart embeds, so Chinese shows wherever the file is opened.

The project's set-up installs Debian's ``fonts-wqy-zenhei`` (WenQuanYi Zen Hei, TrueType
outlines, which ReportLab can embed); ``HUIQI_CJK_FONT`` may name another TrueType file
(``.ttf`` or ``.ttc``). OpenType/CFF fonts such as Noto CJK's ``.otf``/``.ttc`` cannot be
embedded by ReportLab and are not used.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from huiqi.service.errors import ServiceError

ENV = "HUIQI_CJK_FONT"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
#: The name the font is registered under with ReportLab.
PDF_FONT = "HuiqiCJK"


class FontMissing(ServiceError):  # noqa: N818
    status = 500


def font_path() -> Path:
    """The CJK font file: ``HUIQI_CJK_FONT`` if set, else the first installed candidate."""
    chosen = os.environ.get(ENV)
    if chosen:
        path = Path(chosen)
        if path.is_file():
            return path
        raise FontMissing(
            f"{ENV} 指定的字体文件不存在：{chosen}", f"{ENV} names a missing font file: {chosen}"
        )
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "未找到中文字体：请安装 fonts-wqy-zenhei（apt-get install fonts-wqy-zenhei）"
        f"或用 {ENV} 指定 TrueType 字体",
        "no CJK font found: install fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei) "
        f"or name a TrueType font in {ENV}",
    )


@cache
def pdf_font() -> str:
    """Register the font with ReportLab (once) and return its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = font_path()
    pdfmetrics.registerFont(TTFont(PDF_FONT, str(path), subfontIndex=0))
    return PDF_FONT


@cache
def chart_font() -> str:
    """Add the font to Matplotlib's font manager (once) and return its family name."""
    from matplotlib import font_manager

    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())
