"""One way to page a list, whatever it lists: the items of one page and how many there are in
all. Every list the API answers with is read through ``paged`` (or, for a list the rules make
rather than the database, ``paged_list``)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlmodel import Session, func, select

from domain.errors import InvalidData

T = TypeVar("T")

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Paged(Generic[T]):
    items: list[T]
    total: int
    """How many there are in all, on every page."""
    page: int
    page_size: int


def paged(
    session: Session, query: Any, *, order_by: Sequence[Any], page: int, page_size: int
) -> Paged:
    """Page ``page`` of what ``query`` selects, in the order ``order_by`` gives (a unique key
    last, so that no row shows on two pages or none)."""
    _check(page, page_size)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(
        query.order_by(*order_by).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return Paged(items=list(items), total=total, page=page, page_size=page_size)


def paged_list(rows: Sequence[T], *, page: int, page_size: int) -> Paged[T]:
    """Page ``page`` of a list already in its order."""
    _check(page, page_size)
    shown = rows[(page - 1) * page_size : page * page_size]
    return Paged(items=list(shown), total=len(rows), page=page, page_size=page_size)


def _check(page: int, page_size: int) -> None:
    if page < 1:
        raise InvalidData("query.page", "page counts from 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidData("query.page_size", f"page_size must be from 1 to {MAX_PAGE_SIZE}")
