"""The register of recipient households (``domain.recipients``) in the records: one row per
household, its trail in ``audit_entry`` under its number (chained and sealed like a case's),
the bank account it is paid into sealed, and the one standing claim of its members.

Every writer is idempotent: the registration of a case's household happens once whatever
retries it (keyed by the case), and a second look finds what the first wrote.
"""

import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from decimal import Decimal

from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, delete, func, select, update

from domain import benefits
from domain.application import first_payment_key
from domain.benefits import BenefitDecision, Outcome, check_decision
from domain.cases import (
    SYSTEM,
    Actor,
    AuditEntry,
    BankAccount,
    CaseStart,
    Role,
    account_holder,
    check_holder,
)
from domain.contracts import Registration, Reissue
from domain.errors import NotFound, WrongStage
from domain.months import Month
from domain.payroll import ItemStatus, reissue_key
from domain.policy import Policy
from domain.recipients import (
    STANDING_CLAIM,
    STANDING_TYPES,
    RecipientView,
    recipient_number,
    register,
)
from domain.sealing import NONCE_BYTES, TEXT_PREFIX, KeyRing, Sealed
from domain.tekun import check_institution_holder, institution_payee
from domain.townships import DISTRICT_CODE
from store.evidence import append_entry
from store.hashed_ids import claim_rows, look_up
from store.records import last_seq, mark_registered, start_of
from store.records import view_of as case_view_of
from store.tables import (
    AuditEntryRecord,
    CaseRecord,
    HouseholdClaim,
    PayrollItem,
    RecipientCounter,
    RecipientRecord,
)
from store.watch import add_entry

VIEW = TypeAdapter(RecipientView)


@dataclass(frozen=True)
class Payee:
    """Where a household is paid and how it is told: its account, the ID number of the account's
    holder, the applicant's phone. Kept sealed to the household."""

    account: BankAccount
    id_number: str
    phone: str


def _purpose(recipient_no: str) -> bytes:
    return f"recipient-payee:{recipient_no}".encode()


def seal_payee(payee: Payee, *, recipient_no: str, ring: KeyRing) -> str:
    text = json.dumps(asdict(payee), ensure_ascii=False)
    sealed = ring.seal(text.encode(), purpose=_purpose(recipient_no), nonce=os.urandom(NONCE_BYTES))
    return sealed.as_text()


def open_payee(row: RecipientRecord, *, ring: KeyRing) -> Payee:
    data = json.loads(ring.open(Sealed.from_text(row.payee), purpose=_purpose(row.recipient_no)))
    return Payee(account=BankAccount(**data.pop("account")), **data)


def reseal_payees(session: Session, *, ring: KeyRing, chunk: int = 1_000) -> int:
    """Seal again under the current key every household's payee sealed under another (key
    rotation), a chunk at a time; the number of households resealed."""
    current, written, after = f"{TEXT_PREFIX}{ring.current}:", 0, ""
    while rows := session.exec(
        select(RecipientRecord)
        .where(RecipientRecord.recipient_no > after)
        .order_by(RecipientRecord.recipient_no)
        .limit(chunk)
    ).all():
        after = rows[-1].recipient_no
        for row in rows:
            if not row.payee.startswith(current):
                payee = open_payee(row, ring=ring)
                row.payee = seal_payee(payee, recipient_no=row.recipient_no, ring=ring)
                session.add(row)
                written += 1
        session.flush()
    return written


def next_recipient_no(session: Session, *, assistance_type: str, year: int) -> str:
    """建档号: district, type, year and a sequence (one statement: two cannot take one number)."""
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    last = session.exec(
        insert(RecipientCounter)
        .values(assistance_type=assistance_type, year=year, last=1)
        .on_conflict_do_update(
            index_elements=["assistance_type", "year"], set_={"last": RecipientCounter.last + 1}
        )
        .returning(RecipientCounter.last)
    ).scalar_one()
    return recipient_number(
        district=DISTRICT_CODE, assistance_type=assistance_type, year=year, seq=last
    )


def recipient_of_case(session: Session, *, case_no: str) -> RecipientRecord | None:
    return session.exec(select(RecipientRecord).where(RecipientRecord.case_no == case_no)).first()


