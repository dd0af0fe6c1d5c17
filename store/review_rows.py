"""A review's row from its view (``store.reviews`` keeps the rest; the case records' writer
writes a review's steps through this too)."""

from pydantic import TypeAdapter
from sqlmodel import Session

from domain.reviews import ReviewView
from store.tables import ReviewRecord

VIEW = TypeAdapter(ReviewView)


def write_review(session: Session, view: ReviewView, *, start: str | None = None) -> None:
    """The review's row from its view, unless a newer version is on record."""
    row = session.get(ReviewRecord, view.case_no)
    if row is not None and row.version >= view.version:
        return
    session.merge(
        ReviewRecord(
            review_no=view.case_no, recipient_no=view.recipient_no,
            assistance_type=view.assistance_type, township=view.township, village=view.village,
            kind=view.kind, stage=view.stage, opened_at=view.opened_at,
            decision_due=view.decision_due, decided_at=view.decided_at, outcome=view.outcome,
            overdue=view.overdue, version=view.version, view=VIEW.dump_json(view).decode(),
            start=start if start is not None else row.start,
        )
    )  # fmt: skip


def review_view(row: ReviewRecord) -> ReviewView:
    return VIEW.validate_json(row.view)
