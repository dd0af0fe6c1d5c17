"""Activities on the application database: case records, staff notices, deadlines."""

import asyncio

import structlog
from temporalio import activity

from domain.cases import Transition
from domain.contracts import Activity, StaffNotice
from domain.deadlines import DeadlineFacts, Deadlines, compute_deadlines
from store.calendar import load_calendar
from store.db import session_scope
from store.records import apply_transition, record_staff_notice

log = structlog.get_logger()


class RecordActivities:
    def __init__(self, *, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name=Activity.record_transition)
    async def record_transition(self, transition: Transition) -> None:
        """Write the case projection and append the audit entries (idempotent)."""
        await asyncio.to_thread(self._in_session, apply_transition, transition)
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
        await asyncio.to_thread(self._in_session, record_staff_notice, notice)
        log.warning("case.deadline", case_no=notice.case_no, kind=notice.kind, message=notice.message)

    @activity.defn(name=Activity.compute_deadlines)
    async def compute_deadlines(self, facts: DeadlineFacts) -> Deadlines:
        def compute(session) -> Deadlines:  # noqa: ANN001
            return compute_deadlines(load_calendar(session), facts)

        return await asyncio.to_thread(self._in_session, compute)

    def _in_session(self, work, *args):  # noqa: ANN001, ANN202
        with session_scope(self.database_url) as session:
            return work(session, *args)
