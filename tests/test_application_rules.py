"""The rules of one application (``domain.application.Application``), as a caseworker or an
auditor would check them: which action is allowed at which stage, what each change does to
the case, what goes on the audit trail, which bad data is refused (naming the field), which
timed events the case waits for and what they do, and how freshly counted deadlines land.

Pure: no Temporal, no database, no clock. Every case is accepted on Monday 2026-03-02 at
09:00 Asia/Shanghai and counted on the packaged 2026 calendar (March 2026 has no holiday):

- survey due: 3 working days after 03-02 -> 03-03 (1), 03-04 (2), 03-05 Thu (3)
- decision due: 20 working days -> 03-03..06 (1-4), 03-09..13 (5-9), 03-16..20 (10-14),
  03-23..27 (15-19), 03-30 Mon (20)
- reminder: 20 - 3 = 17 working days -> 03-23 (15), 03-24 (16), 03-25 Wed (17)

Households are the applicant and one child (2 persons), urban, assessed income ¥1500 a month,
so 低保 pays 2 × 1080 − 1500 = ¥660.00 (2026 urban standard ¥1080).
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from domain.application import Application, Event
from domain.calendar import SHANGHAI, WorkingCalendar, YearCalendar, end_of_day, local_date
from domain.cases import (
    CLOSED_STAGES,
    SYSTEM,
    Actor,
    Applicant,
    AssistanceType,
    CaseStart,
    Channel,
    ConflictOfInterest,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    HouseholdMember,
    Intervention,
    InterventionRecord,
    ObjectionRecord,
    ReviewRecord,
    Role,
    Stage,
    SurveyRecord,
    VerificationReport,
    WithdrawalRecord,
)
from domain.casework import StaffAlert, TimedEvent
from domain.deadlines import DeadlineFacts, Pause, compute_deadlines
from domain.errors import InvalidData, NotPermitted, WrongStage
from domain.policy import Policy
from store.calendar import packaged_years
from tests.helpers.actors import ASSISTANT, COORDINATOR, OFFICER
from tests.helpers.people import id_number

D = date
# Pinned to the years up to 2026 (as in test_domain), so 2027 stays unpublished.
CAL = WorkingCalendar({y: c for y, c in packaged_years().items() if y <= 2026})
POLICY = Policy()
CASE_NO = "LZ-2026-000123"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Asia/Shanghai."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


ACCEPTED = at(D(2026, 3, 2), 9)  # Mon
VISITED = D(2026, 3, 3)
SURVEYED = at(D(2026, 3, 4), 10)
REPORTED = at(D(2026, 3, 4), 11)
REVIEWED = at(D(2026, 3, 9), 10)
NOTICE_ENDS = REVIEWED + timedelta(days=7)  # 2026-03-16 10:00, 7 calendar days
DECIDED = at(D(2026, 3, 17), 10)
TODAY = D(2026, 3, 20)

SURVEY_DUE = D(2026, 3, 5)
WARNING_ON = D(2026, 3, 25)
DECISION_DUE = D(2026, 3, 30)
DIBAO_AMOUNT = Decimal("660.00")  # 2 × 1080 − 1500

OPEN = {Stage.survey, Stage.review, Stage.notice, Stage.decision, Stage.awaiting_documents}
FLAGS = ("survey_overdue", "decision_overdue", "refusal_notice_overdue")


# --- helpers ---------------------------------------------------------------------------------


def start(**overrides) -> CaseStart:
    accepted_at = overrides.get("accepted_at", ACCEPTED)
    policy = overrides.get("policy", POLICY)
    fields = dict(
        case_no=CASE_NO,
        assistance_type=AssistanceType.dibao,
        township="370305001",
        village="370305001001",
        area="urban",
        channel=Channel.walk_in,
        applicant=Applicant(name="张三", id_number=id_number(), phone="13800000000"),
        household=[
            HouseholdMember(name="张小三", id_number=id_number("20150101"), relation="child")
        ],
        reason="失业，无稳定收入",
        accepted_at=accepted_at,
        accepted_by=ASSISTANT,
        policy=policy,
        deadlines=compute_deadlines(
            CAL, DeadlineFacts(accepted_on=local_date(accepted_at), policy=policy)
        ),
    )
    return CaseStart(**(fields | overrides))


def accepted(**overrides) -> Application:
    return Application.accepted(start(**overrides))


def temporary(**overrides) -> dict:
    """Start fields of an expenditure-type 临时救助 for a major illness (band ¥3240–¥12960)."""
    return dict(assistance_type=AssistanceType.temporary, expense="major_illness") | overrides


def survey(
    *, actor=COORDINATOR, investigators=("李协理", "王助理"), visited_on=VISITED, income="1500"
) -> SurveyRecord:
    return SurveyRecord(
        actor=actor,
        investigators=list(investigators),
        visited_on=visited_on,
        findings="两人同住，无车无房",
        assessed_monthly_income=Decimal(income),
    )


def report() -> VerificationReport:
    return VerificationReport(
        report_id="VR-1",
        household_monthly_income=Decimal("1500"),
        savings=Decimal(0),
        vehicles=0,
        properties=0,
    )


def review(recommendation="approve", *, reasons="收入低于低保标准", amount=None) -> ReviewRecord:
    return ReviewRecord(
        actor=ASSISTANT, recommendation=recommendation, reasons=reasons, amount=amount
    )


def decision(
    outcome="approve", *, reasons="符合条件", amount=None, exception_reason=None
) -> DecisionRecord:
    return DecisionRecord(
        actor=OFFICER,
        outcome=outcome,
        reasons=reasons,
        amount=amount,
        exception_reason=exception_reason,
    )


def objection(*, raised_by="邻居", grounds="家中有经营收入") -> ObjectionRecord:
    return ObjectionRecord(actor=ASSISTANT, raised_by=raised_by, grounds=grounds)


def documents(*names, note="") -> DocumentsRequest:
    return DocumentsRequest(
        actor=ASSISTANT, documents=list(names or ("户口簿", "收入证明")), note=note
    )


def at_review(*, income="1500", **overrides) -> Application:
    case = accepted(**overrides)
    case.record_survey(survey(income=income), now=SURVEYED)
    case.receive_verification(report(), now=REPORTED)
    assert case.view.stage == Stage.review
    return case


def at_notice(*, amount=None, **overrides) -> Application:
    case = at_review(**overrides)
    case.record_review(review(amount=amount), now=REVIEWED)
    assert case.view.stage == Stage.notice
    return case


def end_notice(case: Application) -> None:
    """The notice runs out with no objection, as the workflow fires it."""
    fired = case.due(case.events(), case.view.notice_ends_at)
    assert [e.kind for e in fired] == [Event.notice_ended]
    assert case.fire(fired[0], now=case.view.notice_ends_at) is None


def at_decision(**overrides) -> Application:
    """A publicised approval before the district."""
    case = at_notice(**overrides)
    end_notice(case)
    assert case.view.stage == Stage.decision and case.publicised
    return case


def proposed_refusal(**overrides) -> Application:
    """The township proposes a refusal: straight to the district, never publicised."""
    case = at_review(**overrides)
    case.record_review(review("refuse", reasons="有经营收入"), now=REVIEWED)
    assert case.view.stage == Stage.decision and not case.publicised
    return case


def awaiting_documents() -> Application:
    case = at_review()
    case.request_documents(documents(), now=REVIEWED)
    return case


def approved() -> Application:
    case = at_decision()
    case.decide(decision(), now=DECIDED)
    return case


def refused(*, counted: bool = True) -> Application:
    """Refused on 03-17; counted, the written refusal is due 03-18 (1), 03-19 (2), 03-20 (3)."""
    case = at_decision()
    case.decide(decision("refuse", reasons="核实有经营收入"), now=DECIDED)
    if counted:
        case.count_deadlines(compute_deadlines(CAL, case.deadline_facts()), now=DECIDED)
    return case


def withdrawn() -> Application:
    case = accepted()
    case.withdraw(WithdrawalRecord(actor=ASSISTANT, reason="申请人已就业"), now=SURVEYED)
    return case


def steps(case: Application) -> list[tuple]:
    """The unwritten audit entries as (action, from, to, actor)."""
    return [(e.action, e.from_stage, e.to_stage, e.actor) for e in case.unwritten]


def snapshot(case: Application) -> tuple:
    return replace(case.view), case.seq, list(case.unwritten), list(case.fired)


# --- 1. which action is allowed at which stage --------------------------------------------------

# Every stage of the procedure is reached through the real actions (none is set by hand).
AT_STAGE = {
    Stage.survey: accepted,
    Stage.review: at_review,
    Stage.notice: at_notice,
    Stage.decision: at_decision,
    Stage.awaiting_documents: awaiting_documents,
    Stage.approved: approved,
    Stage.refused: refused,
    Stage.withdrawn: withdrawn,
}

# Each check with data that is valid, so that the stage is the only possible refusal.
CHECKS = {
    "check_survey": lambda case: case.check_survey(survey(), today=TODAY),
    "check_review": lambda case: case.check_review(review(), now=at(TODAY)),
    "check_objection": lambda case: case.check_objection(objection()),
    "check_decision": lambda case: case.check_decision(decision(), now=at(TODAY)),
    "check_documents_request": lambda case: case.check_documents_request(documents()),
    "check_documents_receipt": lambda case: case.check_documents_receipt(
        DocumentsReceipt(actor=ASSISTANT)
    ),
    "check_withdrawal": lambda case: case.check_withdrawal(
        WithdrawalRecord(actor=ASSISTANT, reason="不再申请")
    ),
}

ALLOWED = {
    "check_survey": {Stage.survey},
    "check_review": {Stage.review},
    "check_objection": {Stage.notice},
    "check_decision": {Stage.decision},
    "check_documents_request": {Stage.survey, Stage.review, Stage.decision},
    "check_documents_receipt": {Stage.awaiting_documents},
    "check_withdrawal": OPEN,
}

# What a refusal at an open stage says the case is waiting for.
WAITING_FOR = {
    Stage.survey: "入户调查",
    Stage.review: "初审",
    Stage.notice: "公示",
    Stage.decision: "审核确认",
    Stage.awaiting_documents: "补正材料",
}


def at_stage(stage: Stage) -> Application:
    """A case at ``stage``, through the real actions. A closed stage no action leads to (such as
    ``halted``, which only the case records set) is set by hand, for this matrix only."""
    if stage in AT_STAGE:
        return AT_STAGE[stage]()
    assert stage in CLOSED_STAGES, f"no action leads to the open stage {stage}: add it to AT_STAGE"
    case = accepted()
    case.view.stage = stage
    return case


def test_every_procedure_stage_is_reached_through_the_actions():
    assert set(Stage) - set(AT_STAGE) <= CLOSED_STAGES
    for stage, build in AT_STAGE.items():
        assert build().view.stage == stage


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("stage", list(Stage))
def test_transition_matrix(stage, check):
    case = at_stage(stage)
    before = snapshot(case)
    if stage in ALLOWED[check]:
        CHECKS[check](case)
    else:
        with pytest.raises(WrongStage) as refused_:
            CHECKS[check](case)
        message = refused_.value.message
        assert f"case {CASE_NO} is at stage '{stage}'" in message
        if stage in OPEN:
            assert "waiting for" in message and WAITING_FOR[stage] in message
        else:
            assert "(closed)" in message
        needed = message.split("this action needs stage ")[1]
        assert set(needed.split(" or ")) == {s.value for s in ALLOWED[check]}
    assert snapshot(case) == before  # a check never changes the case


# --- 2. what each change does ---------------------------------------------------------------------


def test_survey_alone_keeps_the_case_at_survey():
    case = accepted()
    case.record_survey(survey(), now=SURVEYED)
    assert case.view.stage == Stage.survey  # the verification report is not in yet
    assert case.view.surveyed_at == SURVEYED
    assert case.view.assignee == COORDINATOR.user_id  # was the accepting assistant
    assert case.survey.assessed_monthly_income == Decimal("1500")
    assert steps(case) == [("survey_recorded", Stage.survey, Stage.survey, COORDINATOR)]
    assert (
        case.unwritten[0].note
        == "visited 2026-03-03; investigators: 李协理, 王助理; 两人同住，无车无房"
    )


def test_survey_then_report_moves_to_review():
    case = accepted()
    case.record_survey(survey(), now=SURVEYED)
    case.receive_verification(report(), now=REPORTED)
    assert case.view.stage == Stage.review
    assert case.view.verification == report()
    assert steps(case) == [
        ("survey_recorded", Stage.survey, Stage.survey, COORDINATOR),
        ("verification_report_received", Stage.survey, Stage.survey, SYSTEM),
        # completed when the report arrives, in the name of whoever did the survey
        ("survey_completed", Stage.survey, Stage.review, COORDINATOR),
    ]
    assert case.unwritten[1].note == "report VR-1"
    assert case.unwritten[2].at == REPORTED


def test_report_then_survey_moves_to_review():
    case = accepted()
    case.receive_verification(report(), now=REPORTED)
    assert case.view.stage == Stage.survey  # no survey yet
    case.record_survey(survey(), now=SURVEYED)
    assert case.view.stage == Stage.review
    assert steps(case) == [
        ("verification_report_received", Stage.survey, Stage.survey, SYSTEM),
        ("survey_recorded", Stage.survey, Stage.survey, COORDINATOR),
        ("survey_completed", Stage.survey, Stage.review, COORDINATOR),
    ]
    assert case.unwritten[2].at == SURVEYED


@pytest.mark.parametrize(
    ("overrides", "amount", "expected"),
    [
        ({}, None, "660.00"),  # 2 × 1080 − 1500
        ({"area": "rural"}, None, "260.00"),  # 2 × 880 − 1500
        ({"assistance_type": AssistanceType.tekun}, None, "1620.00"),  # 1.5 × 1080
        (temporary(), Decimal("5000"), "5000"),  # the proposed amount, within ¥3240–¥12960
    ],
    ids=["dibao-urban", "dibao-rural", "tekun-urban", "temporary"],
)
def test_review_approve_starts_the_public_notice(overrides, amount, expected):
    case = at_review(**overrides)
    case.record_review(review(amount=amount), now=REVIEWED)
    view = case.view
    assert view.stage == Stage.notice
    assert view.reviewed_at == REVIEWED
    assert view.notice_started_at == REVIEWED
    assert view.notice_ends_at == at(D(2026, 3, 16))  # 7 calendar days later, same time of day
    assert view.monthly_amount == Decimal(expected)
    assert case.review.recommendation == "approve" and not case.publicised
    assert steps(case)[-1] == ("review_approve", Stage.review, Stage.notice, ASSISTANT)
    assert case.unwritten[-1].note == "收入低于低保标准"


def test_review_refuse_goes_straight_to_the_district():
    case = at_review()
    case.record_review(review("refuse", reasons="有经营收入"), now=REVIEWED)
    view = case.view
    assert view.stage == Stage.decision
    assert view.reviewed_at == REVIEWED
    assert view.monthly_amount is None
    assert (
        view.notice_started_at is None and view.notice_ends_at is None
    )  # a refusal is not publicised
    assert not case.publicised
    assert steps(case)[-1] == ("review_refuse", Stage.review, Stage.decision, ASSISTANT)


def test_objection_sends_the_case_back_to_survey():
    case = at_notice()
    when = at(D(2026, 3, 12))
    case.record_objection(objection(), now=when)
    view = case.view
    assert view.stage == Stage.survey
    assert view.objections == 1
    assert case.survey is None and view.surveyed_at is None
    assert view.notice_ends_at is None
    assert not case.publicised
    assert case.review is None and view.monthly_amount is None  # no proposal stands
    assert steps(case)[-1] == ("objection_received", Stage.notice, Stage.survey, ASSISTANT)
    assert case.unwritten[-1].note == "raised by 邻居: 家中有经营收入"
    # The verification report still stands: a fresh survey is enough to go back to review.
    case.record_survey(survey(income="1800"), now=at(D(2026, 3, 13)))
    assert case.view.stage == Stage.review
    case.record_review(review(), now=at(D(2026, 3, 16)))
    assert case.view.monthly_amount == Decimal("360.00")  # 2 × 1080 − 1800
    assert case.view.notice_ends_at == at(D(2026, 3, 23))  # the notice starts over


def test_decide_approve_after_the_notice():
    case = at_decision()
    assert not case.approval_needs_notice(decision())
    case.decide(decision(), now=DECIDED)
    view = case.view
    assert view.stage == Stage.approved and case.closed
    assert view.decided_at == view.closed_at == DECIDED
    assert view.monthly_amount == DIBAO_AMOUNT
    assert case.refused_on is None
    assert steps(case)[-1] == ("approved", Stage.decision, Stage.approved, OFFICER)
    assert case.unwritten[-1].note == "符合条件"


def test_a_dibao_amount_is_not_chosen_at_the_decision():
    case = at_decision()
    with pytest.raises(InvalidData) as refused_amount:
        case.check_decision(decision(amount=Decimal("900")), now=DECIDED)
    assert refused_amount.value.field == "amount" and "standard" in refused_amount.value.message


def test_another_amount_than_the_one_publicised_is_publicised_again():
    case = at_decision(amount=Decimal("5000"), **temporary())
    publicised = case.view.monthly_amount
    assert not case.approval_needs_notice(decision(amount=publicised))
    more = decision(amount=publicised + 100)
    assert case.approval_needs_notice(more)
    case.check_decision(more, now=DECIDED)
    case.propose_approval(more, now=DECIDED)
    assert case.view.stage == Stage.notice and case.view.monthly_amount == publicised + 100


def test_a_district_may_approve_above_the_band_with_a_reason_after_a_notice():
    case = at_decision(amount=Decimal("5000"), **temporary())
    above = decision(amount=Decimal("20000"))  # the band ends at 12 × 1080 = ¥12,960
    with pytest.raises(InvalidData) as refused:
        case.check_decision(above, now=DECIDED)
    assert refused.value.field == "amount" and "一事一议" in refused.value.message
    exception = decision(amount=Decimal("20000"), exception_reason="重病手术费用远超标准")
    case.check_decision(exception, now=DECIDED)
    assert case.approval_needs_notice(exception)
    case.propose_approval(exception, now=DECIDED)
    end_notice(case)
    confirm = decision()
    case.check_decision(confirm, now=DECIDED + timedelta(days=8))
    case.decide(confirm, now=DECIDED + timedelta(days=8))
    assert case.view.stage == Stage.approved and case.view.monthly_amount == Decimal("20000")
    with pytest.raises(InvalidData):  # not beyond the ceiling, not even 一事一议
        at_decision(amount=Decimal("5000"), **temporary()).check_decision(
            decision(amount=Decimal("100000.01"), exception_reason="x"), now=DECIDED
        )


def test_decide_refuse():
    case = proposed_refusal()
    assert not case.approval_needs_notice(decision("refuse"))
    # 17:30 UTC on 03-17 is 01:30 on 03-18 in Shanghai: the refusal is dated the 18th.
    when = datetime(2026, 3, 17, 17, 30, tzinfo=UTC)
    case.decide(decision("refuse", reasons="核实有经营收入"), now=when)
    view = case.view
    assert view.stage == Stage.refused and case.closed
    assert view.decided_at == view.closed_at == when
    assert case.refused_on == D(2026, 3, 18)
    assert view.monthly_amount is None
    assert steps(case)[-1] == ("refused", Stage.decision, Stage.refused, OFFICER)
    assert case.unwritten[-1].note == "核实有经营收入"


def test_district_approving_a_proposed_refusal_publicises_it_first():
    case = proposed_refusal()
    approval = decision(reasons="复核后符合条件")
    assert case.approval_needs_notice(approval)
    case.check_decision(approval, now=DECIDED)
    case.propose_approval(approval, now=DECIDED)
    view = case.view
    assert view.stage == Stage.notice and not case.closed
    # The district's approval replaces the township's refusal as the proposal.
    assert case.review == ReviewRecord(
        actor=OFFICER, recommendation="approve", reasons="复核后符合条件"
    )
    assert view.monthly_amount == DIBAO_AMOUNT
    assert view.notice_started_at == DECIDED
    assert view.notice_ends_at == at(D(2026, 3, 24))  # 03-17 + 7 days
    assert view.decided_at is None and view.closed_at is None
    assert steps(case)[-1] == (
        "approval_proposed_by_district",
        Stage.decision,
        Stage.notice,
        OFFICER,
    )
    # After the notice, the same approval is confirmed.
    end_notice(case)
    assert not case.approval_needs_notice(approval)
    case.decide(approval, now=at(D(2026, 3, 25)))
    assert case.view.stage == Stage.approved and case.view.monthly_amount == DIBAO_AMOUNT


def test_district_names_the_amount_of_a_proposed_temporary_refusal():
    case = proposed_refusal(**temporary())
    approval = decision(amount=Decimal("4000"))
    case.check_decision(approval, now=DECIDED)
    case.propose_approval(approval, now=DECIDED)
    assert case.review.amount == Decimal("4000")
    assert case.view.monthly_amount == Decimal("4000")


def test_request_documents_pauses_the_case():
    case = at_review()
    when = at(D(2026, 3, 10))
    case.request_documents(documents("户口簿", "收入证明", note="两周内补齐"), now=when)
    view = case.view
    assert view.stage == Stage.awaiting_documents
    assert view.paused_from == Stage.review
    assert view.pending_documents == ["户口簿", "收入证明"]
    assert case.pauses == [Pause(started_on=D(2026, 3, 10))]
    assert steps(case)[-1] == (
        "documents_requested",
        Stage.review,
        Stage.awaiting_documents,
        ASSISTANT,
    )
    assert case.unwritten[-1].note == "户口簿; 收入证明. 两周内补齐"


def test_blank_document_names_are_dropped():
    case = at_review()
    case.request_documents(documents("户口簿", " "), now=at(D(2026, 3, 10)))
    assert case.view.pending_documents == ["户口簿"]
    assert case.unwritten[-1].note == "户口簿."


def test_request_documents_without_a_note():
    case = at_review()
    case.request_documents(documents("户口簿"), now=at(D(2026, 3, 10)))
    assert case.unwritten[-1].note == "户口簿."


def test_receive_documents_resumes_where_the_case_paused():
    case = at_review()
    case.request_documents(documents(), now=at(D(2026, 3, 10)))
    case.receive_documents(DocumentsReceipt(actor=ASSISTANT, note="已补齐"), now=at(D(2026, 3, 13)))
    view = case.view
    assert view.stage == Stage.review
    assert view.paused_from is None and view.pending_documents == []
    assert case.pauses == [Pause(started_on=D(2026, 3, 10), ended_on=D(2026, 3, 13))]
    assert steps(case)[-1] == (
        "documents_received",
        Stage.awaiting_documents,
        Stage.review,
        ASSISTANT,
    )
    assert case.unwritten[-1].note == "已补齐"


def test_report_arriving_during_a_pause_completes_the_survey_on_resumption():
    case = accepted()
    case.record_survey(survey(), now=SURVEYED)
    case.request_documents(documents(), now=SURVEYED)
    case.receive_verification(report(), now=REPORTED)
    assert case.view.stage == Stage.awaiting_documents  # still waiting for the applicant
    case.receive_documents(DocumentsReceipt(actor=ASSISTANT), now=at(D(2026, 3, 6)))
    assert case.view.stage == Stage.review
    assert steps(case)[-2:] == [
        ("documents_received", Stage.awaiting_documents, Stage.survey, ASSISTANT),
        ("survey_completed", Stage.survey, Stage.review, ASSISTANT),
    ]


def test_withdraw():
    case = at_review()
    when = at(D(2026, 3, 10))
    case.withdraw(WithdrawalRecord(actor=ASSISTANT, reason="申请人已就业"), now=when)
    assert case.view.stage == Stage.withdrawn and case.closed
    assert case.view.closed_at == when
    assert case.view.decided_at is None
    assert steps(case)[-1] == ("withdrawn", Stage.review, Stage.withdrawn, ASSISTANT)
    assert case.unwritten[-1].note == "申请人已就业"
    assert case.pauses == []


def test_withdrawal_while_awaiting_documents_ends_the_pause():
    case = awaiting_documents()  # paused on 03-09
    case.withdraw(WithdrawalRecord(actor=ASSISTANT, reason="无法提供材料"), now=at(D(2026, 3, 11)))
    assert case.view.stage == Stage.withdrawn
    assert case.pauses == [Pause(started_on=D(2026, 3, 9), ended_on=D(2026, 3, 11))]
    assert case.view.paused_from is None and case.view.pending_documents == []
    assert steps(case)[-1] == ("withdrawn", Stage.awaiting_documents, Stage.withdrawn, ASSISTANT)


# --- 3. the audit trail ---------------------------------------------------------------------------


def test_every_change_is_on_the_record_in_order():
    case = accepted()
    assert case.unwritten == [] and case.view.version == 0
    case.record_survey(survey(), now=SURVEYED)
    case.receive_verification(report(), now=REPORTED)
    first = case.take_unwritten()
    assert case.unwritten == []
    assert case.take_unwritten() == []
    case.record_review(review(), now=REVIEWED)
    end_notice(case)
    case.decide(decision(), now=DECIDED)
    rest = case.take_unwritten()
    trail = first + rest
    assert [(e.seq, e.action, e.from_stage, e.to_stage, e.actor, e.at) for e in trail] == [
        (1, "survey_recorded", Stage.survey, Stage.survey, COORDINATOR, SURVEYED),
        (2, "verification_report_received", Stage.survey, Stage.survey, SYSTEM, REPORTED),
        (3, "survey_completed", Stage.survey, Stage.review, COORDINATOR, REPORTED),
        (4, "review_approve", Stage.review, Stage.notice, ASSISTANT, REVIEWED),
        (5, "notice_ended", Stage.notice, Stage.decision, SYSTEM, NOTICE_ENDS),
        (6, "approved", Stage.decision, Stage.approved, OFFICER, DECIDED),
    ]
    assert all(e.case_no == CASE_NO for e in trail)
    # Each step starts where the one before ended.
    assert all(a.to_stage == b.from_stage for a, b in pairwise(trail))
    assert case.view.version == case.seq == 6
    assert case.unwritten == []


@pytest.mark.parametrize(
    ("build", "change", "action", "from_stage", "to_stage", "actor"),
    [
        (
            accepted,
            lambda c: c.record_survey(survey(), now=SURVEYED),
            "survey_recorded",
            Stage.survey,
            Stage.survey,
            COORDINATOR,
        ),
        (
            at_review,
            lambda c: c.record_review(review(), now=REVIEWED),
            "review_approve",
            Stage.review,
            Stage.notice,
            ASSISTANT,
        ),
        (
            at_notice,
            lambda c: c.record_objection(objection(), now=DECIDED),
            "objection_received",
            Stage.notice,
            Stage.survey,
            ASSISTANT,
        ),
        (
            at_decision,
            lambda c: c.decide(decision("refuse"), now=DECIDED),
            "refused",
            Stage.decision,
            Stage.refused,
            OFFICER,
        ),
        (
            proposed_refusal,
            lambda c: c.propose_approval(decision(), now=DECIDED),
            "approval_proposed_by_district",
            Stage.decision,
            Stage.notice,
            OFFICER,
        ),
        (
            at_review,
            lambda c: c.request_documents(documents(), now=REVIEWED),
            "documents_requested",
            Stage.review,
            Stage.awaiting_documents,
            ASSISTANT,
        ),
        (
            awaiting_documents,
            lambda c: c.receive_documents(DocumentsReceipt(actor=OFFICER), now=DECIDED),
            "documents_received",
            Stage.awaiting_documents,
            Stage.review,
            OFFICER,
        ),
        (
            at_decision,
            lambda c: c.withdraw(WithdrawalRecord(actor=OFFICER, reason="撤回"), now=DECIDED),
            "withdrawn",
            Stage.decision,
            Stage.withdrawn,
            OFFICER,
        ),
    ],
    ids=[
        "survey",
        "review",
        "objection",
        "decision",
        "district-proposal",
        "documents-request",
        "documents-receipt",
        "withdrawal",
    ],
)
def test_each_change_appends_the_next_entry(build, change, action, from_stage, to_stage, actor):
    case = build()
    seq = case.seq
    case.take_unwritten()  # written already
    change(case)
    [entry] = case.take_unwritten()
    assert (entry.seq, entry.action, entry.from_stage, entry.to_stage, entry.actor) == (
        seq + 1,
        action,
        from_stage,
        to_stage,
        actor,
    )
    assert case.view.version == entry.seq and case.view.stage == to_stage
    assert case.unwritten == []


# --- 4. refusals name the field -------------------------------------------------------------------

CONFLICT = ConflictOfInterest(related_person="李协理", position="村委会委员", relation="表兄弟")


def check_survey(**data):
    return lambda case: case.check_survey(survey(**data), today=TODAY)


def check_review(*args, **data):
    return lambda case: case.check_review(review(*args, **data), now=REVIEWED)


def check_decision(*args, **data):
    return lambda case: case.check_decision(decision(*args, **data), now=DECIDED)


@pytest.mark.parametrize(
    ("build", "check", "field"),
    [
        pytest.param(
            accepted, check_survey(investigators=["李协理"]), "investigators", id="one-investigator"
        ),
        pytest.param(
            accepted,
            check_survey(investigators=["李协理", " 李协理 "]),
            "investigators",
            id="same-investigator-twice",
        ),
        pytest.param(
            accepted,
            check_survey(investigators=["李协理", "  "]),
            "investigators",
            id="blank-investigator",
        ),
        pytest.param(
            accepted,
            check_survey(visited_on=D(2026, 3, 1)),
            "visited_on",
            id="visited-before-acceptance",
        ),
        pytest.param(
            accepted,
            check_survey(visited_on=D(2026, 3, 21)),
            "visited_on",
            id="visited-after-today",
        ),
        pytest.param(
            accepted, check_survey(income="-1"), "household_monthly_income", id="negative-income"
        ),
        pytest.param(at_review, check_review(reasons="  "), "reasons", id="review-without-reasons"),
        pytest.param(
            at_review,
            check_review("maybe"),
            "recommendation",
            id="review-neither-approve-nor-refuse",
        ),
        # 2 × 1080 = 2160: on the line nothing is paid, above it even less
        pytest.param(
            lambda: at_review(income="2160"),
            check_review(),
            "recommendation",
            id="dibao-income-on-the-line",
        ),
        pytest.param(
            lambda: at_review(income="3000"),
            check_review(),
            "recommendation",
            id="dibao-income-above-the-line",
        ),
        pytest.param(
            lambda: proposed_refusal(income="2160"),
            check_decision(),
            "outcome",
            id="dibao-decision-on-the-line",
        ),
        pytest.param(
            at_decision, check_decision(reasons=" "), "reasons", id="decision-without-reasons"
        ),
        pytest.param(
            at_decision,
            check_decision("maybe"),
            "outcome",
            id="decision-neither-approve-nor-refuse",
        ),
        # temporary, major illness: 3 × 1080 = 3240 to 12 × 1080 = 12960
        pytest.param(
            lambda: at_review(**temporary()),
            check_review(),
            "amount",
            id="temporary-without-amount",
        ),
        pytest.param(
            lambda: at_review(**temporary()),
            check_review(amount=Decimal("3239.99")),
            "amount",
            id="temporary-below-band",
        ),
        pytest.param(
            lambda: at_review(**temporary()),
            check_review(amount=Decimal("12960.01")),
            "amount",
            id="temporary-above-band",
        ),
        pytest.param(
            lambda: proposed_refusal(**temporary()),
            check_decision(),
            "amount",
            id="temporary-district-without-amount",
        ),
        pytest.param(
            lambda: proposed_refusal(**temporary()),
            check_decision(amount=Decimal("20000")),
            "amount",
            id="temporary-district-above-band",
        ),
        pytest.param(
            at_notice,
            lambda c: c.check_objection(objection(grounds=" ")),
            "grounds",
            id="objection-without-grounds",
        ),
        pytest.param(
            at_notice,
            lambda c: c.check_objection(objection(raised_by="")),
            "raised_by",
            id="objection-without-raiser",
        ),
        pytest.param(
            at_review,
            lambda c: c.check_documents_request(documents(" ")),
            "documents",
            id="blank-document",
        ),
        pytest.param(
            at_review,
            lambda c: c.check_documents_request(DocumentsRequest(actor=ASSISTANT, documents=[])),
            "documents",
            id="no-documents",
        ),
        pytest.param(
            at_review,
            lambda c: c.check_withdrawal(WithdrawalRecord(actor=ASSISTANT, reason="  ")),
            "reason",
            id="withdrawal-without-reason",
        ),
    ],
)
def test_bad_data_is_refused_naming_the_field(build, check, field):
    case = build()
    before = snapshot(case)
    with pytest.raises(InvalidData) as refused_:
        check(case)
    assert refused_.value.field == field
    assert refused_.value.message
    assert snapshot(case) == before


def test_refusal_on_income_says_why():
    with pytest.raises(InvalidData, match=r"¥2160 is not below the 低保 line for 2 person\(s\)"):
        at_review(income="2160").check_review(review(), now=REVIEWED)
    with pytest.raises(InvalidData, match="between ¥3240.00 and ¥12960.00"):
        at_review(**temporary()).check_review(review(), now=REVIEWED)


def test_income_on_the_line_may_still_be_refused():
    at_review(income="2160").check_review(review("refuse"), now=REVIEWED)
    proposed_refusal(income="2160").check_decision(decision("refuse"), now=DECIDED)


@pytest.mark.parametrize("amount", ["3240", "12960"])  # both ends of the band are inside it
def test_temporary_amount_at_the_ends_of_the_band(amount):
    case = at_review(**temporary())
    case.check_review(review(amount=Decimal(amount)), now=REVIEWED)
    case.record_review(review(amount=Decimal(amount)), now=REVIEWED)
    assert case.view.monthly_amount == Decimal(amount)


@pytest.mark.parametrize("actor", [COORDINATOR, ASSISTANT], ids=["coordinator", "assistant"])
def test_conflict_of_interest_leaves_the_survey_to_the_district(actor):
    case = accepted(conflict_of_interest=CONFLICT)
    assert case.view.conflict_of_interest
    before = snapshot(case)
    with pytest.raises(NotPermitted, match="conflict of interest"):
        case.check_survey(survey(actor=actor), today=TODAY)
    assert snapshot(case) == before
    case.check_survey(survey(actor=OFFICER), today=TODAY)


def test_without_conflict_of_interest_the_village_surveys():
    case = accepted()
    assert not case.view.conflict_of_interest
    case.check_survey(survey(actor=COORDINATOR), today=TODAY)


def test_visit_on_the_day_of_acceptance_and_today_are_allowed():
    accepted().check_survey(survey(visited_on=D(2026, 3, 2)), today=TODAY)
    accepted().check_survey(survey(visited_on=TODAY), today=TODAY)


# --- 5. timed events --------------------------------------------------------------------------------


def event(kind: Event, day: date) -> TimedEvent:
    return TimedEvent(kind, end_of_day(day), f"{kind}:{day}")


def test_end_of_day_is_midnight_in_shanghai():
    assert end_of_day(SURVEY_DUE) == datetime(2026, 3, 5, 16, tzinfo=UTC)  # 00:00 03-06 at +08:00


def test_events_at_survey_before_any_survey():
    case = accepted()
    assert (
        case.deadlines.survey_due,
        case.deadlines.decision_warning_on,
        case.deadlines.decision_due,
    ) == (
        SURVEY_DUE,
        WARNING_ON,
        DECISION_DUE,
    )
    assert case.events() == [
        TimedEvent(Event.survey_overdue, end_of_day(SURVEY_DUE), "survey_overdue:2026-03-05"),
        TimedEvent(
            Event.decision_approaching, end_of_day(WARNING_ON), "decision_approaching:2026-03-25"
        ),
        TimedEvent(Event.decision_overdue, end_of_day(DECISION_DUE), "decision_overdue:2026-03-30"),
    ]


def test_no_survey_overdue_once_surveyed():
    case = accepted()
    case.record_survey(survey(), now=SURVEYED)
    assert case.view.stage == Stage.survey
    assert case.events() == [
        event(Event.decision_approaching, WARNING_ON),
        event(Event.decision_overdue, DECISION_DUE),
    ]


def test_no_survey_overdue_after_an_objection():
    case = at_notice()
    case.record_objection(objection(), now=at(D(2026, 3, 12)))
    assert [e.kind for e in case.events()] == [Event.decision_approaching, Event.decision_overdue]


@pytest.mark.parametrize(
    "build",
    [at_review, at_decision, proposed_refusal],
    ids=["review", "decision", "proposed-refusal"],
)
def test_events_while_the_decision_is_awaited(build):
    assert build().events() == [
        event(Event.decision_approaching, WARNING_ON),
        event(Event.decision_overdue, DECISION_DUE),
    ]


def test_events_at_notice():
    case = at_notice()
    assert case.events() == [
        event(Event.decision_approaching, WARNING_ON),
        event(Event.decision_overdue, DECISION_DUE),
        # the notice ends at the very moment it started, 7 days on (not at the end of a day)
        TimedEvent(Event.notice_ended, NOTICE_ENDS, f"notice_ended:{NOTICE_ENDS.isoformat()}"),
    ]


def test_events_at_refused():
    assert refused().events() == [event(Event.refusal_notice_overdue, D(2026, 3, 20))]
    assert refused(counted=False).events() == []  # no refusal deadline counted yet


def test_refusal_notice_sent_ends_the_refusal_deadline():
    case = refused()
    case.refusal_notice_sent(now=at(D(2026, 3, 18)))
    assert case.events() == []


@pytest.mark.parametrize(
    "build",
    [awaiting_documents, approved, withdrawn],
    ids=["awaiting_documents", "approved", "withdrawn"],
)
def test_no_events_while_paused_or_closed(build):
    """While documents are awaited, only the strict date runs on (补正 never pauses it)."""
    strict = (Event.strict_decision_approaching, Event.strict_decision_overdue)
    assert [e for e in build().events() if e.kind not in strict] == []
    if build is not awaiting_documents:
        assert build().events() == []


def test_due_returns_each_event_once_and_next_moment_skips_fired():
    case = accepted()
    events = case.events()
    assert case.next_moment(events) == end_of_day(SURVEY_DUE)
    assert case.due(events, end_of_day(SURVEY_DUE) - timedelta(seconds=1)) == []
    assert case.due(events, end_of_day(SURVEY_DUE)) == [events[0]]  # its moment has come
    assert case.due(events, end_of_day(SURVEY_DUE)) == []  # fired already
    assert case.fired == ["survey_overdue:2026-03-05"]
    assert case.next_moment(events) == end_of_day(WARNING_ON)
    later = end_of_day(DECISION_DUE) + timedelta(hours=1)
    assert case.due(events, later) == events[1:]
    assert case.due(events, later) == []
    assert case.next_moment(events) is None


def test_fire_notice_ended_moves_to_decision():
    case = at_notice()
    case.take_unwritten()
    [ended] = case.due(case.events(), NOTICE_ENDS)
    assert ended.kind == Event.notice_ended
    assert case.fire(ended, now=NOTICE_ENDS) is None
    assert case.view.stage == Stage.decision and case.publicised
    assert steps(case) == [("notice_ended", Stage.notice, Stage.decision, SYSTEM)]
    assert case.unwritten[0].note == "no objection"
    assert not case.view.overdue


@pytest.mark.parametrize(
    ("build", "kind", "flag", "message"),
    [
        (
            accepted,
            Event.survey_overdue,
            "survey_overdue",
            "household survey was due to start by 2026-03-05",
        ),
        (
            at_review,
            Event.decision_approaching,
            None,
            "decision due 2026-03-30; 3 working days remain",
        ),
        (at_decision, Event.decision_overdue, "decision_overdue", "decision was due by 2026-03-30"),
        (
            refused,
            Event.refusal_notice_overdue,
            "refusal_notice_overdue",
            "written refusal was due by 2026-03-20",
        ),
    ],
    ids=["survey_overdue", "decision_approaching", "decision_overdue", "refusal_notice_overdue"],
)
def test_fire_alerts_staff(build, kind, flag, message):
    case = build()
    stage, entries = case.view.stage, list(case.unwritten)
    [timed] = [e for e in case.events() if e.kind == kind]
    alert = case.fire(timed, now=timed.at)
    assert alert == StaffAlert(kind, message, key=timed.key)
    assert {f: getattr(case.view, f) for f in FLAGS} == {f: f == flag for f in FLAGS}
    assert case.view.overdue is (flag is not None)
    # A missed deadline decides nothing; the workflow puts the alert on the record.
    assert case.view.stage == stage
    assert case.unwritten == entries


# --- 6. counting deadlines again --------------------------------------------------------------------


def test_documents_pause_moves_the_decision_only():
    case = at_review()
    case.request_documents(documents(), now=at(D(2026, 3, 9)))
    case.receive_documents(DocumentsReceipt(actor=ASSISTANT), now=at(D(2026, 3, 12)))
    facts = case.deadline_facts()
    assert facts.pauses == [Pause(D(2026, 3, 9), D(2026, 3, 12))]
    entries = len(case.unwritten)
    case.count_deadlines(compute_deadlines(CAL, facts), now=at(D(2026, 3, 12)))
    # paused 03-10, 11, 12: 3 working days; 03-30 + 3 -> 03-31, 04-01, 04-02
    assert case.view.decision_due == D(2026, 4, 2)
    assert case.view.survey_due == SURVEY_DUE
    assert case.deadlines.paused_working_days == 3
    assert len(case.unwritten) == entries  # no action: nothing noted


def test_a_deadline_moved_later_is_no_longer_missed():
    case = at_decision()
    missed = end_of_day(DECISION_DUE)
    for timed in case.due(case.events(), missed):
        case.fire(timed, now=missed)
    assert case.view.decision_overdue and case.view.strict_decision_overdue
    now = missed + timedelta(hours=9)  # 03-31 09:00 in Shanghai
    case.count_deadlines(replace(case.deadlines, decision_due=D(2026, 4, 2)), now=now)
    assert not case.view.decision_overdue
    assert case.view.decision_due == D(2026, 4, 2)
    # The new due date is a new occurrence: it fires again if missed.
    assert case.next_moment(case.events()) == end_of_day(D(2026, 4, 2))


def test_a_deadline_moved_back_to_a_date_already_missed_is_missed_again():
    case = at_decision()
    missed = end_of_day(DECISION_DUE)
    for timed in case.due(case.events(), missed):
        case.fire(timed, now=missed)
    now = missed + timedelta(hours=9)
    case.count_deadlines(replace(case.deadlines, decision_due=D(2026, 4, 2)), now=now)
    assert not case.view.decision_overdue
    # A correction puts the date back where it was: missed again, though it fires no more.
    case.count_deadlines(replace(case.deadlines, decision_due=DECISION_DUE), now=now)
    assert case.view.decision_overdue
    assert case.due(case.events(), now) == []


def test_a_moved_written_refusal_deadline_is_noted():
    case = refused()
    case.take_unwritten()
    later = replace(
        case.deadlines, refusal_notice_due=case.deadlines.refusal_notice_due + timedelta(days=1)
    )
    case.count_deadlines(later, now=DECIDED, action="calendar_published")
    assert [e.action for e in case.take_unwritten()] == ["calendar_published"]


def test_a_deadline_still_past_stays_missed():
    case = accepted()
    missed = end_of_day(SURVEY_DUE)
    [timed] = case.due(case.events(), missed)
    case.fire(timed, now=missed)
    assert case.view.survey_overdue
    # Moved a day later, but that day is over too.
    case.count_deadlines(replace(case.deadlines, survey_due=D(2026, 3, 6)), now=at(D(2026, 3, 9)))
    assert case.view.survey_overdue


# Accepted 2026-12-15 on a calendar without 2027 (test_domain counts it): survey due 12-18,
# decision due 2027-01-12, provisional. With 2027 published and 01-01 a holiday, the 20th working
# day is one later: 12-28..31 (9-12), 01-04..08 (13-17), 01-11 (18), 01-12 (19), 01-13 (20).
DECEMBER = at(D(2026, 12, 15), 9)
WITH_2027 = WorkingCalendar.of(
    [*CAL.years.values(), YearCalendar(2027, frozenset({D(2027, 1, 1)}), frozenset())]
)


def test_calendar_published_notes_the_move_and_clears_the_missed_deadline():
    case = accepted(accepted_at=DECEMBER)
    assert (case.view.decision_due, case.view.provisional) == (D(2027, 1, 12), True)
    # No survey yet; the provisional decision date passes.
    missed = end_of_day(D(2027, 1, 12))
    for timed in case.due(case.events(), missed):
        case.fire(timed, now=missed)
    assert case.view.decision_overdue
    case.take_unwritten()
    published = at(D(2027, 1, 13), 9)
    case.count_deadlines(
        compute_deadlines(WITH_2027, case.deadline_facts()),
        now=published,
        action="calendar_published",
    )
    assert (case.view.survey_due, case.view.decision_due, case.view.provisional) == (
        D(2026, 12, 18),
        D(2027, 1, 13),
        False,
    )
    assert not case.view.decision_overdue
    assert case.view.survey_overdue  # 12-18 has not moved
    [entry] = case.take_unwritten()
    assert (entry.action, entry.from_stage, entry.to_stage, entry.actor, entry.at) == (
        "calendar_published",
        Stage.survey,
        Stage.survey,
        SYSTEM,
        published,
    )
    assert entry.note == "survey due 2026-12-18, decision due 2027-01-13"


def test_calendar_published_notes_a_provisional_count():
    case = accepted()
    # Counted again on a calendar that lacks 2026: same dates (March has no holiday), now provisional.
    weekdays_only = WorkingCalendar({})
    case.count_deadlines(
        compute_deadlines(weekdays_only, case.deadline_facts()),
        now=SURVEYED,
        action="calendar_published",
    )
    assert case.view.provisional and case.view.decision_due == DECISION_DUE
    assert case.unwritten[-1].note == "survey due 2026-03-05, decision due 2026-03-30 (provisional)"


def test_calendar_published_without_a_change_notes_nothing():
    case = accepted(accepted_at=DECEMBER)
    case.count_deadlines(
        compute_deadlines(CAL, case.deadline_facts()), now=DECEMBER, action="calendar_published"
    )
    assert case.unwritten == [] and case.seq == 0


# --- the survey-start deadline is met by the visit -------------------------------------------


def test_a_visit_on_time_typed_in_late_meets_the_survey_deadline():
    case = accepted()
    missed = end_of_day(SURVEY_DUE)
    [timed] = case.due(case.events(), missed)
    case.fire(timed, now=missed)
    assert case.view.survey_overdue  # nothing recorded by the end of 03-05
    case.record_survey(survey(visited_on=SURVEY_DUE), now=at(D(2026, 3, 9)))
    assert not case.view.survey_overdue
    # and it stays met when the deadlines are counted again
    case.count_deadlines(compute_deadlines(CAL, case.deadline_facts()), now=at(D(2026, 3, 9)))
    assert not case.view.survey_overdue


def test_a_visit_after_the_deadline_misses_it():
    case = accepted()
    case.record_survey(survey(visited_on=D(2026, 3, 6)), now=at(D(2026, 3, 6)))
    assert case.view.survey_overdue


def test_a_survey_after_an_objection_has_its_own_deadline():
    case = at_notice()
    objected = at(D(2026, 3, 12))  # Thu
    case.record_objection(objection(), now=objected)
    case.restart_survey_clock(now=objected)
    case.count_deadlines(compute_deadlines(CAL, case.deadline_facts()), now=objected)
    # three working days from the objection: 03-13 (1), 03-16 (2), 03-17 (3)
    assert case.view.survey_due == D(2026, 3, 17)
    assert case.view.decision_due == DECISION_DUE  # the decision still counts from acceptance
    assert [e.key for e in case.events() if e.kind == Event.survey_overdue] == [
        "survey_overdue:2026-03-17"
    ]


# --- 一事一议 only raises; extensions have a cap ---------------------------------------------------

SUPERVISOR = Actor(
    user_id="u-supervisor", name="钱督办", role=Role.supervisor, jurisdiction="370305"
)


def test_an_exception_cannot_lower_a_temporary_amount_below_its_band():
    case = at_decision(amount=Decimal("5000"), **temporary())  # band ¥3240–¥12960
    lower = decision(amount=Decimal("1"), exception_reason="家庭困难，一事一议")
    with pytest.raises(InvalidData) as refused:
        case.check_decision(lower, now=DECIDED)
    assert refused.value.field == "amount"
    assert "¥3240.00–¥12960.00" in refused.value.message
    assert "only raises" in refused.value.message
    # the low end itself stands, 一事一议 or not
    case.check_decision(decision(amount=Decimal("3240"), exception_reason="x"), now=DECIDED)
    # nor may the district propose a lower amount over a proposed refusal
    refusal = proposed_refusal(**temporary())
    with pytest.raises(InvalidData, match="only raises"):
        refusal.check_decision(lower, now=DECIDED)


def extension(working_days: int, *, actor: Actor = SUPERVISOR) -> InterventionRecord:
    return InterventionRecord(
        actor=actor,
        action=Intervention.extend_deadline,
        reason="需异地核查",
        working_days=working_days,
    )


def test_a_supervisor_extends_up_to_the_cap_and_a_district_officer_beyond_it():
    case = at_decision()
    first = extension(20)
    case.check_intervention(first)
    case.intervene(first, now=DECIDED)
    over = extension(11)
    with pytest.raises(InvalidData) as refused:
        case.check_intervention(over)
    assert refused.value.field == "working_days"
    assert "10 remain" in refused.value.message
    assert "district officer" in refused.value.message
    case.check_intervention(extension(10))  # up to the cap itself
    beyond = extension(11, actor=OFFICER)
    case.check_intervention(beyond)
    case.intervene(beyond, now=DECIDED)
    assert case.view.extended_working_days == 31
    assert case.deadline_facts().extension_working_days == 31
    assert steps(case)[-2:] == [
        ("deadline_extended", Stage.decision, Stage.decision, SUPERVISOR),
        ("deadline_extended", Stage.decision, Stage.decision, OFFICER),
    ]
    with pytest.raises(InvalidData, match="0 remain"):
        case.check_intervention(extension(1))
    # an extension accepted before the cap, replayed by its workflow, stands
    case.check_intervention(extension(30), capped=False)


def test_the_cap_on_extensions_is_a_policy_setting():
    case = at_decision(policy=Policy(max_extension_working_days=5))
    case.check_intervention(extension(5))
    with pytest.raises(InvalidData, match="5 remain"):
        case.check_intervention(extension(6))


def test_an_extension_is_the_only_intervention_of_a_district_officer():
    case = at_decision()
    escalation = InterventionRecord(actor=OFFICER, action=Intervention.escalate, reason="x")
    with pytest.raises(NotPermitted):
        case.check_intervention(escalation)
    with pytest.raises(NotPermitted):
        case.check_intervention(extension(5, actor=ASSISTANT))


# --- the strict decision date (审批期限应严格控制在20个工作日以内) ------------------------------


def test_the_strict_date_is_counted_from_acceptance_and_never_moved_by_a_pause():
    case = at_review()
    assert case.view.strict_decision_due == case.deadlines.strict_decision_due == DECISION_DUE
    case.request_documents(documents(), now=at(D(2026, 3, 9)))
    case.receive_documents(DocumentsReceipt(actor=ASSISTANT), now=at(D(2026, 3, 12)))
    facts = replace(case.deadline_facts(), extension_working_days=5)
    case.count_deadlines(compute_deadlines(CAL, facts), now=at(D(2026, 3, 12)))
    assert case.view.decision_due == D(2026, 4, 10)  # 3 paused + 5 extended working days
    assert case.view.strict_decision_due == DECISION_DUE  # never moved
    assert case.deadlines.strict_warning_on == WARNING_ON


def test_the_strict_dates_events_run_on_while_the_case_waits_for_documents():
    case = awaiting_documents()
    assert case.strict_deadline  # its intake counted the strict date
    case.strict_deadline = False  # as a case accepted before it was counted replays
    assert case.events() == []
    case.strict_deadline = True
    assert case.events() == [
        event(Event.strict_decision_approaching, WARNING_ON),
        event(Event.strict_decision_overdue, DECISION_DUE),
    ]
    assert approved().events() == []


def test_the_strict_breach_is_recorded_and_its_reminder_said_once():
    case = at_review()
    assert case.strict_deadline
    # The same day as the decision's own: that reminder says it, once.
    kinds = [e.kind for e in case.events()]
    assert Event.strict_decision_approaching not in kinds and Event.decision_approaching in kinds
    case.request_documents(documents(), now=at(D(2026, 3, 9)))
    case.receive_documents(DocumentsReceipt(actor=ASSISTANT), now=at(D(2026, 3, 12)))
    case.count_deadlines(compute_deadlines(CAL, case.deadline_facts()), now=at(D(2026, 3, 12)))
    [reminder] = [e for e in case.events() if e.kind == Event.strict_decision_approaching]
    alert = case.fire(reminder, now=reminder.at)
    assert alert is not None and "2026-03-30" in alert.message
    [breach] = [e for e in case.events() if e.kind == Event.strict_decision_overdue]
    alert = case.fire(breach, now=breach.at)
    assert alert == StaffAlert(Event.strict_decision_overdue, alert.message, key=breach.key)
    assert "2026-03-30" in alert.message and "20个工作日" in alert.message
    assert case.view.strict_decision_overdue and not case.view.decision_overdue
    assert case.view.decision_due == D(2026, 4, 2)


def test_the_case_shows_where_the_verification_report_contradicts_the_survey():
    case = accepted()
    case.record_survey(survey(), now=SURVEYED)  # assessed ¥1500 for two: below ¥2160
    assert case.view.verification_findings == []
    contradicting = VerificationReport(
        report_id="rp_9",
        household_monthly_income=Decimal("2500"),
        savings=Decimal("80000"),
        vehicles=0,
        properties=1,
    )
    case.receive_verification(contradicting, now=REPORTED)
    [income, savings] = case.view.verification_findings
    assert "¥2500" in income and "¥1500" in income and "¥80000" in savings


def test_an_approval_against_the_verification_findings_gives_its_reason():
    case = at_decision()
    case.view.verification_findings = ["1 vehicle(s) registered; 0 allowed"]
    before = snapshot(case)
    with pytest.raises(InvalidData) as refused:
        case.check_decision(decision(), now=DECIDED)
    assert refused.value.field == "mismatch_reason" and "vehicle" in str(refused.value)
    blank = replace(decision(), mismatch_reason="  ")
    with pytest.raises(InvalidData, match="findings"):
        case.check_decision(blank, now=DECIDED)
    assert snapshot(case) == before
    # a refusal needs none; nor did an approval before patch ``mismatch-reason``
    case.check_decision(decision("refuse", reasons="有车辆"), now=DECIDED)
    case.check_decision(decision(), now=DECIDED, mismatch=False)

    reasoned = replace(decision(), mismatch_reason="车辆已于上月报废，存款为大病医疗借款")
    case.check_decision(reasoned, now=DECIDED)
    case.decide(reasoned, now=DECIDED)
    assert case.view.stage == Stage.approved
    [noted] = [e for e in case.unwritten if e.action == "approved_against_verification"]
    assert "报废" in noted.note and "vehicle" in noted.note
    assert noted.to_stage == noted.from_stage == Stage.approved


def test_a_clean_report_needs_no_reason_to_approve():
    case = at_decision()
    assert case.view.verification_findings == []
    case.check_decision(decision(), now=DECIDED)
    case.decide(decision(), now=DECIDED)
    assert "approved_against_verification" not in [e.action for e in case.unwritten]


def test_a_dibao_refusal_near_the_line_puts_the_household_on_the_watch_list():
    # assessed ¥3000 for two: ¥1500 a person, above the ¥1080 standard, below 1.5 × (¥1620)
    case = proposed_refusal(income="3000")
    case.decide(decision("refuse", reasons="收入超过低保标准"), now=DECIDED)
    plan = case.view.watch
    assert plan is not None and plan.reason == "near_poverty"
    assert plan.income_per_person == Decimal("1500.00") and plan.since == local_date(DECIDED)
    assert plan.check_up_due == D(2026, 6, 17) and plan.watch_until == D(2027, 3, 17)
    far = proposed_refusal(income="4000")  # ¥2000 a person: not near the line
    far.decide(decision("refuse", reasons="收入较高"), now=DECIDED)
    assert far.view.watch is None


def test_an_approved_temporary_assistance_puts_the_family_on_the_watch_list():
    case = at_decision(amount=Decimal("5000"), **temporary())
    case.decide(decision(), now=DECIDED)
    assert case.view.watch is not None and case.view.watch.reason == "after_temporary"
    dibao = at_decision()
    dibao.decide(decision(), now=DECIDED)
    assert dibao.view.watch is None  # assisted now: no watch
    recipient = at_decision(
        amount=Decimal("5000"), **temporary(), recipient_no="370305-DB-2026-000001"
    )
    recipient.decide(decision(), now=DECIDED)
    assert recipient.view.watch is None  # its reviews watch it
