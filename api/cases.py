"""What the routes of every kind of case share: finding a case within the user's jurisdiction,
reading it, starting its workflow, and carrying a caseworker's action to the workflow as an
Update. They raise ``domain.errors``; ``api.errors`` turns them into answers. Database work runs
in short transactions off the event loop (``Database``)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlmodel import Session, SQLModel
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CaseNo, DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.errors import from_workflow
from api.models import ApplicantPublic, AuditEntryPublic, FamilyPublic, MemberPublic
from api.permissions import Permission, permit
from domain.cases import Actor
from domain.errors import InvalidData, NotFound, WrongStage
from domain.privacy import for_role, id_number_for, mask_id_number, phone_for
from domain.sealing import KeyRing
from domain.townships import covers, jurisdiction_level
from store.db import Database
from store.records import audit_trail, discard_case, halt_case, start_of, view_of
from store.tables import CaseRecord, EmergencyRecord, TownshipRow, VillageRow
from workflows.client import HALTED_STATUSES, application_workflow_id, emergency_workflow_id

log = structlog.get_logger()


@dataclass(frozen=True)
class CaseKind:
    """What the routes need to know of a kind of case."""

    table: type[CaseRecord] | type[EmergencyRecord]
    workflow_id: Callable[[str], str]


APPLICATIONS = CaseKind(CaseRecord, application_workflow_id)
EMERGENCIES = CaseKind(EmergencyRecord, emergency_workflow_id)


def check_place(session: Session, *, township: str, village: str) -> VillageRow:
    """The village where the family lives, once it is one of the township's."""
    row = session.get(TownshipRow, township)
    if row is None:
        raise InvalidData("township", f"{township} is not a township of the district")
    place = session.get(VillageRow, village)
    if place is None or place.township_code != township:
        raise InvalidData("village", f"{village} is not a village of {row.name}")
    return place


async def start_workflow(
    *,
    db: Database,
    client: Client,
    kind: CaseKind,
    case_no: str,
    run: Any,
    start: Any,
    task_queue: str,
) -> None:
    """Start the case's workflow; when the engine cannot, the records written at intake are
    taken back and the caller is told to try again (503)."""
    workflow_id = kind.workflow_id(case_no)
    try:
        await client.start_workflow(run, start, id=workflow_id, task_queue=task_queue)
    except Exception as failed:
        log.exception("case.start_failed", case_no=case_no)
        # A start whose answer was lost may still have taken effect; an existing workflow of
        # that id from before is another case's, and this one is not kept.
        if isinstance(failed, WorkflowAlreadyStartedError) or not await _started(
            client, workflow_id
        ):
            await db.write(discard_case, case_no=case_no)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the case engine is unavailable; nothing was saved, try again",
            ) from None


async def _started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError:
        return False


def case_in_jurisdiction(session: Session, *, kind: CaseKind, case_no: str, user: Actor) -> Any:
    """The case's record, or ``NotFound`` when it does not exist or lies outside the user's
    jurisdiction (its existence is not revealed)."""
    row = session.get(kind.table, case_no)
    if row is None or not covers(user.jurisdiction, row.village):
        raise NotFound(f"no case {case_no} in your jurisdiction")
    return row


def family_of(row: Any, *, user: Actor, ring: KeyRing) -> FamilyPublic | None:
    """The family as accepted, its numbers as the user's role may see them (``domain.privacy``)."""
    start = start_of(row, ring=ring)
    if start is None:
        return None
    applicant = start.applicant
    return FamilyPublic(
        applicant=ApplicantPublic(
            name=applicant.name,
            id_number=id_number_for(user.role, applicant.id_number),
            phone=phone_for(user.role, applicant.phone),
        ),
        household=[
            MemberPublic(
                name=m.name, relation=m.relation, id_number=id_number_for(user.role, m.id_number)
            )
            for m in start.household
        ],
    )


def audit_trail_for(
    session: Session, *, kind: CaseKind, case_no: str, user: Actor
) -> list[AuditEntryPublic]:
    """留痕 of a case in the user's jurisdiction; numbers in its notes masked unless the user's
    role sees them in full (the entries' hashes are of the notes as written)."""
    case_in_jurisdiction(session, kind=kind, case_no=case_no, user=user)
    entries = [
        AuditEntryPublic.model_validate(e, from_attributes=True)
        for e in audit_trail(session, case_no=case_no)
    ]
    return [e.model_copy(update={"note": for_role(user.role, e.note)}) for e in entries]


