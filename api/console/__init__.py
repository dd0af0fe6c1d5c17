"""The web console (工作台): server-rendered pages in Chinese under /console/, for the people
who work the cases in a browser. Each page calls the services the API's routes call, under
the same permissions; adding a page is a template and a route."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from api.console import casework, lists, oversight, reserves, signing, supervising
from api.console.access import OPEN_CONSOLE, allowed
from api.console.pages import HERE, ConsoleRoute, error_page
from domain.cases import Actor

_missing = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@_missing.get("/{rest:path}")
async def not_found(request: Request, _user: Actor | None = allowed(OPEN_CONSOLE)) -> Response:
    return error_page(request, 404, "没有这个页面。")


def install(app: FastAPI) -> None:
    """Serve the console and its assets (no CDN: the offices may have no internet)."""
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(signing.router)
    app.include_router(casework.router)  # before the supervisor's /cases/{case_no}/{action}
    app.include_router(lists.router)
    app.include_router(supervising.router)
    app.include_router(oversight.router)
    app.include_router(reserves.router)
    app.include_router(_missing)  # last: what no other console route answers
