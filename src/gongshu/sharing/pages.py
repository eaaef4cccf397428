"""Pages: demands, approvals, grants, interfaces, statistics, backflow, calendar."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