def register_household(
    session: Session,
    *,
    start: CaseStart,
    account: BankAccount,
    amount: Decimal,
    approved_by: Actor,
    approved_at: datetime,
    first_payment_key: str,
    ring: KeyRing,
    care_form: str | None = None,
    self_care: str | None = None,
    institution: str | None = None,
    review_cadence: str | None = None,
    assessed_income: Decimal | None = None,
) -> str:
    """The household approved by ``start.case_no`` enters the register (once: a retry finds it):
    its members' standing claim passes from the case to it, and the month of its approval is
    its first payroll item, paid by the approval's own payment (``first_payment_key``). In
    centralised care (集中供养) the payee is ``institution``, the account's holder, for the
    applicant (its ID number goes with the transfers)."""
    if known := recipient_of_case(session, case_no=start.case_no):
        return known.recipient_no
    month = Month.at(approved_at)
    recipient_no = next_recipient_no(
        session, assistance_type=start.assistance_type, year=month.year
    )
    people = [start.applicant, *start.household]
    holder = (
        institution_payee(institution, start.applicant)
        if institution
        else account_holder(people, account)
    )
    view, entry = register(
        recipient_no=recipient_no,
        case_no=start.case_no,
        assistance_type=start.assistance_type,
        township=start.township,
        village=start.village,
        applicant=start.applicant,
        household_size=len(people),
        amount=amount,
        account=account.masked,
        approved_by=approved_by,
        approved_at=approved_at,
        care_form=care_form,
        self_care=self_care,
        institution=institution,
        area=start.area,
        review_cadence=review_cadence or start.policy.review_cadence(start.assistance_type),
        assessed_income=assessed_income,
    )
    payee = Payee(account=account, id_number=holder.id_number, phone=start.applicant.phone)
    write_view(session, view, payee=seal_payee(payee, recipient_no=recipient_no, ring=ring))
    append_entry(session, entry)
    session.exec(
        update(HouseholdClaim)
        .where(
            HouseholdClaim.case_no == start.case_no,
            HouseholdClaim.assistance_type == STANDING_CLAIM,
        )
        .values(case_no=recipient_no)
    )
    session.add(
        PayrollItem(
            recipient_no=recipient_no,
            month=str(month),
            township=start.township,
            part=0,
            amount_fen=int(amount * 100),
            status=ItemStatus.pending,
            key=first_payment_key,
        )
    )
    return recipient_no


def write_view(session: Session, view: RecipientView, *, payee: str | None = None) -> None:
    """The household's row from its view (the sealed payee kept unless a new one is given)."""
    row = session.get(RecipientRecord, view.recipient_no)
    fields = {k: v for k, v in VIEW.dump_python(view).items() if k in RecipientRecord.model_fields}
    session.merge(
        RecipientRecord(
            **fields,
            view=VIEW.dump_json(view).decode(),
            payee=payee if payee is not None else row.payee,
        )
    )


def view_of(row: RecipientRecord) -> RecipientView:
    return VIEW.validate_json(row.view)


def is_recipient(session: Session, number: str) -> bool:
    """Whether ``number`` is a household of the register (a claim's holder may be a case)."""
    return session.get(RecipientRecord, number) is not None


