"""/supervision: every case that is not moving, and a supervisor's ways to move it."""

from fastapi import APIRouter

router = APIRouter(prefix="/supervision", tags=["supervision"])
