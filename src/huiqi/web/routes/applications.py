"""Applications, their review, their lines and attachments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from huiqi.errors import InputError, Problem
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.workflow import AppState
from huiqi.service import applications, attachments
from huiqi.service import replay as replay_service
from huiqi.service.applications import ApplicationView
from huiqi.service.attachments import AttachmentView
from huiqi.service.replay import Replay
from huiqi.web.deps import Config, Svc, User
from huiqi.web.exact import ExactRoute, decimals_as_text
from huiqi.web.types import Body, Fen, Id, LimitQ, OffsetQ, YearQ

router = APIRouter(tags=["applications 申报"], route_class=ExactRoute)

ClauseId = Annotated[str, Field(min_length=1, max_length=16)]


class NewApplication(Body):
    org_code: str = Field(min_length=1, max_length=18)
    award_year: int = Field(ge=1900, le=2200)
    clauses: list[ClauseId] = Field(min_length=1, max_length=50)
    facts: dict[str, Any] = Field(description="事实（Facts 结构，award_year 除外） / facts")
    submit: bool = Field(
        default=False,
        description="同时提交（一次完成申报，不留草稿） / submit at once, in the same request",
    )


class ApplicationChange(Body):
    clauses: list[ClauseId] | None = Field(default=None, min_length=1, max_length=50)
    facts: dict[str, Any] | None = None


class Reason(Body):
    reason: str = Field(min_length=1, max_length=2000)


class Decision(Body):
    clause: ClauseId
    subject: str = Field(min_length=1, max_length=64)
    approve: bool = True
    amount_fen: Fen | None = None
    reason: str | None = Field(default=None, max_length=2000)


class Decisions(Body):
    decisions: list[Decision] = Field(max_length=500)


class OfficeDecision(Body):
    approve: bool
    reason: str = Field(default="", max_length=2000)


@router.get("/applications", summary="申报列表 / applications")
def list_applications(
    svc: Svc,
    actor: User,
    year: YearQ = None,
    state: Annotated[AppState | None, Query(description="申报状态 / state")] = None,
    clause: Annotated[str | None, Query(max_length=16)] = None,
    division: Annotated[str | None, Query(max_length=100)] = None,
    limit: LimitQ = 50,
    offset: OffsetQ = 0,
) -> list[ApplicationView]:
    return applications.list_for(
        svc,
        actor,
        year=year,
        state=state,
        clause=clause,
        division=division,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/applications",
    summary="新建申报草稿，或一次完成申报 / start an application, or apply at once",
    status_code=201,
)
def create(body: NewApplication, svc: Svc, actor: User) -> ApplicationView:
    return applications.create_draft(
        svc,
        actor,
        org_code=body.org_code,
        year=body.award_year,
        clauses=body.clauses,
        facts=decimals_as_text(body.facts),
        submit=body.submit,
    )


@router.get("/applications/{application_id}", summary="查看申报 / one application")
def get(application_id: Id, svc: Svc, actor: User) -> ApplicationView:
    return applications.get(svc, actor, application_id)


@router.get(
    "/applications/{application_id}/replay",
    summary="重放测算决定 / replay the decision",
    description="用当时读取的输入和当时的政策包重新测算，报告结果是否逐字节一致（审计与工作人员）。"
    " / Re-runs the engine on what it read then, under the package of then, and says whether the"
    " result is identical byte for byte (staff and auditors).",
)
def replay(application_id: Id, svc: Svc, actor: User) -> Replay:
    return replay_service.replay(svc, actor, application_id)


@router.patch("/applications/{application_id}", summary="修改草稿 / change a draft")
def update(application_id: Id, body: ApplicationChange, svc: Svc, actor: User) -> ApplicationView:
    facts = None if body.facts is None else decimals_as_text(body.facts)
    return applications.update_draft(svc, actor, application_id, clauses=body.clauses, facts=facts)


@router.post("/applications/{application_id}/submit", summary="提交 / submit")
def submit(application_id: Id, svc: Svc, actor: User) -> ApplicationView:
    return applications.submit(svc, actor, application_id)


@router.post("/applications/{application_id}/resubmit", summary="补正后重新提交 / resubmit")
def resubmit(application_id: Id, svc: Svc, actor: User) -> ApplicationView:
    return applications.resubmit(svc, actor, application_id)


@router.post("/applications/{application_id}/return", summary="退回补正 / return")
def return_(application_id: Id, body: Reason, svc: Svc, actor: User) -> ApplicationView:
    return applications.return_for_correction(svc, actor, application_id, body.reason)


@router.post("/applications/{application_id}/reject", summary="不予支持 / reject")
def reject(application_id: Id, body: Reason, svc: Svc, actor: User) -> ApplicationView:
    return applications.reject(svc, actor, application_id, body.reason)


@router.post("/applications/{application_id}/verify", summary="审核通过并核定 / verify")
def verify(application_id: Id, body: Decisions, svc: Svc, actor: User) -> ApplicationView:
    decisions = [
        LineDecision(d.clause, d.subject, d.approve, d.amount_fen, d.reason) for d in body.decisions
    ]
    return applications.verify(svc, actor, application_id, decisions)


@router.post(
    "/lines/{line_id}/office-decision",
    summary="领导小组办公室批准金额 / the office decides an amount",
)
def office(line_id: Id, body: OfficeDecision, svc: Svc, actor: User) -> ApplicationView:
    return applications.office_decide(svc, actor, line_id, approve=body.approve, reason=body.reason)


@router.get("/applications/{application_id}/attachments", summary="附件列表 / attachments")
def list_attachments(application_id: Id, svc: Svc, actor: User) -> list[AttachmentView]:
    return attachments.list_for(svc, actor, application_id)


#: Uploads: their own router, so that the app gives them a body limit of their own.
uploads = APIRouter(tags=["applications 申报"], route_class=ExactRoute)

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}


@uploads.post(
    "/applications/{application_id}/attachments",
    summary="上传附件 / upload",
    status_code=201,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload(
    application_id: Id, request: Request, svc: Svc, actor: User, settings: Config
) -> AttachmentView:
    # The form is read here, after ``actor`` (not as a parameter, which FastAPI would read
    # before any dependency): a request without a valid sign-in is refused 401 unread.
    form = await request.form(max_files=1, max_fields=10)
    sent = form.get("file")
    if not isinstance(sent, UploadFile):
        raise InputError(
            [Problem("body:file", None, "缺少文件（file 字段）", "no file sent (the file field)")]
        )
    content = await sent.read(settings.max_upload_bytes + 1)
    return await run_in_threadpool(  # hashing, writing and the database: not on the event loop
        attachments.upload,
        svc,
        actor,
        application_id,
        filename=sent.filename or "",
        content=content,
        data_dir=settings.data_dir,
        max_bytes=settings.max_upload_bytes,
        limits=settings.content_limits(),
    )


@router.get(
    "/attachments/{attachment_id}", summary="下载附件 / download", response_class=FileResponse
)
def download(attachment_id: Id, svc: Svc, actor: User, settings: Config) -> FileResponse:
    view, path = attachments.open_file(svc, actor, attachment_id, settings.data_dir)
    return FileResponse(
        path,
        media_type=view.content_type,
        filename=view.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
