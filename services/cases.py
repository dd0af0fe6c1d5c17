"""What every kind of case shares behind the routes: its list, reading one case (the one the
route's permission found in the user's jurisdiction), its audit trail, starting its workflow,
and carrying a caseworker's action to its workflow as an Update.

A case is read from its records: the workflow writes them before it answers an action or moves
on, and its ``current`` query returns the same view, so a read needs no round trip to the
worker (and works while none runs)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from sqlmodel import Session
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.cases import Actor, Applicant, CaseView, HouseholdMember
from domain.emergency import EmergencyView
from domain.errors import CaseError, InvalidData, NotFound, Unavailable, WrongStage
from domain.halting import refuse_on_halted
from domain.privacy import for_role, id_number_for, mask_id_number, phone_for
from domain.sealing import KeyRing
from store import lists, records
from store.db import Database
from store.jurisdiction import CaseKindName, CaseRef
from store.pages import Paged
from store.records import audit_trail, discard_case, start_of, view_of
from store.tables import AuditEntryRecord, CaseRecord, EmergencyRecord
from workflows.application import ApplicationWorkflow
from workflows.client import HALTED_STATUSES, application_workflow_id, emergency_workflow_id
from workflows.emergency import EmergencyWorkflow
from workflows.search import application_at_start, emergency_at_start

log = structlog.get_logger()

View = CaseView | EmergencyView


@dataclass(frozen=True)
class CaseKind:
    """A kind of case: its name (which names its records: ``store.jurisdiction.TABLES``) and
    its workflow."""

    name: CaseKindName
    workflow: type[ApplicationWorkflow] | type[EmergencyWorkflow]
    workflow_id: Callable[[str], str]
    indexed: Callable[[Any], TypedSearchAttributes]
    """The search attributes of a case as it starts (its workflow then makes no upsert)."""


APPLICATIONS = CaseKind(
    "application", ApplicationWorkflow, application_workflow_id, application_at_start
)
EMERGENCIES = CaseKind("emergency", EmergencyWorkflow, emergency_workflow_id, emergency_at_start)
KINDS = {kind.name: kind for kind in (APPLICATIONS, EMERGENCIES)}


@dataclass(frozen=True)
class Listed:
    """A case in a list: its applicant's ID number masked, whoever reads."""

    view: View
    applicant_id_number: str


@dataclass(frozen=True)
class Family:
    """The family as accepted, its numbers as the reader's role may see them
    (``domain.privacy``)."""

    applicant: Applicant
    household: list[HouseholdMember]


@dataclass(frozen=True)
class CaseRead:
    """One case read on its own: with its family (None for a case accepted before intakes
    were kept with the case)."""

    view: View
    family: Family | None


async def listing(
    *,
    db: Database,
    kind: CaseKind,
    user: Actor,
    equal: dict[str, Any],
    page: int,
    page_size: int,
) -> Paged[Listed]:
    """A page of the cases of one kind in the user's jurisdiction, each column named in
    ``equal`` holding its value (None: any), the most pressing first."""
    return await db.read(
        _listing,
        kind=kind.name,
        jurisdiction=user.jurisdiction,
        equal=equal,
        page=page,
        page_size=page_size,
    )


def _listing(session: Session, **query: Any) -> Paged[Listed]:
    rows = lists.cases(session, **query)
    items = [
        Listed(
            view_of(row), mask_id_number(row.applicant_id_number) if row.applicant_id_number else ""
        )
        for row in rows.items
    ]
    return Paged(items=items, total=rows.total, page=rows.page, page_size=rows.page_size)


async def read(
    *, db: Database, kind: CaseKind, case: CaseRef, user: Actor, ring: KeyRing
) -> CaseRead:
    """The case as its workflow last wrote it, with its family."""
    _check_kind(kind, case)
    return await db.read(_read, kind=kind, case_no=case.case_no, user=user, ring=ring)


def _read(
    session: Session, *, kind: CaseKind, case_no: str, user: Actor, ring: KeyRing
) -> CaseRead:
    row = record_of(session, kind=kind, case_no=case_no)
    start = start_of(row, ring=ring)
    if start is None:
        return CaseRead(view_of(row), None)
    role, applicant = user.role, start.applicant
    family = Family(
        applicant=replace(
            applicant,
            id_number=id_number_for(role, applicant.id_number),
            phone=phone_for(role, applicant.phone),
        ),
        household=[replace(m, id_number=id_number_for(role, m.id_number)) for m in start.household],
    )
    return CaseRead(view_of(row), family)


def record_of(session: Session, *, kind: CaseKind, case_no: str) -> CaseRecord | EmergencyRecord:
    """The case's record (``NotFound``: none of this kind)."""
    row = records.record_of(session, kind=kind.name, case_no=case_no)
    if row is None:
        raise NotFound(f"no case {case_no} in your jurisdiction")
    return row


