"""Domain rules a caseworker or auditor would check, with expected values counted by hand.

Calendar expectations are hand-counted from the 2026 data in the ``chinese-calendar`` package
(State Council notice): holidays 01-01..03, 02-15..23, 04-04..06, 05-01..05, 06-19..21,
09-25..27 (Mid-Autumn), 10-01..07; make-up working days 01-04 Sun, 02-14 Sat, 02-28 Sat,
05-09 Sat, 09-20 Sun, 10-10 Sat.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.amounts import dibao_monthly_amount, tekun_monthly_amount, temporary_band
from domain.calendar import (
    WorkingCalendar,
    WorkingDayIndex,
    YearCalendar,
    check_past_unchanged,
    end_of_day,
    local_date,
)
from domain.deadlines import DeadlineFacts, Pause, compute_deadlines
from domain.errors import InvalidData
from domain.identity import (
    InvalidIdentity,
    age_on,
    check_digit,
    mask_id_number,
    mask_phone,
    normalize_id_number,
    normalize_phone,
)
from domain.policy import DibaoStandard, Policy
from domain.townships import DISTRICT_CODE, SEED_TOWNSHIPS, covers, jurisdiction_level
from store.calendar import packaged_years

D = date
# Pinned to the years up to 2026, so the "2027 is unpublished" tests hold after a package upgrade.
CAL = WorkingCalendar({y: c for y, c in packaged_years().items() if y <= 2026})
POLICY = Policy()

# Hand-computed check digits (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, chars "10X98765432"):
SAMPLE_X = "11010519491231002X"  # sum 167, 167 % 11 = 2 -> X (the published GB 11643 sample)
VALID = "370305198001010015"  # sum 194, 194 % 11 = 7 -> 5; born 1980-01-01
LEAP = "370305200002290012"  # sum 208, 208 % 11 = 10 -> 2; born 2000-02-29


# --- ID numbers -------------------------------------------------------------------------------

TODAY = D(2026, 11, 29)


def _with_check(first17: str) -> str:
    return first17 + check_digit(first17)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (SAMPLE_X, SAMPLE_X),
        (VALID, VALID),
        (LEAP, LEAP),
        ("11010519491231002x", SAMPLE_X),  # lower-case x normalised
        ("  370305198001010015\n", VALID),  # whitespace trimmed
    ],
)
def test_valid_id_numbers(raw, expected):
    assert normalize_id_number(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("370305198001010016", "check digit"),  # 5 expected
        ("110105194912310021", "check digit"),  # X expected
        ("370305198013010015", "birth date"),  # month 13
        ("370305198002300015", "birth date"),  # 30 February
        ("370305198102290015", "birth date"),  # 29 February in a common year
        ("37030519800101001", "17 digits"),  # 17 characters
        ("3703051980010100155", "17 digits"),  # 19 characters
        ("37030519800101X015", "17 digits"),  # X not in last place
        ("", "17 digits"),
        (_with_check("00000019800101001"), "province"),  # region code 000000
        (_with_check("37030520990101001"), "future"),  # born in 2099
        (_with_check("37030518890101001"), "before 1900"),
        (_with_check("37030520261130001"), "future"),  # born tomorrow
    ],
)
def test_invalid_id_numbers(raw, reason):
    with pytest.raises(InvalidIdentity, match=reason):
        normalize_id_number(raw, today=TODAY)
    assert issubclass(InvalidIdentity, ValueError)


def test_full_width_digits_become_ascii():
    raw = "１１０１０５１９４９１２３１００２ｘ"  # SAMPLE_X typed with a full-width IME
    assert normalize_id_number(raw, today=TODAY) == SAMPLE_X


@pytest.mark.parametrize(
    ("number", "day", "age"),
    [
        (VALID, D(2025, 12, 31), 45),
        (VALID, D(2026, 1, 1), 46),
        (SAMPLE_X, D(2026, 12, 30), 76),
        (SAMPLE_X, D(2026, 12, 31), 77),
        (LEAP, D(2026, 2, 28), 25),
        (LEAP, D(2026, 3, 1), 26),
        (LEAP, D(2018, 2, 28), 17),  # still a minor for 特困 (under 18)
        (LEAP, D(2018, 3, 1), 18),
    ],
)
def test_age_on(number, day, age):
    assert age_on(number, day) == age


def test_mask_id_number_keeps_region_and_last_four_only():
    masked = mask_id_number(VALID)
    assert masked == "370305********0015"
    assert VALID not in masked and "19800101" not in masked
    assert mask_id_number(SAMPLE_X) == "110105********002X"


# --- phones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        (" +86-138-1234-5678 ", "13812345678"),
    ],
)
def test_valid_phones(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["12345", "23800000000", "12812345678", "1381234567", "138123456789", "8613812345678", ""],
)
def test_invalid_phones(raw):
    with pytest.raises(InvalidIdentity, match="11 digits"):
        normalize_phone(raw)


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"


# --- the 2026 calendar -----------------------------------------------------------------------


def test_packaged_2026_matches_the_notice():
    y2026 = packaged_years()[2026]
    assert {D(2026, 2, d) for d in range(15, 24)} <= y2026.holidays
    assert {D(2026, 10, d) for d in range(1, 8)} <= y2026.holidays
    assert {D(2026, 1, d) for d in (1, 2, 3)} <= y2026.holidays
    assert y2026.workdays == {
        D(2026, 1, 4),
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2026, 5, 9),
        D(2026, 9, 20),
        D(2026, 10, 10),
    }


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 1, 2), False),  # Fri, New Year
        (D(2026, 1, 4), True),  # Sun, make-up
        (D(2026, 2, 14), True),  # Sat, make-up
        (D(2026, 2, 16), False),  # Mon, Spring Festival
        (D(2026, 2, 20), False),  # Fri, Spring Festival
        (D(2026, 2, 23), False),  # Mon, last day of Spring Festival
        (D(2026, 2, 24), True),  # Tue, back to work
        (D(2026, 2, 28), True),  # Sat, make-up
        (D(2026, 9, 20), True),  # Sun, make-up
        (D(2026, 9, 25), False),  # Fri, Mid-Autumn
        (D(2026, 10, 5), False),  # Mon, National Day
        (D(2026, 10, 7), False),  # Wed, National Day
        (D(2026, 10, 10), True),  # Sat, make-up
        (D(2026, 10, 11), False),  # Sun, ordinary weekend
        (D(2026, 3, 7), False),  # Sat, ordinary weekend
        (D(2026, 3, 8), False),  # Sun, ordinary weekend
        (D(2026, 3, 9), True),  # Mon, ordinary weekday
    ],
)
def test_is_working_day_2026(day, working):
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # 02-13 Fri (1), 02-14 Sat make-up (2), 02-15..23 off, 02-24 Tue (3)
        (D(2026, 2, 12), 3, D(2026, 2, 24)),
        # 01-01..03 off, 01-04 Sun make-up (1)
        (D(2025, 12, 31), 1, D(2026, 1, 4)),
        # 09-19 Sat off, 09-20 Sun make-up (1), 09-21 (2), 09-22 (3)
        (D(2026, 9, 18), 3, D(2026, 9, 22)),
        # accepted on Mid-Autumn Fri 09-25: 09-28 (1) 29 (2) 30 (3), 10-01..07 off, 10-08 (4)
        # 10-09 (5) 10-10 Sat make-up (6), 10-12..16 (7-11), 10-19..23 (12-16), 10-26..29 (17-20)
        (D(2026, 9, 25), 3, D(2026, 9, 30)),
        (D(2026, 9, 25), 20, D(2026, 10, 29)),
        (D(2026, 3, 9), 0, D(2026, 3, 9)),
    ],
)
def test_add_working_days_2026(start, count, expected):
    assert CAL.add_working_days(start, count) == (expected, False)


def test_count_into_unpublished_year_is_provisional_weekdays_only():
    # 12-31 Thu (1), 2027-01-01 Fri (2: weekday, no notice yet), 01-02/03 weekend, 01-04 Mon (3)
    assert CAL.add_working_days(D(2026, 12, 30), 3) == (D(2027, 1, 4), True)
    assert CAL.add_working_days(D(2026, 12, 30), 1) == (D(2026, 12, 31), False)


def test_entered_2027_year_makes_the_count_final_and_skips_its_holiday():
    y2027 = YearCalendar(2027, frozenset({D(2027, 1, 1)}), frozenset())
    extended = WorkingCalendar.of([*CAL.years.values(), y2027])
    assert extended.is_published(2027) and not CAL.is_published(2027)
    # 12-31 (1), 01-01 holiday, weekend, 01-04 (2), 01-05 (3)
    assert extended.add_working_days(D(2026, 12, 30), 3) == (D(2027, 1, 5), False)


@pytest.mark.parametrize(
    ("after", "up_to", "expected"),
    [
        (D(2026, 2, 13), D(2026, 2, 13), 0),
        (D(2026, 2, 12), D(2026, 2, 13), 1),  # the end day counts, the start day does not
        (D(2026, 2, 14), D(2026, 2, 24), 1),  # make-up 02-14 is the excluded start
        (D(2026, 2, 13), D(2026, 2, 28), 6),  # 02-14, 24, 25, 26, 27, 28
        (D(2026, 9, 30), D(2026, 10, 9), 2),  # 10-08, 10-09
    ],
)
def test_working_days_between(after, up_to, expected):
    assert CAL.working_days_between(after, up_to) == expected


def test_shanghai_day_boundaries():
    assert end_of_day(D(2026, 2, 14)) == datetime(2026, 2, 14, 16, tzinfo=UTC)
    assert local_date(datetime(2026, 2, 14, 15, 59, 59, tzinfo=UTC)) == D(2026, 2, 14)
    assert local_date(datetime(2026, 2, 14, 16, tzinfo=UTC)) == D(2026, 2, 15)


@pytest.mark.parametrize(
    ("holidays", "workdays", "message"),
    [
        ({D(2027, 1, 1)}, set(), "not in 2026"),
        (set(), {D(2025, 12, 28)}, "not in 2026"),
        ({D(2026, 2, 14)}, {D(2026, 2, 14)}, "both"),
        (set(), {D(2026, 2, 13)}, "weekday"),  # Fri listed as a make-up working day
    ],
)
def test_year_calendar_validation(holidays, workdays, message):
    with pytest.raises(ValueError, match=message):
        YearCalendar(2026, frozenset(holidays), frozenset(workdays))


# --- corrections of a published year: never of days gone by ----------------------------------

ON_THE_4TH = D(2026, 12, 4)  # a Friday: the day a tester made every December day a holiday


def corrected(*, holidays=(), workdays=(), without=()) -> YearCalendar:
    """2026 as in force, with ``holidays`` and ``workdays`` added and ``without`` removed."""
    y2026 = CAL.years[2026]
    return YearCalendar(
        2026,
        (y2026.holidays | set(holidays)) - set(without),
        (y2026.workdays | set(workdays)) - set(without),
    )


def refusal(year: YearCalendar, today: date = ON_THE_4TH) -> InvalidData:
    with pytest.raises(InvalidData) as refused:
        check_past_unchanged(CAL, year, today=today)
    return refused.value


def test_every_december_day_a_holiday_is_refused_for_the_days_gone_by():
    december = [D(2026, 12, d) for d in range(1, 32)]
    refused = refusal(corrected(holidays=december))
    assert refused.field == "holidays"
    assert "2026-12-01 (added), 2026-12-02 (added), 2026-12-03 (added)" in refused.message
    assert "2026-12-04" not in refused.message.split("This would change")[1]
    assert "before today (2026-12-04)" in refused.message


def test_today_and_later_may_be_corrected():
    check_past_unchanged(
        CAL, corrected(holidays=[D(2026, 12, d) for d in range(4, 32)]), today=ON_THE_4TH
    )
    check_past_unchanged(CAL, corrected(workdays=[D(2026, 12, 5)]), today=ON_THE_4TH)  # a Sat
    check_past_unchanged(CAL, CAL.years[2026], today=ON_THE_4TH)  # the same again


def test_a_past_holiday_removed_or_make_up_day_added_is_refused():
    removed = refusal(corrected(without=[D(2026, 10, 1)]))
    assert removed.field == "holidays" and "2026-10-01 (removed)" in removed.message
    saturday = refusal(corrected(workdays=[D(2026, 11, 28)]))
    assert saturday.field == "workdays" and "2026-11-28 (added)" in saturday.message
    make_up = refusal(corrected(without=[D(2026, 10, 10)]))
    assert make_up.field == "workdays" and "2026-10-10 (removed)" in make_up.message


def test_a_refusal_names_a_bounded_number_of_days():
    weekdays = [D(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    refused = refusal(corrected(holidays=[d for d in weekdays if d.weekday() < 5]))
    listed = refused.message.split("This would change")[1]
    assert listed.count("(added)") == 10 and "more" in listed
    assert len(refused.message) < 600


def test_a_year_never_published_is_compared_with_its_weekdays_only():
    # 2027 is not in force: on 2027-03-01 its past days are plain weekdays and weekends
    late = YearCalendar(2027, frozenset({D(2027, 2, 1)}), frozenset())
    with pytest.raises(InvalidData, match="2027-02-01 \\(added\\)"):
        check_past_unchanged(CAL, late, today=D(2027, 3, 1))
    check_past_unchanged(
        CAL, YearCalendar(2027, frozenset({D(2027, 3, 1)}), frozenset()), today=D(2027, 3, 1)
    )


# --- deadlines -------------------------------------------------------------------------------

# Accepted 2026-09-28 Mon: 09-29 (1) 09-30 (2), 10-01..07 off, 10-08 (3) 10-09 (4) 10-10 Sat (5)
# 10-12..16 (6-10) 10-19..23 (11-15) 10-26 (16) 27 (17) 28 (18) 29 (19) 30 (20),
# 11-02 (21) 03 (22) 04 (23) 05 (24).
ACCEPTED = D(2026, 9, 28)


def deadlines(**facts):
    return compute_deadlines(CAL, DeadlineFacts(accepted_on=ACCEPTED, policy=POLICY, **facts))


def test_deadlines_without_pauses():
    d = deadlines()
    assert (d.survey_due, d.decision_due, d.decision_warning_on) == (
        D(2026, 10, 8),
        D(2026, 10, 30),
        D(2026, 10, 27),
    )
    assert d.refusal_notice_due is None and d.provisional is False and d.paused_working_days == 0
    assert CAL.add_working_days(d.decision_warning_on, 3) == (d.decision_due, False)


@pytest.mark.parametrize(
    ("pause", "paused", "due"),
    [
        (Pause(D(2026, 10, 12), D(2026, 10, 16)), 4, D(2026, 11, 5)),  # 10-13..16
        (Pause(D(2026, 9, 30), D(2026, 10, 9)), 2, D(2026, 11, 3)),  # over National Day
        (Pause(D(2026, 10, 12), None), 0, D(2026, 10, 30)),  # still open: nothing moves yet
    ],
)
def test_pauses_move_the_decision_only(pause, paused, due):
    d = deadlines(pauses=[pause])
    assert d.paused_working_days == paused
    assert d.decision_due == due
    assert d.survey_due == D(2026, 10, 8)
    assert CAL.working_days_between(D(2026, 10, 30), d.decision_due) == paused


def test_refusal_notice_due():
    # refused 09-30 Wed: 10-08 (1), 10-09 (2), 10-10 Sat make-up (3)
    assert deadlines(refused_on=D(2026, 9, 30)).refusal_notice_due == D(2026, 10, 10)


def test_deadline_into_2027_is_provisional():
    # 12-16..18 (1-3), 12-21..25 (4-8), 12-28..31 (9-12), 2027 weekdays: 01-01 (13),
    # 01-04..08 (14-18), 01-11 (19), 01-12 (20)
    d = compute_deadlines(CAL, DeadlineFacts(accepted_on=D(2026, 12, 15), policy=POLICY))
    assert d.survey_due == D(2026, 12, 18)
    assert d.decision_due == D(2027, 1, 12)
    assert d.provisional is True


# --- amounts and policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "income", "expected"),
    [
        (3, "1500", "1740.00"),  # 3 × 1080 − 1500
        (3, "3240", "0.00"),  # exactly on the line
        (3, "4000", "0.00"),  # above the line: nothing, never negative
        (1, "0", "1080.00"),
        (3, "1234.565", "2005.44"),  # 2005.435 rounds half up
    ],
)
def test_dibao_gap(size, income, expected):
    amount = dibao_monthly_amount(
        standard=Decimal(1080), household_size=size, household_income=Decimal(income)
    )
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("year", "area", "expected"),
    [
        (2026, "urban", "1620.00"),
        (2026, "rural", "1144.00"),
        (2025, "urban", "1560.00"),
        (2025, "rural", "1092.00"),
    ],
)
def test_tekun_amount(year, area, expected):
    assert str(tekun_monthly_amount(policy=POLICY, year=year, area=area)) == expected


@pytest.mark.parametrize(
    ("expense", "band"),
    [
        ("major_illness", ("3240.00", "12960.00")),
        ("education", ("3240.00", "6480.00")),
        ("disaster_transition", ("1080.00", "6480.00")),  # placeholder 1–6 ×
        ("other", ("1080.00", "3240.00")),  # placeholder 1–3 ×
    ],
)
def test_temporary_band(expense, band):
    low, high = temporary_band(policy=POLICY, year=2026, expense=expense)
    assert (str(low), str(high)) == band


def test_an_expenditure_without_a_band_is_refused_naming_it():
    with pytest.raises(InvalidData) as refused:
        temporary_band(policy=POLICY, year=2026, expense="holiday")
    assert refused.value.field == "expense" and "disaster_transition" in refused.value.message


@pytest.mark.parametrize(
    ("year", "urban", "rural"),
    [(2026, "1080", "880"), (2030, "1080", "880"), (2025, "1040", "840"), (2020, "1040", "840")],
)
def test_dibao_standard_in_force(year, urban, rural):
    assert POLICY.dibao_standard(year) == DibaoStandard(Decimal(urban), Decimal(rural))


# --- townships -------------------------------------------------------------------------------


def test_seed_townships():
    assert len(SEED_TOWNSHIPS) == 12
    codes = [t.code for t in SEED_TOWNSHIPS]
    assert len(set(codes)) == 12
    for t in SEED_TOWNSHIPS:
        assert len(t.code) == 9 and t.code.isdigit() and t.code.startswith(DISTRICT_CODE)
        assert t.area == ("urban" if t.name.endswith("街道") else "rural")
        assert t.name.endswith(("街道", "镇"))
        for v in t.villages:
            assert len(v.code) == 12 and v.code.startswith(t.code)
    assert sum(t.area == "urban" for t in SEED_TOWNSHIPS) == 5
    villages = [v.code for t in SEED_TOWNSHIPS for v in t.villages]
    assert len(villages) == len(set(villages)) == 36
    assert SEED_TOWNSHIPS[0].villages[0].code == "370305001001"  # 居委会 from 001
    assert SEED_TOWNSHIPS[5].villages[0].code == "370305100201"  # 村委会 from 201


@pytest.mark.parametrize(
    ("jurisdiction", "code", "expected"),
    [
        ("370305", "370305001", True),
        ("370305", "370305106203", True),
        ("370305001", "370305001002", True),
        ("370305001", "370305002001", False),
        ("370305100", "370305101201", False),
        ("370305001001", "370305001001", True),
        ("370305001001", "370305001002", False),
        ("370305001001", "370305001", False),  # a village does not see its township
        ("", "370305001001", False),  # no jurisdiction sees nothing
        ("3703", "370305001001", False),  # nor does one wider than the district
        ("370305%", "370305001001", False),  # nor a pattern
        ("3703050", "370305001001", False),  # nor a fragment of a code
    ],
)
def test_covers(jurisdiction, code, expected):
    assert covers(jurisdiction, code) is expected


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("370305", "district"),
        ("370305001", "township"),
        ("370305106203", "village"),
        ("370306", None),  # another district
        ("", None),
        ("3703", None),
        ("370305%", None),
        ("370305%%%", None),
        ("37030500１", None),  # a full-width digit
        ("3703050011", None),
    ],
)
def test_a_jurisdiction_is_a_whole_code_of_the_district(code, level):
    assert jurisdiction_level(code) == level


def test_a_working_day_index_counts_as_the_calendar_does():
    index = WorkingDayIndex.over(CAL, D(2025, 12, 1), D(2026, 12, 31))
    for after, up_to in [
        (D(2026, 1, 1), D(2026, 1, 31)),
        (D(2026, 2, 10), D(2026, 3, 2)),  # across the Spring Festival and its make-up days
        (D(2026, 9, 18), D(2026, 10, 12)),
        (D(2026, 5, 1), D(2026, 5, 1)),
    ]:
        assert index.between(after, up_to) == CAL.working_days_between(after, up_to)
