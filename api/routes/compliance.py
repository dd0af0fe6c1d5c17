"""/audit/compliance: whether the deadlines were kept, for any period and township.

For the overseeing office (auditor), and supervisors, district officers and the admin, each
within their jurisdiction. JSON by default; ``Accept: text/csv`` gives the same numbers as a
CSV that Excel opens (UTF-8 with a BOM; written by ``api.spreadsheet``, which no name can
turn into a formula). The report is ``services.compliance``'s (the counting
``domain.compliance``'s, the reading ``store.compliance``'s); what each number means is in
``domain.compliance``.
"""

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import DatabaseDep, SettingsDep
from api.permissions import SUPERVISE, PermittedRoute, permit
from api.spreadsheet import csv_bytes
from domain.cases import Actor, AssistanceType
from domain.compliance import ComplianceReport
from services import compliance
from services.compliance import Kind

router = APIRouter(prefix="/audit", tags=["audit"], route_class=PermittedRoute)


def report_clock() -> datetime:
    """When the report is made. A dependency so that a test on the time-skipping server can
    make the report at the workflows' time."""
    return datetime.now(UTC)


@router.get(
    "/compliance",
    response_model=ComplianceReport,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"}},
)
async def get_compliance(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    first: Annotated[date, Query(alias="from", description="first day, Asia/Shanghai")],
    last: Annotated[date, Query(alias="to", description="last day, included")],
    now: Annotated[datetime, Depends(report_clock)],
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    assistance_type: AssistanceType | None = None,
    kind: Kind | None = None,
    user: Actor = permit(SUPERVISE),
):
    """Deadline compliance per township and assistance type (applications) or cause
    (emergencies), with totals: decisions within the time limit (20 working days), counted
    from acceptance and without the 补正 pauses; extensions (cases, and the working days they
    added); breaches and the stage behind
    each; surveys and written refusals on time; emergencies paid within 24 hours and followed
    up in time; the cases open and late at the end of the period; the days each township's
    reserve was below its minimum; the reviews of recipient households due in the period
    decided on time, late, outstanding, or never opened; the share of 特困 recipients with
    partial or no self-care in centralised care (集中供养), against the seed's target of 60 %
    (``kind=care``: that alone); the referrals from other departments (部门转介) received in the
    period, acted on by their date, late, outstanding, and the median working days from receipt
    to outcome, by township and situation (``kind=referral``: that alone); each township's
    sweeps of its villages (摸底排查) in the period, the families they found, its last sweep and
    whether the next is overdue at the cadence (``kind=sweep``: that alone).
    ``assistance_type`` filters the applications only."""
    report = await compliance.report(
        db=db,
        user=user,
        first=first,
        last=last,
        now=now,
        policy=settings.policy,
        township=township,
        assistance_type=assistance_type,
        kind=kind,
    )
    if "text/csv" in request.headers.get("accept", ""):
        return Response(
            content=to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="compliance-{first}-{last}.csv"'
            },
        )
    return report


# ---- CSV: one row per township and type, totals after each kind -------------------------

