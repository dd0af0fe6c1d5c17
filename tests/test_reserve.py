"""The townships' emergency reserves (临时救助储备金) on SQLite and on PostgreSQL: seeded at the
minimum, every move on a ledger that adds up, every writer idempotent, and no interleaving of
emergency payments able to spend more than a reserve holds."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from domain.errors import Conflict, InvalidData, NotFound
from domain.reserve import DEFAULT_MINIMUM, EntryKind, ReserveState
from domain.townships import SEED_TOWNSHIPS
from store import reserve
from store.db import get_engine, session_scope
from store.migrate import alembic_config, upgrade
from store.tables import EmergencyPayout, ReserveEntry, TownshipReserve, TownshipRow
from tests.helpers.stack import RING

TOWNSHIP = "370305001"  # 闻韶街道, seeded
OTHER = "370305100"  # 齐都镇, seeded
FIFTY_THOUSAND = Decimal("50000")


@pytest.fixture
def url(each_database_url) -> str:
    return each_database_url


def now() -> datetime:
    return datetime.now(UTC)


def write(url: str, work, **kwargs):
    """One call in a writing transaction of its own, as the API and the activities make it."""
    with session_scope(url, writes=True) as session:
        return work(session, **kwargs)


def state(url: str, township: str = TOWNSHIP) -> ReserveState:
    with session_scope(url) as session:
        return reserve.reserve_of(session, township=township)


def entries(url: str, township: str = TOWNSHIP) -> list[ReserveEntry]:
    """The whole ledger, oldest first."""
    with session_scope(url) as session:
        page = reserve.ledger(session, township=township, page_size=500)
    assert len(page.items) == page.total
    return page.items[::-1]


def payouts(url: str) -> list[tuple[str, str, str, str]]:
    with session_scope(url) as session:
        rows = session.exec(select(EmergencyPayout)).all()
        return sorted((p.id_number_hash, p.case_no, p.cause, p.key_id) for p in rows)


def recorded(*paid: tuple[str, str, str]) -> list[tuple[str, str, str, str]]:
    """Payout rows as kept: each person by their number's keyed hash, with its key's id."""
    return sorted(
        (RING.index(person), case_no, cause, RING.current) for person, case_no, cause in paid
    )


def top_up(url: str, amount: str, key: str, township: str = TOWNSHIP) -> ReserveState:
    return write(
        url,
        reserve.top_up,
        township=township,
        amount=Decimal(amount),
        key=key,
        note="区财政拨付",
        by="u-finance",
        at=now(),
    )


def hold(url: str, case_no: str, amount: str, key: str, township: str = TOWNSHIP) -> bool:
    return write(
        url,
        reserve.hold,
        township=township,
        case_no=case_no,
        amount=Decimal(amount),
        key=key,
        at=now(),
    )


def settle(url: str, hold_key: str, key: str, members=("m1",), cause="fire", at=None):
    return write(
        url,
        reserve.settle,
        hold_key=hold_key,
        key=key,
        at=at or now(),
        members=list(members),
        cause=cause,
        ring=RING,
    )


def release(url: str, hold_key: str, key: str) -> ReserveState:
    return write(url, reserve.release, hold_key=hold_key, key=key, at=now())


def assert_ledger_adds_up(url: str, township: str = TOWNSHIP) -> list[ReserveEntry]:
    """Recomputed from the entries alone: each entry's balance and held after it, and the
    reserve as it stands. Never more held than there is, at any entry."""
    ledger = entries(url, township)
    balance = held = Decimal(0)
    for e in ledger:
        assert e.amount > 0
        if e.kind == EntryKind.top_up:
            balance += e.amount
        elif e.kind == EntryKind.hold:
            held += e.amount
        elif e.kind == EntryKind.settle:
            balance, held = balance - e.amount, held - e.amount
        else:
            assert e.kind == EntryKind.release
            held -= e.amount
        assert (e.balance_after, e.held_after) == (balance, held), e
        assert 0 <= e.held_after <= e.balance_after
    sums = Counter()
    for e in ledger:
        sums[e.kind] += e.amount
    now_ = state(url, township)
    assert now_.balance == sums[EntryKind.top_up] - sums[EntryKind.settle]
    assert now_.held == sums[EntryKind.hold] - sums[EntryKind.settle] - sums[EntryKind.release]
    assert now_.available >= 0
    return ledger


def test_a_fresh_database_has_every_township_at_the_minimum_with_its_opening_entry(url):
    with session_scope(url) as session:
        codes = session.exec(select(TownshipRow.code)).all()
        assert sorted(codes) == sorted(t.code for t in SEED_TOWNSHIPS)
        assert session.exec(select(func.count()).select_from(TownshipReserve)).one() == len(codes)
    for code in codes:
        s = state(url, code)
        assert s == ReserveState(code, FIFTY_THOUSAND, Decimal(0), DEFAULT_MINIMUM)
        assert s.available == FIFTY_THOUSAND and not s.below_minimum
        [opening] = assert_ledger_adds_up(url, code)
        assert opening.key == f"seed:{code}"
        assert opening.kind == EntryKind.top_up and opening.amount == FIFTY_THOUSAND
        assert opening.note == "opening balance (临时救助储备金)" and opening.by_user == "system"
        assert opening.case_no is None and opening.at.tzinfo is not None
        assert (opening.balance_after, opening.held_after) == (FIFTY_THOUSAND, 0)


def test_top_up_hold_settle_release_move_the_money_and_a_repeated_key_changes_nothing(url):
    calls = [
        (
            lambda: top_up(url, "10000.50", "t1"),
            ReserveState(TOWNSHIP, Decimal("60000.50"), 0, FIFTY_THOUSAND),
        ),
        (lambda: hold(url, "C-1", "30000", "h1"), True),
        (lambda: hold(url, "C-2", "2500.25", "h2"), True),
        (
            lambda: settle(url, "h1", "s1", members=["m1", "m2", "m1"], cause="fire"),
            ReserveState(TOWNSHIP, Decimal("30000.50"), Decimal("2500.25"), FIFTY_THOUSAND),
        ),
        (
            lambda: release(url, "h2", "r1"),
            ReserveState(TOWNSHIP, Decimal("30000.50"), 0, FIFTY_THOUSAND),
        ),
    ]
    for call, expected in calls:
        assert call() == expected

    s = state(url)
    assert (s.balance, s.held, s.available) == (Decimal("30000.50"), 0, Decimal("30000.50"))
    assert s.below_minimum  # 30,000.50 < 50,000: the township must top it up
    ledger = assert_ledger_adds_up(url)
    assert [(e.kind, e.key, e.amount, e.balance_after, e.held_after) for e in ledger] == [
        ("top_up", f"seed:{TOWNSHIP}", 50000, 50000, 0),
        ("top_up", "t1", Decimal("10000.50"), Decimal("60000.50"), 0),
        ("hold", "h1", 30000, Decimal("60000.50"), 30000),
        ("hold", "h2", Decimal("2500.25"), Decimal("60000.50"), Decimal("32500.25")),
        ("settle", "s1", 30000, Decimal("30000.50"), Decimal("2500.25")),
        ("release", "r1", Decimal("2500.25"), Decimal("30000.50"), 0),
    ]
    assert [(e.case_no, e.closes) for e in ledger[2:]] == [
        ("C-1", None),
        ("C-2", None),
        ("C-1", "h1"),
        ("C-2", "h2"),
    ]
    assert ledger[1].by_user == "u-finance" and ledger[1].note == "区财政拨付"
    assert payouts(url) == recorded(("m1", "C-1", "fire"), ("m2", "C-1", "fire"))

    # Every call again, as a retried activity or request makes it: the same answers, nothing new.
    for call, expected in calls:
        assert call() == expected
    assert state(url) == s
    assert [(e.id, e.key) for e in entries(url)] == [(e.id, e.key) for e in ledger]
    assert payouts(url) == recorded(("m1", "C-1", "fire"), ("m2", "C-1", "fire"))
    # The newest entry first, a page at a time.
    with session_scope(url) as session:
        page = reserve.ledger(session, township=TOWNSHIP, page=2, page_size=2)
    assert page.total == 6 and [e.key for e in page.items] == ["h2", "h1"]


def test_a_key_names_one_entry_for_good(url):
    assert hold(url, "C-1", "100", "h1")
    with pytest.raises(Conflict):
        hold(url, "C-1", "200", "h1")  # another amount
    with pytest.raises(Conflict):
        hold(url, "C-2", "100", "h1")  # another case
    with pytest.raises(Conflict):
        top_up(url, "100", "h1")  # another kind
    with pytest.raises(Conflict):
        settle(url, "h1", "h1")  # the hold's own key
    release(url, "h1", "r1")
    with pytest.raises(Conflict):
        top_up(url, "100", "r1", township=OTHER)  # another township
    assert_ledger_adds_up(url)
    assert [e.key for e in entries(url, OTHER)] == [f"seed:{OTHER}"]


def test_a_hold_the_reserve_cannot_cover_is_refused_and_writes_nothing(url):
    assert hold(url, "C-1", "49999.99", "h1")
    assert not hold(url, "C-2", "0.02", "h2")
    assert hold(url, "C-3", "0.01", "h3")
    assert not hold(url, "C-2", "0.01", "h2")  # the refused key is free: retried, still refused
    assert state(url).available == 0
    assert [e.key for e in assert_ledger_adds_up(url)] == [f"seed:{TOWNSHIP}", "h1", "h3"]
    top_up(url, "0.01", "t1")
    assert hold(url, "C-2", "0.01", "h2")  # once there is money, the same key takes it
    assert state(url).available == 0


def test_concurrent_holds_never_over_commit_and_concurrent_settlements_add_up(url):
    def try_hold(i: int) -> bool:
        return hold(url, f"C-{i:02d}", "7000", f"hold:{i}")

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(try_hold, range(20)))
    assert outcomes.count(True) == 7 and outcomes.count(False) == 13, outcomes
    s = state(url)
    assert (s.balance, s.held, s.available) == (FIFTY_THOUSAND, 49000, 1000)
    assert_ledger_adds_up(url)

    held = [i for i, ok in enumerate(outcomes) if ok]

    def try_settle(i: int) -> ReserveState:
        return settle(url, f"hold:{i}", f"settle:{i}", members=[f"p{i}a", f"p{i}b"])

    with ThreadPoolExecutor(14) as pool:  # each settlement twice at once: a retry racing its first
        settled = list(pool.map(try_settle, held + held))
    assert all(r.township == TOWNSHIP for r in settled)
    s = state(url)
    assert (s.balance, s.held, s.available) == (Decimal(1000), 0, Decimal(1000))
    ledger = assert_ledger_adds_up(url)
    assert Counter(e.kind for e in ledger) == {"top_up": 1, "hold": 7, "settle": 7}
    assert len(payouts(url)) == 14


def test_concurrent_settle_and_release_of_one_hold_close_it_once(url):
    for i in range(10):
        assert hold(url, f"C-{i}", "1000", f"h{i}")

    def close(job: tuple[int, str]) -> str:
        i, how = job
        try:
            if how == "settle":
                settle(url, f"h{i}", f"s{i}")
            else:
                release(url, f"h{i}", f"r{i}")
        except Conflict:
            return "refused"
        return how

    jobs = [(i, how) for i in range(10) for how in ("settle", "release")]
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(close, jobs))
    for i in range(10):
        assert sorted(outcomes[2 * i : 2 * i + 2]) in (
            ["refused", "settle"],
            ["refused", "release"],
        )
    ledger = assert_ledger_adds_up(url)
    assert sum(e.kind in ("settle", "release") for e in ledger) == 10
    assert state(url).held == 0


def test_the_database_itself_refuses_more_held_than_there_is(url):
    for sql in (
        "UPDATE township_reserve SET held_fen = balance_fen + 1 WHERE township = :t",
        "UPDATE township_reserve SET held_fen = -1 WHERE township = :t",
        "UPDATE township_reserve SET balance_fen = held_fen - 1 WHERE township = :t",
    ):
        with pytest.raises(IntegrityError), session_scope(url, writes=True) as session:
            session.connection().execute(text(sql), {"t": TOWNSHIP})
    assert state(url) == ReserveState(TOWNSHIP, FIFTY_THOUSAND, Decimal(0), DEFAULT_MINIMUM)


def test_settling_or_releasing_a_closed_or_unknown_hold_and_bad_amounts_are_refused(url):
    assert hold(url, "C-1", "1000", "h1")
    release(url, "h1", "r1")
    with pytest.raises(Conflict, match="released"):
        settle(url, "h1", "s1")
    assert hold(url, "C-2", "1000", "h2")
    settle(url, "h2", "s2")
    with pytest.raises(Conflict, match="settled"):
        release(url, "h2", "r2")
    with pytest.raises(Conflict, match="settled"):
        settle(url, "h2", "s2-again")
    for unknown in ("no-such-hold", "r1", f"seed:{TOWNSHIP}"):
        with pytest.raises(NotFound):
            settle(url, unknown, "s3")
        with pytest.raises(NotFound):
            release(url, unknown, "r3")
    for amount in ("-5", "0", "10.005", "NaN", "1E+20"):
        for call in (lambda a=amount: top_up(url, a, "t"), lambda a=amount: hold(url, "C", a, "h")):
            with pytest.raises(InvalidData) as refused:
                call()
            assert refused.value.field == "amount"
    assert hold(url, "C-3", "10.500", "h3")  # ¥10.50 written with a trailing zero
    with pytest.raises(InvalidData) as refused:
        settle(url, "h3", "s3", members=[])
    assert refused.value.field == "members"
    with pytest.raises(NotFound):
        hold(url, "C-4", "1", "h4", township="370305999")
    with pytest.raises(NotFound):
        state(url, "370305999")
    assert [e.key for e in assert_ledger_adds_up(url)] == [
        f"seed:{TOWNSHIP}",
        "h1",
        "r1",
        "h2",
        "s2",
        "h3",
    ]


def test_recent_payout_finds_a_household_member_paid_within_the_window_for_any_cause(url):
    paid_at = now() - timedelta(days=30)
    assert hold(url, "C-1", "2000", "h1")
    settle(url, "h1", "s1", members=["A", "B"], cause="fire", at=paid_at)
    window = now() - timedelta(days=90)

    def recent(ids: list[str], since: datetime) -> str | None:
        with session_scope(url) as session:
            return reserve.recent_payout(session, id_numbers=ids, since=since, ring=RING)

    assert recent(["X", "B"], window) == "C-1"
    assert recent(["A"], window) == "C-1"
    assert recent(["X", "Y"], window) is None  # another family
    assert recent(["A", "B"], paid_at + timedelta(seconds=1)) is None  # before the window
    assert recent([], window) is None


def test_a_township_added_later_opens_its_reserve_at_the_minimum(url):
    """As migration 0003 seeded the first ones: the opening top-up on the ledger, once."""
    new = "370305107"
    with session_scope(url, writes=True) as session:
        session.add(TownshipRow(code=new, name="新设镇", area="rural"))
    assert write(url, reserve.open_reserve, township=new, at=now())
    assert not write(url, reserve.open_reserve, township=new, at=now())  # once
    s = state(url, new)
    assert (s.balance, s.held, s.minimum, s.below_minimum) == (
        FIFTY_THOUSAND,
        0,
        FIFTY_THOUSAND,
        False,
    )
    [opening] = assert_ledger_adds_up(url, new)
    assert (opening.key, opening.kind, opening.by_user) == (f"seed:{new}", "top_up", "system")
    assert hold(url, "C-1", "1", "h1", township=new)  # its first emergency need not wait
    with pytest.raises(NotFound):
        write(url, reserve.open_reserve, township="370305999", at=now())
    with pytest.raises(InvalidData) as refused:
        write(url, reserve.open_reserve, township=new, minimum=Decimal("49999.99"), at=now())
    assert refused.value.field == "minimum"
    higher = "370305108"
    with session_scope(url, writes=True) as session:
        session.add(TownshipRow(code=higher, name="新设街道", area="urban"))
    write(url, reserve.open_reserve, township=higher, minimum=Decimal("80000"), at=now())
    assert state(url, higher).balance == Decimal("80000")


def test_the_migration_goes_down_and_up_again(url):
    config = alembic_config(url)
    command.downgrade(config, "0002")
    names = set(inspect(get_engine(url)).get_table_names())
    assert not names & {"township_reserve", "reserve_entry", "emergency_payout"}
    upgrade(url)
    assert state(url) == ReserveState(TOWNSHIP, FIFTY_THOUSAND, Decimal(0), DEFAULT_MINIMUM)
    assert [e.key for e in entries(url)] == [f"seed:{TOWNSHIP}"]
