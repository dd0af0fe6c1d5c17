"""Activities on the application database: case records, staff notices, deadlines, and the
townships' emergency reserves."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.cases import CaseView
from domain.contracts import (
    Activity,
    HoldOutcome,
    Registration,
    ReserveHold,
    ReserveRelease,
    ReserveSettlement,
    StaffNotice,
    Transition,
    WorkingDay,
    WorkingDaysAfter,
)
from domain.deadlines import DeadlineFacts, Deadlines, compute_deadlines
from domain.errors import CaseError
from domain.sealing import KeyRing
from store import recipients, reserve, watch
from store.calendar import load_calendar
from store.db import Database
from store.records import apply_transition, record_staff_notice, settle_hold

log = structlog.get_logger()
T = TypeVar("T")


def _write_transition(session: Session, *, transition: Transition) -> None:
    """The case's record, and (once) the watch-list entry its decision planned, together."""
    apply_transition(session, transition)
    if isinstance(transition.view, CaseView):
        watch.watch_after_case(session, transition.view, at=datetime.now(UTC))


class RecordActivities:
    def __init__(self, *, database_url: str, ring: KeyRing) -> None:
        self.db = Database(database_url)
        self.ring = ring

    @activity.defn(name=Activity.register_household)
    async def register_household(self, registration: Registration) -> str:
        """The approved household enters the register (once, whatever retries it): its
        number, for the first payment to carry."""
        number = await self.db.write(
            recipients.register_case, registration=registration, ring=self.ring
        )
        log.info("recipient.registered", case_no=registration.start.case_no, recipient_no=number)
        return number

    @activity.defn(name=Activity.record_transition)
    async def record_transition(self, transition: Transition) -> None:
        """Write the case projection and append the audit entries (idempotent)."""
        await self.db.write(_write_transition, transition=transition)
        for entry in transition.entries:
            log.info(
                "case.transition",
                case_no=entry.case_no,
                action=entry.action,
                from_stage=entry.from_stage,
                to_stage=entry.to_stage,
                user=entry.actor.user_id,
            )

    @activity.defn(name=Activity.notify_staff)
    async def notify_staff(self, notice: StaffNotice) -> None:
        await self.db.write(record_staff_notice, notice=notice)
        log.warning(
            "case.deadline", case_no=notice.case_no, kind=notice.kind, message=notice.message
        )

    @activity.defn(name=Activity.compute_deadlines)
    async def compute_deadlines(self, facts: DeadlineFacts) -> Deadlines:
        def compute(session: Session) -> Deadlines:
            return compute_deadlines(load_calendar(session), facts)

        return await self.db.read(compute)

    @activity.defn(name=Activity.add_working_days)
    async def add_working_days(self, request: WorkingDaysAfter) -> WorkingDay:
        def count(session: Session) -> WorkingDay:
            day, provisional = load_calendar(session).add_working_days(request.start, request.days)
            return WorkingDay(day=day, provisional=provisional)

        return await self.db.read(count)


class ReserveActivities:
    """The township's emergency reserve (临时救助储备金): every call keyed, so a retried or
    replayed activity moves money once."""

    def __init__(self, *, database_url: str, ring: KeyRing) -> None:
        self.db = Database(database_url)
        self.ring = ring
        """Hashes the ID numbers of the family paid (``store.hashed_ids``)."""

    async def _write(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        """A refusal of the ledger (a hold settled twice, say) is a fault no retry mends."""
        try:
            return await self.db.write(work, **kwargs)
        except CaseError as refusal:
            raise ApplicationError(
                refusal.message, type=type(refusal).__name__, non_retryable=True
            ) from None

    @activity.defn(name=Activity.hold_reserve)
    async def hold_reserve(self, request: ReserveHold) -> HoldOutcome:
        def hold_it(session: Session) -> HoldOutcome:
            held = reserve.hold(
                session,
                township=request.township,
                case_no=request.case_no,
                amount=request.amount,
                key=request.key,
                at=datetime.now(UTC),
            )
            state = reserve.reserve_of(session, township=request.township)
            return HoldOutcome(held=held, available=state.available)

        outcome = await self._write(hold_it)
        log.info(
            "reserve.hold", case_no=request.case_no, held=outcome.held, amount=str(request.amount)
        )
        return outcome

    @activity.defn(name=Activity.settle_reserve)
    async def settle_reserve(self, request: ReserveSettlement) -> None:
        """The money went to the family; a reserve it takes below its minimum is reported to
        the district at once (once, as it crosses: not again for every payment below it)."""

        state = await self._write(
            settle_hold,
            hold_key=request.hold_key,
            key=request.key,
            at=datetime.now(UTC),
            members=request.members,
            cause=request.cause,
            ring=self.ring,
        )
        log.info("reserve.settled", township=state.township, balance=str(state.balance))

    @activity.defn(name=Activity.release_reserve)
    async def release_reserve(self, request: ReserveRelease) -> None:
        await self._write(
            reserve.release, hold_key=request.hold_key, key=request.key, at=datetime.now(UTC)
        )
