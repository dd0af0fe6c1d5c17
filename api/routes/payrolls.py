"""/payrolls: the district's monthly payroll (按月社会化发放) — started by a district officer
(next month's may run early, before the bank's cut-off) or by the Schedule on its day; each
month's figures by township, reconciled with the bank's batches; its items, as JSON or as CSV
for Excel."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from api.deps import DatabaseDep, IdempotencyKey, SettingsDep, TemporalDep
from api.models import (
    CountAndAmount,
    Page,
    PayrollCreate,
    PayrollDetail,
    PayrollItemPublic,
    PayrollPublic,
    Payrolls,
    TownshipPayrollPublic,
)
from api.permissions import READ_PAYROLLS, START_PAYROLL, PermittedRoute, permit
from api.spreadsheet import csv_bytes
from domain.cases import Actor
from services import payroll

router = APIRouter(prefix="/payrolls", tags=["payrolls"], route_class=PermittedRoute)

CSV_COLUMNS = {
    "recipient_no": "recipient_no [救助档案号]",
    "township": "township [镇街]",
    "village": "village [村居]",
    "applicant_name": "applicant_name [户主]",
    "month": "month [月份]",
    "amount": "amount [金额]",
    "status": "status [状态]",
    "account": "account [账户]",
    "transfer_id": "transfer_id [交易号]",
    "reason": "reason [原因]",
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=PayrollPublic)
async def start_payroll(
    body: PayrollCreate,
    db: DatabaseDep,
    client: TemporalDep,
    settings: SettingsDep,
    user: Actor = permit(START_PAYROLL),
    _key: IdempotencyKey = None,  # honoured by the idempotency middleware
) -> PayrollPublic:
    """Start the month's payroll now (this month, or the next before the bank's cut-off): every
    household paid in it, once, in batches per township. A month that has run is 409."""
    started = await payroll.start(
        db=db, client=client, month=body.month, actor=user,
        batch_size=settings.payroll_batch_size,
        townships_at_once=settings.payroll_townships_at_once, task_queue=settings.task_queue,
    )  # fmt: skip
    return PayrollPublic.model_validate(started, from_attributes=True)


@router.get("", response_model=Payrolls)
async def list_payrolls(
    request: Request, db: DatabaseDep, user: Actor = permit(READ_PAYROLLS)
) -> Payrolls:
    """The months run, the newest first, and when the Schedule runs the next."""
    rows, next_run = await payroll.months(db=db, client=request.app.state.temporal)
    return Payrolls(items=[PayrollPublic.model_validate(r) for r in rows], next_run=next_run)


@router.get("/{month}", response_model=PayrollDetail)
async def get_payroll(
    month: str, db: DatabaseDep, user: Actor = permit(READ_PAYROLLS)
) -> PayrollDetail:
    """The month, by township of your jurisdiction: households, amounts paid, refused and
    pending, and what does not reconcile with the bank's batches."""
    row, shares = await payroll.figures(db=db, month=month, user=user)
    townships = [
        TownshipPayrollPublic(
            township=s.township,
            households=s.households,
            total=s.total,
            paid=CountAndAmount(count=s.paid[0], amount=s.paid[1]),
            refused=CountAndAmount(count=s.refused[0], amount=s.refused[1]),
            pending=CountAndAmount(count=s.pending[0], amount=s.pending[1]),
            difference=s.difference,
            unreconciled_batches=s.unreconciled_batches,
        )
        for s in shares
    ]
    reconciled = all(not t.unreconciled_batches for t in townships)
    return PayrollDetail(
        **PayrollPublic.model_validate(row).model_dump(),
        reconciled=reconciled,
        townships=townships,
    )


@router.get(
    "/{month}/items",
    response_model=Page[PayrollItemPublic],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"}},
)
async def list_payroll_items(
    month: str,
    request: Request,
    db: DatabaseDep,
    user: Actor = permit(READ_PAYROLLS),
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    status: Literal["pending", "paid", "refused", "reissuing"] | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[PayrollItemPublic] | Response:
    """The month's items of your jurisdiction, by household; with ``Accept: text/csv``, the
    page as CSV for Excel (UTF-8 with a BOM, no cell a spreadsheet would run)."""
    listed = await payroll.items(
        db=db, month=month, user=user, township=township, status=status, page=page,
        page_size=page_size,
    )  # fmt: skip
    items = Page[PayrollItemPublic].of(listed, _item)
    if "text/csv" in request.headers.get("accept", ""):
        rows = ({CSV_COLUMNS[k]: v for k, v in i.model_dump().items()} for i in items.items)
        return Response(
            content=csv_bytes(CSV_COLUMNS.values(), rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="payroll-{month}.csv"'},
        )
    return items


def _item(pair) -> PayrollItemPublic:
    item, household = pair
    return PayrollItemPublic(
        recipient_no=item.recipient_no, township=item.township, village=household.village,
        applicant_name=household.applicant_name, month=item.month, amount=item.amount,
        status=item.status, account=item.account, transfer_id=item.transfer_id,
        reason=item.reason,
    )  # fmt: skip
