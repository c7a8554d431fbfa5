"""Writing documents to files: what the CLI (and anyone scripting) calls."""

from __future__ import annotations

from pathlib import Path

from huiqi.documents.data import load_plan, load_public_plan
from huiqi.documents.letters import letter_pdf, load_letter, load_plan_letters
from huiqi.documents.notice import notice_html, notice_pdf
from huiqi.documents.plan_xlsx import plan_xlsx
from huiqi.documents.report import load_report, report_charts, report_pdf
from huiqi.errors import Problem
from huiqi.service.actors import Actor
from huiqi.service.errors import Invalid
from huiqi.service.uow import Services


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        names = "、".join(allowed)
        raise Invalid(
            "输出文件类型有误",
            "unsupported output file type",
            [Problem("--out", str(path), f"文件名应以 {names} 结尾", f"end the name in {names}")],
        )
    return suffix


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_plan(svc: Services, actor: Actor, plan_id: int, out: Path) -> Path:
    _suffix(out, (".xlsx",))
    return _write(out, plan_xlsx(load_plan(svc, actor, plan_id)))


def write_notice(
    svc: Services, plan_id: int, out: Path, *, base_url: str = "", contact: str | None = None
) -> Path:
    """The public notice as PDF or HTML (by the file's suffix); public once noticed."""
    suffix = _suffix(out, (".pdf", ".html"))
    plan = load_public_plan(svc, plan_id)
    if suffix == ".pdf":
        return _write(out, notice_pdf(plan, base_url=base_url, contact=contact))
    return _write(out, notice_html(plan, base_url=base_url, contact=contact).encode("utf-8"))


def write_letters(
    svc: Services,
    actor: Actor,
    out_dir: Path,
    *,
    application_id: int | None = None,
    plan_id: int | None = None,
) -> list[Path]:
    """One decision letter per application: one application's, or every one in a plan."""
    if (application_id is None) == (plan_id is None):
        raise Invalid(
            "请指定一个申报编号或一个方案编号",
            "give either an application id or a plan id",
            [Problem("application_id/plan", None, "二者选一", "exactly one of the two")],
        )
    if application_id is not None:
        letters = [load_letter(svc, actor, application_id)]
    else:
        assert plan_id is not None
        letters = load_plan_letters(svc, actor, plan_id)
    return [
        _write(out_dir / f"decision-{data.reference}.pdf", letter_pdf(data)) for data in letters
    ]


def write_report(svc: Services, actor: Actor, year: int, out_dir: Path) -> list[Path]:
    """The annual report's PDF and its charts as PNG."""
    data = load_report(svc, actor, year)
    charts = report_charts(data)
    paths = [_write(out_dir / f"report-{year}.pdf", report_pdf(data, charts))]
    for name, png in charts.items():
        paths.append(_write(out_dir / f"report-{year}-{name}.png", png))
    return paths
