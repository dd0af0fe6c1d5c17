"""The rules of one emergency (``domain.emergency.Emergency``) that its workflow tests leave to
be checked here: 一事一议 only raises an amount, a supervisor's extensions of the follow-up have
a cap, and a new holiday calendar moves the follow-up's due date on the record.

Pure: no Temporal, no database, no clock. Requested on Monday 2026-03-02 at 09:00 Asia/Shanghai
and paid at 15:00; the follow-up is due 10 working days later, on Monday 03-16 (March 2026 has
no holiday). Bands on the 2026 urban standard ¥1080: major illness up to 12 × (¥12960: its
floor binds the 临时救助 application, not the emergency), fire 0.5–3 × (¥540–¥3240).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.calendar import SHANGHAI, end_of_day
from domain.cases import (
    SYSTEM,
    Actor,
    DecisionRecord,
    Intervention,
    InterventionRecord,
    ReviewRecord,
    Role,
    SurveyRecord,
)
from domain.emergency import (
    CLOSED,
    OPEN,
    WAITS_FOR,
    ApprovalRecord,
    Cause,
    Emergency,
    EmergencyStage,
    ExceptionApproval,
    NextStep,
    RejectionRecord,
)
from domain.errors import InvalidData, NotPermitted, WrongStage
from tests.helpers.actors import APPROVER, ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.cases import emergency_start

D = date
REQUESTED = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
PAID = datetime(2026, 3, 2, 15, tzinfo=SHANGHAI)
FOLLOW_UP_DUE = D(2026, 3, 16)
SUPERVISOR = Actor(
    user_id="u-supervisor", name="钱督办", role=Role.supervisor, jurisdiction="370305"
)


def requested(cause: Cause = Cause.fire, amount: str = "2000") -> Emergency:
    start = emergency_start(
        case_no="370305-2026-900001",
        requested_at=REQUESTED,
        cause=cause,
        requested_amount=Decimal(amount),
    )
    return Emergency.requested(start)


def paid() -> Emergency:
    case = requested()
    approval = ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
    case.check_approval(approval, now=REQUESTED)
    case.approve(approval, now=REQUESTED)
    case.paid("T-1", now=PAID)
    case.set_follow_up_due(FOLLOW_UP_DUE)
    case.take_unwritten()
    return case


def exception(amount: str) -> ExceptionApproval:
    return ExceptionApproval(actor=OFFICER, amount=Decimal(amount), reason="病情危重，一事一议")


# --- 一事一议 only raises -------------------------------------------------------------------------


def test_an_exception_below_the_band_is_refused_naming_the_amount():
    case = requested(Cause.fire, amount="2000")
    with pytest.raises(InvalidData) as refused:
        case.check_exception_approval(exception("1"), now=REQUESTED)
    assert refused.value.field == "amount"
    assert "¥540.00–¥3240.00" in refused.value.message
    assert "only raises" in refused.value.message
    case.check_exception_approval(exception("540"), now=REQUESTED)  # the low end stands
    case.check_exception_approval(exception("20000"), now=REQUESTED)  # above: what it is for
    # an approval accepted before the rule, replayed by its workflow, stands
    case.check_exception_approval(exception("1"), now=REQUESTED, raises_only=False)


def test_an_illness_is_paid_what_it_needs_now_up_to_the_bands_top():
    """支出型: the band's floor binds the 临时救助 application, not the 24-hour payment; its top
    stands (above it is 一事一议), and so does the township leader's limit."""
    case = requested(Cause.major_illness, amount="2000")
    case.check_approval(ApprovalRecord(actor=APPROVER, amount=Decimal("2000")), now=REQUESTED)
    case.check_approval(ApprovalRecord(actor=OFFICER, amount=Decimal("12960")), now=REQUESTED)
    with pytest.raises(InvalidData, match="¥0.01–¥12960.00") as above:
        case.check_approval(
            ApprovalRecord(actor=OFFICER, amount=Decimal("12960.01")), now=REQUESTED
        )
    assert above.value.field == "amount"
    with pytest.raises(NotPermitted, match="3000"):
        case.check_approval(
            ApprovalRecord(actor=APPROVER, amount=Decimal("3000.01")), now=REQUESTED
        )
    education = requested(Cause.education, amount="800")
    education.check_approval(ApprovalRecord(actor=APPROVER, amount=Decimal("800")), now=REQUESTED)


def test_an_exception_for_an_urgent_cause_keeps_its_own_band():
    case = requested(Cause.fire)
    with pytest.raises(InvalidData, match="¥540.00–¥3240.00"):
        case.check_exception_approval(exception("539.99"), now=REQUESTED)
    case.check_exception_approval(exception("540"), now=REQUESTED)


# --- extensions of the follow-up have a cap --------------------------------------------------


def extension(working_days: int, *, actor: Actor = SUPERVISOR) -> InterventionRecord:
    return InterventionRecord(
        actor=actor,
        action=Intervention.extend_deadline,
        reason="户主住院",
        working_days=working_days,
    )


