"""The console's Chinese: the names of stages, reasons, roles and actions, refusals, and
dates and amounts as a Chinese reader writes them (Asia/Shanghai). A value with no name here
shows as it is."""

from datetime import date, datetime
from decimal import Decimal

from domain.calendar import SHANGHAI
from domain.errors import CaseError, Conflict, InvalidData, NotFound, NotPermitted, WrongStage

STAGES = {
    "survey": "入户调查",
    "review": "镇(街道)初审",
    "notice": "公示",
    "decision": "区民政局审核确认",
    "awaiting_documents": "等待补正材料",
    "approved": "已批准",
    "refused": "不予批准",
    "withdrawn": "已撤回",
    "cancelled": "已撤销",
    "halted": "流程已中止",
    "closed_by_supervisor": "督办关闭",
    "awaiting_approval": "待审批",
    "awaiting_funds": "等待备用金",
    "paying": "支付中",
    "awaiting_account": "等待更正账户",
    "paid": "已先行救助",
    "follow_up": "补办审核",
    "closed": "已办结",
    "rejected": "不予救助",
}

REASONS = {
    "engine_problem": "流程引擎故障",
    "not_reconciled": "发放对账不符",
    "overdue": "已超期",
    "refused_by_external_system": "外部系统拒绝",
    "not_registered": "未录入救助对象名册",
    "retrying": "外部系统重试中",
    "waiting_for_funds": "等待资金",
    "waiting_on_person": "等待办理超时",
    "due_soon": "即将到期",
    "referral_overdue": "部门转介逾期未核实",
}

ROLES = {
    "village_coordinator": "村(社区)协理员",
    "township_assistant": "镇(街道)助理员",
    "township_approver": "镇(街道)分管领导",
    "district_officer": "区民政局工作人员",
    "supervisor": "工作专班(督办)",
    "auditor": "审计人员",
    "admin": "系统管理员",
    "department_liaison": "部门联络员",
}

KINDS = {
    "application": "救助申请",
    "emergency": "急难型临时救助",
    "recipient": "救助对象",
    "payroll": "月度发放",
    "referral": "部门转介",
}

TYPES = {
    "dibao": "最低生活保障",
    "tekun": "特困人员救助供养",
    "temporary": "临时救助",
    "fire": "火灾",
    "accident": "意外事故",
    "disaster": "自然灾害",
    "sudden_hardship": "突发生活困难",
    "major_illness": "重特大疾病",
    "education": "子女教育费用",
}

INTERVENTIONS = {
    "reverify": "重新核对",
    "retry-now": "立即重试",
    "reassign": "改派",
    "escalate": "提请区级处理",
    "extend-deadline": "延长期限",
    "reopen": "退回重办(容错纠错)",
    "cancel": "撤销误立案件",
    "restart-orphan": "启动缺失的流程",
    "restart": "从中止处重新启动",
    "close": "关闭中止的案件",
}

STEPS = {
    "accepted": "受理",
    "requested": "提出申请",
    "survey_recorded": "录入入户调查",
    "survey_completed": "完成入户调查",
    "verification_report_received": "收到核对报告",
    "verification_refused": "核对平台拒绝",
    "reviewed": "初审",
    "notice_started": "开始公示",
    "notice_ended": "公示结束",
    "objection_received": "收到异议",
    "approved": "批准",
    "refused": "不予批准",
    "rejected": "不予救助",
    "paid": "已支付",
    "payment_refused": "支付被拒",
    "bank_account_needed": "需要银行账户",
    "bank_account_corrected": "更正银行账户",
    "documents_requested": "要求补正材料",
    "documents_received": "收到补正材料",
    "withdrawn": "撤回申请",
    "cancelled": "撤销",
    "reassigned": "改派",
    "escalated": "提请区级处理",
    "retry_requested": "要求立即重试",
    "reverification_requested": "要求重新核对",
    "reopened": "退回重办",
    "deadline_extended": "延长期限",
    "workflow_restarted": "启动流程",
    "restarted": "重新启动",
    "refusal_notice_sent": "送达不予批准通知",
    "awaiting_funds": "等待备用金",
    "calendar_published": "节假日安排发布",
}

