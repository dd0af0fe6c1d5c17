"""/audit/verify and /audit/cases/{case_no}/timeline: evidence that cannot be quietly edited."""

from fastapi import APIRouter

router = APIRouter(prefix="/audit", tags=["audit"])
