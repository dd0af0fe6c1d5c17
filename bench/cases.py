"""The cases sent: fresh resident ID numbers, the caseworkers' tokens, the bodies of an
application and of a household survey."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from api.tokens import issue_token
from domain.calendar import local_date
from domain.cases import Role
from domain.identity import check_digit
from domain.townships import SEED_TOWNSHIPS

DISTRICT = "370305"
TOWNSHIP = "370305001"  # 闻韶街道 (urban)
VILLAGES = [f"{TOWNSHIP}{n:03d}" for n in (1, 2, 3)]
TOWNSHIPS = {t.code: t.villages[0].code for t in SEED_TOWNSHIPS}
"""Emergencies are spread over every township (and its reserve): township → a village."""
EMERGENCY_AMOUNT = "1000.00"  # within every cause's band, and any approver's limit


class People:
    """Fresh, valid resident ID numbers (GB 11643 check digit), never the same twice in a run."""

    def __init__(self) -> None:
        self.serial = 0

    def id_number(self) -> str:
        """Sequence digits below 900: the verification simulator finds nothing against them
        (an approval against findings would need a reason)."""
        self.serial += 1
        born = date(1950, 1, 1) + timedelta(days=self.serial // 900)
        first17 = f"{DISTRICT}{born:%Y%m%d}{self.serial % 900:03d}"
        return first17 + check_digit(first17)


@dataclass
class Caseworkers:
    """Bearer-token headers for the users who act on a case."""

    assistant: dict[str, str]
    coordinators: dict[str, dict[str, str]]  # by village
    officer: dict[str, str]
    assistants: dict[str, dict[str, str]]  # by township, for emergencies

    @classmethod
    def issue(cls, secret: str) -> "Caseworkers":
        def headers(sub: str, role: Role, jurisdiction: str) -> dict[str, str]:
            token = issue_token(
                secret=secret, sub=sub, name=sub, role=role, jurisdiction=jurisdiction
            )
            return {"Authorization": f"Bearer {token}"}

        return cls(
            assistant=headers("bench-assistant", Role.township_assistant, TOWNSHIP),
            coordinators={
                v: headers(f"bench-coordinator-{v}", Role.village_coordinator, v) for v in VILLAGES
            },
            officer=headers("bench-officer", Role.district_officer, DISTRICT),
            assistants={
                t: headers(f"bench-assistant-{t}", Role.township_assistant, t) for t in TOWNSHIPS
            },
        )


# ---- the cases over HTTP ----------------------------------------------------------------------


def application(people: People, index: int) -> dict:
    """A 低保 application of a two-person household in one of the township's villages."""
    return {
        "assistance_type": "dibao",
        "township": TOWNSHIP,
        "village": VILLAGES[index % len(VILLAGES)],
        "channel": "walk_in",
        "applicant": {"name": "张三", "id_number": people.id_number(), "phone": f"138{index:08d}"},
        "household": [
            {
                "name": "李四",
                "id_number": people.id_number(),
                "relation": "spouse",
                "monthly_income": "400.00",
            }
        ],
        "reason": "失业，无稳定收入",
        "bank_account": {"bank": "齐商银行", "account_no": f"6223{index:012d}", "holder": "张三"},
    }


def survey() -> dict:
    return {
        "investigators": ["李协理", "周干事"],
        "visited_on": str(local_date(datetime.now(UTC))),  # the date in Asia/Shanghai
        "findings": "两居室，无车辆",
        "assessed_monthly_income": "400.00",
    }
