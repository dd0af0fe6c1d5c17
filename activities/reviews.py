"""Activities of the reviews of recipient households: the district's decision on the
household's course, and the day's opening of the periodic reviews falling due (each review's
workflow started here, named by its number, so a rerun starts none twice)."""

import asyncio
from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from domain.calendar import local_date
from domain.cases import SYSTEM
from domain.contracts import Activity, ReviewRound, ReviewRuling
from domain.errors import CaseError, InvalidData
from domain.policy import Policy
from domain.reviews import opening_horizon
from domain.sealing import KeyRing
from store import reviews
from store.calendar import load_calendar
from store.db import Database
from workflows.client import start_review

log = structlog.get_logger()

PAGE = 200
"""Households opened per transaction."""
STARTS_AT_ONCE = 16
"""Review workflows started at once (each start is a round trip to the engine)."""


class ReviewActivities:
    def __init__(
        self,
        *,
        database_url: str,
        ring: KeyRing,
        client: Client,
        task_queue: str,
        policy: Policy,
    ) -> None:
        self.db = Database(database_url)
        self.ring, self.client, self.task_queue, self.policy = ring, client, task_queue, policy
        self.starting = asyncio.Semaphore(STARTS_AT_ONCE)

    @activity.defn(name=Activity.decide_review)
    async def decide_review(self, ruling: ReviewRuling) -> str:
        """The decision on the household's course (once per review); the month it holds from.
        A refusal of the register (the household changed since the review opened) fails the
        district's Update, naming the field."""
        try:
            month = await self.db.write(
                reviews.decide_review, review_no=ruling.review_no,
                recipient_no=ruling.recipient_no, decision=ruling.decision, at=ruling.at,
                policy=ruling.policy, assessed_income=ruling.assessed_income,
            )  # fmt: skip
        except CaseError as refusal:
            details = [{"field": refusal.field}] if isinstance(refusal, InvalidData) else []
            raise ApplicationError(
                refusal.message, *details, type=type(refusal).__name__, non_retryable=True
            ) from None
        log.info("review.decided", case_no=ruling.review_no, outcome=ruling.decision.outcome)
        return month

    @activity.defn(name=Activity.open_due_reviews)
    async def open_due_reviews(self, round_: ReviewRound) -> int:
        """Each household whose periodic review falls due within the opening window gets its
        review, page by page (the page it reached is its heartbeat: a retry goes on from it);
        a review whose workflow never started is started. How many opened."""
        today = round_.today or local_date(datetime.now(UTC))
        while await self.db.write(reviews.without_due_date, policy=self.policy):
            activity.heartbeat("")
        horizon = await self.db.read(
            lambda s: opening_horizon(today=today, policy=self.policy, calendar=load_calendar(s))
        )
        opened = 0
        after = (activity.info().heartbeat_details or [""])[0]
        while numbers := await self.db.read(
            reviews.due_for_opening, horizon=horizon, after=after, limit=PAGE
        ):
            openings = await self.db.write(
                reviews.open_reviews, recipient_nos=numbers, kind="periodic", reason="定期核查",
                actor=SYSTEM, now=datetime.now(UTC), policy=self.policy, ring=self.ring,
                today=today,
            )  # fmt: skip
            starts = [o.start for o in openings if o.start is not None]
            await asyncio.gather(*(self._start(start) for start in starts))
            opened += len(starts)
            after = numbers[-1]
            activity.heartbeat(after)
        await self._restart_unstarted()
        log.info("review.round", opened=opened, horizon=str(horizon))
        return opened

    async def _start(self, start) -> None:
        try:
            async with self.starting:
                await start_review(self.client, start, task_queue=self.task_queue)
        except RPCError:  # the next round starts it (its row is never written by a workflow)
            log.warning("review.start_postponed", case_no=start.review_no)

    async def _restart_unstarted(self) -> None:
        """Reviews opened whose workflow never wrote (its start was lost) are started again."""
        after = ""
        while rows := await self.db.read(reviews.open_under_way, after=after, limit=PAGE):
            for row in rows:
                if row.version == 0:
                    await self._start(reviews.review_start(row, ring=self.ring))
            after = rows[-1].review_no
            activity.heartbeat()
