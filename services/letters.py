"""Decision letters (决定书) as PDF: printing a ``domain.letters.DecisionLetter`` on A4, and the
letter of an application's decision composed from its records.

ReportLab lays the letter out (Platypus: the title centred, paragraphs wrapped per character as
Chinese text wraps). The Chinese font is a file the machine has from the operating system's
packages — WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, which ``make run``, ``make
test`` and the container image install), embedded in each letter as a subset, so the letter
prints the same everywhere. Nothing is downloaded at run time. Where no such file exists, the
letter falls back to ReportLab's built-in CID font STSong-Light, which is not embedded: a PDF
reader then supplies a Song face of its own (every Chinese-capable reader has one).
"""

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import anyio
import structlog
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from sqlmodel import Session

from domain.benefits import ACTIONS, Outcome
from domain.cases import DECIDED_STAGES, CaseStart, CaseView
from domain.errors import NotFound, WrongStage
from domain.letters import DecisionLetter, application_letter, benefit_letter, date_text
from domain.policy import Policy
from domain.sealing import KeyRing
from services.cases import APPLICATIONS, record_of
from store import recipients, reviews, townships
from store.db import Database
from store.jurisdiction import CaseRef
from store.records import audit_trail, start_of, view_of
from store.review_rows import review_view

log = structlog.get_logger()

__all__ = [
    "application_decision_letter",
    "find_font",
    "letter_font",
    "render_pdf",
    "render_pdf_async",
]

FONT_FILES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # Debian, Ubuntu
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),  # Fedora, RHEL
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # Debian's other WenQuanYi face
)
"""TrueType CJK fonts the letters embed, the first found (file, face within a collection).
ReportLab embeds TrueType outlines only: the Noto/Source Han CJK faces are CFF-based."""
FALLBACK_FONT = "STSong-Light"
"""ReportLab's built-in CID font, when no font file is found: not embedded."""
EMBEDDED_FONT = "LetterCJK"

DECISIONS = ("approved", "refused")
"""The audit entries of an application's decision: their note is its reasons."""


@dataclass(frozen=True)
class LetterFont:
    name: str
    """As registered with ReportLab."""
    path: str | None
    """The file embedded; None for the built-in CID font."""


_font: LetterFont | None = None
_font_lock = threading.Lock()


def letter_font() -> LetterFont:
    """The font letters are set in: found and registered once per process."""
    global _font
    with _font_lock:
        if _font is None:
            _font = find_font()
        return _font


def find_font(files: tuple[tuple[str, int], ...] = FONT_FILES) -> LetterFont:
    """The first of ``files`` that ReportLab can embed, registered; else the built-in CID
    font."""
    for path, face in files:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=face))
            except Exception:
                log.exception("letters.font_unusable", path=path)
                continue
            return LetterFont(EMBEDDED_FONT, path)
    log.warning(
        "letters.font_missing",
        looked_for=[p for p, _ in FONT_FILES],
        using=FALLBACK_FONT,
        hint="install fonts-wqy-microhei so that letters embed their font",
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return LetterFont(FALLBACK_FONT, None)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle(
        "body",
        fontName=font,
        fontSize=14,
        leading=26,
        firstLineIndent=28,  # two characters, as Chinese paragraphs begin
        alignment=TA_JUSTIFY,
        wordWrap="CJK",  # Chinese wraps between any two characters
        spaceAfter=4,
    )
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontSize=20, leading=30, alignment=TA_CENTER, firstLineIndent=0
        ),
        "number": ParagraphStyle(
            "number", parent=body, fontSize=12, leading=20, alignment=TA_CENTER, firstLineIndent=0
        ),
        "salutation": ParagraphStyle("salutation", parent=body, firstLineIndent=0),
        "body": body,
        "signature": ParagraphStyle(
            "signature", parent=body, alignment=TA_RIGHT, firstLineIndent=0, rightIndent=14
        ),
        "note": ParagraphStyle(
            "note",
            parent=body,
            fontSize=10,
            leading=16,
            firstLineIndent=0,
            textColor=colors.dimgrey,
        ),
    }


