"""Record the workflow histories that ``test_replay`` replays (``make histories``).

Recorded with the payload codec of every worker (the default key): histories from before it
hold plain payloads, the later ones ciphertext, and the replay reads both.

Run after a deliberate change to a workflow: it records the scenarios that have no history
yet (or those named: ``make histories ARGS=name``), and the new files are committed beside
the old ones, so that the histories of cases started under every earlier version still replay.
"""

import asyncio
import json
import sys
import tempfile
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from domain.benefits import BenefitDecision
from domain.calendar import YearCalendar, local_date
from domain.cases import (
    Actor,
    Applicant,
    AssistanceType,
    BankAccount,
    BankAccountRecord,
    CalendarPublished,
    CareInstitution,
    DecisionRecord,
    DocumentsReceipt,
    DocumentsRequest,
    Intervention,
    InterventionRecord,
    ObjectionRecord,
    ReviewRecord,
    Role,
    Stage,
    SurveyRecord,
    WithdrawalRecord,
)
from domain.contracts import PayrollMonth, ReviewRound, StandardChangeRun
from domain.emergency import (
    ApprovalRecord,
    EmergencyStage,
    ExceptionApproval,
    RejectionRecord,
    release_key,
)
from domain.months import Month
from domain.payroll import payroll_workflow_id, reissue_workflow_id
from domain.referrals import OutcomeRecord
from domain.reviews import ReportedChange
from simulators.app import create_app
from store import reserve
from store.calendar import packaged_years, publish_year
from store.db import session_scope
from store.migrate import upgrade
from store.recipients import record_bank_account
from store.recipients import view_of as recipient_view_of
from store.recipients import write_view as write_recipient_view
from store.referrals import Family, Filing, file_referral, record_outcome
from store.reviews import open_review
from store.standards import record_change
from store.tables import PayrollItem, RecipientRecord
from tests.helpers.actors import APPROVER, ASSISTANT, COORDINATOR, OFFICER, SUPERVISOR
from tests.helpers.cases import households
from tests.helpers.people import id_number, marked_id_number
from tests.helpers.servers import serve
from tests.helpers.stack import (
    CONVERTER,
    RING,
    TEMPORAL,
    TEST_SERVER,
    register_search_attributes,
    stack_settings,
)
from tests.helpers.workflows import (
    TEKUN_FACTS,
    request,
    start_case,
    survey,
    until,
    wait_for_stage,
)
from tests.helpers.workflows import reserve_now as reserve_state
from worker import create_worker
from workflows.application import ApplicationWorkflow as W
from workflows.client import (
    referral_workflow_id,
    review_workflow_id,
    start_referral,
    start_review,
)
from workflows.emergency import EmergencyWorkflow as E
from workflows.payroll import PayrollWorkflow, ReissueWorkflow
from workflows.referral import ReferralWorkflow
from workflows.review import ReviewRoundWorkflow
from workflows.review import ReviewWorkflow as RW
from workflows.search import ALL_KEYS
from workflows.standards import StandardChangeWorkflow, standard_workflow_id

HISTORIES = Path(__file__).parent / "histories"
APPROVE = ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="eligible")


async def approved(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=3))
    await handle.execute_update(
        W.record_objection,
        ObjectionRecord(actor=ASSISTANT, raised_by="neighbour", grounds="a shop"),
    )
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )


async def refused_after_documents(env, handle, *, waited: timedelta = timedelta(days=5)) -> None:
    """Documents asked for and received ``waited`` later, then refused on the income."""
    await handle.execute_update(
        W.request_documents, DocumentsRequest(actor=ASSISTANT, documents=["bank statements"])
    )
    await env.sleep(waited)
    await handle.execute_update(W.receive_documents, DocumentsReceipt(actor=ASSISTANT))
    await survey(handle, env, income="5000")
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        W.record_review, ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="income")
    )
    await handle.execute_update(
        W.record_decision,
        DecisionRecord(actor=OFFICER, outcome="refuse", reasons="income above the line"),
    )


async def strictly_overdue_while_awaiting_documents(env, handle) -> None:
    """补正 pauses the decision's date, never the strict one (20 working days from acceptance):
    its reminder and breach fire while the case waits; then it is decided."""
    await refused_after_documents(env, handle, waited=timedelta(days=35))


