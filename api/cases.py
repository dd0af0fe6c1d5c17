"""What the routes of every kind of case share: the route of each caseworker action, which
carries it to the case's workflow as an Update (``services.cases.act``)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.permissions import PERMITTED_CASE, Permission, permit
from api.published import Published
from domain.cases import Actor
from services import cases
from services.cases import CaseKind
from store.jurisdiction import TABLES, CaseRef


@dataclass(frozen=True)
class DeclaredAction:
    """An action as its route takes it: what the web console's form of it goes through too."""

    body: type[BaseModel]
    record: Callable[[Actor, Any], Any]
    update: Any
    permission: Permission


DECLARED: dict[tuple[str, str], DeclaredAction] = {}
"""Every caseworker action by (kind of case, path)."""


def declare_action(
    router: APIRouter,
    kind: CaseKind,
    path: str,
    *,
    body: type[BaseModel],
    record: Callable[[Actor, Any], Any],
    update: Any,
    permission: Permission,
    answer: type[Published],
    doc: str,
    then: Callable[..., Awaitable[Any]] | None = None,
) -> None:
    """Declare one caseworker action on a case: its route, who may take it, the record the
    body becomes, and the Update that carries it to the case's workflow; ``then``: what the
    service does once the workflow took it (its answer is the route's)."""

    async def route(
        payload: body,  # type: ignore[valid-type]
        db: DatabaseDep,
        client: TemporalDep,
        settings: SettingsDep,
        user: Actor = permit(permission),
        case: CaseRef = PERMITTED_CASE,
        key: IdempotencyKey = None,
    ) -> Published:
        view = await cases.act(
            db=db,
            client=client,
            kind=kind,
            case=case,
            action=path,
            update=update,
            record=record(user, payload),
            # The key is the user's: two users, or one user's two actions, never share an Update.
            update_id=f"{path}:{user.user_id}:{key}" if key else None,
            timeout=timedelta(seconds=settings.action_timeout_seconds),
        )
        if then is not None:
            return await then(db=db, client=client, settings=settings, user=user,
                               body=payload, view=view)  # fmt: skip
        return answer.of(view)

    DECLARED[(kind.name, path)] = DeclaredAction(body, record, update, permission)
    route.__doc__ = doc
    route.__name__ = f"{TABLES[kind.name].__tablename__}_{path.replace('-', '_')}"
    router.post(f"/{{case_no}}/{path}", response_model=answer)(route)