def render_pdf(letter: DecisionLetter, *, font: LetterFont | None = None) -> bytes:
    """The letter on A4, ready to print: its title centred, its number beneath, the addressee,
    the decision, its reasons and how to object, then the issuing bureau and the date. The
    same letter gives the same bytes. CPU work (tens of milliseconds): call it off the event
    loop (``render_pdf_async``). ``font``: another than ``letter_font()``."""
    font = font or letter_font()
    style = _styles(font.name)

    def text(value: str) -> str:
        return escape(value).replace("\n", "<br/>")

    story = [
        Paragraph(text(letter.title), style["title"]),
        Paragraph(text(letter.number), style["number"]),
        Spacer(1, 8 * mm),
        Paragraph(text(letter.salutation), style["salutation"]),
        *(Paragraph(text(p), style["body"]) for p in letter.paragraphs()),
        Spacer(1, 12 * mm),
        Paragraph(text(letter.authority), style["signature"]),
        Paragraph("（盖章）", style["signature"]),
        Paragraph(text(date_text(letter.issued_on)), style["signature"]),
        Spacer(1, 10 * mm),
        Paragraph(
            text(f"送达：{letter.township}　承办人：{letter.decided_by}　案号：{letter.reference}"),
            style["note"],
        ),
    ]
    out = io.BytesIO()

    def page_number(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font.name, 10)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"— {doc.page} —")
        canvas.restoreState()

    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=28 * mm,
        rightMargin=26 * mm,
        topMargin=30 * mm,
        bottomMargin=25 * mm,
        title=letter.title,
        author=letter.authority,
        subject=letter.number,
        creator="jiuzhu",
        invariant=1,  # no timestamp or random id: one letter, one PDF
    ).build(story, onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()


async def render_pdf_async(letter: DecisionLetter) -> bytes:
    """``render_pdf`` in a worker thread, so the API's event loop keeps serving."""
    return await anyio.to_thread.run_sync(render_pdf, letter)


# ---- an application's decision ---------------------------------------------------------------


async def application_decision_letter(
    *, db: Database, case: CaseRef, ring: KeyRing
) -> DecisionLetter:
    """The letter of the application's decision, from its records: its view, its sealed intake
    (the applicant's ID number, masked on the letter), the decision's entry on its audit trail
    (its reasons and who decided), and its township's and village's names. ``WrongStage``
    before the district approved or refused it."""
    if case.kind != APPLICATIONS.name:  # an emergency's number is no application
        raise NotFound(f"no case {case.case_no} in your jurisdiction")
    return await db.read(_application_letter, case_no=case.case_no, ring=ring)


def _application_letter(session: Session, *, case_no: str, ring: KeyRing) -> DecisionLetter:
    row = record_of(session, kind=APPLICATIONS, case_no=case_no)
    view = view_of(row)
    assert isinstance(view, CaseView)
    if view.stage not in DECIDED_STAGES:
        raise WrongStage(
            f"case {case_no} is at stage '{view.stage}', not decided: its decision letter is "
            "written once the district approves or refuses it"
        )
    decision = next(
        (e for e in reversed(audit_trail(session, case_no=case_no)) if e.action in DECISIONS),
        None,
    )
    start = start_of(row, ring=ring)
    village = townships.village(session, view.village)
    return application_letter(
        view=view,
        start=start if isinstance(start, CaseStart) else None,
        reasons=decision.note if decision else "",
        decided_by=decision.user_name if decision else "",
        township_name=townships.township_name(session, view.township),
        village_name=village[0].name if village else None,
    )


# ---- a review's decision on a recipient household --------------------------------------------


async def review_decision_letter(
    *, db: Database, recipient_no: str, review_no: str, policy: Policy
) -> DecisionLetter:
    """The letter of a review's decision on the household's benefit, from the records (the
    review, the household, the decision's entry on the review's trail: who decided).
    ``WrongStage`` before the district decided."""
    return await db.read(
        _review_letter, recipient_no=recipient_no, review_no=review_no, policy=policy
    )


def _review_letter(
    session: Session, *, recipient_no: str, review_no: str, policy: Policy
) -> DecisionLetter:
    view = review_view(reviews.review(session, recipient_no=recipient_no, review_no=review_no))
    if view.decided_at is None or view.outcome is None:
        raise WrongStage(
            f"review {review_no} is at stage '{view.stage}', not decided: its decision letter "
            "is written once the district decides"
        )
    household = recipients.view_of(recipients.recipient(session, recipient_no=recipient_no))
    decided = next(
        (e for e in reversed(audit_trail(session, case_no=review_no)) if e.action == "decided"),
        None,
    )
    return benefit_letter(
        recipient=household,
        outcome=view.outcome,
        effective_month=view.effective_month or "",
        reasons=view.reasons or "",
        decided_by=decided.user_name if decided else "",
        decided_on=view.decided_at,
        reference_no=review_no,
        amount=view.amount,
        phase_out_months=policy.phase_out_months,
        township_name=townships.township_name(session, household.township),
    )


async def course_decision_letter(
    *, db: Database, recipient_no: str, reference: str, policy: Policy
) -> DecisionLetter:
    """The letter of any decision on the household's course by its reference (a correction, a
    finding of dishonesty, a review): what was decided, from which month, why, by whom."""
    return await db.read(
        _course_letter, recipient_no=recipient_no, reference=reference, policy=policy
    )


_OUTCOMES = {action: outcome for outcome, action in ACTIONS.items()}


def _course_letter(
    session: Session, *, recipient_no: str, reference: str, policy: Policy
) -> DecisionLetter:
    household = recipients.view_of(recipients.recipient(session, recipient_no=recipient_no))
    made = [c for c in household.course if c.reference == reference]
    entry = next(
        (
            e
            for e in reversed(audit_trail(session, case_no=recipient_no))
            if e.note.startswith(f"{reference}:") and e.action in _OUTCOMES
        ),
        None,
    )
    if not reference or not made or entry is None:
        raise NotFound(f"no decision {reference} on household {recipient_no}")
    outcome = _OUTCOMES[entry.action]
    if outcome is Outcome.new_standard:
        raise WrongStage(
            f"{reference} applied a new standard to every household: families are texted it, "
            "it has no letter of its own"
        )
    first = made[0]
    return benefit_letter(
        recipient=household,
        outcome=outcome,
        effective_month=first.from_month,
        reasons=first.reason,
        decided_by=entry.user_name,
        decided_on=first.at,
        reference_no=reference,
        amount=first.amount if outcome in (Outcome.adjust, Outcome.resume) else None,
        phase_out_months=policy.phase_out_months,
        township_name=townships.township_name(session, household.township),
    )
