"""Search attributes: what Temporal indexes about a case. No personal data, ever."""

from temporalio.common import SearchAttributeKey, SearchAttributePair

from domain.calendar import end_of_day
from domain.cases import CaseView
from domain.emergency import EmergencyView

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
CASE_TOWNSHIP = SearchAttributeKey.for_keyword("CaseTownship")
ASSISTANCE_TYPE = SearchAttributeKey.for_keyword("AssistanceType")
DECISION_DUE = SearchAttributeKey.for_datetime("DecisionDue")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")

ALL_KEYS = (CASE_STAGE, CASE_TOWNSHIP, ASSISTANCE_TYPE, DECISION_DUE, CASE_OVERDUE)


def case_search_attributes(view: CaseView) -> list[SearchAttributePair]:
    return [
        CASE_STAGE.value_set(view.stage.value),
        CASE_TOWNSHIP.value_set(view.township),
        ASSISTANCE_TYPE.value_set(view.assistance_type.value),
        DECISION_DUE.value_set(end_of_day(view.decision_due)),
        CASE_OVERDUE.value_set(view.overdue),
    ]


def emergency_search_attributes(view: EmergencyView) -> list[SearchAttributePair]:
    """The same keys for an emergency: its deadline is the 24-hour payout (``DecisionDue``)."""
    return [
        CASE_STAGE.value_set(view.stage.value),
        CASE_TOWNSHIP.value_set(view.township),
        ASSISTANCE_TYPE.value_set("emergency"),
        DECISION_DUE.value_set(view.pay_by),
        CASE_OVERDUE.value_set(view.overdue),
    ]
