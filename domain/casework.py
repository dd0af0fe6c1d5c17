"""What every case keeps, whatever its kind (application, emergency): the view caseworkers see,
the steps on the record not yet written, and the timed events it waits for. Pure: a workflow
calls these, then writes and waits."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from domain.calendar import local_date
from domain.cases import (
    Actor,
    AuditEntry,
    BankAccount,
    BankAccountRecord,
    Intervention,
    InterventionRecord,
    Person,
    ReviewRecord,
    Role,
    SurveyRecord,
    account_holder,
    check_holder,
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


@dataclass(frozen=True)
class After:
    """What follows a change besides writing it: the rules say so, the workflow does it."""

    recount: bool = False
    """The change moved the deadlines: they are counted again before the write."""
    alert: StaffAlert | None = None
    """Staff are told, once the change is written."""
    reverify: bool = False
    """The verification platform is asked again, once written (an application)."""
    await_hold: bool = False
    """The answer waits until the reserve hold is placed or found short (an emergency whose
    payment is under way)."""


@dataclass(kw_only=True)
class CaseFile:
    """A case's view and its journal: each step moves the stage and waits to be written.

    ``view`` is the kind's view (``CaseView``, ``EmergencyView``): it has ``case_no``,
    ``stage`` and ``version``. A kind also has ``start`` (who asked: its ``applicant`` and
    ``household``, and the ``policy``) and ``account`` (the bank account paid into, if any).
    """

    view: Any
    seq: int = 0
    unwritten: list[AuditEntry] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    """Keys of the timed events that have fired."""
    survey: SurveyRecord | None = None
    """The household survey (入户调查) of the present round."""
    review: ReviewRecord | None = None
    """The township's review (初审): for an application its proposal (or the district's
    approval of a proposed refusal), for an emergency its follow-up's finding."""

    open_stages: ClassVar[tuple[StrEnum, ...]] = ()
    """Where the case waits for someone (``OPEN_STAGES``, ``emergency.OPEN``)."""
    waits_for: ClassVar[dict[str, str]] = {}
    """What each open stage waits for, in the words of a refusal."""
    account_stages: ClassVar[tuple[StrEnum, ...] | None] = None
    """Where a bank account may be recorded or corrected (None: wherever the case is open)."""
    extendable: ClassVar[tuple[StrEnum, ...] | None] = None
    """Where a supervisor may extend the case's deadline (None: wherever the case is open)."""

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

    @property
    def closed(self) -> bool:
        """No one acts on the case any more (its payment or its notice may still be due)."""
        return self.view.stage not in self.open_stages

    @property
    def people(self) -> list[Person]:
        """The applicant and the household."""
        return [self.start.applicant, *self.start.household]  # type: ignore[attr-defined]

    @property
    def payee(self) -> Person:
        """Who the money is paid to: the member of the household who holds the account."""
        account = self.account  # type: ignore[attr-defined]
        return account_holder(self.people, account) if account else self.people[0]

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
                from_stage=type(self.view.stage).halted,  # type: ignore[attr-defined]
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

    # ---- 入户调查 ---------------------------------------------------------------------------

    def check_survey_record(self, survey: SurveyRecord, *, today: date) -> None:
        """Whatever the case: enough named investigators, a visit between the case's start
        (its acceptance or request) and today, an income that can be right."""
        policy = self.start.policy  # type: ignore[attr-defined]
        names = {n.strip() for n in survey.investigators if n.strip()}
        if len(names) < policy.min_investigators:
            raise InvalidData(
                "investigators",
                f"a household survey needs at least {policy.min_investigators} named investigators",
            )
        since = local_date(self.started_at)  # type: ignore[arg-type]
        if not since <= survey.visited_on <= today:
            raise InvalidData("visited_on", f"the visit date must be between {since} and today")
        if survey.assessed_monthly_income < 0:
            raise InvalidData("household_monthly_income", "income cannot be negative")

    def note_survey(
        self, survey: SurveyRecord, action: str, to_stage: StrEnum, now: datetime
    ) -> None:
        """The survey on the record: when, who, what was found."""
        self.survey = survey
        self.view.surveyed_at = now
        note = (
            f"visited {survey.visited_on}; investigators: {', '.join(survey.investigators)}; "
            f"{survey.findings}"
        )
        self.step(survey.actor, action, to_stage, now, note=note)

    # ---- the bank account ---------------------------------------------------------------

    @property
    def transfer_under_way(self) -> bool:
        """A transfer to the account on record is under way: the kind says when."""
        return False

    @property
    def waits_for_account(self) -> bool:
        """The case waits for a bank account to pay into, whatever its stage."""
        return False

    def check_bank_account(self, record: BankAccountRecord) -> None:
        """Recorded where the kind allows it (``account_stages``) or while the case waits for
        one, held by a member of the household; never while a transfer is under way, which
        goes to the account it was sent to."""
        if self.transfer_under_way:
            account = self.account.masked  # type: ignore[attr-defined]
            raise WrongStage(
                f"the transfer of case {self.view.case_no} to {account} is under way; if the "
                "payment system refuses the account, a corrected one can be recorded then"
            )
        if not self.waits_for_account:
            self.require(*(self.account_stages or self.open_stages))
        self.check_account_holder(record.account)

    def check_account_holder(self, account: BankAccount) -> None:
        """Who may hold the account paid: a member of the household (a kind may say otherwise)."""
        check_holder(self.people, account, field="holder")

    # ---- 督办: a supervisor's interventions ---------------------------------------------

    def check_intervention(self, record: InterventionRecord, *, capped: bool = True) -> None:
        """Whatever the case: who may, with a reason, at which stage (the kind says where a
        case may be reverified, reopened, cancelled). ``capped`` False: the rules before
        patch ``extension-cap`` (an intervention accepted then, replayed by its workflow)."""
        check_intervention_basics(record)
        match record.action:
            case Intervention.retry_now | Intervention.restart_orphan:
                return
            case Intervention.extend_deadline:
                self.require(*(self.extendable or self.open_stages))
                if capped:
                    policy = self.start.policy  # type: ignore[attr-defined]
                    check_extension(record, extended=self.extended, policy=policy)
            case Intervention.reverify:
                self.check_reverify()
            case Intervention.reopen:
                self.check_reopen(record.to_stage or "")
            case Intervention.cancel:
                self.check_cancel()
            case _:  # reassign, escalate
                self.require(*self.open_stages)

    def check_reverify(self) -> None:
        """Whether the verification platform may be asked again: the kind says."""
        raise NotImplementedError

    def check_reopen(self, to_stage: str) -> None:
        """Whether the case may go back to ``to_stage`` (容错纠错): the kind says."""
        raise NotImplementedError

    def check_cancel(self) -> None:
        """A case opened in error is cancelled while it is open (a kind may say less)."""
        self.require(*self.open_stages)

    def intervene(self, record: InterventionRecord, *, now: datetime) -> After | None:
        """The intervention on the record, and what follows it: an escalation is put before
        the district, an extension moves the deadlines (the kind's ``reverify`` and ``reopen``
        say what they need)."""
        view, actor = self.view, record.actor
        match record.action:
            case Intervention.reassign:
                view.assignee = (record.assignee or "").strip()
                view.assigned_at = now
                note = f"to {view.assignee}: {record.reason}"
                self.step(actor, "reassigned", view.stage, now, note=note)
            case Intervention.escalate:
                self.step(actor, "escalated", view.stage, now, note=record.reason)
                message = (
                    f"case {view.case_no} is escalated to the district by {actor.name}: "
                    f"{record.reason}"
                )
                return After(alert=StaffAlert("escalated", message, key=f"escalated:{self.seq}"))
            case Intervention.retry_now:  # the API made the waiting external call run now
                self.step(actor, "retry_requested", view.stage, now, note=record.reason)
            case Intervention.restart_orphan:
                self.step(actor, "workflow_restarted", view.stage, now, note=record.reason)
            case Intervention.extend_deadline:
                self.extend(record.working_days or 0)
                note = f"{record.working_days} working days: {record.reason}"
                self.step(actor, "deadline_extended", view.stage, now, note=note)
                return After(recount=True)
            case Intervention.reverify:
                return self.reverify(actor, now=now, reason=record.reason)
            case Intervention.reopen:
                return self.reopen(actor, record.to_stage or "", now=now, reason=record.reason)
            case Intervention.cancel:
                self.cancel(actor, now=now, reason=record.reason)
        return None

    def reverify(self, actor: Actor, *, now: datetime, reason: str) -> After | None:
        """The verification platform is asked again: the kind's."""
        raise NotImplementedError

    def reopen(self, actor: Actor, to_stage: str, *, now: datetime, reason: str) -> After | None:
        """Back to an earlier stage, the earlier steps kept on the record: the kind's."""
        raise NotImplementedError

    def cancel(self, actor: Actor, *, now: datetime, reason: str) -> None:
        """Opened in error: closed by a supervisor, its steps so far on the record."""
        self.view.closed_at = now
        self.step(actor, "cancelled", type(self.view.stage).cancelled, now, note=reason)

    @property
    def extended(self) -> int:
        """The working days every extension so far added to the case's deadline."""
        return self.view.extended_working_days

    def extend(self, working_days: int) -> None:
        self.view.extended_working_days += working_days

    # ---- timed events --------------------------------------------------------------------

    def due(self, events: list[TimedEvent], now: datetime) -> list[TimedEvent]:
        """The events whose moment has come and that have not fired; marks them fired."""
        ready = [e for e in events if e.at <= now and e.key not in self.fired]
        self.fired.extend(e.key for e in ready)
        return ready

    def next_moment(self, events: list[TimedEvent]) -> datetime | None:
        return min((e.at for e in events if e.key not in self.fired), default=None)


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