async def overdue_then_withdrawn(env, handle) -> None:
    await env.sleep(timedelta(days=35))
    await handle.execute_update(W.withdraw, WithdrawalRecord(actor=ASSISTANT, reason="moved away"))


async def temporary_approved(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        W.record_review,
        ReviewRecord(
            actor=ASSISTANT, recommendation="approve", reasons="surgery", amount=Decimal("5000")
        ),
    )
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )


async def district_approved_a_proposed_refusal(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(
        W.record_review, ReviewRecord(actor=ASSISTANT, recommendation="refuse", reasons="a car")
    )
    approve = DecisionRecord(actor=OFFICER, outcome="approve", reasons="the car is scrapped")
    await handle.execute_update(W.record_decision, approve)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(W.record_decision, approve)


async def carried_over_after_many_pauses(env, handle) -> None:
    """Enough 补正 cycles that the server suggests continue-as-new (see ``environment``)."""
    first_run = (await handle.describe()).run_id
    request = DocumentsRequest(actor=ASSISTANT, documents=["bank statements"], note="补" * 2000)
    while (await handle.describe()).run_id == first_run:
        await handle.execute_update(W.request_documents, request)
        await handle.execute_update(W.receive_documents, DocumentsReceipt(actor=ASSISTANT))
    await handle.execute_update(W.request_documents, request)
    await handle.execute_update(W.withdraw, WithdrawalRecord(actor=ASSISTANT, reason="moved away"))


async def approve_it(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )


async def paid_once_an_account_is_recorded(env, handle) -> None:
    """Approved with no account, or with one the payment system refuses."""
    await approve_it(env, handle)
    await until(handle, env, lambda v: v.awaiting_bank_account, query=W.current)
    await handle.execute_update(
        W.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=GOOD)
    )


async def temporary_above_the_band_by_exception(env, handle) -> None:
    review = ReviewRecord(
        actor=ASSISTANT, recommendation="approve", reasons="surgery", amount=Decimal("5000")
    )
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, review)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    exception = DecisionRecord(
        actor=OFFICER,
        outcome="approve",
        reasons="ok",
        amount=Decimal("20000"),
        exception_reason="一事一议",
    )
    await handle.execute_update(W.record_decision, exception)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )


