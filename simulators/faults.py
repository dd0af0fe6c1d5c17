"""Fault injection (故障注入): make the next POST calls of a service fail, or answer late.

``{"service", "fail_next": N, "status"}``: the next N calls fail with ``status``, doing nothing.
``{"service": "payment", "delay_next": N, "delay_seconds": S}``: the next N transfers the
payment system accepts are stored at once and answered S seconds later, so a test can kill the
caller after the payment went through and before it heard so (a lost answer).
``DELETE /_faults`` drops whatever is pending and sends the late answers still waiting.
"""

import asyncio
import contextlib
import threading
from typing import Literal, Self

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator

Service = Literal["payment", "sms", "verification"]


class FaultIn(BaseModel):
    service: Service
    fail_next: int | None = Field(default=None, ge=0)
    status: int = Field(default=503, ge=400, le=599)
    delay_next: int | None = Field(default=None, ge=0)
    delay_seconds: float | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _one_fault_at_least(self) -> Self:
        if self.fail_next is None and self.delay_next is None:
            raise ValueError("give fail_next or delay_next")
        if (self.delay_next is None) != (self.delay_seconds is None):
            raise ValueError("delay_next and delay_seconds go together")
        # Only the payment route waits before answering; refuse rather than ignore the rest.
        if self.delay_next is not None and self.service != "payment":
            raise ValueError("delay_next is only simulated for payment")
        return self


class Faults:
    """Pending simulated outages and late answers per service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, int]] = {}
        self._delays: dict[str, tuple[int, float]] = {}
        # Set by clear() to wake the answers held back; replaced so later ones wait again.
        self._released = asyncio.Event()

    def arm(self, service: Service, count: int, status: int) -> None:
        with self._lock:
            self._pending[service] = (count, status)

    def arm_delay(self, service: Service, count: int, seconds: float) -> None:
        with self._lock:
            self._delays[service] = (count, seconds)

    def clear(self) -> None:
        """Drop every pending fault and release waiting answers (call on the event loop)."""
        with self._lock:
            self._pending.clear()
            self._delays.clear()
            released, self._released = self._released, asyncio.Event()
        released.set()

    def check(self, service: Service) -> None:
        """Raise the simulated outage if one is pending for ``service``, consuming it."""
        with self._lock:
            count, status = self._pending.get(service, (0, 0))
            if count:
                self._pending[service] = (count - 1, status)
        if count:
            raise HTTPException(status, "simulated outage")

    async def answer_late(self, service: Service) -> None:
        """Wait out the delay pending for ``service``, consuming it; clear() cuts it short."""
        with self._lock:
            count, seconds = self._delays.get(service, (0, 0.0))
            if count:
                self._delays[service] = (count - 1, seconds)
            released = self._released
        if count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), seconds)


def router(faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/_faults", tags=["faults"])

    @api.post("", status_code=204)
    def arm(fault: FaultIn) -> None:
        if fault.fail_next is not None:
            faults.arm(fault.service, fault.fail_next, fault.status)
        if fault.delay_next is not None and fault.delay_seconds is not None:
            faults.arm_delay(fault.service, fault.delay_next, fault.delay_seconds)

    # async: clear() wakes asyncio waiters, which must happen on the event loop.
    @api.delete("", status_code=204)
    async def clear() -> None:
        faults.clear()

    return api