PAYMENT_STATUS = {"settled": "已到账", "refused": "被拒绝"}

REFUSALS: dict[type[CaseError], str] = {
    NotPermitted: "无权进行此操作",
    NotFound: "未找到",
    WrongStage: "案件当前状态不能进行此操作",
    Conflict: "与已有记录冲突",
    InvalidData: "填写的内容有误",
}
"""Each kind of refusal (``api.errors.STATUS``); the rule's own message follows it."""
UNAVAILABLE = "系统暂时不可用，未做任何更改，请稍后重试"

FIELDS = {
    "reason": "原因",
    "assignee": "改派给",
    "to_stage": "退回到",
    "working_days": "延长工作日",
    "role": "角色",
    "jurisdiction": "辖区代码",
    "name": "姓名",
}

PROBLEMS = {
    "missing": "必须填写",
    "string_too_short": "必须填写",
    "string_too_long": "内容过长",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "int_parsing": "请填写整数",
    "int_type": "请填写整数",
    "literal_error": "请从列表中选择",
    "enum": "请从列表中选择",
}


def refusal(error: CaseError) -> str:
    """A refusal as the console shows it: its kind in Chinese, then the rule's own words."""
    kind = REFUSALS.get(type(error), UNAVAILABLE)
    return f"{kind}：{error.message}"


def problem(field: str, kind: str, message: str) -> str:
    """A field the form's check refused."""
    if kind == "value_error" and message.endswith("must not be blank"):
        kind = "missing"  # the API's own check of a blank text
    return f"{FIELDS.get(field, field)}：{PROBLEMS.get(kind, message)}"


def day(value: date | datetime | None) -> str:
    """2026年12月4日 (a moment's date in Asia/Shanghai)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def moment(value: datetime | None) -> str:
    """2026年12月4日 14:05, in Asia/Shanghai."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    return f"{day(local)} {local:%H:%M}"


def amount(value: Decimal | int | float | None) -> str:
    """¥1,760.00"""
    if value is None:
        return ""
    return f"¥{Decimal(value):,.2f}"


def name_of(table: dict[str, str], value: object) -> str:
    text = str(getattr(value, "value", value) or "")
    return table.get(text, text)


FILTERS = {
    "day": day,
    "moment": moment,
    "amount": amount,
    "stage": lambda v: name_of(STAGES, v),
    "reason": lambda v: name_of(REASONS, v),
    "role": lambda v: name_of(ROLES, v),
    "kind": lambda v: name_of(KINDS, v),
    "type": lambda v: name_of(TYPES, v),
    "step": lambda v: name_of(STEPS, v),
    "intervention": lambda v: name_of(INTERVENTIONS, v.replace("_", "-")),
    "payment_status": lambda v: name_of(PAYMENT_STATUS, v),
}


def waits_for(*, stage: str, assignee: str, township: str, village: str, actions: list[str]) -> str:
    """Whom a case not moving waits for (``domain.supervision``'s, in Chinese)."""
    if stage == "halted":
        return "督办人员重新启动或关闭" if "restart" in actions else "与银行核对支付情况"
    return {
        "survey": f"入户调查：{assignee}或{village or '本村(社区)'}的协理员",
        "review": f"{township}的镇(街道)助理员",
        "notice": "公示期结束",
        "decision": "区民政局工作人员",
        "awaiting_documents": "申请人补正材料",
        "approved": f"家庭的银行账户：{assignee}",
        "awaiting_approval": f"{township}的分管领导(或区民政局)",
        "awaiting_funds": "区民政局补充备用金",
        "paying": "支付系统",
        "awaiting_account": f"更正的银行账户：{assignee}",
        "paid": f"补办入户调查：{assignee}",
        "follow_up": "镇(街道)审核，然后区民政局确认",
    }.get(stage, assignee)
