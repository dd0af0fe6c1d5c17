"""Reviews of recipient households behind the routes: opening one (out of cycle, or for a
change the family or the village reports: one open review at a time, a second change joins
it), reading them, and carrying each caseworker's action to the review's workflow as an Update."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
)
from temporalio.service import RPCError

from domain.calendar import local_date
from domain.cases import Actor
from domain.errors import WrongStage
from domain.months import Month
from domain.policy import Policy
from domain.reviews import OPEN, ReportedChange, ReviewView, check_change
from domain.sealing import KeyRing
from services.cases import carry
from store import recipients, reviews
from store.db import Database
from store.review_rows import review_view
from workflows.client import review_workflow_id, start_review
from workflows.review import ReviewWorkflow

log = structlog.get_logger()


@dataclass(frozen=True)
class Opened:
    review_no: str
    joined: bool
    """The household's review under way took it (no new review)."""


async def open_review(
    *,
    db: Database,
    client: Client,
    recipient_no: str,
    reason: str,
    actor: Actor,
    policy: Policy,
    ring: KeyRing,
    task_queue: str,
    change: ReportedChange | None = None,
    update_id: str | None = None,
    timeout: timedelta = timedelta(seconds=30),
) -> Opened:
    """An out-of-cycle review of the household, or the one under way (a change joins it)."""
    now = datetime.now(UTC)
    if change is not None:
        household = recipients.view_of(
            await db.read(recipients.recipient, recipient_no=recipient_no)
        )
        check_change(
            change, began=Month.parse(household.start_month).first_day, today=local_date(now)
        )
    opening = await db.write(
        reviews.open_review, recipient_no=recipient_no, kind="out_of_cycle", reason=reason,
        actor=actor, now=now, policy=policy, ring=ring, today=local_date(now), change=change,
    )  # fmt: skip
    if opening.start is not None:
        try:
            await start_review(client, opening.start, task_queue=task_queue)
        except RPCError:  # the day's round starts it
            log.warning("review.start_postponed", case_no=opening.review_no)
        log.info("review.opened", case_no=opening.review_no, recipient_no=recipient_no)
        return Opened(opening.review_no, joined=False)
    if change is not None:
        join = dict(
            client=client, review_no=opening.review_no, update=ReviewWorkflow.report_change,
            record=change, update_id=update_id, timeout=timeout,
        )  # fmt: skip
        try:
            await act(**join)
        except WrongStage:
            # Opened a moment ago, its workflow perhaps not started yet (its opener starts it):
            # started here too (once: named by its number), then joined.
            row = await db.read(
                reviews.review, recipient_no=recipient_no, review_no=opening.review_no
            )
            if row.stage not in OPEN:
                raise
            await start_review(client, reviews.review_start(row, ring=ring), task_queue=task_queue)
            await act(**join)
    return Opened(opening.review_no, joined=True)


async def listing(*, db: Database, recipient_no: str) -> list[ReviewView]:
    return await db.read(reviews.reviews_of, recipient_no=recipient_no)


async def read(*, db: Database, recipient_no: str, review_no: str) -> ReviewView:
    row = await db.read(reviews.review, recipient_no=recipient_no, review_no=review_no)
    return review_view(row)


async def act(
    *,
    client: Client,
    review_no: str,
    update: Any,
    record: Any,
    update_id: str | None,
    timeout: timedelta,
) -> ReviewView:
    """One action carried to the review's workflow (``update_id`` from the Idempotency-Key: a
    repeat is dropped by Temporal itself); the review as it now stands."""

    async def closed() -> WrongStage:
        return WrongStage(f"review {review_no} is closed")

    return await carry(
        client.get_workflow_handle(review_workflow_id(review_no)), update, record,
        update_id=update_id, timeout=timeout, name=f"review {review_no}", not_running=closed,
    )  # fmt: skip
