"""Search attributes: what Temporal indexes about a case. No personal data, ever."""

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from domain.application import Application
from domain.calendar import end_of_day
from domain.cases import CaseStart, CaseView
from domain.emergency import Emergency, EmergencyStart, EmergencyView
from domain.reviews import ReviewView

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
CASE_TOWNSHIP = SearchAttributeKey.for_keyword("CaseTownship")
ASSISTANCE_TYPE = SearchAttributeKey.for_keyword("AssistanceType")
DECISION_DUE = SearchAttributeKey.for_datetime("DecisionDue")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")

ALL_KEYS = (CASE_STAGE, CASE_TOWNSHIP, ASSISTANCE_TYPE, DECISION_DUE, CASE_OVERDUE)


def case_search_attributes(view: CaseView) -> list[SearchAttributeUpdate]:
    return [
        CASE_STAGE.value_set(view.stage.value),
        CASE_TOWNSHIP.value_set(view.township),
        ASSISTANCE_TYPE.value_set(view.assistance_type.value),
        DECISION_DUE.value_set(end_of_day(view.decision_due)),
        CASE_OVERDUE.value_set(view.overdue),
    ]


def emergency_search_attributes(view: EmergencyView) -> list[SearchAttributeUpdate]:
    """The same keys for an emergency: its deadline is the 24-hour payout (``DecisionDue``)."""
    return [
        CASE_STAGE.value_set(view.stage.value),
        CASE_TOWNSHIP.value_set(view.township),
        ASSISTANCE_TYPE.value_set("emergency"),
        DECISION_DUE.value_set(view.pay_by),
        CASE_OVERDUE.value_set(view.overdue),
    ]


def application_at_start(start: CaseStart) -> TypedSearchAttributes:
    """What an application's workflow indexes as it starts, for its start to carry."""
    return _given(case_search_attributes(Application.accepted(start).view))


def emergency_at_start(start: EmergencyStart) -> TypedSearchAttributes:
    """What an emergency's workflow indexes as it starts, for its start to carry."""
    return _given(emergency_search_attributes(Emergency.requested(start).view))


def _given(updates: list[SearchAttributeUpdate]) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(u.key, u.value) for u in updates])


def review_search_attributes(view: ReviewView) -> list[SearchAttributeUpdate]:
    """A review's: its stage, township, the household's type, its due date."""
    return [
        CASE_STAGE.value_set(f"review:{view.stage.value}"),
        CASE_TOWNSHIP.value_set(view.township),
        ASSISTANCE_TYPE.value_set(view.assistance_type),
        DECISION_DUE.value_set(end_of_day(view.decision_due)),
        CASE_OVERDUE.value_set(view.overdue),
    ]
