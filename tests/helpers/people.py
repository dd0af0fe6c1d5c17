"""Test people's particulars that no other test's person has: the session's cases share one
database, the simulators and the dev server."""

import random
from datetime import datetime, timedelta

from domain.identity import check_digit

# Not the module's generator: pytest-randomly seeds it alike before every test, and these
# numbers must differ between tests.
_unseeded = random.SystemRandom()


_serial = iter(range(1, 10**6))
_marked_serial = iter(range(1, 10**6))


def id_number(born: str = "19800101", region: str = "370305") -> str:
    """A fresh, valid resident ID number (GB 11643 check digit) for a test person: never the
    same twice in a session (after every 900 people of a birth date, the next are born a day
    later). Its sequence digits are below 900: the verification simulator finds nothing
    against its household."""
    serial = next(_serial)
    day = datetime.strptime(born, "%Y%m%d") + timedelta(days=serial // 900)
    first17 = f"{region}{day:%Y%m%d}{serial % 900:03d}"
    return first17 + check_digit(first17)


def marked_id_number(born: str = "19800101", region: str = "370305") -> str:
    """A fresh ID number the verification simulator marks (sequence digits 9xx): its
    household's report has a vehicle and savings above the limit, so the case shows
    findings."""
    serial = next(_marked_serial)
    day = datetime.strptime(born, "%Y%m%d") + timedelta(days=serial // 100)
    first17 = f"{region}{day:%Y%m%d}{900 + serial % 100:03d}"
    return first17 + check_digit(first17)


def phone() -> str:
    """A mobile number no other test's family has: the SMS simulator is shared."""
    return f"137{_unseeded.randrange(10**8):08d}"


def account_no(last4: str | None = None, *, prefix: str = "62170301") -> str:
    last4 = last4 or f"{_unseeded.randrange(10**4):04d}"
    return f"{prefix}{_unseeded.randrange(10**4):04d}{last4}"
