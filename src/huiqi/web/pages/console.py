"""The staff console: work queues, review, plans, disbursements, audit."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
