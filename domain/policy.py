"""Policy parameters (政策参数): the numbers the district's rules are made of.

Defaults follow 临政字〔2021〕75号 and the national 审核确认办法; every one is a setting.
A case carries the parameters it was accepted under, so a later change never rewrites history.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class DibaoStandard:
    """Monthly 低保 standard (低保标准) per person, in yuan, for one year."""

    urban: Decimal
    rural: Decimal


def _default_standards() -> dict[int, DibaoStandard]:
    return {
        2025: DibaoStandard(urban=Decimal("1040"), rural=Decimal("840")),
        2026: DibaoStandard(urban=Decimal("1080"), rural=Decimal("880")),
    }


@dataclass(frozen=True)
class Policy:
    decision_working_days: int = 20
    """审核确认 within this many working days of acceptance."""
    decision_by: Literal["district", "township"] = "district"
    """Who takes the decision (审核确认): the district's officers, or, where the province
    delegates it to the townships, the township leader (``township_approver``)."""
    survey_start_working_days: int = 3
    """入户调查 starts within this many working days of acceptance."""
    min_investigators: int = 2
    notice_calendar_days: int = 7
    """公示 period, calendar days."""
    refusal_notice_working_days: int = 3
    """Written refusal with reasons sent within this many working days."""
    deadline_warning_working_days: int = 3
    """Remind the caseworker and the district this many working days before a deadline."""
    residence_years: int = 3
    """人户分离: may apply where one has lived this many years."""
    tekun_urban_ratio: Decimal = Decimal("1.5")
    tekun_rural_ratio: Decimal = Decimal("1.3")
    tekun_minor_age: int = 18
    """特困 covers minors under this age (the seed extends it from 16 to 18)."""
    tekun_elderly_age: int = 60
    """特困 covers the elderly from this age on."""
    centralised_care_target: Decimal = Decimal("0.6")
    """失能、半失能特困人员集中供养率: the share of 特困 people with partial or no self-care who
    should be in centralised care (seed §2: 60 % or more)."""
    major_illness_band: tuple[int, int] = (3, 12)
    education_band: tuple[int, int] = (3, 6)
    disaster_transition_band: tuple[Decimal, Decimal] = (Decimal("1"), Decimal("6"))
    """Placeholder: 过渡期生活救助 of a family whose home a disaster destroyed, in multiples of
    the monthly urban 低保 standard (the seed names no band)."""
    other_expense_band: tuple[Decimal, Decimal] = (Decimal("1"), Decimal("3"))
    """Placeholder: any other 支出型 hardship (the seed names no band)."""
    dibao_standards: dict[int, DibaoStandard] = field(default_factory=_default_standards)

    # 家庭经济状况核对: what in the platform's report contradicts the survey (placeholders)
    verified_savings_limit: Decimal = Decimal("30000")
    """Placeholder: household savings above this contradict a finding of hardship."""
    verified_vehicles_allowed: int = 0
    """Placeholder: vehicles registered to the household beyond this many."""
    verified_properties_allowed: int = 1
    """Placeholder: properties (房产) registered to the household beyond this many."""

    # 急难型临时救助: emergency assistance paid before the full procedure (先行救助)
    emergency_payout_hours: int = 24
    """Paid within this many hours of the request, counted in hours, holidays included."""
    emergency_reminder_hours: tuple[int, ...] = (12, 20)
    """Hours after the request at which the approver and the district are reminded."""
    township_approval_limit: Decimal = Decimal("3000")
    """Placeholder: a township leader approves up to this amount; above it, the district."""
    urgent_band: tuple[Decimal, Decimal] = (Decimal("0.5"), Decimal("3"))
    """Placeholder: urgent causes (fire, accident, disaster, …) are paid within these multiples
    of the monthly urban 低保 standard; above is 一事一议."""
    payment_ceiling: Decimal = Decimal("100000")
    """No single payment above this, not even 一事一议: beyond it is a typing error."""
    reserve_minimum: Decimal = Decimal("50000")
    """临时救助储备金: each township keeps at least this much."""
    follow_up_working_days: int = 10
    """补办: survey and township review within this many working days of the payment."""
    emergency_repeat_days: int = 90
    """One emergency payment per family within this many days, whatever the cause, unless the
    district approves another with a reason."""
    max_extension_working_days: int = 30
    """督办: a supervisor may add at most this many working days in all to a case's deadline
    (the decision, or an emergency's follow-up); beyond it a district officer decides."""

    # 动态管理: reviews of recipient households (placeholders until the district sets them)
    review_cadence_dibao: str = "half_yearly"
    """定期核查 of a 低保 household unless the district chooses otherwise at approval (one whose
    situation changes little: ``yearly``)."""
    review_cadence_tekun: str = "yearly"
    review_opens_working_days: int = 15
    """A periodic review opens by itself this many working days before it is due."""
    review_survey_working_days: int = 10
    """Its household survey within this many working days of its opening."""
    review_decision_working_days: int = 20
    """An out-of-cycle review (a reported change) is decided within this many working days."""
    phase_out_months: int = 6
    """渐退: a household phased out is paid on for this many months."""
    referral_verify_working_days: int = 10
    """部门转介: the township verifies a referral within this many working days of its receipt
    (placeholder until the district sets it; the seed names no number)."""
    sweep_cadence_months: int = 3
    """摸底排查: each township sweeps its villages at least this often (placeholder: quarterly);
    a township whose last sweep is older is overdue (``/supervision/stuck``, the audit)."""
    sweeps_counted_from: date | None = None
    """The day the district began recording sweeps: a township with none since is overdue a
    cadence after it (unset: only a township whose last sweep is too old is)."""
    near_poverty_ratio: Decimal = Decimal("1.5")
    """低保边缘: a household found not eligible for 低保 with a monthly income per person below
    this multiple of the 低保 standard is put on the watch list."""
    watch_months: int = 12
    """动态监测: a household stays on the watch list this long (placeholder)."""
    watch_check_up_months: int = 3
    """Its check-ups (回访) fall due this often while it is watched (placeholder)."""

    def review_cadence(self, assistance_type: str) -> str:
        return (
            self.review_cadence_tekun if assistance_type == "tekun" else self.review_cadence_dibao
        )

    def dibao_standard(self, year: int) -> DibaoStandard:
        """The standard in force for ``year``: the latest published one not after it."""
        known = [y for y in self.dibao_standards if y <= year] or [min(self.dibao_standards)]
        return self.dibao_standards[max(known)]
