"""Test people's particulars that no other test's person has: the session's cases share one
database, the simulators and the dev server."""

import random

from domain.identity import check_digit

# Not the module's generator: pytest-randomly seeds it alike before every test, and these
# numbers must differ between tests.
_unseeded = random.SystemRandom()


_issued: dict[tuple[str, bool], int] = {}


def _next(born: str, *, marked: bool) -> int:
    """How many numbers of this birth date (marked or not) the session has issued so far."""
    n = _issued.get((born, marked), 0)
    _issued[born, marked] = n + 1
    return n


def id_number(born: str = "19800101", region: str = "370305") -> str:
    """A fresh, valid resident ID number (GB 11643 check digit) for a test person born on
    ``born`` exactly (ages on a birthday are right): never the same twice in a session (a
    birth date's people past its 900th are registered in the next region codes). Its sequence
    digits are below 900: the verification simulator finds nothing against its household."""
    serial = _next(born, marked=False)
    first17 = f"{_region(region, serial // 900)}{born}{serial % 900:03d}"
    return first17 + check_digit(first17)


def _region(region: str, shift: int) -> str:
    return f"{int(region) + shift:06d}"


def marked_id_number(born: str = "19800101", region: str = "370305") -> str:
    """A fresh ID number the verification simulator marks (sequence digits 9xx): its
    household's report has a vehicle and savings above the limit, so the case shows
    findings."""
    serial = _next(born, marked=True)
    first17 = f"{_region(region, serial // 100)}{born}{900 + serial % 100:03d}"
    return first17 + check_digit(first17)


def phone() -> str:
    """A mobile number no other test's family has: the SMS simulator is shared."""
    return f"137{_unseeded.randrange(10**8):08d}"


def account_no(last4: str | None = None, *, prefix: str = "62170301") -> str:
    last4 = last4 or f"{_unseeded.randrange(10**4):04d}"
    return f"{prefix}{_unseeded.randrange(10**4):04d}{last4}"
