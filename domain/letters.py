"""Written decisions (决定书): what the letter says that the township prints and hands to the
family for every decision that grants, refuses or changes a benefit — who, what, from when,
why, and how to object.

Pure: the composers take what the records hold and return a ``DecisionLetter``;
``services.letters.render_pdf`` prints it. A letter never carries an ID number in full (the
addressee's is masked as ``domain.privacy`` masks it for lists, and numbers in the reasons too),
and its free text is bounded whatever the records hold.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.benefits import Outcome
from domain.calendar import local_date
from domain.cases import DECIDED_STAGES, CaseStart, CaseView, Stage
from domain.errors import InvalidData, WrongStage
from domain.identity import mask_id_number
from domain.months import Month
from domain.privacy import redact
from domain.recipients import RecipientView
from domain.townships import SEED_TOWNSHIPS

AUTHORITY = "临淄区民政局"
"""Who decides and issues the letter: the district's civil-affairs bureau (审核确认 is the
district's); the township hands it over."""
REVIEW_BODY = "临淄区人民政府"
"""Where to apply for administrative review (行政复议) of a district department's decision:
the district government (《行政复议法》(2023) Art. 24). Placeholder until the district says
otherwise."""
REVIEW_DAYS = 60
"""申请行政复议 within this many days of receiving the letter (《行政复议法》Art. 20)."""
LAWSUIT_MONTHS = 6
"""提起行政诉讼 within this many months (《行政诉讼法》Art. 46)."""
LETTER_PREFIX = "临民救决"
"""The letters' series (文号: 临民救决〔year〕number号)."""
MAX_TEXT = 2000
"""Characters of any one free-text part of a letter (the reasons, say): the API bounds them
already, the letter again so that it stays a few pages long."""

TYPE_NAMES = {
    "dibao": "最低生活保障",
    "tekun": "特困人员救助供养",
    "temporary": "临时救助",
}


OUTCOME_TITLES = {  # a decision on a recipient household (domain.benefits)
    Outcome.continue_: "继续救助决定书",
    Outcome.adjust: "调整救助金额决定书",
    Outcome.suspend: "暂停发放决定书",
    Outcome.resume: "恢复发放决定书",
    Outcome.phase_out: "渐退决定书",
    Outcome.terminate: "终止救助决定书",
    Outcome.revoke: "撤销救助决定书",
}
APPROVAL_TITLE = "审核确认决定书"
REFUSAL_TITLE = "不予救助决定书"


@dataclass(frozen=True)
class DecisionLetter:
    """A printed decision letter (决定书), as it reads."""

    title: str
    """E.g. 最低生活保障审核确认决定书, 不予救助决定书, 最低生活保障终止救助决定书."""
    number: str
    """文号, from the case or review number: 临民救决〔2026〕370305-2026-000123号."""
    authority: str
    """Who issues it (and seals it): the district's civil-affairs bureau."""
    township: str
    """The township (镇/街道) that hands it over."""
    addressee: str
    """The applicant, by name."""
    addressee_id: str
    """The applicant's ID number, masked ("" when the records do not hold it)."""
    decision: str
    """What was decided, in a sentence or two (amount and first month included)."""
    reasons: str
    amount: Decimal | None
    """Monthly (低保, 特困) or once (临时救助); None where nothing is paid."""
    from_month: str | None
    """``YYYY-MM``: the month the decision takes effect from."""
    decided_by: str
    """The officer who decided, by name."""
    issued_on: date
    reference: str
    """The case or review number the letter answers."""
    remedy: str
    """How to object: 行政复议 and 行政诉讼, with their periods."""

    def paragraphs(self) -> list[str]:
        """The body, paragraph by paragraph, between the salutation and the signature."""
        return [self.decision, f"理由：{self.reasons}", self.remedy]

    @property
    def salutation(self) -> str:
        who = self.addressee + (f"（身份证号：{self.addressee_id}）" if self.addressee_id else "")
        return f"{who}："


def letter_number(reference: str, issued_on: date) -> str:
    return f"{LETTER_PREFIX}〔{issued_on.year}〕{bounded(reference, 60)}号"


def remedy_text() -> str:
    return (
        f"如对本决定不服，可以自收到本决定书之日起{REVIEW_DAYS}日内向{REVIEW_BODY}申请行政复议，"
        f"或者自收到本决定书之日起{LAWSUIT_MONTHS}个月内依法向人民法院提起行政诉讼。"
    )


