"""What every case keeps, whatever its kind (application, emergency): the view caseworkers see,
the steps on the record not yet written, and the timed events it waits for. Pure: a workflow
calls these, then writes and waits."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from domain.cases import (
    Actor,
    AuditEntry,
    Intervention,
    InterventionRecord,
    Role,
    SurveyRecord,
)
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.policy import Policy


@dataclass(frozen=True)
class TimedEvent:
    """A moment a case waits for: a deadline, a reminder, the end of a notice. ``key`` names
    this occurrence (its kind and its date or moment), so that it fires once even when the date
    moves away and back."""

    kind: str
    at: datetime
    key: str


@dataclass(frozen=True)
class StaffAlert:
    """Something staff must see: on the case's record, and in the notifications (站内通知)."""

    kind: str
    message: str
    key: str | None = None
    """Makes the notice idempotent; the kind when absent (one notice per kind)."""


@dataclass(kw_only=True)
class CaseFile:
    """A case's view and its journal: each step moves the stage and waits to be written.

    ``view`` is the kind's view (``CaseView``, ``EmergencyView``): it has ``case_no``,
    ``stage`` and ``version``.
    """

    view: Any
    seq: int = 0
    unwritten: list[AuditEntry] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    """Keys of the timed events that have fired."""

    waits_for: ClassVar[dict[str, str]] = {}
    """What each open stage waits for, in the words of a refusal."""

    def step(
        self, actor: Actor, action: str, to_stage: StrEnum, at: datetime, note: str = ""
    ) -> None:
        """Move to ``to_stage`` and put the step on the record to be written next."""
        self.seq += 1
        self.unwritten.append(
            AuditEntry(
                case_no=self.view.case_no,
                seq=self.seq,
                at=at,
                actor=actor,
                action=action,
                from_stage=self.view.stage,
                to_stage=to_stage,
                note=note,
            )
        )
        view = self.view
        if to_stage != view.stage:  # how long each stage held the case, for the auditor
            since = view.stage_since or self.started_at
            held = (at - since).total_seconds() / 3600 if since else 0.0
            view.stage_hours[view.stage] = round(view.stage_hours.get(view.stage, 0.0) + held, 2)
            view.stage_since = at
        view.stage = to_stage
        view.version = self.seq

    @property
    def started_at(self) -> datetime | None:
        """When the case began (accepted, requested): the kind says."""
        return None

    def take_unwritten(self) -> list[AuditEntry]:
        entries, self.unwritten = self.unwritten, []
        return entries

    def resume(self, *, actor: Actor, reason: str, now: datetime, after_seq: int) -> None:
        """A halted case starts again from its last state (a supervisor's restart): the steps
        it took but never wrote go on the record after what was written since (the halt, the
        reconciliation), then the restart itself."""
        pending = self.take_unwritten()
        self.seq = after_seq
        for entry in pending:
            self.seq += 1
            self.unwritten.append(replace(entry, seq=self.seq))
        self.seq += 1
        self.unwritten.append(
            AuditEntry(
                case_no=self.view.case_no,
                seq=self.seq,
                at=now,
                actor=actor,
                action="restarted",
                from_stage="halted",
                to_stage=self.view.stage,
                note=reason,
            )
        )
        self.view.version = self.seq
        self.view.halted_from = self.view.reconciled_at = None

    def require(self, *stages: StrEnum) -> None:
        """``WrongStage``, saying what the case waits for, unless it is at one of ``stages``."""
        if self.view.stage in stages:
            return
        wanted = " or ".join(s.value for s in stages)
        waiting = self.waits_for.get(self.view.stage)
        now = f"waiting for {waiting}" if waiting else "closed"
        raise WrongStage(
            f"case {self.view.case_no} is at stage '{self.view.stage}' ({now}); "
            f"this action needs stage {wanted}"
        )

    def reassign(self, record: InterventionRecord, *, now: datetime) -> None:
        self.view.assignee = (record.assignee or "").strip()
        self.view.assigned_at = now
        note = f"to {self.view.assignee}: {record.reason}"
        self.step(record.actor, "reassigned", self.view.stage, now, note=note)

    def escalate(self, record: InterventionRecord, *, now: datetime) -> StaffAlert:
        self.step(record.actor, "escalated", self.view.stage, now, note=record.reason)
        return StaffAlert(
            "escalated",
            f"case {self.view.case_no} is escalated to the district by {record.actor.name}: "
            f"{record.reason}",
            key=f"escalated:{self.seq}",
        )

    def note_retry(self, record: InterventionRecord, *, now: datetime) -> None:
        """The external call waiting for its next attempt was made to run now (by the API)."""
        self.step(record.actor, "retry_requested", self.view.stage, now, note=record.reason)

    def due(self, events: list[TimedEvent], now: datetime) -> list[TimedEvent]:
        """The events whose moment has come and that have not fired; marks them fired."""
        ready = [e for e in events if e.at <= now and e.key not in self.fired]
        self.fired.extend(e.key for e in ready)
        return ready

    def next_moment(self, events: list[TimedEvent]) -> datetime | None:
        return min((e.at for e in events if e.key not in self.fired), default=None)