async def trail(
    *, db: Database, kind: CaseKind, case: CaseRef, user: Actor
) -> list[AuditEntryRecord]:
    """留痕 of the case; numbers in its notes masked unless the user's role sees them in full
    (the entries' hashes are of the notes as written)."""
    _check_kind(kind, case)
    entries = await db.read(audit_trail, case_no=case.case_no)
    return [
        AuditEntryRecord(**(e.model_dump() | {"note": for_role(user.role, e.note)}))
        for e in entries
    ]


def _check_kind(kind: CaseKind, case: CaseRef) -> None:
    """The case the permission found is of the route's kind (an emergency's number in an
    application's path is no case there)."""
    if case.kind != kind.name:
        raise NotFound(f"no case {case.case_no} in your jurisdiction")


async def start_workflow(
    *, db: Database, client: Client, kind: CaseKind, case_no: str, start: Any, task_queue: str
) -> None:
    """Start the case's workflow; when the engine cannot, the records written at intake are
    taken back and the caller is told to try again (``Unavailable``)."""
    workflow_id = kind.workflow_id(case_no)
    try:
        await client.start_workflow(
            kind.workflow.run,
            start,
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=kind.indexed(start),
        )
    except Exception as failed:
        log.exception("case.start_failed", case_no=case_no)
        # A start whose answer was lost may still have taken effect; an existing workflow of
        # that id from before is another case's, and this one is not kept.
        if isinstance(failed, WorkflowAlreadyStartedError) or not await _started(
            client, workflow_id
        ):
            await db.write(discard_case, case_no=case_no)
            raise Unavailable(
                "the case engine is unavailable; nothing was saved, try again"
            ) from None


async def _started(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError:
        return False


async def act(
    *,
    db: Database,
    client: Client,
    kind: CaseKind,
    case: CaseRef,
    action: str,
    update: Any,
    record: Any,
    update_id: str | None,
    timeout: timedelta,
) -> View:
    """Carry one action to the case's workflow as an Update; the case as it now stands.

    ``update_id`` comes from the Idempotency-Key, so Temporal itself drops a repeated action,
    and a retry after a time-out finds the first attempt's outcome. Nothing is written here:
    the workflow writes the records, and the worker's watch marks a case whose workflow the
    engine stopped.
    """
    _check_kind(kind, case)
    case_no = case.case_no

    async def not_running() -> CaseError:
        return await _not_running(db, client, kind, case_no, action)

    return await carry(
        client.get_workflow_handle(kind.workflow_id(case_no)), update, record,
        update_id=update_id, timeout=timeout, name=f"case {case_no}", not_running=not_running,
    )  # fmt: skip


async def carry(
    handle: Any,
    update: Any,
    record: Any,
    *,
    update_id: str | None,
    timeout: timedelta,
    name: str,
    not_running: Callable[[], Awaitable[CaseError]],
) -> Any:
    """An Update to a workflow (a case's, a review's), its refusal raised as the rule's
    (``refusal_of``), an engine that does not answer as ``Unavailable``; ``not_running``: why
    a workflow no longer running takes no action."""
    try:
        return await handle.execute_update(update, record, id=update_id, rpc_timeout=timeout)
    except WorkflowUpdateFailedError as failed:
        if refusal := refusal_of(failed.cause):
            raise refusal from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise Unavailable(
            f"{name} did not answer in time; retry with the same Idempotency-Key "
            "to get the outcome without acting twice"
        ) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise await not_running() from None
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise Unavailable("the case engine is unavailable; try again") from None
        raise


async def _not_running(
    db: Database, client: Client, kind: CaseKind, case_no: str, action: str
) -> WrongStage:
    """Why the case's workflow takes no action: the procedure ended, or the engine stopped it
    (the watch then marks the case halted, and it stays so until a supervisor acts)."""
    view = view_of(await db.read(record_of, kind=kind, case_no=case_no))
    refuse_on_halted(view, action=action)
    try:
        described = await client.get_workflow_handle(kind.workflow_id(case_no)).describe()
    except RPCError:
        described = None
    if described is None or described.status not in HALTED_STATUSES:
        return WrongStage(f"case {case_no} is closed (stage '{view.stage}')")
    how = described.status.name.lower()
    return WrongStage(
        f"case {case_no}'s workflow was stopped by the case engine ({how}): the watch marks it "
        "halted and reconciles its payments with the bank within minutes, then a supervisor "
        "restarts or closes it"
    )


_REFUSALS = {kind.__name__: kind for kind in CaseError.__subclasses__()}


def refusal_of(failure: BaseException | None) -> CaseError | None:
    """The refusal a workflow sent back as an ``ApplicationError`` of a refusal's type name,
    if it is one."""
    if not isinstance(failure, ApplicationError) or failure.type not in _REFUSALS:
        return None
    kind = _REFUSALS[failure.type]
    if kind is InvalidData:
        field = failure.details[0]["field"] if failure.details else "body"
        return InvalidData(field, failure.message)
    return kind(failure.message)