def application_letter(
    *,
    view: CaseView,
    start: CaseStart | None,
    reasons: str,
    decided_by: str,
    township_name: str | None = None,
    village_name: str | None = None,
) -> DecisionLetter:
    """The letter of an application's decision (审核确认): an approval with its amount (monthly
    from the month of approval, or once for 临时救助), or a refusal (不予救助) with its reasons.
    ``WrongStage`` while the district has not decided."""
    if view.stage not in DECIDED_STAGES or view.decided_at is None:
        raise WrongStage(
            f"case {view.case_no} has no decision yet (stage '{view.stage}'): "
            "its letter is written once the district approves or refuses it"
        )
    issued_on = local_date(view.decided_at)
    kind = TYPE_NAMES.get(view.assistance_type, "社会救助")
    applied = (
        f"你户（{_place(view.township, township_name, village_name)}）于"
        f"{date_text(local_date(view.accepted_at))}提出的{kind}申请，"
        "经入户调查、家庭经济状况核对和镇（街道）审核，本局审核确认"
    )
    amount = view.monthly_amount
    from_month = None
    if view.stage == Stage.approved:
        title = f"{kind}{APPROVAL_TITLE}"
        from_month = str(Month.at(view.decided_at))
        if view.assistance_type == "temporary":
            paid = f"一次性发放临时救助金{yuan(amount)}" if amount is not None else "给予临时救助"
            decision = f"{applied}，决定给予{kind}：{paid}。"
        else:
            paid = f"每月{yuan(amount)}，" if amount is not None else ""
            decision = f"{applied}，决定给予{kind}，{paid}自{month_text(from_month)}起按月发放。"
    else:
        title = REFUSAL_TITLE
        amount = None
        decision = f"{applied}，决定不予批准。"
    return DecisionLetter(
        title=title,
        number=letter_number(view.case_no, issued_on),
        authority=AUTHORITY,
        township=_township_name(view.township, township_name),
        addressee=bounded(view.applicant_name, 60),
        addressee_id=mask_id_number(start.applicant.id_number) if start else "",
        decision=decision,
        reasons=_reasons(reasons),
        amount=amount,
        from_month=from_month,
        decided_by=bounded(decided_by, 60),
        issued_on=issued_on,
        reference=view.case_no,
        remedy=remedy_text(),
    )


def benefit_letter(
    *,
    recipient: RecipientView,
    outcome: Outcome | str,
    effective_month: str,
    reasons: str,
    decided_by: str,
    decided_on: date | datetime,
    reference_no: str,
    amount: Decimal | None = None,
    applicant_id_number: str | None = None,
    phase_out_months: int | None = None,
    township_name: str | None = None,
) -> DecisionLetter:
    """The letter of a decision on a recipient household: ``outcome`` (continue, adjust,
    suspend, resume, phase_out, terminate, revoke) from ``effective_month`` (``YYYY-MM``), with
    ``amount`` the monthly amount from then on (required to adjust; else the household's
    present one where one is paid). ``reference_no``: the review's (or correction's) number.
    ``applicant_id_number`` is masked here, whoever passes it; ``phase_out_months``: how long
    渐退 goes on paying (the policy's setting)."""
    try:
        outcome = Outcome(outcome)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise InvalidData("outcome", f"must be one of {allowed}") from None
    month = Month.parse(effective_month, field="effective_month")
    if not reasons.strip():
        raise InvalidData("reasons", "a decision gives its reasons")
    if outcome is Outcome.adjust and amount is None:
        raise InvalidData("amount", "an adjustment states the new monthly amount")
    if amount is not None and amount < 0:
        raise InvalidData("amount", "an amount is never negative")
    issued_on = decided_on if not isinstance(decided_on, datetime) else local_date(decided_on)
    kind = TYPE_NAMES.get(recipient.assistance_type, "社会救助")
    paid = amount if amount is not None else recipient.monthly_amount
    start = month_text(str(month))
    shown: Decimal | None = paid
    match outcome:
        case Outcome.continue_:
            decision = f"经核查，你户继续享受{kind}，每月{yuan(paid)}。"
        case Outcome.adjust:
            decision = f"经核查，自{start}起，你户{kind}金额调整为每月{yuan(paid)}。"
        case Outcome.suspend:
            shown = None
            decision = f"自{start}起，暂停发放你户{kind}金，待核实后再行决定。"
        case Outcome.resume:
            decision = f"自{start}起，恢复发放你户{kind}金，每月{yuan(paid)}。"
        case Outcome.phase_out:
            until = ""
            if phase_out_months:
                last = month.plus(phase_out_months - 1)
                until = f"{phase_out_months}个月（至{month_text(str(last))}）"
            decision = (
                f"你户家庭经济状况已经改善，自{start}起实行渐退，按每月{yuan(paid)}继续发放"
                f"{until or '一定期限'}，期满后停止发放。"
            )
        case Outcome.terminate:
            shown = None
            decision = f"自{start}起，终止你户{kind}，停止发放{kind}金。"
        case Outcome.revoke:
            shown = None
            decision = f"经复查，原给予你户{kind}的决定有误，予以撤销，自{start}起停止发放。"
    return DecisionLetter(
        title=f"{kind}{OUTCOME_TITLES[outcome]}",
        number=letter_number(reference_no, issued_on),
        authority=AUTHORITY,
        township=_township_name(recipient.township, township_name),
        addressee=bounded(recipient.applicant_name, 60),
        addressee_id=mask_id_number(applicant_id_number) if applicant_id_number else "",
        decision=decision,
        reasons=_reasons(reasons),
        amount=shown,
        from_month=str(month),
        decided_by=bounded(decided_by, 60),
        issued_on=issued_on,
        reference=reference_no,
        remedy=remedy_text(),
    )


def yuan(amount: Decimal | None) -> str:
    return f"{amount:.2f}元" if amount is not None else ""


def month_text(month: str) -> str:
    """``2026-03`` → 2026年3月."""
    parsed = Month.parse(month)
    return f"{parsed.year}年{parsed.month}月"


def date_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reasons(reasons: str) -> str:
    """The reasons as the family reads them: no number of anyone's in full, bounded."""
    return bounded(redact(" ".join(reasons.split())))


def _township_name(code: str, name: str | None) -> str:
    """The township's name as the records hold it, else as seeded, else its code."""
    if name:
        return name
    return next((t.name for t in SEED_TOWNSHIPS if t.code == code), code)


def _place(code: str, township_name: str | None, village_name: str | None) -> str:
    return _township_name(code, township_name) + (village_name or "")
