"""What the applicant is told by SMS (短信告知), in the words a family reads."""

from decimal import Decimal

from domain.cases import AssistanceType, CaseStart, CaseView

TYPE_NAMES = {
    AssistanceType.dibao: "最低生活保障",
    AssistanceType.tekun: "特困人员救助供养",
    AssistanceType.temporary: "临时救助",
}


def accepted_text(start: CaseStart, view: CaseView) -> str:
    return (
        f"您的{TYPE_NAMES[start.assistance_type]}申请已受理，案件号{start.case_no}，"
        f"将于{view.decision_due:%Y年%m月%d日}前作出决定。"
    )


def approved_text(start: CaseStart, amount: Decimal) -> str:
    return (
        f"您的{TYPE_NAMES[start.assistance_type]}申请（{start.case_no}）已批准，"
        f"金额{amount}元，已发放。"
    )


def refused_text(start: CaseStart, reasons: str) -> str:
    """The written refusal with its reasons and the remedies (书面告知理由及救济途径)."""
    return (
        f"您的{TYPE_NAMES[start.assistance_type]}申请（{start.case_no}）经审核不予批准，"
        f"理由：{reasons}。如有异议，可申请行政复议或提起行政诉讼。"
    )


def emergency_paid_text(case_no: str, amount: Decimal, account: str) -> str:
    return (
        f"您申请的临时救助（急难，案件号{case_no}）已先行发放{amount}元至您的账户{account}。"
        "工作人员将在近期入户核实。"
    )


def emergency_rejected_text(case_no: str, reasons: str) -> str:
    return (
        f"您申请的临时救助（急难，案件号{case_no}）未予批准，理由：{reasons}。"
        "如有异议，可申请行政复议或提起行政诉讼。"
    )


def monthly_paid_text(recipient_no: str, month: str, amount: Decimal, account: str) -> str:
    """The family is told of each month's payment (社会化发放)."""
    year, number = month.split("-")
    return (
        f"您家（救助档案号{recipient_no}）{year}年{int(number)}月救助金{amount}元"
        f"已发放至您的账户{account}。"
    )


BENEFIT_WORDS = {
    "suspend": "暂停发放",
    "phase_out": "渐退（继续发放至渐退期满后停发）",
    "terminate": "停止发放",
    "revoke": "撤销",
}


def benefit_decision_text(recipient_no: str, outcome: str, month: str, reasons: str) -> str:
    """A suspension, phase-out or end, with its reasons and the remedies (书面告知理由及救济途径)."""
    return (
        f"您家庭的救助（档案号{recipient_no}）经核查决定自{month}起{BENEFIT_WORDS[outcome]}，"
        f"理由：{reasons}。如有异议，可申请行政复议或提起行政诉讼。"
    )