def test_a_supervisor_extends_the_follow_up_up_to_the_cap_and_the_district_beyond_it():
    case = paid()
    first = extension(25)
    case.check_intervention(first)
    case.intervene(first, now=PAID)
    assert (case.follow_up_extension, case.view.extended_working_days) == (25, 25)
    with pytest.raises(InvalidData) as refused:
        case.check_intervention(extension(6))
    assert refused.value.field == "working_days"
    assert "5 remain" in refused.value.message and "district officer" in refused.value.message
    beyond = extension(6, actor=OFFICER)
    case.check_intervention(beyond)
    case.intervene(beyond, now=PAID)
    assert (case.follow_up_extension, case.view.extended_working_days) == (31, 31)
    assert [(e.action, e.actor) for e in case.take_unwritten()] == [
        ("deadline_extended", SUPERVISOR),
        ("deadline_extended", OFFICER),
    ]
    case.check_intervention(extension(30), capped=False)  # replayed from before the cap


# --- a new holiday calendar moves the follow-up ----------------------------------------------


def test_a_follow_up_counted_again_on_a_new_calendar_moves_on_the_record():
    case = paid()
    case.follow_up_recounted(D(2026, 3, 17), now=PAID + timedelta(days=1))
    assert case.view.follow_up_due == D(2026, 3, 17)
    [entry] = case.take_unwritten()
    assert (entry.action, entry.actor, entry.from_stage, entry.to_stage) == (
        "calendar_published",
        SYSTEM,
        EmergencyStage.paid,
        EmergencyStage.paid,
    )
    assert entry.note == "follow-up due 2026-03-17 (was 2026-03-16)"
    [event] = case.events()
    assert event.at == end_of_day(D(2026, 3, 17))


def test_a_follow_up_counted_again_to_the_same_day_notes_nothing():
    case = paid()
    case.follow_up_recounted(FOLLOW_UP_DUE, now=PAID)
    assert case.take_unwritten() == [] and case.view.follow_up_due == FOLLOW_UP_DUE


def test_only_a_case_in_its_follow_up_has_a_follow_up_to_move():
    case = requested()
    case.reject(RejectionRecord(actor=APPROVER, reasons="保险已赔付"), now=REQUESTED)
    case.take_unwritten()
    case.follow_up_recounted(FOLLOW_UP_DUE, now=REQUESTED)
    assert case.take_unwritten() == [] and case.view.follow_up_due is None


def test_a_missed_follow_up_moved_later_is_missed_no_more_and_moved_back_is_again():
    case = paid()
    missed = end_of_day(FOLLOW_UP_DUE)
    [event] = case.due(case.events(), missed)
    case.fire(event, now=missed)
    assert case.view.follow_up_overdue
    case.follow_up_recounted(D(2026, 3, 17), now=missed)
    assert not case.view.follow_up_overdue
    case.follow_up_recounted(FOLLOW_UP_DUE, now=missed)
    assert case.view.follow_up_overdue


# --- what a refusal says the case waits for ------------------------------------------------------


@pytest.mark.parametrize("stage", list(EmergencyStage))
def test_a_refusal_at_any_stage_says_what_the_case_waits_for_or_that_it_is_closed(stage):
    """Every stage is open, and says what it waits for, or closed: never neither."""
    case = requested()
    case.view.stage = stage
    rejection = RejectionRecord(actor=APPROVER, reasons="保险已赔付")
    if stage == EmergencyStage.awaiting_approval:
        case.check_rejection(rejection)
        return
    with pytest.raises(WrongStage) as refused:
        case.check_rejection(rejection)
    if stage in OPEN:
        assert f"waiting for {WAITS_FOR[stage]}" in refused.value.message
        assert not case.closed
    else:
        assert "(closed)" in refused.value.message
        assert stage in CLOSED and case.closed


# --- 衔接: what follows the confirmed follow-up -------------------------------------------------


def test_the_confirmation_says_what_follows_and_puts_it_on_the_record():
    case = paid()
    survey = SurveyRecord(
        actor=COORDINATOR, investigators=["李协理", "周干事"], visited_on=D(2026, 3, 3),
        findings="属实", assessed_monthly_income=Decimal("300"),
    )  # fmt: skip
    case.record_survey(survey, now=PAID + timedelta(days=1))
    review = ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="属实")
    case.record_review(review, now=PAID + timedelta(days=2))
    unknown = DecisionRecord(actor=OFFICER, outcome="approve", reasons="属实", next_step="pension")
    with pytest.raises(InvalidData) as refused:
        case.check_confirmation(unknown)
    assert refused.value.field == "next_step"
    decision = DecisionRecord(
        actor=OFFICER, outcome="approve", reasons="属实", next_step="watch_list"
    )
    case.check_confirmation(decision)
    case.take_unwritten()
    case.confirm(decision, now=PAID + timedelta(days=3))
    assert case.view.stage == EmergencyStage.closed
    assert case.view.next_step == NextStep.watch_list
    [closing] = case.take_unwritten()
    assert closing.action == "confirmed_eligible" and "watch_list" in closing.note
