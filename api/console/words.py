"""The console's Chinese: the names of stages, reasons, roles and actions, refusals, and
dates and amounts as a Chinese reader writes them (Asia/Shanghai). A value with no name here
shows as it is."""

import re
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
    "disaster_transition": "受灾过渡期生活",
    "other": "其他",
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

CASEWORK = {
    "accepted": "受理",
    "survey": "入户调查",
    "review": "初审",
    "decision": "审核确认",
    "documents-requested": "要求补正材料",
    "documents-received": "收到补正材料",
    "objections": "登记异议",
    "bank-account": "登记银行账户",
    "withdrawal": "撤回申请",
    "approval": "审批",
    "exception-approval": "一事一议审批",
    "rejection": "不予救助",
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
    "approved_against_verification": "核对结果不符仍批准",
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

LEDGER = {"top_up": "补充", "hold": "冻结", "settle": "支付结算", "release": "解冻"}

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
    "query.from": "起始日期",
    "query.to": "截止日期",
    "amount": "金额",
    "note": "说明",
    "investigators": "调查人员",
    "visited_on": "入户日期",
    "findings": "调查情况",
    "household_monthly_income": "家庭月总收入",
    "disability_grade": "残疾等级",
    "unable_to_work": "无劳动能力",
    "has_income": "有收入来源",
    "supporter_able": "义务人有能力",
    "self_care": "生活自理能力",
    "recommendation": "初审意见",
    "reasons": "理由",
    "outcome": "审核确认",
    "exception_reason": "一事一议理由",
    "mismatch_reason": "核对结果不符仍批准的理由",
    "review_cadence": "核查周期",
    "care_form": "供养方式",
    "institution": "供养机构",
    "institution.name": "供养机构",
    "institution.bank": "机构开户银行",
    "institution.account_no": "机构账号",
    "documents": "补正材料",
    "raised_by": "异议人",
    "grounds": "异议理由",
    "bank": "开户银行",
    "account_no": "账号",
    "holder": "户名",
    "assistance_type": "救助类型",
    "expense": "支出类型",
    "township": "镇(街道)",
    "village": "村(社区)",
    "channel": "申请渠道",
    "applicant": "申请人",
    "applicant.name": "申请人姓名",
    "applicant.id_number": "申请人身份证号",
    "applicant.phone": "申请人电话",
    "household": "家庭成员",
    "household.name": "家庭成员姓名",
    "household.id_number": "家庭成员身份证号",
    "household.relation": "与申请人关系",
    "household.monthly_income": "家庭成员月收入",
    "hukou_township": "户籍所在镇(街道)",
    "resident_since": "居住起始日期",
    "bank_account": "银行账户",
    "bank_account.bank": "开户银行",
    "bank_account.account_no": "账号",
    "bank_account.holder": "户名",
    "survey": "入户调查",
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
    "greater_than": "必须大于0",
    "decimal_parsing": "请填写金额，例如 1760.00",
    "decimal_type": "请填写金额，例如 1760.00",
    "decimal_max_places": "最多两位小数（分）",
    "decimal_max_digits": "金额过大",
    "decimal_whole_digits": "金额过大",
    "date_from_datetime_parsing": "请按 年-月-日 填写日期",
    "date_parsing": "请按 年-月-日 填写日期",
    "date_type": "请按 年-月-日 填写日期",
    "string_pattern_mismatch": "格式不对",
    "too_short": "填写的项目不够",
    "too_long": "填写的项目过多",
    "bool_parsing": "请选择是或否",
    "extra_forbidden": "多余的项目",
}


MISMATCHES = {
    "edited": "记录被改动",
    "chain broken": "哈希链断裂",
    "newest entry missing": "最新记录缺失",
    "head mismatch": "链头不符",
    "no head": "缺少链头",
    "seal mismatch": "封存点不符",
}