def locked_recipient(session: Session, recipient_no: str) -> RecipientRecord:
    """The household's row, locked until the transaction ends (PostgreSQL: one writer at a
    time changes a household; SQLite writes one at a time anyway)."""
    row = session.exec(
        select(RecipientRecord)
        .where(RecipientRecord.recipient_no == recipient_no)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no recipient household {recipient_no} in your jurisdiction")
    return row


def recipient(session: Session, *, recipient_no: str) -> RecipientRecord:
    row = session.get(RecipientRecord, recipient_no)
    if row is None:
        raise NotFound(f"no recipient household {recipient_no} in your jurisdiction")
    return row


def record_bank_account(
    session: Session,
    *,
    recipient_no: str,
    account: BankAccount,
    actor: Actor,
    at: datetime,
    ring: KeyRing,
) -> tuple[RecipientView, list[Reissue]]:
    """The household's corrected account (held by one of its members): its next payments go
    there, and each month the bank refused is re-issued into it, once. Refused while a
    re-issue is under way (it goes where it was sent)."""
    row = locked_recipient(session, recipient_no)
    refused = session.exec(
        select(PayrollItem).where(
            PayrollItem.recipient_no == recipient_no,
            PayrollItem.status.in_([ItemStatus.refused, ItemStatus.reissuing]),
        )
    ).all()
    if under_way := [i.month for i in refused if i.status == ItemStatus.reissuing]:
        raise WrongStage(
            f"the re-issue of household {recipient_no}'s payment for {', '.join(under_way)} "
            "is under way; if the bank refuses it, a corrected account can be recorded then"
        )
    start = start_of(session.get(CaseRecord, row.case_no), ring=ring)
    people = [start.applicant, *start.household]
    view = view_of(row)
    if view.institution:  # 集中供养: the institution's corrected account, for the applicant
        check_institution_holder(account, institution=view.institution)
        holder = institution_payee(view.institution, start.applicant)
    else:
        check_holder(people, account, field="holder")
        holder = account_holder(people, account)
    payee = replace(open_payee(row, ring=ring), account=account, id_number=holder.id_number)
    view.bank_account, view.version = account.masked, view.version + 1
    write_view(session, view, payee=seal_payee(payee, recipient_no=recipient_no, ring=ring))
    append_entry(
        session,
        AuditEntry(
            case_no=recipient_no,
            seq=last_seq(session, case_no=recipient_no) + 1,
            at=at,
            actor=actor,
            action="bank_account_recorded",
            from_stage=view.status,
            to_stage=view.status,
            note=account.masked
            + (f"; re-issuing {', '.join(i.month for i in refused)}" if refused else ""),
        ),
    )
    reissues = []
    for item in refused:
        item.reissues += 1
        item.reissue_key = reissue_key(recipient_no, Month.parse(item.month), item.reissues)
        item.status = ItemStatus.reissuing
        session.add(item)
        reissues.append(Reissue(recipient_no, item.month, item.reissue_key))
    return view, reissues


def village_of_recipient(session: Session, *, recipient_no: str) -> str | None:
    """The village of the household (None: there is none)."""
    return session.exec(
        select(RecipientRecord.village).where(RecipientRecord.recipient_no == recipient_no)
    ).first()


def register_case(session: Session, *, registration: Registration, ring: KeyRing) -> str:
    """``register_household`` for the approved case the registration names."""
    return register_household(
        session,
        start=registration.start,
        account=registration.account,
        amount=registration.amount,
        approved_by=registration.approved_by,
        approved_at=registration.approved_at,
        first_payment_key=registration.first_payment_key,
        ring=ring,
        care_form=registration.care_form,
        self_care=registration.self_care,
        institution=registration.institution,
        review_cadence=registration.review_cadence,
        assessed_income=registration.assessed_income,
    )


def recipient_of_family(session: Session, *, id_numbers: list[str], ring: KeyRing) -> str | None:
    """The register number of the recipient household one of these people belongs to (None:
    none does; an application for 低保 or 特困 under way is no household yet)."""
    holders = session.exec(
        select(HouseholdClaim.case_no).where(
            HouseholdClaim.assistance_type == STANDING_CLAIM,
            HouseholdClaim.id_number_hash.in_(look_up(ring, id_numbers)),
        )
    ).all()
    return next((h for h in holders if is_recipient(session, h)), None)


def not_in_register() -> tuple:
    """The conditions on ``case_record`` of a 低保 or 特困 case approved and paid whose household
    is not in the register: approved before approvals entered it (patch ``register-household``)."""
    registered = select(RecipientRecord.case_no).where(
        RecipientRecord.case_no == CaseRecord.case_no
    )
    return (
        CaseRecord.assistance_type.in_(STANDING_TYPES),
        CaseRecord.first_payment_at.is_not(None),
        ~registered.exists(),
    )


def approved_unregistered(session: Session, *, after: str = "", limit: int = 200) -> list[str]:
    """The numbers of those cases (``not_in_register``) after ``after``."""
    return list(
        session.exec(
            select(CaseRecord.case_no)
            .where(*not_in_register(), CaseRecord.case_no > after)
            .order_by(CaseRecord.case_no)
            .limit(limit)
        )
    )


def register_approved(
    session: Session,
    *,
    case_no: str,
    account: BankAccount | None,
    approved_by: Actor | None,
    ring: KeyRing,
) -> tuple[str | None, str]:
    """The household of a case approved and paid before the register existed enters it now,
    as an approval enters it: paid into ``account`` (the workflow's, when it can still be
    read) or else the one accepted with the case if that is the account the bank paid, its
    approval the month's payroll item, its members' standing claim held by it. The household's
    number and "" — or None and why a person must look at the case."""
    # The case's row locked first: workers starting at once enter its household once.
    row = session.exec(
        select(CaseRecord).where(CaseRecord.case_no == case_no).with_for_update()
    ).first()
    if known := recipient_of_case(session, case_no=case_no):
        return known.recipient_no, ""
    start = start_of(row, ring=ring) if row is not None else None
    if start is None:
        return None, "no intake kept with the case"
    view = case_view_of(row)
    settled = [p for p in view.payments if p.status == "settled"]
    if not settled or view.decided_at is None or view.monthly_amount is None:
        return None, "no settled payment of an approved amount on the case"
    if account is None and start.bank_account and start.bank_account.masked == settled[-1].account:
        account = start.bank_account
    if account is None:
        return None, "the account it was paid into is not kept in the records"
    ids = [p.id_number for p in (start.applicant, *start.household)]
    if (holder := recipient_of_family(session, id_numbers=ids, ring=ring)) or (
        holder := _other_standing_case(session, id_numbers=ids, case_no=case_no, ring=ring)
    ):
        return None, f"a member of the household now belongs to {holder}"
    approved_by = approved_by or _decided_by(session, case_no=case_no, district=start.township[:6])
    recipient_no = register_household(
        session, start=start, account=account, amount=view.monthly_amount,
        approved_by=approved_by, approved_at=view.decided_at,
        first_payment_key=first_payment_key(case_no, settled[-1].attempt), ring=ring,
    )  # fmt: skip
    held = set(
        session.exec(
            select(HouseholdClaim.id_number_hash).where(HouseholdClaim.case_no == recipient_no)
        )
    )
    session.add_all(
        HouseholdClaim(**claim)
        for claim in claim_rows(
            ring, assistance_type=STANDING_CLAIM, id_numbers=ids, case_no=recipient_no
        )
        if claim["id_number_hash"] not in held
    )
    mark_registered(session, case_no=case_no, recipient_no=recipient_no)
    return recipient_no, ""


def _other_standing_case(
    session: Session, *, id_numbers: list[str], case_no: str, ring: KeyRing
) -> str | None:
    """An open 低保 or 特困 application of one of these people, other than ``case_no``."""
    return session.exec(
        select(HouseholdClaim.case_no).where(
            HouseholdClaim.assistance_type == STANDING_CLAIM,
            HouseholdClaim.id_number_hash.in_(look_up(ring, id_numbers)),
            HouseholdClaim.case_no != case_no,
        )
    ).first()


def _decided_by(session: Session, *, case_no: str, district: str) -> Actor:
    """Who approved the case, from its trail."""
    entry = session.exec(
        select(AuditEntryRecord)
        .where(AuditEntryRecord.case_no == case_no, AuditEntryRecord.to_stage == "approved")
        .order_by(AuditEntryRecord.seq)
    ).first()
    if entry is None:
        return Actor("records", "记录", Role.district_officer, district)
    return Actor(entry.user_id, entry.user_name, Role(entry.role), district)


def first_unpaid_month(session: Session, *, recipient_no: str, start_month: str) -> Month:
    """The first month the payroll has not yet made the household's item for: a change can
    take effect from it (what was paid before is a correction's)."""
    last = session.exec(
        select(func.max(PayrollItem.month)).where(PayrollItem.recipient_no == recipient_no)
    ).one()
    return Month.parse(last).plus(1) if last else Month.parse(start_month)


def decide_benefit(
    session: Session,
    *,
    recipient_no: str,
    decision: BenefitDecision,
    reference: str,
    now: datetime,
    policy: Policy,
    correction: bool = False,
) -> RecipientView:
    """A decision on the household's benefit on its course and its trail, once (``reference``:
    the review or correction that made it; a retry finds it made). Checked again under the
    row's lock (``InvalidData`` naming the field, nothing written); a decision that is not a
    ``correction`` cannot reach back into months the payroll has made. An ended benefit frees
    its members' standing claim: they may apply again."""
    row = locked_recipient(session, recipient_no)
    view = view_of(row)
    if any(c.reference == reference for c in view.course):
        return view
    earliest = (
        None
        if correction
        else first_unpaid_month(session, recipient_no=recipient_no, start_month=view.start_month)
    )
    month = check_decision(view, decision, now=now, policy=policy, earliest=earliest)
    before = view.status
    note = benefits.decide(
        view, decision, month=month, now=now, phase_out_months=policy.phase_out_months,
        reference=reference,
    )  # fmt: skip
    view.version += 1
    write_view(session, view)
    append_entry(
        session,
        AuditEntry(
            case_no=recipient_no,
            seq=last_seq(session, case_no=recipient_no) + 1,
            at=now,
            actor=decision.actor,
            action=benefits.ACTIONS[Outcome(decision.outcome)],
            from_stage=before,
            to_stage=view.status,
            note=f"{reference}: {note}",
        ),
    )
    if not view.status.standing:
        session.exec(delete(HouseholdClaim).where(HouseholdClaim.case_no == recipient_no))
    if decision.outcome in (Outcome.terminate, Outcome.phase_out):
        _watch_after_ending(session, row, outcome=decision.outcome, month=month,
                            reference=reference, now=now, policy=policy)  # fmt: skip
    return view


def _watch_after_ending(session: Session, row: RecipientRecord, *, outcome: str, month: Month,
                        reference: str, now: datetime, policy: Policy) -> None:  # fmt: skip
    """动态监测: a household whose benefit ended (terminated, or at the end of its phase-out) is
    watched from that day (``domain.watch``)."""
    ends = month if outcome == Outcome.terminate else month.plus(policy.phase_out_months)
    case = session.get(CaseRecord, row.case_no)
    add_entry(
        session, reason="benefit_ended", source=row.recipient_no, township=row.township,
        village=row.village, name=row.applicant_name,
        id_number=case.applicant_id_number if case else "", since=ends.first_day,
        policy=policy, at=now, actor=SYSTEM,
    )  # fmt: skip
