"""Identity checks: resident ID numbers (居民身份证号码, GB 11643) and mobile numbers."""

import re
import unicodedata
from datetime import date

from domain.calendar import whole_years

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
"""The provinces of GB/T 2260 (and 81–83 of the residence permits): an ID number's first two digits."""
EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdentity(ValueError):
    """An ID or phone number that cannot be right; the message says why."""


def check_digit(first17: str) -> str:
    """The GB 11643 check character (校验码) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_id_number(raw: str, *, today: date) -> str:
    """Upper-cased, trimmed, ASCII ID number, or ``InvalidIdentity`` with a reason.

    Full-width digits (typed with a Chinese input method) become ASCII, so one person has
    one ID string.
    """
    value = unicodedata.normalize("NFKC", raw).strip().upper()
    if not _ID_SHAPE.match(value):
        raise InvalidIdentity("an ID number has 17 digits followed by a digit or X")
    if value[:2] not in PROVINCES:
        raise InvalidIdentity("the ID number does not start with a province's code")
    if not EARLIEST_BIRTH <= birth_date(value) <= today:
        raise InvalidIdentity("the birth date in the ID number is in the future or before 1900")
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdentity("the check digit does not match; please re-read the ID card")
    return value


def birth_date(id_number: str) -> date:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise InvalidIdentity("the birth date in the ID number is not a real date") from None


def age_on(id_number: str, day: date) -> int:
    return whole_years(birth_date(id_number), day)


def normalize_phone(raw: str) -> str:
    value = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw)).removeprefix("+86")
    if not _MOBILE.match(value):
        raise InvalidIdentity("a mobile number has 11 digits and starts with 1")
    return value


def mask_id_number(id_number: str) -> str:
    """For logs and lists: region code and last four only."""
    return f"{id_number[:6]}********{id_number[-4:]}"


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"
