"""The public notice publishes the audit chain's latest keyed checkpoint in its footer."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from huiqi.fulfilment.audit import AnchorReason
from huiqi.service import audit_check
from huiqi.service.anchors import Anchor
from huiqi.service.uow import Services
from huiqi.web.app import create_app

from .conftest import Site


def test_the_notice_footer_shows_the_latest_checkpoint_and_its_mac(site: Site, tmp_path: Path):
    anchor = Anchor(path=tmp_path / "points.jsonl", secret=b"s3" * 20)
    svc = Services(
        engine=site.svc.engine, package=site.svc.package, clock=site.svc.clock, anchor=anchor
    )
    point = audit_check.checkpoint(svc, AnchorReason.COMMAND)
    written = json.loads(anchor.path.read_text())
    assert (written["seq"], written["mac"]) == (point.seq, point.mac)

    with TestClient(create_app(site.settings, svc)) as client:  # a server start checkpoints
        lines = [json.loads(line) for line in anchor.path.read_text().splitlines()]
        assert [line["why"] for line in lines] == ["command", "start"]
        latest = lines[-1]
        page = client.get(f"/notices/{site.ids['plan_2025']}")
        assert page.status_code == 200
        footer = page.text[page.text.index('class="audit-anchor"') :]
        assert f"审计链检查点：第 {latest['seq']} 条" in footer
        assert latest["hash"] in footer and latest["mac"] in footer
        english = client.get(f"/notices/{site.ids['plan_2025']}", headers={"accept-language": "en"})
        assert f"Audit chain checkpoint: entry #{latest['seq']}" in english.text


def test_without_anchoring_the_notice_has_no_checkpoint_footer(site: Site) -> None:
    page = site.visitor().get(f"/notices/{site.ids['plan_2025']}")
    assert page.status_code == 200 and "audit-anchor" not in page.text
