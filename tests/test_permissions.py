"""Who may do what: every operation of the API's OpenAPI schema, called over HTTP by every role,
against this test's own table of who may call it (written out by hand: a new route missing
from it, or one that declares no permission, fails). A case or township outside the caller's
jurisdiction is 404, as one that does not exist; lists, counts and reports never show it. An
account of another level than its role's (a district role named for a township) is refused
everywhere."""

import csv
import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from api.permissions import KnownCases
from domain.benefits import BenefitDecision
from domain.calendar import local_date
from domain.cases import Actor, Role
from domain.months import Month
from domain.policy import Policy
from domain.reviews import ReviewStage
from domain.supervision import Thresholds
from store.db import session_scope
from store.jurisdiction import CaseRef
from store.review_rows import review_view, write_review
from store.reviews import decide_review, open_review
from store.tables import PayrollRecord, RecipientRecord, ReviewRecord, StaffNotification
from tests.helpers.actors import (
    ADM,
    ALL,
    AUD,
    AWAY,
    AWAY_ACTORS,
    AWAY_VILLAGE,
    DISTRICT,
    DO,
    HOME,
    HOME_ACTORS,
    HOME_VILLAGE,
    LIA,
    MISPLACED,
    NEIGHBOUR_VILLAGE,
    SUP,
    TA,
    TP,
    VC,
    actor,
)
from tests.helpers.api import application, emergency, key, survey, wait_for
from tests.helpers.cases import households
from tests.helpers.people import id_number
from tests.helpers.stack import RING, Stack, fresh_database, running_stack, stack_settings

CASE_READERS = {VC, TA, TP, DO, SUP, AUD}
OVERSIGHT = {SUP, DO, AUD, ADM}
REFERENCE = ALL | {LIA}
"""Reference data: 民政's staff and the other departments' liaisons (部门转介)."""
PUBLIC = "public"