COLUMNS: list[tuple[str, str]] = [
    ("record", "record [类别]"),
    ("township", "township [镇街代码]"),
    ("township_name", "township_name [镇街]"),
    ("type", "type [救助类型/事由]"),
    # applications
    ("decided", "decided [审核确认]"),
    ("approved", "approved [批准]"),
    ("refused", "refused [不予批准]"),
    ("on_time", "on_time [按时办结(含补正)]"),
    ("on_time_share", "on_time_share"),
    ("on_time_excluding_pauses", "on_time_excluding_pauses [按时办结(扣除补正)]"),
    ("on_time_share_excluding_pauses", "on_time_share_excluding_pauses"),
    ("extended", "extended [延期]"),
    ("extended_working_days", "extended_working_days [延期工作日]"),
    ("paused", "paused [补正]"),
    ("paused_working_days", "paused_working_days [补正工作日]"),
    ("working_days_median", "working_days_median [办理工作日中位数]"),
    ("working_days_p90", "working_days_p90"),
    ("working_days_excluding_pauses_median", "working_days_excluding_pauses_median"),
    ("working_days_excluding_pauses_p90", "working_days_excluding_pauses_p90"),
    ("breaches", "breaches [超期]"),
    ("breaches_survey", "breaches_longest_stage_survey [入户调查]"),
    ("breaches_review", "breaches_longest_stage_review [初审]"),
    ("breaches_notice", "breaches_longest_stage_notice [公示]"),
    ("breaches_decision", "breaches_longest_stage_decision [审核确认]"),
    ("breaches_awaiting_documents", "breaches_longest_stage_awaiting_documents [补正]"),
    ("breaches_unknown", "breaches_longest_stage_unknown"),
    ("strict_on_time", "strict_on_time [20个工作日内办结(补正、延期不扣除)]"),
    ("strict_on_time_share", "strict_on_time_share"),
    ("strict_breaches", "strict_breaches [超20个工作日]"),
    ("surveys", "surveys [入户调查]"),
    ("surveys_on_time", "surveys_on_time"),
    ("surveys_on_time_share", "surveys_on_time_share"),
    ("refusal_notices", "refusal_notices [书面告知]"),
    ("refusal_notices_on_time", "refusal_notices_on_time"),
    ("refusal_notices_late", "refusal_notices_late"),
    ("refusal_notices_on_time_share", "refusal_notices_on_time_share"),
    # emergencies
    ("requested", "requested [急难申请]"),
    ("paid", "paid [已发放]"),
    ("paid_on_time", "paid_on_time [24小时内发放]"),
    ("paid_late", "paid_late"),
    ("unpaid_late", "unpaid_late [超时未发放]"),
    ("awaiting_payment", "awaiting_payment"),
    ("rejected", "rejected [不予救助]"),
    ("cancelled", "cancelled"),
    ("paid_on_time_share", "paid_on_time_share"),
    ("hours_to_payment_median", "hours_to_payment_median"),
    ("hours_to_payment_p90", "hours_to_payment_p90"),
    ("follow_ups_due", "follow_ups_due [补办]"),
    ("follow_ups_on_time", "follow_ups_on_time"),
    ("follow_ups_late", "follow_ups_late"),
    ("follow_ups_on_time_share", "follow_ups_on_time_share"),
    # both kinds
    ("open", "open [未办结]"),
    ("open_late", "open_late [未办结已超期]"),
    ("open_past_strict_date", "open_past_strict_date [未办结已超20个工作日]"),
    # reserves
    ("minimum", "reserve_minimum [储备金下限]"),
    ("opening_balance", "reserve_opening_balance [期初余额]"),
    ("lowest_balance", "reserve_lowest_balance [期内最低余额]"),
    ("days_below_minimum", "days_below_minimum [低于下限天数]"),
    ("dates_below_minimum", "dates_below_minimum [低于下限日期]"),
    # 特困 centralised care (集中供养率)
    ("recipients", "tekun_recipients [特困供养人员]"),
    ("needing_care", "needing_care [失能半失能]"),
    ("centralised", "centralised [集中供养]"),
    ("centralised_share", "centralised_share [集中供养率]"),
    ("target", "centralised_target [目标]"),
    ("meets_target", "meets_target [达标]"),
    ("unassessed", "self_care_unassessed [未评估自理能力]"),
    # reviews of recipient households
    ("review_due", "reviews_due [应核查]"),
    ("review_on_time", "reviews_on_time [按期核查]"),
    ("review_late", "reviews_late [逾期核查]"),
    ("review_outstanding", "reviews_outstanding [未完成]"),
    ("review_outstanding_late", "reviews_outstanding_late [未完成已逾期]"),
    ("review_unopened", "reviews_unopened [到期未启动]"),
    ("review_on_time_share", "reviews_on_time_share"),
    # referrals from other departments
    ("situation", "situation [转介情形]"),
    ("referral_received", "referrals_received [收到转介]"),
    ("referral_on_time", "referrals_on_time [按期核实]"),
    ("referral_late", "referrals_late [逾期核实]"),
    ("referral_outstanding", "referrals_outstanding [未核实]"),
    ("referral_outstanding_late", "referrals_outstanding_late [未核实已逾期]"),
    ("referral_median_working_days", "referrals_median_working_days [核实中位工作日]"),
    ("referral_on_time_share", "referrals_on_time_share"),
    # sweeps of the villages (摸底排查)
    ("sweeps", "sweeps [摸底排查次数]"),
    ("families_found", "families_found [发现家庭]"),
    ("last_swept_on", "last_swept_on [最近排查日期]"),
    ("next_due", "next_sweep_due [下次排查期限]"),
    ("sweep_overdue", "sweep_overdue [排查逾期]"),
]


def to_csv(report: ComplianceReport) -> bytes:
    """The report as CSV (``api.spreadsheet``)."""
    labels = dict(COLUMNS)
    return csv_bytes(
        labels.values(),
        ({labels[k]: v for k, v in row.items()} for row in _csv_rows(report)),
    )


def _csv_rows(report: ComplianceReport):
    if report.applications is not None:
        for row in [*report.applications.rows, report.applications.total]:
            fields = asdict(row)
            by_stage = fields.pop("breaches_by_longest_stage")
            fields["type"] = fields.pop("assistance_type")
            fields |= {f"breaches_{stage}": n for stage, n in by_stage.items()}
            yield _named("application", fields)
    if report.emergencies is not None:
        for row in [*report.emergencies.rows, report.emergencies.total]:
            fields = asdict(row)
            fields["type"] = fields.pop("cause")
            yield _named("emergency", fields)
    for reserve in report.reserves or []:
        fields = asdict(reserve)
        fields["dates_below_minimum"] = " ".join(d.isoformat() for d in reserve.dates_below_minimum)
        yield _named("reserve", fields)
    if report.centralised_care is not None:
        for row in [*report.centralised_care.rows, report.centralised_care.total]:
            fields = asdict(row)
            fields["meets_target"] = {True: "yes", False: "no", None: None}[row.meets_target]
            yield _named("centralised_care", fields)
    if report.reviews is not None:
        for row in [*report.reviews.rows, report.reviews.total]:
            fields = asdict(row)
            keep = {"township", "township_name", "type"}
            yield _named(
                "review", {k if k in keep else f"review_{k}": v for k, v in fields.items()}
            )
    if report.referrals is not None:
        for row in [*report.referrals.rows, report.referrals.total]:
            keep = {"township", "township_name", "situation"}
            yield _named(
                "referral",
                {k if k in keep else f"referral_{k}": v for k, v in asdict(row).items()},
            )

    if report.sweeps is not None:
        for row in [*report.sweeps.rows, report.sweeps.total]:
            fields = asdict(row)
            overdue = fields.pop("overdue")
            counted = fields.pop("overdue_townships")
            fields["sweep_overdue"] = (
                counted if row.township is None else {True: "yes", False: "no"}[overdue]
            )
            yield _named("sweep", fields)


def _named(record: str, fields: dict) -> dict:
    if fields["township"] is None:
        fields |= {"township": "total", "township_name": "合计"}
    return {"record": record} | fields
