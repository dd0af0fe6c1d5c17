"""The caseworker's forms: each action on a case posted to ``/console/cases/{case_no}/{action}``
(named as the API's), and intake at ``/console/applications/new``. Each goes through what the
API's route goes through: the route's permission, the body's model, the service
(``services.cases.act``, ``services.intake``), with the form's once-key as the Idempotency-Key
and its CSRF token. A refusal re-renders the page with the message next to the field it names,
in Chinese; nothing is written."""

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

import api.routes.applications
import api.routes.emergencies  # noqa: F401
from api.cases import DECLARED
from api.console import actions, supervising
from api.console.access import CHECKED_FORM, allowed
from api.console.forms import FormProblems, act_once, parsed
from api.console.pages import ConsoleRoute, render
from api.deps import DatabaseDep, SettingsDep, TemporalDep
from api.models import ApplicationCreate
from api.permissions import ACCEPT_APPLICATION, PERMITTED_CASE, authorize
from domain.cases import Actor, AssistanceType, Channel
from domain.errors import NotFound
from domain.townships import covers
from services import cases, intake, townships
from services.cases import KINDS
from store.jurisdiction import CaseRef

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

HOUSEHOLD_ROWS = 4
"""Rows for the other members on the intake form (a larger household: the API)."""


@router.get("/applications/new")
async def intake_page(
    request: Request, db: DatabaseDep, user: Actor = allowed(ACCEPT_APPLICATION)
) -> Response:
    """一门受理: the application form."""
    return await _intake(request, db=db, user=user)


@router.post("/applications/new")
async def accept(
    request: Request,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = allowed(ACCEPT_APPLICATION),
    form: dict[str, str] = CHECKED_FORM,
) -> Response:
    """The API's POST /applications, as a form; the browser goes to the new case."""
    try:
        data = actions.data_of(form)
        if "village" in data and "township" not in data:
            data["township"] = data["village"][:9]  # the village's township
        body = parsed(ApplicationCreate, data)

        async def run() -> str:
            view = await intake.accept_application(
                db=db, client=client, settings=settings, user=user, application=body.intake()
            )
            return f"/console/cases/{view.case_no}?done=accepted"

        location = await act_once(
            request, db=db, settings=settings, user_id=user.user_id, form=form, run=run
        )
    except FormProblems as refused:
        return await _intake(request, db=db, user=user, problems=refused.problems,
                             values=form, status_code=refused.status_code)  # fmt: skip
    return RedirectResponse(location, status_code=303)


async def _intake(
    request: Request,
    *,
    db,
    user: Actor,
    problems: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    villages = [
        (v.code, f"{t.name} {v.name}")
        for t in await townships.listing(db=db)
        for v in t.villages
        if covers(user.jurisdiction, v.code)
    ]
    shown = {
        "assistance_type", "expense", "village", "channel", "applicant.name",
        "applicant.id_number", "applicant.phone", "reason", "hukou_township", "resident_since",
        "bank_account.bank", "bank_account.account_no", "bank_account.holder",
        *(f"household.{i}.{f}" for i in range(HOUSEHOLD_ROWS)
          for f in ("name", "id_number", "relation", "monthly_income")),
    }  # fmt: skip
    problems = problems or {}
    return render(
        request, "intake.html", status_code, title="受理新申请", villages=villages,
        types=list(AssistanceType), channels=list(Channel), rows=range(HOUSEHOLD_ROWS),
        problems=problems, values=values or {},
        others=[p for name, found in problems.items() if name not in shown for p in found],
    )  # fmt: skip


def _declare(path: str) -> None:
    """The route of one action's form, under the permission of the API's route of it."""
    permission = next(d.permission for (_, p), d in DECLARED.items() if p == path)

    async def take(
        request: Request,
        db: DatabaseDep,
        client: TemporalDep,
        settings: SettingsDep,
        user: Actor = allowed(permission),
        case: CaseRef = PERMITTED_CASE,
        form: dict[str, str] = CHECKED_FORM,
    ) -> Response:
        declared = DECLARED.get((case.kind, path))
        if declared is None:
            raise NotFound(f"no action {path} on case {case.case_no}")
        # The kind's own route's permission (the same for both kinds today).
        await authorize(declared.permission, request, user)
        try:
            body = parsed(declared.body, actions.data_of(form))
            key = form.get("idempotency_key", "")

            async def run() -> str:
                await cases.act(
                    db=db, client=client, kind=KINDS[case.kind], case=case, action=path,
                    update=declared.update, record=declared.record(user, body),
                    update_id=f"{path}:{user.user_id}:{key}",
                    timeout=timedelta(seconds=settings.action_timeout_seconds),
                )  # fmt: skip
                return f"/console/cases/{case.case_no}?done={path}"

            location = await act_once(
                request, db=db, settings=settings, user_id=user.user_id, form=form, run=run
            )
        except FormProblems as refused:
            return await supervising.case_view(
                request, db=db, settings=settings, user=user, case=case, failed=path,
                form_problems=refused.problems, values=form, status_code=refused.status_code,
            )  # fmt: skip
        return RedirectResponse(location, status_code=303)

    take.__name__ = f"console_{path.replace('-', '_')}"
    router.post(f"/cases/{{case_no}}/{path}")(take)


for _path in dict.fromkeys(path for _, path in DECLARED):
    _declare(_path)