EXPECTED: dict[tuple[str, str], set[Role] | str] = {
    ("POST", "/applications"): {TA, VC},
    ("GET", "/applications"): CASE_READERS,
    ("GET", "/applications/{case_no}"): CASE_READERS,
    ("GET", "/applications/{case_no}/audit-trail"): CASE_READERS,
    ("GET", "/applications/{case_no}/decision-letter"): CASE_READERS,
    ("POST", "/applications/{case_no}/survey"): {VC, TA, DO},
    ("POST", "/applications/{case_no}/review"): {TA},
    ("POST", "/applications/{case_no}/objections"): {TA, VC, DO},
    ("POST", "/applications/{case_no}/decision"): {DO},
    ("POST", "/applications/{case_no}/documents-requested"): {TA, DO},
    ("POST", "/applications/{case_no}/documents-received"): {TA, DO},
    ("POST", "/applications/{case_no}/withdrawal"): {TA, DO},
    ("POST", "/applications/{case_no}/bank-account"): {TA, DO},
    ("POST", "/emergencies"): {TA},
    ("GET", "/emergencies"): CASE_READERS,
    ("GET", "/emergencies/{case_no}"): CASE_READERS,
    ("GET", "/emergencies/{case_no}/audit-trail"): CASE_READERS,
    ("POST", "/emergencies/{case_no}/approval"): {TP, DO},
    ("POST", "/emergencies/{case_no}/exception-approval"): {DO},
    ("POST", "/emergencies/{case_no}/rejection"): {TP, DO},
    ("POST", "/emergencies/{case_no}/bank-account"): {TA, DO},
    ("POST", "/emergencies/{case_no}/survey"): {VC, TA, DO},
    ("POST", "/emergencies/{case_no}/review"): {TA},
    ("POST", "/emergencies/{case_no}/decision"): {DO},
    ("GET", "/recipients"): CASE_READERS,
    ("GET", "/recipients/{recipient_no}"): CASE_READERS,
    ("GET", "/recipients/{recipient_no}/audit-trail"): CASE_READERS,
    ("POST", "/recipients/{recipient_no}/bank-account"): {TA, DO},
    ("POST", "/recipients/{recipient_no}/corrections"): {DO},
    ("POST", "/recipients/{recipient_no}/recoveries/{recovery_id}"): {DO},
    ("POST", "/recipients/{recipient_no}/dishonesty"): {DO},
    ("GET", "/recipients/{recipient_no}/reviews"): CASE_READERS,
    ("GET", "/recipients/{recipient_no}/reviews/{review_no}"): CASE_READERS,
    ("GET", "/recipients/{recipient_no}/reviews/{review_no}/decision-letter"): CASE_READERS,
    ("GET", "/recipients/{recipient_no}/decisions/{reference}/decision-letter"): CASE_READERS,
    ("POST", "/recipients/{recipient_no}/reviews"): {TA, DO},
    ("POST", "/recipients/{recipient_no}/changes"): {VC, TA},
    ("POST", "/recipients/{recipient_no}/reviews/{review_no}/survey"): {VC, TA, DO},
    ("POST", "/recipients/{recipient_no}/reviews/{review_no}/proposal"): {TA},
    ("POST", "/recipients/{recipient_no}/reviews/{review_no}/decision"): {DO},
    ("POST", "/payrolls"): {DO},
    ("GET", "/payrolls"): CASE_READERS - {VC},
    ("GET", "/payrolls/{month}"): CASE_READERS - {VC},
    ("GET", "/payrolls/{month}/items"): CASE_READERS - {VC},
    ("GET", "/townships/{code}/reserve"): ALL - {VC},
    ("GET", "/townships/{code}/reserve/ledger"): ALL - {VC},
    ("POST", "/townships/{code}/reserve/top-ups"): {DO},
    ("GET", "/townships"): REFERENCE,
    ("PUT", "/townships/{code}"): {ADM},
    ("GET", "/calendar/{year}"): REFERENCE,
    ("PUT", "/calendar/{year}"): {ADM},
    ("GET", "/notifications"): ALL,
    ("GET", "/policy"): REFERENCE,
    ("GET", "/policy/dibao-standards"): REFERENCE,
    ("POST", "/policy/dibao-standards"): {DO},
    ("POST", "/referrals"): {LIA, DO},
    ("GET", "/referrals"): CASE_READERS | {LIA},
    ("GET", "/referrals/{referral_no}"): CASE_READERS | {LIA},
    ("POST", "/referrals/{referral_no}/outcome"): {TA},
    ("POST", "/townships/{code}/sweeps"): {TA, DO},
    ("GET", "/townships/{code}/sweeps"): CASE_READERS - {VC},
    ("GET", "/watch-list"): CASE_READERS,
    ("POST", "/watch-list/{entry_id}/check-up"): {TA, VC},
    ("GET", "/supervision/stuck"): OVERSIGHT,
    ("GET", "/supervision/summary"): OVERSIGHT,
    ("POST", "/supervision/cases/{case_no}/extend-deadline"): {SUP, DO},
    ("POST", "/supervision/cases/{case_no}/{action}"): {SUP},
    ("GET", "/audit/compliance"): OVERSIGHT,
    ("GET", "/audit/verify"): OVERSIGHT,
    ("GET", "/audit/cases/{case_no}/timeline"): OVERSIGHT,
    ("POST", "/codec/decode"): {SUP, ADM},
    ("POST", "/codec/encode"): {SUP, ADM},
    ("GET", "/health"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}


@dataclass
class World:
    stack: Stack
    applications: dict[str, str]
    """case number → village"""
    emergencies: dict[str, str]
    recipients: dict[str, str]
    """household number → village"""
    month: str
    """A month whose payroll has run."""
    approved: dict[str, str]
    """The households' applications: approved and paid, so in no report of open cases."""
    reviews: dict[str, str]
    """household number → its review's number"""
    referrals: dict[str, str]
    """referral number → village (the home liaison's department's)"""

    def cases(self, path: str) -> dict[str, str]:
        if path.startswith("/referrals"):
            return self.referrals
        if path.startswith("/recipients"):
            return self.recipients
        if path.endswith("/decision-letter"):
            return self.approved  # an undecided case has no letter yet (409)
        return self.emergencies if path.startswith("/emergencies") else self.applications

    def case(self, village: str, path: str) -> str:
        return next(no for no, v in self.cases(path).items() if v == village)

    def outside(self, who: Actor, path: str) -> list[tuple[str, str]]:
        """The villages of cases, or the township, in the path that lie outside the user's
        jurisdiction."""
        if "{case_no}" in path or "{recipient_no}" in path or "{referral_no}" in path:
            villages = set(self.cases(path).values())
            return [(v, v[:9]) for v in sorted(villages) if not v.startswith(who.jurisdiction)]
        if "{code}" in path:
            return [(v, v[:9]) for v in (AWAY_VILLAGE, HOME_VILLAGE) if not covers(who, v)]
        return []


@pytest.fixture(scope="module")
async def world(dev_env, simulator_url, tmp_path_factory) -> AsyncIterator[World]:
    """One stack for the module, on a database of its own: three applications (in a village
    of township 001, in its neighbour village, in township 002) and two emergencies."""
    database = f"sqlite:///{tmp_path_factory.mktemp('permissions') / 'jiuzhu.db'}"
    fresh_database(database)  # case numbers no other test uses
    settings = stack_settings(
        database_url=database,
        simulator_url=simulator_url,
        temporal_address=dev_env.client.service_client.config.target_host,
        # Every open case is "due soon", so that supervision lists all of them.
        supervision=Thresholds(due_soon_working_days=30, due_soon_hours=48),
    )
    async with running_stack(dev_env.client, settings) as stack:
        applications, emergencies = {}, {}
        for village in (HOME_VILLAGE, NEIGHBOUR_VILLAGE, AWAY_VILLAGE):
            async with stack.client(actor(TA, village[:9])) as assistant:
                body = application(township=village[:9], village=village)
                created = await assistant.post("/applications", json=body)
                assert created.status_code == 201, created.text
                applications[created.json()["case_no"]] = village
                if village != NEIGHBOUR_VILLAGE:
                    body = emergency(village[:9], village, amount="1000.00")
                    created = await assistant.post("/emergencies", json=body)
                    assert created.status_code == 201, created.text
                    emergencies[created.json()["case_no"]] = village
        recipients = {
            number: village
            for village in (HOME_VILLAGE, AWAY_VILLAGE)
            for number in households(database, 1, villages=(village,))
        }
        month = str(Month.at(datetime.now(UTC)))
        with session_scope(database, writes=True) as session:
            approved = {  # each household's case, approved and paid
                session.get(RecipientRecord, number).case_no: village
                for number, village in recipients.items()
            }
            session.add(
                PayrollRecord(
                    month=month, status="completed", started_at=datetime.now(UTC),
                    started_by="schedule", completed_at=datetime.now(UTC),
                )
            )  # fmt: skip
        # A notice of every case for every user (one who moved keeps old ones, say).
        users = [*HOME_ACTORS.values(), *AWAY_ACTORS.values()]
        with session_scope(database, writes=True) as session:
            for case_no, village in (applications | emergencies | approved).items():
                for user in users:
                    session.add(
                        StaffNotification(
                            key=f"{case_no}:{user.user_id}",
                            case_no=case_no,
                            kind="deadline_warning",
                            message=f"case {case_no}: survey due soon",
                            assignee=user.user_id,
                            township=village[:9],
                            village=village,
                            at=datetime.now(UTC),
                        )
                    )
        reviews = {number: decided_review(database, number) for number in recipients}
        referrals = {}
        async with stack.client(HOME_ACTORS[LIA]) as liaison:
            for village in (HOME_VILLAGE, NEIGHBOUR_VILLAGE, AWAY_VILLAGE):
                family = {"name": "孙某", "id_number": id_number(), "phone": "13700000000"}
                body = {"family": family, "village": village, "situation": "major_illness"}
                created = await liaison.post("/referrals", json=body, headers=key())
                assert created.status_code == 201, created.text
                referrals[created.json()["referral_no"]] = village
        yield World(
            stack, applications, emergencies, recipients, month, approved, reviews, referrals
        )


def decided_review(database: str, number: str) -> str:
    """A review of the household, decided (its rows as its workflow writes them: the routes
    read no workflow); its number."""
    now = datetime.now(UTC)
    with session_scope(database, writes=True) as session:
        review_no = open_review(
            session, recipient_no=number, kind="out_of_cycle", reason="抽查",
            actor=HOME_ACTORS[DO], now=now, policy=Policy(), ring=RING, today=local_date(now),
        ).review_no  # fmt: skip
        decision = BenefitDecision(
            actor=HOME_ACTORS[DO], outcome="adjust", reasons="收入减少", amount=Decimal("900")
        )
        month = decide_review(
            session, review_no=review_no, recipient_no=number, decision=decision, at=now,
            policy=Policy(),
        )  # fmt: skip
        view = review_view(session.get(ReviewRecord, review_no))
        view.stage, view.outcome, view.reasons = ReviewStage.decided, "adjust", "收入减少"
        view.amount = Decimal("900")
        view.decided_at, view.effective_month, view.version = now, month, 1
        write_review(session, view)
    return review_no


def concrete(world: World, method: str, path: str, *, village: str, township: str):
    """The operation's path with real values, and the query it needs."""
    values = {
        "case_no": world.case(village, path) if "{case_no}" in path else "",
        "recipient_no": world.case(village, path) if "{recipient_no}" in path else "",
        "referral_no": world.case(village, path) if "{referral_no}" in path else "",
        "review_no": world.reviews[world.case(village, path)] if "{review_no}" in path else "",
        "reference": world.reviews[world.case(village, path)] if "{reference}" in path else "",
        "month": world.month,
        "code": township,
        "year": str(local_date(datetime.now(UTC)).year),
        "action": "escalate",
        "recovery_id": "1",
        "entry_id": "1",  # a watched household's (the check-up's body is refused first)
    }
    query = {}
    if path == "/audit/compliance":
        query = {"from": f"{values['year']}-01-01", "to": f"{values['year']}-12-31"}
    return path.format(**values), query


async def call(
    world: World, who: Actor | None, method: str, path: str, *, village: str, township: str
) -> httpx.Response:
    url, query = concrete(world, method, path, village=village, township=township)
    headers = world.stack.headers(who) if who else {}
    # An empty body: a write is refused (422, or 409 at this stage) before anything is written.
    body = {} if method in ("POST", "PUT") else None
    async with httpx.AsyncClient(base_url=world.stack.url, timeout=30) as http:
        return await http.request(method, url, params=query, json=body, headers=headers)


async def test_every_operation_declares_its_permission_and_answers_each_role_by_it(world):
    async with httpx.AsyncClient(base_url=world.stack.url) as http:
        schema = (await http.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    listed = {(method, path) for method, path, _ in operations}
    assert listed - EXPECTED.keys() == set(), "operations missing from this test's table"
    assert EXPECTED.keys() - listed == set(), "operations of the table the API no longer has"

    wrong: list[tuple] = []

    def expect(answer: httpx.Response, ok: bool, *what) -> None:
        if not ok:
            wrong.append((*what, answer.status_code, answer.text[:200]))

    for method, path, operation in operations:
        allowed = EXPECTED[(method, path)]
        declared = operation.get("x-permission")
        assert declared is not None, f"{method} {path} declares no permission"
        if allowed == PUBLIC:
            assert declared["sign_in"] is False
            for who in (None, *HOME_ACTORS.values()):
                answer = await call(world, who, method, path, village=HOME_VILLAGE, township=HOME)
                expect(answer, answer.status_code == 200, method, path, who)
            continue
        assert declared["sign_in"] is True and set(declared["roles"]) == allowed, (method, path)
        read = method == "GET"

        nobody = await call(world, None, method, path, village=HOME_VILLAGE, township=HOME)
        expect(nobody, nobody.status_code == 401, method, path, "no token")

        for role, who in HOME_ACTORS.items():
            answer = await call(world, who, method, path, village=HOME_VILLAGE, township=HOME)
            if role not in allowed:
                expect(answer, answer.status_code == 403, method, path, role, "not allowed")
                continue
            ok = answer.status_code == 200 if read else answer.status_code in (409, 422)
            expect(answer, ok, method, path, role, "inside")

        # Outside the jurisdiction: the township and village accounts (a district account
        # has none in the district).
        for role in allowed:
            for who in (HOME_ACTORS[role], AWAY_ACTORS.get(role)):
                for village, township in world.outside(who, path) if who else []:
                    answer = await call(
                        world, who, method, path, village=village, township=township
                    )
                    gone = answer.status_code == 404 and "in your jurisdiction" in answer.text
                    expect(answer, gone, method, path, who, village, township)

        # An account of another level than its role's: refused, saying so, even where the
        # role may act.
        for who in MISPLACED.values():
            answer = await call(world, who, method, path, village=HOME_VILLAGE, township=HOME)
            refused = answer.status_code == 403 and "this token names" in answer.text
            expect(answer, refused, method, path, who, "another level")
    assert wrong == []


async def test_an_outside_case_answers_as_one_that_does_not_exist(world):
    coordinator = HOME_ACTORS[VC]
    neighbour = world.case(NEIGHBOUR_VILLAGE, "/applications")
    async with world.stack.client(coordinator) as http:
        outside = await http.get(f"/applications/{neighbour}")
        missing = await http.get("/applications/370305-1999-000001")
        assert (outside.status_code, missing.status_code) == (404, 404)
        assert outside.json()["detail"].replace(neighbour, "N") == missing.json()["detail"].replace(
            "370305-1999-000001", "N"
        )
        # A role that may not act at all is told so, wherever the case is.
        refused = await http.post(f"/applications/{neighbour}/decision", json={})
        assert refused.status_code == 403
    async with world.stack.client(HOME_ACTORS[TA]) as http:  # a family of another township
        elsewhere = application(township=AWAY, village=AWAY_VILLAGE)
        refused = await http.post("/applications", json=elsewhere)
        assert refused.status_code == 403 and "jurisdiction" in refused.json()["detail"]
        elsewhere = emergency(AWAY, AWAY_VILLAGE, amount="1000.00")
        refused = await http.post("/emergencies", json=elsewhere)
        assert refused.status_code == 403 and "jurisdiction" in refused.json()["detail"]


def readers(allowed: set[Role]) -> list[Actor]:
    return [HOME_ACTORS[r] for r in allowed] + [
        AWAY_ACTORS[r] for r in allowed & AWAY_ACTORS.keys()
    ]


def covers(who: Actor, code: str) -> bool:
    return code.startswith(who.jurisdiction)


def another_township(who: Actor) -> str:
    return HOME if who.jurisdiction.startswith(AWAY) else AWAY


async def test_lists_and_counts_hold_only_the_jurisdictions_cases(world):
    for who in readers(CASE_READERS):
        async with world.stack.client(who) as http:
            for path, cases in (("/applications", world.applications | world.approved),
                                ("/emergencies", world.emergencies)):  # fmt: skip
                mine = {no for no, v in cases.items() if v.startswith(who.jurisdiction)}
                page = (await http.get(path, params={"page_size": 200})).json()
                assert {c["case_no"] for c in page["items"]} == mine, (who, path)
                assert page["total"] == len(mine), (who, path)
                if who.jurisdiction != DISTRICT:
                    refused = await http.get(path, params={"township": another_township(who)})
                    assert refused.status_code == 404, (who, path)
    for who in readers(ALL):
        everything = world.applications | world.emergencies | world.approved
        mine = {no for no, v in everything.items() if v.startswith(who.jurisdiction)}
        async with world.stack.client(who) as http:
            notices = (await http.get("/notifications", params={"limit": 500})).json()
        assert {n["case_no"] for n in notices} == mine, who


async def test_supervision_and_compliance_reports_hold_only_the_asked_townships_cases(world):
    """The reports are the district's (their readers are district accounts): the whole
    district, or the township asked for."""
    year = local_date(datetime.now(UTC)).year
    period = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
    everything = world.applications | world.emergencies
    for who, township in itertools.product(readers(OVERSIGHT), (None, HOME, AWAY)):
        assert who.jurisdiction == DISTRICT
        within = township or DISTRICT
        filtered = {"township": township} if township else {}
        asked = period | filtered
        mine = {no: v for no, v in everything.items() if v.startswith(within)}
        townships = {v[:9] for v in mine.values()}
        async with world.stack.client(who) as http:
            stuck = await http.get("/supervision/stuck", params=filtered | {"page_size": 200})
            report = (await http.get("/audit/compliance", params=asked)).json()
            exported = await http.get(
                "/audit/compliance", params=asked, headers={"Accept": "text/csv"}
            )
            summary = (await http.get("/supervision/summary")).json()
        assert {item["case_no"] for item in stuck.json()["items"]} == set(mine), who
        if township is None:
            assert summary["total"] == len(mine) and set(summary["by_township"]) == townships
        rows = [*report["applications"]["rows"], *report["emergencies"]["rows"]]
        assert {row["township"] for row in rows} == townships, who
        assert all(r["township"].startswith(within) for r in report["reserves"]), who
        open_applications = sum(1 for no in mine if no in world.applications)
        assert report["applications"]["total"]["open"] == open_applications, who
        assert report["emergencies"]["total"]["open"] == len(mine) - open_applications, who
        lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        cases = [line for line in lines if line["record [类别]"] not in ("reserve", "sweep")]
        assert {line["township [镇街代码]"] for line in cases} - {"total"} == townships, who
        others = [line["township [镇街代码]"] for line in lines if line not in cases]
        assert all(code.startswith(within) for code in others if code != "total"), who


def test_the_cases_kept_for_the_jurisdiction_check_are_bounded():
    known = KnownCases(size=2)

    def case(n: int, village: str) -> CaseRef:
        return CaseRef(f"370305-2026-00000{n}", "application", village)

    known.keep("370305-2026-000001", case(1, "370305001001"))
    known.keep("370305-2026-000002", None)  # no such case: asked again next time
    known.keep("370305-2026-000003", case(3, "370305002001"))
    assert known.get("370305-2026-000002") is None
    assert known.get("370305-2026-000001") == case(1, "370305001001")  # used lately: stays
    known.keep("370305-2026-000004", case(4, "370305003001"))
    assert known.get("370305-2026-000003") is None  # the least lately used went
    assert known.get("370305-2026-000001") == case(1, "370305001001")
    assert known.get("370305-2026-000004") == case(4, "370305003001")


async def test_where_the_decision_is_delegated_to_the_townships_their_leader_takes_it(
    dev_env, api_settings, simulator_url
):
    """``decision_by: township`` (provinces delegate 审核确认): the township leader of the
    case's township decides, the district keeps the power (一事一议 stays its own); another
    township's leader sees no such case, and an assistant still may not."""
    township_decides = replace(api_settings.policy, decision_by="township")
    settings = api_settings.model_copy(update={"policy": township_decides})
    async with (
        running_stack(dev_env.client, settings) as stack,
        stack.client(actor(TA, HOME)) as assistant,
        stack.client(actor(TP, HOME)) as leader,
        stack.client(actor(TP, "370305002")) as other_leader,
    ):
        body = application(township=HOME, village=HOME_VILLAGE)
        case_no = (await assistant.post("/applications", json=body)).json()["case_no"]
        await assistant.post(f"/applications/{case_no}/survey", json=survey())
        await wait_for(assistant, case_no, lambda c: c["stage"] == "review")
        review = {"recommendation": "approve", "reasons": "收入低于标准"}
        await assistant.post(f"/applications/{case_no}/review", json=review)
        await wait_for(assistant, case_no, lambda c: c["stage"] == "decision")
        decision = {"outcome": "approve", "reasons": "符合条件"}
        path = f"/applications/{case_no}/decision"
        refused = await assistant.post(path, json=decision, headers=key())
        assert refused.status_code == 403 and "township_approver" in refused.json()["detail"]
        assert (await other_leader.post(path, json=decision, headers=key())).status_code == 404
        exception = decision | {"amount": "900.00", "exception_reason": "一事一议"}
        assert (await leader.post(path, json=exception, headers=key())).status_code in (
            403,
            422,
        )
        decided = await leader.post(path, json=decision, headers=key())
        assert decided.status_code == 200, decided.text
        assert decided.json()["stage"] == "approved"
