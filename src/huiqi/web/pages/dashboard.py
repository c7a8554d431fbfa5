"""The staff dashboard: charts of awards, budgets and applications."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
