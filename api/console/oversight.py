"""The overseers' pages: 合规审计 (deadline compliance with its charts and CSV, and the
evidence check). Each calls the service of the API's route, under that route's permission."""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.console import charts, words
from api.console.access import allowed
from api.console.pages import ConsoleRoute, render
from api.deps import DatabaseDep, SettingsDep
from api.permissions import SUPERVISE, VERIFY_AUDIT_TRAIL
from api.routes.compliance import report_clock, to_csv
from domain.calendar import local_date
from domain.cases import Actor, AssistanceType
from domain.compliance import ComplianceReport
from domain.errors import InvalidData
from domain.townships import covers, jurisdiction_level
from services import compliance, evidence, townships
from services.compliance import MonthOnTime

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Clock = Annotated[datetime, Depends(report_clock)]


def _period(
    now: datetime, first: str, last: str, township: str, assistance_type: str
) -> tuple[dict, list[str]]:
    """The form's period and filters, or what is wrong with them (in Chinese)."""
    problems = []
    today = local_date(now)
    found: dict = {"township": township or None, "assistance_type": assistance_type or None}
    for name, text, default, label in (
        ("first", first, date(today.year, 1, 1), "起始日期"),
        ("last", last, today, "截止日期"),
    ):
        try:
            found[name] = date.fromisoformat(text) if text else default
        except ValueError:
            problems.append(f"{label}：请按 年-月-日 填写日期，例如 {today.isoformat()}")
            found[name] = default
    if township and not (township.isascii() and township.isdigit() and len(township) == 9):
        problems.append("镇(街道)：请从列表中选择")
    if assistance_type and assistance_type not in AssistanceType.__members__:
        problems.append("救助类型：请从列表中选择")
    return found, problems


@router.get("/compliance")
async def compliance_page(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    now: Clock,
    user: Actor = allowed(SUPERVISE),
) -> Response:
    """合规审计: the report of a period by township and type, its charts, the CSV."""
    q = request.query_params
    form = {k: q.get(k, "").strip() for k in ("from", "to", "township", "assistance_type")}
    found, problems = _period(
        now, form["from"], form["to"], form["township"], form["assistance_type"]
    )
    form |= {"from": found["first"].isoformat(), "to": found["last"].isoformat()}
    report, trend = None, []
    if not problems:
        try:
            report = await compliance.report(
                db=db, user=user, now=now, policy=settings.policy, trend=trend, **found
            )
        except InvalidData as refused:
            problems.append(words.refusal(refused))
    names = {t.code: t.name for t in await townships.listing(db=db) if covers(user.jurisdiction, t.code) or covers(t.code, user.jurisdiction)}  # fmt: skip
    csv_query = "&".join(f"{k}={v}" for k, v in form.items() if v)
    return render(
        request, "compliance.html", 422 if problems else 200, title="合规审计",
        report=report, problems=problems, form=form, names=names, csv_query=csv_query,
        by_township=_by_township(report, names, found["township"]) if report else None,
        trend=_trend(trend) if report else None, months=trend,
        verifies=user.role in VERIFY_AUDIT_TRAIL.roles
        and jurisdiction_level(user.jurisdiction) == "district",
        types=list(AssistanceType),
    )  # fmt: skip


@router.get("/compliance.csv")
async def compliance_csv(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    now: Clock,
    user: Actor = allowed(SUPERVISE),
) -> Response:
    """The report as the API's CSV (UTF-8 with a BOM, the Chinese headers Excel shows)."""
    q = request.query_params
    found, problems = _period(
        now, q.get("from", ""), q.get("to", ""), q.get("township", ""),
        q.get("assistance_type", ""),
    )  # fmt: skip
    if problems:
        raise InvalidData("query", "；".join(problems))
    report = await compliance.report(db=db, user=user, now=now, policy=settings.policy, **found)
    return Response(
        content=to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="compliance-{found["first"]}-{found["last"]}.csv"'
        },
    )


@router.get("/evidence")
async def evidence_page(
    request: Request, db: DatabaseDep, user: Actor = allowed(VERIFY_AUDIT_TRAIL)
) -> Response:
    """留痕核验: every audit entry against its hash and chain, every seal against its entries
    (the API's /audit/verify). It reads the whole trail, so it runs when asked, not with the
    compliance page."""
    verdict = await evidence.verification(db=db)
    return render(
        request, "evidence.html", title="留痕核验", verdict=verdict,
        checked_at=datetime.now(UTC),
    )  # fmt: skip


def _by_township(
    report: ComplianceReport, names: dict[str, str], only: str | None
) -> charts.BarChart:
    """The on-time rate of each township's decisions (all types), a bar each; a township of
    the jurisdiction with no decision in the period shows without a bar."""
    counted: dict[str, list[int]] = {}
    if report.applications is not None:
        for row in report.applications.rows:
            c = counted.setdefault(row.township or "", [0, 0])
            c[0] += row.decided
            c[1] += row.on_time_excluding_pauses
    codes = [only] if only else list(names)
    rows = []
    for code in codes:
        decided, on_time = counted.get(code, [0, 0])
        share = on_time / decided if decided else None
        caption = f"{share:.0%}（{on_time}/{decided}）" if decided else "本期无审核确认"
        rows.append((names.get(code, code), share, caption))
    return charts.bars(rows)


def _trend(months: list[MonthOnTime]) -> charts.LineChart:
    return charts.line(
        [
            (
                f"{m.month.month}月"
                if m.month.month != 1 or len(months) <= 12
                else f"{m.month.year}年1月",
                m.on_time_share_excluding_pauses,
                f"{m.on_time_share_excluding_pauses:.0%}" if m.decided else "无",
            )
            for m in months
        ]
    )
