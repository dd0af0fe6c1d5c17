"""Written decisions (决定书): what each letter says (``domain.letters``), the PDF it prints as
(``services.letters.render_pdf``, read back with pypdf), and the application's letter over
HTTP on the real stack.

The composers' cases: an application accepted on Monday 2026-03-02 in 闻韶街道闻韶社区 and
decided on 2026-03-20; a recipient household of 闻韶街道 paid ¥1,760.00 a month since
2026-01.
"""

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pypdf
import pytest

from domain.benefits import Outcome
from domain.cases import (
    Applicant,
    AssistanceType,
    CaseStart,
    CaseView,
    Channel,
    Role,
    Stage,
    initial_view,
)
from domain.deadlines import Deadlines
from domain.errors import InvalidData, WrongStage
from domain.letters import (
    LAWSUIT_MONTHS,
    MAX_TEXT,
    REVIEW_DAYS,
    DecisionLetter,
    application_letter,
    benefit_letter,
)
from domain.policy import Policy
from domain.recipients import RecipientStatus, RecipientView
from services.letters import find_font, letter_font, render_pdf
from tests.helpers.actors import ASSISTANT, OFFICER
from tests.helpers.api import application, key, to_decision, wait_for
from tests.helpers.people import id_number

ID_NUMBER = "370305198001010014"  # not a real person's: the check digit is not checked here
MASKED = "370305********0014"

# ---- what a letter says ---------------------------------------------------------------------


def _start(assistance_type: AssistanceType = AssistanceType.dibao) -> CaseStart:
    return CaseStart(
        case_no="370305-2026-000042",
        assistance_type=assistance_type,
        township="370305001",
        village="370305001001",
        area="urban",
        channel=Channel.walk_in,
        applicant=Applicant(name="张三", id_number=ID_NUMBER, phone="13800000000"),
        household=[],
        reason="失业",
        accepted_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        accepted_by=ASSISTANT,
        policy=Policy(),
        deadlines=Deadlines(
            survey_due=date(2026, 3, 5),
            decision_due=date(2026, 3, 30),
            decision_warning_on=date(2026, 3, 25),
            refusal_notice_due=None,
            provisional=False,
            paused_working_days=0,
        ),
        expense="major_illness" if assistance_type == "temporary" else None,
    )


def _decided(start: CaseStart, stage: Stage, amount: str | None = None) -> CaseView:
    return replace(
        initial_view(start),
        stage=stage,
        decided_at=datetime(2026, 3, 20, 2, 0, tzinfo=UTC),
        monthly_amount=Decimal(amount) if amount else None,
    )


def _says(letter: DecisionLetter, *texts: str) -> None:
    whole = "".join([letter.title, letter.number, letter.salutation, *letter.paragraphs()])
    for text in texts:
        assert text in whole, (text, whole)


def _objection_told(letter: DecisionLetter) -> None:
    _says(
        letter,
        f"{REVIEW_DAYS}日内",
        "申请行政复议",
        f"{LAWSUIT_MONTHS}个月内",
        "提起行政诉讼",
    )


def test_an_approval_says_how_much_a_month_from_when_and_why():
    start = _start()
    letter = application_letter(
        view=_decided(start, Stage.approved, "1760.00"),
        start=start,
        reasons="家庭人均收入低于当地低保标准",
        decided_by="王科长",
    )
    assert letter.title == "最低生活保障审核确认决定书"
    assert letter.number == "临民救决〔2026〕370305-2026-000042号"
    assert letter.authority == "临淄区民政局" and letter.township == "闻韶街道"
    assert letter.addressee == "张三" and letter.addressee_id == MASKED
    assert letter.amount == Decimal("1760.00") and letter.from_month == "2026-03"
    assert letter.issued_on == date(2026, 3, 20) and letter.decided_by == "王科长"
    _says(
        letter,
        "张三（身份证号：370305********0014）：",
        "闻韶街道",
        "2026年3月2日",
        "每月1760.00元",
        "自2026年3月起按月发放",
        "理由：家庭人均收入低于当地低保标准",
    )
    _objection_told(letter)
    assert ID_NUMBER not in repr(letter)


