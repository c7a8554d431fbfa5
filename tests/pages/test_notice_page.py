"""The public notice page (/notices/…): when the notice was published, and when it ends.

The demo publishes its 2025 plan on Monday 2 March 2026 in the afternoon (Beijing time); the
five working days are 3, 4, 5, 6 and 9 March, and the page is read at 20:00 that Monday.
"""

from __future__ import annotations

import re
from html import unescape

from huiqi.fulfilment.calendar import ZONE
from huiqi.service import plans
from tests.pages.conftest import Site


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_public_notice_shows_when_it_was_published_and_when_it_ends(site: Site) -> None:
    view = plans.public_notice(site.svc, site.ids["plan_2025"])
    assert view is not None and view.notice_published_at is not None
    published = view.notice_published_at.astimezone(ZONE)
    assert published.date().isoformat() == "2026-03-02"
    url = f"/notices/{site.ids['plan_2025']}"
    zh = text_of(site.visitor().get(url).text)
    assert f"发布时间：{published:%Y-%m-%d %H:%M}（北京时间）" in zh
    assert "公示期 5 个工作日" in zh and "至 2026-03-09 24 时止" in zh
    en = text_of(site.visitor(lang="en").get(url).text)
    assert f"Published {published:%Y-%m-%d %H:%M} (Beijing time)" in en
    assert "until the end of 2026-03-09" in en