def list_item(model: type[BaseModel], row: Any) -> Any:
    """A case in a list, from its record: its applicant's ID number masked, whoever reads."""
    public = model.__base__.model_validate(view_of(row), from_attributes=True)
    number = row.applicant_id_number
    return model(
        **public.model_dump(), applicant_id_number=mask_id_number(number) if number else ""
    )


def case_detail(model: type[BaseModel], row: Any, *, user: Actor, ring: KeyRing) -> Any:
    """One case read on its own, from its records: the workflow writes them before it answers
    an action or moves on, and its ``current`` query returns the same view, so a read needs no
    round trip to the worker (and works while none runs)."""
    public = model.__base__.model_validate(view_of(row), from_attributes=True)
    return model(**public.model_dump(), family=family_of(row, user=user, ring=ring))


async def act(
    *,
    client: Client,
    db: Database,
    kind: CaseKind,
    row: Any,
    update: Any,
    record: Any,
    update_id: str | None,
    timeout: timedelta,
) -> Any:
    """Carry one caseworker action to the workflow as an Update.

    ``update_id`` comes from the Idempotency-Key, so Temporal itself drops a repeated action,
    and a retry after a time-out finds the first attempt's outcome.
    """
    handle = client.get_workflow_handle(kind.workflow_id(row.case_no))
    try:
        return await handle.execute_update(update, record, id=update_id, rpc_timeout=timeout)
    except WorkflowUpdateFailedError as failed:
        if refusal := from_workflow(failed.cause):
            raise refusal from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"case {row.case_no} did not answer in time; retry with the same Idempotency-Key "
            "to get the outcome without acting twice",
        ) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise await _not_running(client, db, kind, row) from None
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the case engine is unavailable; try again"
            ) from None
        raise


async def _not_running(client: Client, db: Database, kind: CaseKind, row: Any) -> WrongStage:
    """Why the case's workflow takes no action: the procedure ended, or the engine halted it
    (then the records say so from now on, and the household may apply again)."""
    try:
        described = await client.get_workflow_handle(kind.workflow_id(row.case_no)).describe()
    except RPCError:
        described = None
    if described is None or described.status not in HALTED_STATUSES:
        return WrongStage(f"case {row.case_no} is closed (stage '{row.stage}')")
    how = described.status.name.lower()
    at = described.close_time or datetime.now(UTC)
    await db.write(halt_case, case_no=row.case_no, status=how, at=at)
    log.warning("case.halted", case_no=row.case_no, status=how)
    return WrongStage(
        f"case {row.case_no} was halted by the case engine ({how}); its payments are "
        "reconciled with the bank, then a supervisor restarts or closes it"
    )


def in_jurisdiction(query: Any, table: type[SQLModel], *, user: Actor) -> Any:
    """Only the rows the user's jurisdiction covers, by exact code: never a pattern."""
    level = jurisdiction_level(user.jurisdiction)  # tokens without one are refused at sign-in
    if level == "district":
        return query
    column = table.township if level == "township" else table.village
    return query.where(column == user.jurisdiction)


def declare_action(
    router: APIRouter,
    kind: CaseKind,
    path: str,
    *,
    body: type[BaseModel],
    record: Callable[[Actor, Any], Any],
    update: Any,
    permission: Permission,
    answer: type[BaseModel],
    doc: str,
) -> None:
    """Declare one caseworker action on a case: its route, who may take it, the record the
    body becomes, and the Update that carries it to the case's workflow."""

    async def route(
        case_no: CaseNo,
        payload: body,  # type: ignore[valid-type]
        db: DatabaseDep,
        client: TemporalDep,
        settings: SettingsDep,
        user: Actor = permit(permission),
        key: IdempotencyKey = None,
    ) -> BaseModel:
        row = await db.read(case_in_jurisdiction, kind=kind, case_no=case_no, user=user)
        view = await act(
            client=client,
            db=db,
            kind=kind,
            row=row,
            update=update,
            record=record(user, payload),
            # The key is the user's: two users, or one user's two actions, never share an Update.
            update_id=f"{path}:{user.user_id}:{key}" if key else None,
            timeout=timedelta(seconds=settings.action_timeout_seconds),
        )
        return answer.model_validate(view, from_attributes=True)

    route.__doc__ = doc
    route.__name__ = f"{kind.table.__tablename__}_{path.replace('-', '_')}"
    router.post(f"/{{case_no}}/{path}", response_model=answer)(route)