def test_a_temporary_approval_pays_once_and_a_tekun_one_monthly():
    start = _start(AssistanceType.temporary)
    once = application_letter(
        view=_decided(start, Stage.approved, "6000.00"),
        start=start,
        reasons="重病支出",
        decided_by="王科长",
    )
    assert once.title == "临时救助审核确认决定书"
    _says(once, "一次性发放临时救助金6000.00元")
    start = _start(AssistanceType.tekun)
    monthly = application_letter(
        view=_decided(start, Stage.approved, "1620.00"),
        start=start,
        reasons="无劳动能力",
        decided_by="王科长",
    )
    assert monthly.title == "特困人员救助供养审核确认决定书"
    _says(monthly, "每月1620.00元")


def test_a_refusal_is_a_letter_of_not_granting_with_its_reasons():
    start = _start()
    letter = application_letter(
        view=_decided(start, Stage.refused),
        start=start,
        reasons="家庭收入超过标准",
        decided_by="王科长",
        township_name="闻韶街道办事处",
        village_name="闻韶社区",
    )
    assert letter.title == "不予救助决定书" and letter.amount is None
    assert letter.township == "闻韶街道办事处"
    _says(
        letter,
        "闻韶街道办事处闻韶社区",
        "最低生活保障申请",
        "决定不予批准",
        "理由：家庭收入超过标准",
    )
    _objection_told(letter)


def test_an_undecided_case_has_no_letter_yet():
    start = _start()
    for stage in (Stage.survey, Stage.decision, Stage.withdrawn):
        with pytest.raises(WrongStage, match="no decision yet"):
            application_letter(
                view=replace(initial_view(start), stage=stage),
                start=start,
                reasons="x",
                decided_by="x",
            )


def test_a_case_accepted_before_intakes_were_kept_names_no_id_number():
    letter = application_letter(
        view=_decided(_start(), Stage.refused), start=None, reasons="x", decided_by="x"
    )
    assert letter.addressee_id == "" and letter.salutation == "张三："


def test_reasons_are_bounded_and_show_no_number_in_full():
    start = _start()
    letter = application_letter(
        view=_decided(start, Stage.refused),
        start=start,
        reasons=f"申请人{ID_NUMBER}，电话13812345678；" + "超" * 5000,
        decided_by="王科长",
    )
    assert len(letter.reasons) == MAX_TEXT and letter.reasons.endswith("…")
    assert ID_NUMBER not in letter.reasons and MASKED in letter.reasons
    assert "13812345678" not in letter.reasons and "138****5678" in letter.reasons


