"""The deadlines of one case (办理时限), computed afresh from its facts.

Recomputing from the acceptance date and the recorded pauses, rather than shifting stored
dates, means a newly published holiday calendar corrects every running case the same way.
"""

from dataclasses import dataclass, field
from datetime import date

from domain.calendar import WorkingCalendar
from domain.policy import Policy


@dataclass(frozen=True)
class Pause:
    """Waiting for the applicant's supplementary documents (补正): the clock stops."""

    started_on: date
    ended_on: date | None = None


@dataclass(frozen=True)
class DeadlineFacts:
    accepted_on: date
    policy: Policy
    pauses: list[Pause] = field(default_factory=list)
    refused_on: date | None = None
    resurvey_from: date | None = None
    """An objection sent the case back to survey on this day: the new survey's own start."""
    extension_working_days: int = 0
    """A supervisor moved the decision deadline this many working days (never hidden)."""


@dataclass(frozen=True)
class Deadlines:
    survey_due: date
    decision_due: date
    decision_warning_on: date
    """From the end of this day, ``deadline_warning_working_days`` working days remain."""
    refusal_notice_due: date | None
    provisional: bool
    """True when a date depends on a year whose holiday notice is not yet published."""
    paused_working_days: int
    strict_decision_due: date | None = None
    """审批期限应严格控制在20个工作日以内: ``decision_working_days`` from acceptance, never moved
    by 补正 pauses or extensions (None: counted before it was; the calendar still moves it)."""
    strict_warning_on: date | None = None
    """From the end of this day, ``deadline_warning_working_days`` remain to the strict date."""


def compute_deadlines(calendar: WorkingCalendar, facts: DeadlineFacts) -> Deadlines:
    policy = facts.policy
    paused = sum(
        calendar.working_days_between(p.started_on, p.ended_on)
        for p in facts.pauses
        if p.ended_on is not None
    )
    total = policy.decision_working_days + paused + facts.extension_working_days
    survey_from = facts.resurvey_from or facts.accepted_on
    survey_due, p1 = calendar.add_working_days(survey_from, policy.survey_start_working_days)
    decision_due, p2 = calendar.add_working_days(facts.accepted_on, total)
    warning_on, _ = calendar.add_working_days(
        facts.accepted_on, max(total - policy.deadline_warning_working_days, 0)
    )
    strict_due, p4 = calendar.add_working_days(facts.accepted_on, policy.decision_working_days)
    strict_warning_on, _ = calendar.add_working_days(
        facts.accepted_on,
        max(policy.decision_working_days - policy.deadline_warning_working_days, 0),
    )
    refusal_due, p3 = None, False
    if facts.refused_on is not None:
        refusal_due, p3 = calendar.add_working_days(
            facts.refused_on, policy.refusal_notice_working_days
        )
    return Deadlines(
        survey_due=survey_due,
        decision_due=decision_due,
        decision_warning_on=warning_on,
        refusal_notice_due=refusal_due,
        provisional=p1 or p2 or p3 or p4,
        paused_working_days=paused,
        strict_decision_due=strict_due,
        strict_warning_on=strict_warning_on,
    )
