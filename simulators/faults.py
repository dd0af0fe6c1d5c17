"""Fault injection (故障注入): make the next POST calls of a service fail."""

import threading
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

Service = Literal["payment", "sms", "verification"]


class FaultIn(BaseModel):
    service: Service
    fail_next: int = Field(ge=0)
    status: int = Field(default=503, ge=400, le=599)


class Faults:
    """Pending simulated outages per service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, int]] = {}

    def arm(self, service: Service, count: int, status: int) -> None:
        with self._lock:
            self._pending[service] = (count, status)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def check(self, service: Service) -> None:
        """Raise the simulated outage if one is pending for ``service``, consuming it."""
        with self._lock:
            count, status = self._pending.get(service, (0, 0))
            if count:
                self._pending[service] = (count - 1, status)
        if count:
            raise HTTPException(status, "simulated outage")


def router(faults: Faults) -> APIRouter:
    api = APIRouter(prefix="/_faults", tags=["faults"])

    @api.post("", status_code=204)
    def arm(fault: FaultIn) -> None:
        faults.arm(fault.service, fault.fail_next, fault.status)

    @api.delete("", status_code=204)
    def clear() -> None:
        faults.clear()

    return api