def _recipient() -> RecipientView:
    return RecipientView(
        recipient_no="370305-DB-2026-000007",
        case_no="370305-2026-000042",
        assistance_type="dibao",
        township="370305001",
        village="370305001001",
        applicant_name="张三",
        household_size=2,
        monthly_amount=Decimal("1760.00"),
        start_month="2026-01",
        status=RecipientStatus.active,
        bank_account="****2222",
        registered_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def _benefit(outcome: str, **overrides) -> DecisionLetter:
    fields = dict(
        recipient=_recipient(),
        outcome=outcome,
        effective_month="2026-07",
        reasons="家庭成员已就业",
        decided_by="王科长",
        decided_on=date(2026, 6, 20),
        reference_no="370305-DB-2026-000007-R01",
        applicant_id_number=ID_NUMBER,
    )
    return benefit_letter(**(fields | overrides))


@pytest.mark.parametrize(
    ("outcome", "title", "says"),
    [
        ("continue", "最低生活保障继续救助决定书", "继续享受最低生活保障，每月1760.00元"),
        ("adjust", "最低生活保障调整救助金额决定书", "自2026年7月起，你户最低生活保障金额调整为每月900.00元"),
        ("suspend", "最低生活保障暂停发放决定书", "自2026年7月起，暂停发放"),
        ("resume", "最低生活保障恢复发放决定书", "自2026年7月起，恢复发放你户最低生活保障金，每月1760.00元"),
        ("phase_out", "最低生活保障渐退决定书", "自2026年7月起实行渐退，按每月1760.00元继续发放6个月（至2026年12月）"),
        ("terminate", "最低生活保障终止救助决定书", "自2026年7月起，终止你户最低生活保障"),
        ("revoke", "最低生活保障撤销救助决定书", "予以撤销，自2026年7月起停止发放"),
    ],
)  # fmt: skip
def test_a_decision_on_a_household_has_the_title_of_its_outcome(outcome, title, says):
    amount = Decimal("900") if outcome == "adjust" else None
    letter = _benefit(outcome, amount=amount, phase_out_months=6)
    assert letter.title == title
    assert letter.number == "临民救决〔2026〕370305-DB-2026-000007-R01号"
    assert letter.addressee_id == MASKED and letter.from_month == "2026-07"
    assert letter.issued_on == date(2026, 6, 20)
    _says(letter, says, "张三（身份证号：370305********0014）：", "理由：家庭成员已就业")
    _objection_told(letter)
    paid = outcome in ("continue", "adjust", "resume", "phase_out")
    assert (letter.amount is not None) == paid


def test_a_decision_on_a_household_refuses_what_cannot_be_printed():
    for overrides, field in [
        (dict(outcome="pause"), "outcome"),
        (dict(effective_month="2026-7"), "effective_month"),
        (dict(reasons="  "), "reasons"),
        (dict(outcome="adjust"), "amount"),
        (dict(outcome="adjust", amount=Decimal("-1")), "amount"),
    ]:
        with pytest.raises(InvalidData) as refused:
            _benefit(**({"outcome": "continue"} | overrides))
        assert refused.value.field == field
    # The caller's type or a plain string; a timestamp's date is the district's.
    late = datetime(2026, 6, 30, 17, 0, tzinfo=UTC)  # 2026-07-01 in Asia/Shanghai
    letter = _benefit(Outcome.terminate, decided_on=late)
    assert letter.issued_on == date(2026, 7, 1)


# ---- the PDF -------------------------------------------------------------------------------


def _text(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    """The PDF and its text, lines joined (Chinese text wraps anywhere)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"\s+", "", text)


def _fonts(reader: pypdf.PdfReader) -> list[dict]:
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                fonts.append(descendant.get_object())
    return fonts


def test_a_letter_prints_on_a4_with_its_chinese_text_and_font_embedded():
    letter = _benefit("adjust", amount=Decimal("900.00"))
    pdf = render_pdf(letter)
    assert pdf.startswith(b"%PDF-") and pdf == render_pdf(letter)  # the same letter, the same PDF
    reader, text = _text(pdf)
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    assert reader.metadata.title == "最低生活保障调整救助金额决定书"
    for says in (
        "最低生活保障调整救助金额决定书",
        "临民救决〔2026〕370305-DB-2026-000007-R01号",
        "张三（身份证号：370305********0014）：",
        "每月900.00元",
        "理由：家庭成员已就业",
        "60日内向临淄区人民政府申请行政复议",
        "6个月内依法向人民法院提起行政诉讼",
        "临淄区民政局",
        "2026年6月20日",
    ):
        assert says in text, (says, text)
    assert ID_NUMBER not in text
    # The font the machine has is embedded (make run and make test install it).
    font = letter_font()
    assert font.path is not None, "fonts-wqy-microhei is not installed: make test installs it"
    embedded = [f for f in _fonts(reader) if "/FontFile2" in f.get("/FontDescriptor", {})]
    assert embedded, _fonts(reader)


def test_a_long_letter_goes_on_to_more_pages_and_loses_nothing():
    reasons = "经入户调查核实，" + "家庭成员已稳定就业且收入高于标准，" * 120
    letter = _benefit("terminate", reasons=reasons)
    assert len(letter.reasons) == MAX_TEXT
    reader, text = _text(render_pdf(letter))
    pages = len(reader.pages)
    assert pages >= 2 and f"—{pages}—" in text  # each page numbered
    body = re.sub(r"—\d+—", "", text)
    assert re.sub(r"\s+", "", letter.reasons) in body and "提起行政诉讼" in body


def test_without_a_font_file_a_letter_is_set_in_the_readers_song_face():
    font = find_font(files=(("/nonexistent/font.ttc", 0),))
    assert font.name == "STSong-Light" and font.path is None
    reader, text = _text(render_pdf(_benefit("suspend"), font=font))
    assert "最低生活保障暂停发放决定书" in text and "理由：家庭成员已就业" in text
    fonts = _fonts(reader)
    assert "/STSong-Light" in {f["/BaseFont"] for f in fonts}
    assert not [f for f in fonts if "/FontFile2" in f.get("/FontDescriptor", {})]


# ---- over HTTP -------------------------------------------------------------------------------


async def _letter(http, case_no: str):
    return await http.get(f"/applications/{case_no}/decision-letter")


async def test_a_decided_application_has_its_letter_as_pdf_and_an_undecided_one_409(stack):
    approved_body = application(
        applicant={"name": "赵明", "id_number": id_number(), "phone": "13800000000"}
    )
    refused_body = application(
        applicant={"name": "钱芳", "id_number": id_number(), "phone": "13800000000"}
    )
    async with stack.client(ASSISTANT) as assistant, stack.client(OFFICER) as officer:
        approved = await assistant.post("/applications", json=approved_body, headers=key())
        refused = await assistant.post("/applications", json=refused_body, headers=key())
        approved_no, refused_no = approved.json()["case_no"], refused.json()["case_no"]

        early = await _letter(officer, approved_no)
        assert early.status_code == 409 and "not decided" in early.json()["detail"], early.text

        for case_no, outcome, reasons in (
            (approved_no, "approve", "家庭人均收入低于低保标准，符合条件"),
            (refused_no, "refuse", "家庭收入超过标准，不符合条件"),
        ):
            await to_decision(assistant, case_no)
            decided = await officer.post(
                f"/applications/{case_no}/decision",
                json={"outcome": outcome, "reasons": reasons},
                headers=key(),
            )
            assert decided.status_code == 200, decided.text
        case = await wait_for(officer, approved_no, lambda c: c["stage"] == "approved")

        answer = await _letter(assistant, approved_no)  # the township prints it
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"] == f'inline; filename="{approved_no}.pdf"'
        _, text = _text(answer.content)
        # 2 persons × 1080 urban standard − 400 assessed income
        assert case["monthly_amount"] == "1760.00"
        for says in (
            "最低生活保障审核确认决定书",
            f"临民救决〔{approved_no[7:11]}〕{approved_no}号",
            "赵明",
            "每月1760.00元",
            "理由：家庭人均收入低于低保标准，符合条件",
            "申请行政复议",
            "闻韶街道闻韶社区",
        ):
            assert says in text, (says, text)
        assert approved_body["applicant"]["id_number"] not in text
        assert approved_body["applicant"]["id_number"][-4:] in text  # masked, last four shown

        answer = await _letter(officer, refused_no)
        assert answer.status_code == 200, answer.text
        _, text = _text(answer.content)
        for says in (
            "不予救助决定书",
            "钱芳",
            "理由：家庭收入超过标准，不符合条件",
            "提起行政诉讼",
        ):
            assert says in text, (says, text)
        assert "审核确认决定书" not in text

        undecided = await assistant.post("/applications", json=application(), headers=key())
        answer = await _letter(officer, undecided.json()["case_no"])
        assert answer.status_code == 409 and "stage 'survey'" in answer.json()["detail"]

    other = replace(ASSISTANT, user_id="u-xuegong-letters", jurisdiction="370305002")
    async with stack.client(other) as elsewhere:
        assert (await _letter(elsewhere, approved_no)).status_code == 404
    admin = replace(OFFICER, user_id="u-admin-letters", role=Role.admin)
    async with stack.client(admin) as admin_http:
        assert (await _letter(admin_http, approved_no)).status_code == 403