def check_survey_record(survey: SurveyRecord, *, policy: Policy, since: date, today: date) -> None:
    """入户调查, whatever the case: enough named investigators, a visit between ``since`` (the
    case's acceptance or request) and today, an income that can be right."""
    names = {n.strip() for n in survey.investigators if n.strip()}
    if len(names) < policy.min_investigators:
        raise InvalidData(
            "investigators",
            f"a household survey needs at least {policy.min_investigators} named investigators",
        )
    if not since <= survey.visited_on <= today:
        raise InvalidData("visited_on", f"the visit date must be between {since} and today")
    if survey.assessed_monthly_income < 0:
        raise InvalidData("household_monthly_income", "income cannot be negative")


def survey_note(survey: SurveyRecord) -> str:
    """The survey on the audit trail: when, who, what was found."""
    return (
        f"visited {survey.visited_on}; investigators: {', '.join(survey.investigators)}; "
        f"{survey.findings}"
    )


def check_intervention_basics(record: InterventionRecord) -> None:
    """What every intervention needs: a supervisor (or, for an extension, a district officer,
    who may go beyond the cap), a reason, and what its action names."""
    if record.action == Intervention.extend_deadline:
        if record.actor.role not in (Role.supervisor, Role.district_officer):
            raise NotPermitted("a deadline is extended by a supervisor or a district officer")
    elif record.actor.role != Role.supervisor:
        raise NotPermitted("an intervention (督办) is a supervisor's")
    if not record.reason.strip():
        raise InvalidData("reason", "an intervention states its reason; it goes on the record")
    if record.action == Intervention.reassign and not (record.assignee or "").strip():
        raise InvalidData("assignee", "name the caseworker the case goes to")
    if record.action == Intervention.reopen and not record.to_stage:
        raise InvalidData("to_stage", "name the earlier stage the case goes back to")
    if record.action == Intervention.extend_deadline and not 1 <= (record.working_days or 0) <= 30:
        raise InvalidData("working_days", "a deadline moves by 1 to 30 working days")


def check_extension(record: InterventionRecord, *, extended: int, policy: Policy) -> None:
    """A supervisor adds at most ``max_extension_working_days`` in all to a case's deadline
    (``extended``: the working days every extension so far added); beyond them a district
    officer decides, with the reason on the record."""
    cap = policy.max_extension_working_days
    if record.actor.role == Role.district_officer or extended + (record.working_days or 0) <= cap:
        return
    left = max(cap - extended, 0)
    raise InvalidData(
        "working_days",
        f"this case's deadline was extended by {extended} working days; a supervisor may add "
        f"{cap} in all, so {left} remain. Beyond them a district officer decides "
        "(extend-deadline by a district officer, with a reason)",
    )
