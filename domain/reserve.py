"""A township's emergency reserve (临时救助储备金): every township (镇/街道) keeps at least
¥50,000 from which a family in urgent crisis is paid within 24 hours.

The money lives in a ledger in the database (``store.reserve``), never in workflow state. An
emergency payment first *holds* its amount (no other payment can spend it), then *settles*
(the transfer went out: the money leaves the reserve) or is *released* (the transfer was
refused: the money is free again). A *top-up* puts money in.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.errors import InvalidData

DEFAULT_MINIMUM = Decimal("50000")
"""The least a township's reserve should hold; below it, the reserve needs a top-up."""

MAX_AMOUNT = Decimal("999999999999.99")
"""The largest amount one entry may carry: that of every other money column (NUMERIC(14, 2))."""

FEN = Decimal("0.01")


class EntryKind(StrEnum):
    top_up = "top_up"
    hold = "hold"
    settle = "settle"
    release = "release"


@dataclass(frozen=True)
class ReserveState:
    """A township's reserve in yuan: ``balance`` is the money in it, ``held`` the part of it
    promised to emergency payments under way."""

    township: str
    balance: Decimal
    held: Decimal
    minimum: Decimal

    @property
    def available(self) -> Decimal:
        """What a new emergency payment may still hold."""
        return self.balance - self.held

    @property
    def below_minimum(self) -> bool:
        return self.balance < self.minimum


def to_fen(amount: Decimal, *, field: str = "amount") -> int:
    """Yuan as a whole number of fen. ``InvalidData`` naming ``field`` unless the amount is a
    finite Decimal (or int), positive, with at most 2 decimal places (``1.500`` is ¥1.50;
    ``1.005`` is refused, never rounded) and no more than ``MAX_AMOUNT``."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise InvalidData(field, f"{field} must be an exact decimal amount in yuan, not {amount!r}")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise InvalidData(field, f"{field} must be a finite amount, not {amount}")
    if amount <= 0:
        raise InvalidData(field, f"{field} must be positive, not ¥{amount}")
    if amount > MAX_AMOUNT:
        raise InvalidData(field, f"{field} ¥{amount} is more than ¥{MAX_AMOUNT}")
    exact = amount.quantize(FEN)  # exact below MAX_AMOUNT: 28 digits of precision
    if exact != amount:
        raise InvalidData(field, f"{field} ¥{amount} has more than 2 decimal places (fen)")
    return int(exact * 100)


def to_yuan(fen: int) -> Decimal:
    """Fen as yuan, to the fen: ``5000000`` is ``Decimal("50000.00")``."""
    return (Decimal(fen) / 100).quantize(FEN)