MESSAGES: dict[str, list[tuple[str, str]]] = {
    "query.from": [("from must be between", "应在2000年至2099年之间")],
    "query.to": [
        ("to must be between", "应在2000年至2099年之间"),
        ("to must be on or after from", "不能早于起始日期"),
        ("a report covers at most three years", "一次最多统计三年"),
    ],
    "investigators": [
        (r"a household survey needs at least (\d+) named investigators",
         "入户调查至少需要{0}名调查人员，请填写每个人的姓名"),
    ],
    "visited_on": [(r"the visit date must be between (\S+) and today", "应在{0}至今天之间")],
    "household_monthly_income": [("income cannot be negative", "收入不能为负数")],
    "reasons": [(r"a (review|decision|rejection) gives its reasons", "请填写理由")],
    "grounds": [("an objection states its grounds", "请填写异议理由")],
    "raised_by": [("say who raised the objection", "请填写异议人")],
    "documents": [("name the documents", "请列出申请人需补正的材料")],
    "reason": [
        ("record why the application is withdrawn", "请填写撤回原因"),
        ("an intervention states its reason", "请填写原因，将记入办理记录"),
    ],
    "amount": [
        ("低保 and 特困 amounts follow from the standard", "低保和特困的金额按标准计算，不能另定"),
        (r"an emergency payment is between ¥0\.01 and ¥(\S+)", "急难救助金额应在¥0.01至¥{0}之间"),
    ],
    "exception_reason": [("一事一议 states its reason", "一事一议须说明理由")],
    "mismatch_reason": [
        ("an approval against it gives its reason", "核对报告与入户调查不符，批准须说明理由"),
        ("say why the findings do not stand in the way", "请说明核对结果不符仍批准的理由"),
    ],
    "id_number": [
        ("an ID number has 17 digits", "身份证号应为17位数字加一位数字或X"),
        ("the ID number does not start with a province", "身份证号开头不是有效的省份代码"),
        ("the birth date in the ID number is in the future", "身份证号中的出生日期不合理"),
        ("the birth date in the ID number is not a real date", "身份证号中的出生日期不存在"),
        ("the check digit does not match", "身份证号校验位不符，请重新核对身份证"),
        ("the same ID number appears twice", "申请人和家庭成员中有重复的身份证号"),
    ],
    "household": [("the same ID number appears twice", "申请人和家庭成员中有重复的身份证号")],
    "phone": [("a mobile number has 11 digits", "手机号应为以1开头的11位数字")],
    "expense": [("temporary assistance names its expenditure", "临时救助须选择支出类型")],
    "channel": [("a village coordinator submits referrals", "村(社区)协理员只能提交部门转介或主动发现的申请")],
    "WrongStage": [
        (r"case \S+ is at stage '(\w+)'", "案件当前处于「{stage0}」阶段，不能办理此项"),
    ],
    "NotPermitted": [
        ("this case is recorded as a conflict of interest",
         "此案件已作近亲属备案，须由区民政局进行入户调查"),
        (r"the (applicant|family) lives outside your jurisdiction", "申请人不在您的辖区内"),
    ],
    "Conflict": [(r"this household already has an open", "该家庭已有同类在办案件，不能重复受理")],
}  # fmt: skip
"""The domain's refusals in Chinese, by the field they name (else the refusal's kind) and a
pattern of the rule's English message (its groups fill ``{0}``; ``{stage0}`` names a stage);
a refusal not here shows its kind in Chinese and the English detail."""


def translated(field: str, message: str) -> str | None:
    """A rule's message in Chinese, if this file knows it."""
    message = message.removeprefix("Value error, ")
    for key in (field, field.rpartition(".")[2]):
        for pattern, chinese in MESSAGES.get(key, []):
            if found := re.match(pattern, message):
                groups = found.groups()
                stages = {f"stage{i}": STAGES.get(g, g) for i, g in enumerate(groups)}
                return chinese.format(*groups, **stages)
    return None


def refusal(error: CaseError) -> str:
    """A refusal as the console shows it: the rule's own words in Chinese where known (naming
    the field), else its kind in Chinese and the rule's English detail."""
    field = getattr(error, "field", "")
    if (chinese := translated(field or type(error).__name__, error.message)) is not None:
        return f"{label(field)}：{chinese}" if field else chinese
    kind = REFUSALS.get(type(error), UNAVAILABLE)
    return f"{kind}：{error.message}"


MEMBER = {"name": "姓名", "id_number": "身份证号", "relation": "关系", "monthly_income": "月收入"}


def label(field: str) -> str:
    """A field's name in Chinese: ``household.1.name`` is 家庭成员2 姓名."""
    if field in FIELDS:
        return FIELDS[field]
    if found := re.fullmatch(r"(\w+)\.(\d+)\.(\w+)", field):
        group, n, name = found.groups()
        return f"{FIELDS.get(group, group)}{int(n) + 1}的{MEMBER.get(name, name)}"
    return FIELDS.get(field.rpartition(".")[2], field)


def problem(field: str, kind: str, message: str) -> str:
    """A field the form's check refused."""
    if kind == "value_error" and message.endswith("must not be blank"):
        kind = "missing"  # the API's own check of a blank text
    if kind == "value_error" and (chinese := translated(field, message)):
        return f"{label(field)}：{chinese}"
    return f"{label(field)}：{PROBLEMS.get(kind, message)}"


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


def share(value: float | None) -> str:
    """87.5%; a share of nothing is a dash."""
    return "—" if value is None else f"{value:.1%}".replace(".0%", "%")


def name_of(table: dict[str, str], value: object) -> str:
    text = str(getattr(value, "value", value) or "")
    return table.get(text, text)


MILESTONES = {
    "accepted": "受理",
    "survey": "入户调查",
    "review": "镇(街道)初审",
    "notice": "公示",
    "decision": "区级审核确认",
    "refusal_notice": "书面告知不予救助理由",
    "first_payment": "首次发放",
    "closed": "办结",
    "requested": "提出急难救助申请",
    "approval": "审批",
    "payout": "24小时内资金到账（先行救助）",
    "follow_up": "补办审核手续",
}
VERDICTS = {"kept": "按时", "missed": "超期", "late": "已超期，尚未办理", "open": "未到期"}


def due(value: date | datetime | None) -> str:
    """A time limit: a day (by its end), or an instant (an emergency's 24 hours)."""
    return moment(value) if isinstance(value, datetime) else day(value)


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
    "share": share,
    "casework": lambda v: name_of(CASEWORK, v),
    "done": lambda v: CASEWORK.get(v) or name_of(INTERVENTIONS, v),
    "mismatch": lambda v: name_of(MISMATCHES, v),
    "milestone": lambda v: name_of(MILESTONES, v),
    "verdict": lambda v: name_of(VERDICTS, v),
    "due": due,
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
