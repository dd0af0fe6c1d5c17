"""A case's steps as a timeline (domain/milestones.py): each time limit kept, missed, late or
still open, from the view its workflow wrote. Pure: no Temporal, no database."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.cases import AssistanceType, CaseView, Channel, Stage
from domain.emergency import Cause, EmergencyStage, EmergencyView
from domain.milestones import application_milestones, emergency_milestones

ACCEPTED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Asia/Shanghai


def application(**changes) -> CaseView:
    view = CaseView(
        case_no="370305-2026-000001", assistance_type=AssistanceType.dibao, stage=Stage.survey,
        township="370305001", village="370305001001", channel=Channel.walk_in,
        applicant_name="张三", household_size=2, accepted_at=ACCEPTED,
        survey_due=date(2026, 3, 5), decision_due=date(2026, 3, 27), provisional=False,
        assignee="u-1",
    )  # fmt: skip
    for name, value in changes.items():
        setattr(view, name, value)
    return view


def verdicts(steps) -> dict[str, str | None]:
    return {m.step: m.verdict for m in steps}


def test_an_application_just_accepted_has_its_limits_open():
    steps = application_milestones(application(), now=ACCEPTED + timedelta(hours=1))
    assert [m.step for m in steps] == [
        "accepted",
        "survey",
        "review",
        "notice",
        "decision",
        "closed",
    ]
    assert verdicts(steps) == {
        "accepted": None, "survey": "open", "review": None, "notice": None,
        "decision": "open", "closed": None,
    }  # fmt: skip
    assert steps[0].at == ACCEPTED and steps[1].at is None


def test_a_survey_is_kept_or_missed_by_its_visits_day_and_late_when_not_done():
    on_time = application(
        surveyed_at=datetime(2026, 3, 5, 15, 0, tzinfo=UTC),  # the 5th is over in Shanghai
        visited_on=date(2026, 3, 5),
    )
    assert verdicts(application_milestones(on_time, now=ACCEPTED))["survey"] == "kept"
    after = application(
        surveyed_at=datetime(2026, 3, 6, 2, tzinfo=UTC), visited_on=date(2026, 3, 6)
    )
    assert verdicts(application_milestones(after, now=ACCEPTED))["survey"] == "missed"
    # Not done: open until its day ends (Asia/Shanghai), late after.
    before_end = datetime(2026, 3, 5, 15, 59, tzinfo=UTC)
    assert verdicts(application_milestones(application(), now=before_end))["survey"] == "open"
    past = datetime(2026, 3, 5, 16, 0, tzinfo=UTC)
    assert verdicts(application_milestones(application(), now=past))["survey"] == "late"
    # The workflow's own mark counts, whatever the clock.
    marked = application(survey_overdue=True)
    assert verdicts(application_milestones(marked, now=ACCEPTED))["survey"] == "late"


def test_a_refused_application_has_its_written_notice_on_the_timeline():
    refused = application(
        stage=Stage.refused,
        decided_at=datetime(2026, 3, 20, 2, tzinfo=UTC),
        refusal_notice_due=date(2026, 3, 25),
    )
    now = datetime(2026, 3, 26, 2, tzinfo=UTC)
    found = verdicts(application_milestones(refused, now=now))
    assert found["decision"] == "kept" and found["refusal_notice"] == "late"
    refused.refusal_notified_at = datetime(2026, 3, 24, 2, tzinfo=UTC)
    assert verdicts(application_milestones(refused, now=now))["refusal_notice"] == "kept"
    late = application(decided_at=datetime(2026, 3, 28, 2, tzinfo=UTC))
    assert verdicts(application_milestones(late, now=now))["decision"] == "missed"


def emergency(**changes) -> EmergencyView:
    view = EmergencyView(
        case_no="370305-2026-000002", stage=EmergencyStage.awaiting_approval,
        township="370305001", village="370305001001", channel=Channel.walk_in,
        cause=next(iter(Cause)), applicant_name="李四", household_size=1, assignee="u-1",
        requested_at=ACCEPTED, pay_by=ACCEPTED + timedelta(hours=24),
        requested_amount=Decimal("1760.00"), bank_account="****1234",
    )  # fmt: skip
    for name, value in changes.items():
        setattr(view, name, value)
    return view


def test_an_emergency_is_paid_within_its_24_hours_or_not():
    assert verdicts(emergency_milestones(emergency(), now=ACCEPTED))["payout"] == "open"
    day_later = ACCEPTED + timedelta(hours=24)
    assert verdicts(emergency_milestones(emergency(), now=day_later))["payout"] == "late"
    paid = emergency(paid_at=ACCEPTED + timedelta(hours=23), follow_up_due=date(2026, 3, 16))
    found = verdicts(emergency_milestones(paid, now=day_later))
    assert found["payout"] == "kept" and found["follow_up"] == "open"
    slow = emergency(paid_at=ACCEPTED + timedelta(hours=25))
    assert verdicts(emergency_milestones(slow, now=day_later))["payout"] == "missed"
    rejected = emergency(rejected_at=ACCEPTED + timedelta(hours=2))
    assert "payout" not in verdicts(emergency_milestones(rejected, now=day_later))
