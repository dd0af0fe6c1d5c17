"""/audit/compliance: whether the deadlines were kept, for any period and township."""

from fastapi import APIRouter

router = APIRouter(prefix="/audit", tags=["audit"])
