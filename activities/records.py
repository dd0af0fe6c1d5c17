"""Activities on the application database: case records, staff notices, deadlines."""

import structlog
from sqlmodel import Session
from temporalio import activity

from domain.cases import Transition
from domain.contracts import Activity, StaffNotice
from domain.deadlines import DeadlineFacts, Deadlines, compute_deadlines
from store.calendar import load_calendar
from store.db import Database
from store.records import apply_transition, record_staff_notice

log = structlog.get_logger()


class RecordActivities:
    def __init__(self, *, database_url: str) -> None:
        self.db = Database(database_url)

    @activity.defn(name=Activity.record_transition)
    async def record_transition(self, transition: Transition) -> None:
        """Write the case projection and append the audit entries (idempotent)."""
        await self.db.write(apply_transition, transition=transition)
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
