"""The simulators' HTTP app."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from simulators import faults, payment, sms, verification
from simulators.storage import Store

DEFAULT_DB = "var/simulators.db"


def create_app(db_path: str | None = None) -> FastAPI:
    """Build the app on ``db_path`` (else ``$JIUZHU_SIMULATOR_DB``, else ``var/simulators.db``)."""
    store = Store(db_path or os.environ.get("JIUZHU_SIMULATOR_DB") or DEFAULT_DB)
    outages = faults.Faults()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="jiuzhu external-system simulators", lifespan=lifespan)
    for service in (payment, sms, verification):
        app.include_router(service.router(store, outages))
    app.include_router(faults.router(outages))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
