"""The watch list (低保边缘、动态监测): households that are not (or no longer) assisted but near
it, watched for a period with check-ups (回访), so that a worsening is seen before the family
has to ask.

Who goes on it: a household found not eligible for 低保 whose monthly income per person is
below ``near_poverty_ratio`` × the 低保 standard (低保边缘); a household whose benefit ended
after a review or a phase-out; a 支出型 family after its 临时救助. Pure: the dates, and what a
check-up must say.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.cases import Actor, AssistanceType, Role, WatchPlan
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.policy import Policy
from domain.sweeps import add_months


class WatchReason(StrEnum):
    near_poverty = "near_poverty"  # 低保边缘: refused, income below the ratio × standard
    benefit_ended = "benefit_ended"  # terminated, or phased out, after a review
    after_temporary = "after_temporary"  # 支出型 family after a 临时救助
    after_emergency = "after_emergency"  # an emergency's follow-up put it there


class WatchStatus(StrEnum):
    watched = "watched"
    ended = "ended"
    """Its period is over, or its situation improved."""
    application_opened = "application_opened"


class CheckUpOutcome(StrEnum):
    unchanged = "unchanged"  # still near the line: watched on
    improved = "improved"  # off the list
    worsened = "worsened"  # may need assistance: an application, now or after


def is_near_poverty(income_per_person: Decimal | None, standard: Decimal, policy: Policy) -> bool:
    return (
        income_per_person is not None and income_per_person < standard * policy.near_poverty_ratio
    )


@dataclass(frozen=True)
class WatchDates:
    watch_until: date
    check_up_due: date


def watch_dates(since: date, policy: Policy) -> WatchDates:
    until = add_months(since, policy.watch_months)
    return WatchDates(until, min(add_months(since, policy.watch_check_up_months), until))


def watch_after_decision(
    *, assistance_type: str, outcome: str, income_per_person: Decimal | None,
    standard: Decimal, recipient: bool, on: date, policy: Policy,
) -> WatchPlan | None:  # fmt: skip
    """The watch-list entry an application's decision on ``on`` calls for: a 低保 refusal whose
    monthly income per person is below the 低保边缘 line (``is_near_poverty``; ``standard``: the
    household's monthly 低保 standard per person), or an approved 临时救助 (every one is
    支出型: it names its expenditure) of a family that is no recipient household."""
    if assistance_type == AssistanceType.dibao and outcome == "refuse":
        if not is_near_poverty(income_per_person, standard, policy):
            return None
        reason = WatchReason.near_poverty
    elif assistance_type == AssistanceType.temporary and outcome == "approve" and not recipient:
        reason = WatchReason.after_temporary
    else:
        return None
    dates = watch_dates(on, policy)
    return WatchPlan(reason, on, dates.watch_until, dates.check_up_due, income_per_person)


@dataclass(frozen=True)
class CheckUp:
    actor: Actor
    outcome: str
    note: str
    open_application: bool = False
    """A worsening: the check-up opens the household's application itself."""


def check_check_up(check_up: CheckUp, *, status: str) -> None:
    if check_up.actor.role not in (Role.township_assistant, Role.village_coordinator):
        raise NotPermitted(
            "a check-up is the township's (its assistant or the village's coordinator)"
        )
    if status != WatchStatus.watched:
        raise WrongStage(f"the household is no longer watched ({status})")
    if check_up.outcome not in CheckUpOutcome.__members__:
        raise InvalidData("outcome", f"one of {', '.join(CheckUpOutcome)}")
    if not check_up.note.strip():
        raise InvalidData("note", "a check-up says what was found")
    if check_up.open_application and check_up.outcome != CheckUpOutcome.worsened:
        raise InvalidData("open_application", "only a worsened check-up opens an application")


def after_check_up(
    outcome: str, *, on: date, watch_until: date, policy: Policy
) -> tuple[str, date]:
    """The entry's status after a check-up on ``on``, and its next check-up's date."""
    if outcome == CheckUpOutcome.improved:
        return WatchStatus.ended, on
    following = add_months(on, policy.watch_check_up_months)
    if following > watch_until:
        return (WatchStatus.ended, on) if on >= watch_until else (WatchStatus.watched, watch_until)
    return WatchStatus.watched, following