async def emergency_paid_and_followed_up(env, handle) -> None:
    await handle.execute_update(E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000")))
    await follow_up(env, handle)


async def follow_up_survey(env, handle) -> None:
    await until(handle, env, lambda v: v.paid_at is not None)
    today = local_date(await env.get_current_time())
    await handle.execute_update(
        E.record_survey,
        SurveyRecord(
            actor=COORDINATOR, investigators=["李协理", "周干事"], visited_on=today,
            findings="属实", assessed_monthly_income=Decimal("300"),
        ),
    )  # fmt: skip


async def follow_up(env, handle, *, eligible: bool = True) -> None:
    await follow_up_survey(env, handle)
    outcome = "approve" if eligible else "refuse"
    await handle.execute_update(
        E.record_review, ReviewRecord(actor=ASSISTANT, recommendation=outcome, reasons="核实")
    )
    await handle.execute_update(
        E.confirm, DecisionRecord(actor=OFFICER, outcome=outcome, reasons="确认")
    )


async def emergency_followed_into_a_dibao_application(env, handle) -> None:
    """衔接: the confirmation says a 低保 application follows (the service opens it)."""
    await handle.execute_update(E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000")))
    await follow_up_survey(env, handle)
    await handle.execute_update(
        E.record_review, ReviewRecord(actor=ASSISTANT, recommendation="approve", reasons="核实")
    )
    confirmed = DecisionRecord(
        actor=OFFICER, outcome="approve", reasons="长期困难", next_step="dibao_application"
    )
    await handle.execute_update(E.confirm, confirmed)


async def approved_against_the_verification_findings(env, handle) -> None:
    """The report finds a vehicle and savings: the approval gives its reason
    (``mismatch-reason``), after one without it was refused."""
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    plain = DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    try:
        await handle.execute_update(W.record_decision, plain)
    except WorkflowUpdateFailedError:
        pass
    else:
        raise AssertionError("approved against the findings without a reason")
    reasoned = replace(plain, mismatch_reason="车辆已报废")
    await handle.execute_update(W.record_decision, reasoned)


async def emergency_late_exception_to_a_corrected_account(env, handle) -> None:
    await env.sleep(timedelta(hours=25))
    exception = ExceptionApproval(actor=OFFICER, amount=Decimal("8000"), reason="一事一议")
    await handle.execute_update(E.approve_exception, exception)
    await until(handle, env, lambda v: v.stage == EmergencyStage.awaiting_account)
    await handle.execute_update(
        E.record_bank_account, BankAccountRecord(actor=ASSISTANT, account=GOOD_EMERGENCY)
    )
    await follow_up(env, handle, eligible=False)


async def emergency_rejected(env, handle) -> None:
    await handle.execute_update(E.reject, RejectionRecord(actor=APPROVER, reasons="保险已赔付"))


async def emergency_waited_for_funds(env, handle) -> None:
    state = reserve_state(env.database_url, "370305001")
    with session_scope(env.database_url, writes=True) as session:
        reserve.hold(
            session, township="370305001", case_no="E-elsewhere", amount=state.available - 100,
            key=f"histories:{handle.id}", at=datetime.now(UTC),
        )  # fmt: skip
    await handle.execute_update(E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000")))
    await until(handle, env, lambda v: v.stage == EmergencyStage.awaiting_funds)
    with session_scope(env.database_url, writes=True) as session:
        reserve.top_up(
            session, township="370305001", amount=Decimal("50000"), key=f"histories-top-up:{handle.id}",
            note="top-up", by=OFFICER.user_id, at=datetime.now(UTC),
        )  # fmt: skip
    await handle.signal(E.funds_offered)
    await follow_up(env, handle)


async def restarted(env, handle, workflow, *, hold_released: bool = False):
    """An operator terminates the case's workflow; a supervisor restarts it from its last
    state, as ``services.halted.restart`` does (here the new run writes the restart itself)."""
    await handle.terminate("operator")
    env.halted_runs.append(handle.result_run_id)
    state = await handle.query(workflow.state)
    now = await env.get_current_time()
    extra = {"hold_released": hold_released} if workflow is E else {}
    state.resume(actor=SUPERVISOR, reason="重启", now=now, after_seq=state.seq, **extra)
    return await env.client.start_workflow(
        workflow.run,
        state,
        id=handle.id,
        task_queue=env.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )


async def application_restarted_after_halt(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    handle = await restarted(env, handle, W)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )
    await until(handle, env, lambda v: v.first_payment_at is not None, query=W.current)


async def emergency_restarted_after_halt(env, handle) -> None:
    handle = await restarted(env, handle, E)
    await handle.execute_update(E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000")))
    await follow_up(env, handle)


async def emergency_restarted_after_its_hold_was_released(env, handle) -> None:
    """Terminated while the payment system was down; the reconciliation released the hold."""
    faults = f"{env.simulator_url}/_faults"
    httpx.post(faults, json={"service": "payment", "fail_next": 1000, "status": 503})
    try:
        await handle.execute_update(
            E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000"))
        )
        await env.sleep(timedelta(seconds=5))
        view = await handle.query(E.current)
        with session_scope(env.database_url, writes=True) as session:
            reserve.release(
                session,
                hold_key=view.hold_key,
                key=release_key(view.hold_key),
                at=datetime.now(UTC),
            )
        handle = await restarted(env, handle, E, hold_released=True)
    finally:
        httpx.delete(faults)


def extension(actor: Actor, working_days: int) -> InterventionRecord:
    return InterventionRecord(
        actor=actor, action=Intervention.extend_deadline, reason="延期", working_days=working_days
    )


async def extended_beyond_the_cap_by_the_district(env, handle) -> None:
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    await handle.execute_update(W.intervene, extension(SUPERVISOR, 30))
    await handle.execute_update(W.intervene, extension(OFFICER, 5))
    await handle.execute_update(
        W.record_decision, DecisionRecord(actor=OFFICER, outcome="approve", reasons="ok")
    )


async def emergency_extended_then_moved_by_the_calendar(env, handle) -> None:
    """一事一议 above the band; the follow-up extended to the cap and beyond by the district;
    then the day it is due made a holiday."""
    exception = ExceptionApproval(actor=OFFICER, amount=Decimal("8000"), reason="一事一议")
    await handle.execute_update(E.approve_exception, exception)
    await until(handle, env, lambda v: v.paid_at is not None)
    await handle.execute_update(E.intervene, extension(SUPERVISOR, 30))
    view = await handle.execute_update(E.intervene, extension(OFFICER, 5))
    due = view.follow_up_due
    in_force = packaged_years().get(due.year)
    holidays = (in_force.holidays if in_force else frozenset()) | {due}
    year = YearCalendar(due.year, holidays, in_force.workdays if in_force else frozenset())
    with session_scope(env.database_url, writes=True) as session:
        publish_year(session, calendar=year, published_by="histories", at=datetime.now(UTC))
    await handle.signal(E.calendar_published, CalendarPublished(years=[due.year]))
    await until(handle, env, lambda v: v.follow_up_due != due)
    await follow_up(env, handle)


async def start_payroll(env, settings, *, closed: int = 1, at_once: int = 0) -> object:
    """Four households in the register (``closed`` of them paid into closed accounts), then
    next month's payroll, in batches of two (``at_once`` townships at a time; 0: all)."""
    households(env.database_url, 4, closed=closed)
    month = Month.at(await env.get_current_time()).plus(1)
    return await env.client.start_workflow(
        PayrollWorkflow.run,
        PayrollMonth(str(month), OFFICER.user_id, batch_size=2, townships_at_once=at_once),
        id=f"{payroll_workflow_id(month)}-{uuid.uuid4().hex[:6]}",
        task_queue=settings.task_queue,
    )


async def payroll_of_a_month(env, handle) -> None:
    """A township's share: a child history of its own, recorded beside the month's."""
    await handle.result()
    month = Month.at(await env.get_current_time()).plus(1)
    env.more_histories["township"] = f"{payroll_workflow_id(month)}-370305001"


async def start_reissue(env, settings) -> object:
    """A household the bank refused, its account corrected: the re-issue."""
    payroll = await start_payroll(env, settings, closed=4)
    await payroll.result()
    month = Month.at(await env.get_current_time()).plus(1)
    with session_scope(env.database_url, writes=True) as session:
        [refused] = session.exec(
            select(PayrollItem.recipient_no).where(
                PayrollItem.month == str(month), PayrollItem.township == "370305001"
            )
        ).all()[:1]
        _, [reissue] = record_bank_account(
            session, recipient_no=refused, account=BankAccount(
                bank="齐商银行", account_no="6217000000000001", holder="户主0"
            ), actor=ASSISTANT, at=datetime.now(UTC), ring=RING,
        )  # fmt: skip
    return await env.client.start_workflow(
        ReissueWorkflow.run,
        reissue,
        id=reissue_workflow_id(reissue.key),
        task_queue=settings.task_queue,
    )


async def start_standard_change(env, settings) -> object:
    """Three households in the register and a new 低保 standard from next month, applied two
    households a page."""
    households(env.database_url, 3)
    month = Month.at(await env.get_current_time()).plus(1)
    with session_scope(env.database_url, writes=True) as session:
        record_change(
            session, from_month=str(month), urban=Decimal("1150"), rural=Decimal("950"),
            reasons="新一年低保标准", actor=OFFICER, now=datetime.now(UTC),
        )  # fmt: skip
    return await env.client.start_workflow(
        StandardChangeWorkflow.run,
        StandardChangeRun(str(month), page_size=2),
        id=f"{standard_workflow_id(str(month))}-{uuid.uuid4().hex[:6]}",
        task_queue=settings.task_queue,
    )


async def nothing_more(env, handle) -> None:
    await handle.result()


async def approved_and_registered(env, handle) -> None:
    """An approved 低保 household enters the register before its first payment."""
    await approve_it(env, handle)
    await until(handle, env, lambda v: v.first_payment_at is not None, query=W.current)


async def tekun_in_centralised_care(env, handle) -> None:
    """An elderly person's 特困 approval, checked for eligibility, in centralised care: paid
    into the care institution's account."""
    await survey(handle, env, **TEKUN_FACTS, self_care="none")
    await wait_for_stage(handle, Stage.review, env)
    await handle.execute_update(W.record_review, APPROVE)
    await env.sleep(timedelta(days=7, minutes=1))
    await wait_for_stage(handle, Stage.decision, env)
    home = "临淄区社会福利中心"
    account = BankAccount(bank="齐商银行", account_no="6217000099990001", holder=home)
    await handle.execute_update(
        W.record_decision,
        DecisionRecord(
            actor=OFFICER, outcome="approve", reasons="符合特困人员认定条件",
            care_form="centralised", institution=CareInstitution(name=home, account=account),
        ),
    )  # fmt: skip
    await until(handle, env, lambda v: v.first_payment_at is not None, query=W.current)


def intervention(action: Intervention, **details) -> InterventionRecord:
    return InterventionRecord(actor=SUPERVISOR, action=action, reason="督办", **details)


async def refused_by_the_verification_platform(env, settings, **overrides):
    """A case whose first verification request the platform refuses for good."""
    faults = f"{env.simulator_url}/_faults"
    httpx.post(faults, json={"service": "verification", "fail_next": 1, "status": 422})
    try:
        handle = await start_case(env, settings, **overrides)
        await until(handle, env, lambda v: v.verification_refused, query=W.current)
    finally:
        httpx.delete(faults)
    return handle


async def reverified_escalated_reopened_and_cancelled(env, handle) -> None:
    """Every intervention on an application: the platform asked again, staff alerted, the
    deadlines counted again (a reopening, a new calendar), the case cancelled."""
    await handle.execute_update(W.intervene, intervention(Intervention.reverify))
    await until(handle, env, lambda v: v.verification is not None, query=W.current)
    await handle.execute_update(W.intervene, intervention(Intervention.retry_now))
    await survey(handle, env)
    await wait_for_stage(handle, Stage.review, env)
    today = local_date(await env.get_current_time())
    await handle.signal(W.calendar_published, CalendarPublished(years=[today.year]))
    await handle.execute_update(W.intervene, intervention(Intervention.escalate))
    await handle.execute_update(
        W.intervene, intervention(Intervention.reassign, assignee="township-assistant-2")
    )
    await handle.execute_update(W.record_review, APPROVE)
    await handle.execute_update(
        W.intervene, intervention(Intervention.reopen, to_stage=Stage.survey)
    )
    await handle.execute_update(W.intervene, intervention(Intervention.cancel))


async def emergency_escalated_reopened_and_confirmed(env, handle) -> None:
    """Every intervention on an emergency but the extension: staff alerted, the follow-up
    reopened and surveyed again."""
    await handle.execute_update(E.intervene, intervention(Intervention.escalate))
    await handle.execute_update(
        E.intervene, intervention(Intervention.reassign, assignee="township-assistant-2")
    )
    await handle.execute_update(E.intervene, intervention(Intervention.retry_now))
    await handle.execute_update(E.approve, ApprovalRecord(actor=APPROVER, amount=Decimal("2000")))
    await follow_up_survey(env, handle)
    await handle.execute_update(
        E.intervene, intervention(Intervention.reopen, to_stage=EmergencyStage.paid)
    )
    await follow_up(env, handle)


async def emergency_cancelled(env, handle) -> None:
    await handle.execute_update(E.intervene, intervention(Intervention.cancel))


CLOSED = BankAccount(bank="齐商银行", account_no="0001112222", holder="张三")
GOOD = BankAccount(bank="齐商银行", account_no="6223000099998888", holder="张三")
GOOD_EMERGENCY = BankAccount(bank="齐商银行", account_no="6223000066667777", holder="王五")

SCENARIOS = {
    "approved_after_objection": (approved, start_case, {}),
    "refused_after_documents": (refused_after_documents, start_case, {}),
    "overdue_then_withdrawn": (overdue_then_withdrawn, start_case, {}),
    "strictly_overdue_while_awaiting_documents": (
        strictly_overdue_while_awaiting_documents,
        start_case,
        {},
    ),
    "temporary_approved": (
        temporary_approved,
        start_case,
        {"assistance_type": "temporary", "expense": "major_illness"},
    ),
    "district_approved_a_proposed_refusal": (district_approved_a_proposed_refusal, start_case, {}),
    "carried_over_after_many_pauses": (carried_over_after_many_pauses, start_case, {}),
    "objection_then_a_survey_with_its_own_deadline": (approved, start_case, {}),
    "paid_once_a_bank_account_was_recorded": (
        paid_once_an_account_is_recorded,
        start_case,
        {"bank_account": None},
    ),
    "paid_into_a_corrected_account": (
        paid_once_an_account_is_recorded,
        start_case,
        {"bank_account": CLOSED},
    ),
    "temporary_above_the_band_by_exception": (
        temporary_above_the_band_by_exception,
        start_case,
        {"assistance_type": "temporary", "expense": "major_illness"},
    ),
    "encrypted_paid_once_a_bank_account_was_recorded": (
        paid_once_an_account_is_recorded,
        start_case,
        {"bank_account": None},
    ),
    "emergency_paid_and_followed_up": (emergency_paid_and_followed_up, request, {}),
    "emergency_late_exception_to_a_corrected_account": (
        emergency_late_exception_to_a_corrected_account,
        request,
        {"bank_account": BankAccount(bank="齐商银行", account_no="0005554444", holder="王五")},
    ),
    "emergency_rejected": (emergency_rejected, request, {}),
    "emergency_waited_for_funds": (emergency_waited_for_funds, request, {}),
    "application_restarted_after_halt": (application_restarted_after_halt, start_case, {}),
    "emergency_restarted_after_halt": (emergency_restarted_after_halt, request, {}),
    "emergency_restarted_after_its_hold_was_released": (
        emergency_restarted_after_its_hold_was_released,
        request,
        {},
    ),
    "extended_beyond_the_cap_by_the_district": (
        extended_beyond_the_cap_by_the_district,
        start_case,
        {},
    ),
    "emergency_extended_then_moved_by_the_calendar": (
        emergency_extended_then_moved_by_the_calendar,
        request,
        {},
    ),
    "reverified_escalated_reopened_and_cancelled": (
        reverified_escalated_reopened_and_cancelled,
        refused_by_the_verification_platform,
        {},
    ),
    "emergency_escalated_reopened_and_confirmed": (
        emergency_escalated_reopened_and_confirmed,
        request,
        {},
    ),
    "emergency_cancelled": (emergency_cancelled, request, {}),
    "emergency_followed_into_a_dibao_application": (
        emergency_followed_into_a_dibao_application,
        request,
        {},
    ),
    "approved_against_the_verification_findings": (
        approved_against_the_verification_findings,
        start_case,
        {"applicant": Applicant(name="张三", id_number=marked_id_number(), phone="13800000000")},
    ),
}
SCENARIOS |= {
    "payroll_of_a_month": (payroll_of_a_month, start_payroll, {}),
    "payroll_in_waves_of_two_townships": (payroll_of_a_month, start_payroll, {"at_once": 2}),
    "reissued_into_a_corrected_account": (nothing_more, start_reissue, {}),
    "approved_and_registered": (approved_and_registered, start_case, {}),
    "approved_and_registered_indexed_at_start": (
        approved_and_registered,
        start_case,
        {"indexed": True},
    ),
    "emergency_paid_indexed_at_start": (
        emergency_paid_and_followed_up,
        request,
        {"indexed": True},
    ),
    "tekun_approved_in_centralised_care": (
        tekun_in_centralised_care,
        start_case,
        {
            "assistance_type": AssistanceType.tekun,
            "household": [],
            "applicant": Applicant(
                name="刘老汉", id_number=id_number("19500101"), phone="13800000000"
            ),
        },
    ),
    "new_standard_over_two_pages": (nothing_more, start_standard_change, {}),
}


async def open_a_review(env, settings, *, kind: str = "", alone: bool = False) -> object:
    """A household of the register and its review: opened by a reported change (``kind``),
    or out of cycle."""
    [number] = households(env.database_url, 1, villages=("370305001001",), alone=alone)
    now = await env.get_current_time()
    change = (
        ReportedChange(actor=COORDINATOR, kind=kind, happened_on=local_date(now),
                       household_income=Decimal("620") if kind == "income_changed" else None)
        if kind else None
    )  # fmt: skip
    with session_scope(env.database_url, writes=True) as session:
        opening = open_review(
            session, recipient_no=number, kind="out_of_cycle", reason="抽查", actor=OFFICER,
            now=now, policy=settings.policy, ring=RING, today=local_date(now), change=change,
        )  # fmt: skip
    await start_review(env.client, opening.start, task_queue=settings.task_queue)
    return env.client.get_workflow_handle(review_workflow_id(opening.review_no))


def ruling(actor: Actor, outcome: str, reasons: str, **more) -> BenefitDecision:
    return BenefitDecision(actor=actor, outcome=outcome, reasons=reasons, **more)


async def review_to_decision(env, handle) -> None:
    today = local_date(await env.get_current_time())
    await handle.execute_update(
        RW.record_survey,
        SurveyRecord(ASSISTANT, ["李协理", "周干事"], today, "收入增加", Decimal("620")),
    )
    await until(handle, env, lambda v: v.stage == "proposal", query=RW.current)


async def review_adjusted(env, handle) -> None:
    """A reported income change: surveyed, proposed and decided as an adjustment."""
    await review_to_decision(env, handle)
    month = str(Month.at(await env.get_current_time()).plus(2))
    await handle.execute_update(
        RW.record_proposal,
        ruling(ASSISTANT, "adjust", "收入增加", amount=Decimal("900"), effective_month=month),
    )
    await handle.execute_update(
        RW.record_decision,
        ruling(OFFICER, "adjust", "收入增加", amount=Decimal("900"), effective_month=month),
    )


async def review_overdue_then_terminated(env, handle) -> None:
    """Left undecided past its date (reminded, then overdue), then ended; the family texted."""
    await env.sleep(timedelta(days=40))
    await review_to_decision(env, handle)
    await handle.execute_update(RW.record_proposal, ruling(ASSISTANT, "terminate", "迁出本区"))
    await handle.execute_update(RW.record_decision, ruling(OFFICER, "terminate", "迁出本区"))


async def review_of_the_only_member(env, handle) -> None:
    """The only member died: the district confirms the end, without a survey."""
    await until(handle, env, lambda v: v.stage == "decision", query=RW.current)
    await handle.execute_update(RW.record_decision, ruling(OFFICER, "terminate", "户主死亡"))


async def start_review_round(env, settings) -> object:
    """The day's round, one household's review due within the opening window."""
    [number] = households(env.database_url, 1, villages=("370305001001",))
    today = local_date(await env.get_current_time())
    with session_scope(env.database_url, writes=True) as session:
        household = recipient_view_of(session.get(RecipientRecord, number))
        household.review_due = today + timedelta(days=5)
        write_recipient_view(session, household)
    return await env.client.start_workflow(
        ReviewRoundWorkflow.run, ReviewRound(), id=f"reviews-round-{uuid.uuid4().hex[:6]}",
        task_queue=settings.task_queue,
    )  # fmt: skip


SCENARIOS |= {
    "review_adjusted_after_an_income_change": (
        review_adjusted,
        open_a_review,
        {"kind": "income_changed"},
    ),
    "review_overdue_then_terminated": (review_overdue_then_terminated, open_a_review, {}),
    "review_of_the_only_member_who_died": (
        review_of_the_only_member,
        open_a_review,
        {"kind": "member_died", "alone": True},
    ),
    "review_round_of_the_day": (nothing_more, start_review_round, {}),
}


async def file_a_referral(env, settings) -> object:
    """A referral from the medical-insurance office, its deadline started."""
    now = await env.get_current_time()
    liaison = Actor("u-yb", "医保联络员", Role.department_liaison, "370305", "medical_insurance")
    family = Family("孙大病", id_number("19700505"), "13700000001")
    filing = Filing("medical_insurance", "major_illness", family, "370305001001", "住院自付")
    with session_scope(env.database_url, writes=True) as session:
        made = file_referral(session, filing=filing, actor=liaison, now=now,
                             policy=settings.policy, ring=RING)  # fmt: skip
    await start_referral(env.client, made.start, task_queue=settings.task_queue)
    return env.client.get_workflow_handle(referral_workflow_id(made.row.referral_no))


async def referral_left_overdue(env, handle) -> None:
    """No outcome: reminded, then recorded overdue."""
    await env.sleep(timedelta(days=30))


async def referral_given_its_outcome(env, handle) -> None:
    """The township finds the family not eligible before the reminder; the workflow is told."""
    number = handle.id.removeprefix("referral-")
    record = OutcomeRecord(actor=ASSISTANT, outcome="not_eligible", reasons="收入高于标准")
    with session_scope(env.database_url, writes=True) as session:
        record_outcome(session, referral_no=number, record=record, at=datetime.now(UTC))
    await handle.signal(ReferralWorkflow.closed, "not_eligible")


SCENARIOS |= {
    "referral_reminded_then_overdue": (referral_left_overdue, file_a_referral, {}),
    "referral_closed_by_its_outcome": (referral_given_its_outcome, file_a_referral, {}),
}
SUGGEST_CONTINUE_AS_NEW_AFTER = {"carried_over_after_many_pauses": 60}
"""Scenarios that need a dev server suggesting continue-as-new early (events); the others run
on the time-skipping test server."""


async def environment(name: str) -> WorkflowEnvironment:
    if name not in SUGGEST_CONTINUE_AS_NEW_AFTER:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(TEST_SERVER), data_converter=CONVERTER
        )
        await register_search_attributes(env.client)
        return env
    limit = SUGGEST_CONTINUE_AS_NEW_AFTER[name]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        data_converter=CONVERTER,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--headless",
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={limit}",
        ],
    )


async def every_run(env, handle) -> list:
    """The histories of all the workflow's runs, the first one first."""
    histories, run_id = [], None
    while True:
        history = await env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.insert(0, history)
        started = history.events[0].workflow_execution_started_event_attributes
        if not (run_id := started.continued_execution_run_id):
            return histories


def anonymous(history_json: str) -> str:
    """The history without the recording process's identity (process id and host name) and
    without stack traces (they name the recording machine's files; replay does not read them)."""
    history = json.loads(history_json)

    def scrub(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "identity":
                    node[key] = "jiuzhu-histories"
                elif key == "stackTrace":
                    node[key] = ""
                else:
                    scrub(value)
        elif isinstance(node, list):
            for item in node:
                scrub(item)

    scrub(history)
    return json.dumps(history, indent=2, ensure_ascii=False)


async def main(names: list[str]) -> None:
    HISTORIES.mkdir(exist_ok=True)
    wanted = names or [n for n in SCENARIOS if not list(HISTORIES.glob(f"{n}*.json"))]
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/jiuzhu.db"
        upgrade(database_url)
        with serve(create_app(f"{tmp}/simulators.db")) as sims:
            for name in wanted:
                scenario, starter, overrides = SCENARIOS[name]
                env = await environment(name)
                env.database_url = database_url  # for the scenarios that look at the reserve
                env.simulator_url, env.halted_runs = sims, []  # … and those that halt a case
                env.more_histories = {}  # other workflows' histories, by the file's suffix
                settings = stack_settings(
                    database_url=database_url, simulator_url=sims, task_queue=f"histories-{name}"
                )
                worker, external = create_worker(env.client, settings)
                env.task_queue = settings.task_queue
                async with worker:
                    handle = await starter(env, settings, **overrides)
                    await scenario(env, handle)
                    await env.client.get_workflow_handle(handle.id).result()
                    halted = [
                        await env.client.get_workflow_handle(handle.id, run_id=r).fetch_history()
                        for r in env.halted_runs
                    ]
                    runs = halted + await every_run(env, handle)
                    more = {
                        suffix: await env.client.get_workflow_handle(id).fetch_history()
                        for suffix, id in env.more_histories.items()
                    }
                await external.close()
                await env.shutdown()
                for number, history in enumerate(runs, 1):
                    file = f"{name}.json" if len(runs) == 1 else f"{name}-run{number}.json"
                    (HISTORIES / file).write_text(anonymous(history.to_json()))
                    print(f"recorded {file}: {len(history.events)} events")
                for suffix, history in more.items():
                    (HISTORIES / f"{name}-{suffix}.json").write_text(anonymous(history.to_json()))
                    print(f"recorded {name}-{suffix}.json: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
