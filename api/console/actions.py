"""The caseworker's forms on a case page: which the page offers (the actions that fit the case's
stage, for the roles their route permits), the inputs of each, and a posted form made into the
API's body (flat form fields, ``applicant.name`` or ``household.0.name``, to nested JSON)."""

import re
from typing import Any

from api.cases import DECLARED
from domain.cases import Actor
from domain.policy import Policy

OPEN_APPLICATION = ["survey", "review", "notice", "decision", "awaiting_documents"]
AT_STAGE: dict[str, dict[str, list[str]]] = {
    "application": {
        "survey": ["survey", "documents-requested", "bank-account", "withdrawal"],
        "review": ["review", "documents-requested", "bank-account", "withdrawal"],
        "notice": ["objections", "bank-account", "withdrawal"],
        "decision": ["decision", "documents-requested", "bank-account", "withdrawal"],
        "awaiting_documents": ["documents-received", "bank-account", "withdrawal"],
        "approved": ["bank-account"],
    },
    "emergency": {
        "awaiting_approval": ["approval", "exception-approval", "rejection"],
        "awaiting_account": ["bank-account"],
        "paid": ["survey"],
        "follow_up": ["review", "decision"],
    },
}
"""What the page offers at each stage. The workflow decides: an action the page did not
foresee is refused there, with its rule's message."""

FIELDS: dict[str, list[str]] = {
    "survey": [
        "investigators", "visited_on", "findings", "household_monthly_income",
        "disability_grade", "unable_to_work", "has_income", "supporter_able", "self_care",
    ],
    "review": ["recommendation", "reasons", "amount"],
    "decision": [
        "outcome", "reasons", "amount", "exception_reason", "review_cadence", "care_form",
        "self_care", "institution.name", "institution.bank", "institution.account_no",
        "mismatch_reason",
    ],
    "documents-requested": ["documents", "note"],
    "documents-received": ["note"],
    "objections": ["raised_by", "grounds"],
    "bank-account": ["bank", "account_no", "holder"],
    "withdrawal": ["reason"],
    "approval": ["amount", "note"],
    "exception-approval": ["amount", "reason"],
    "rejection": ["reasons"],
}  # fmt: skip
"""The inputs of each form: a refusal naming one shows next to it; any other above the
form's button."""

LISTS = {"investigators": r"[,，、;；\s]+", "documents": r"[\r\n]+"}
"""Inputs that hold a list: the investigators' names, one document a line."""
AMOUNTS = {"amount", "household_monthly_income", "monthly_income"}
"""Inputs of an amount in yuan, written as a Chinese reader may write it (1,760.00)."""


def offered(user: Actor, kind: str, stage: str, *, policy: Policy | None = None) -> list[str]:
    """The actions the case page offers the user now (whose roles may follow the policy in
    force: ``decision_by``)."""
    policy = policy or Policy()
    return [
        path
        for path in AT_STAGE.get(kind, {}).get(stage, [])
        if (declared := DECLARED.get((kind, path)))
        and user.role in declared.permission.roles_under(policy)
    ]


def data_of(form: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the API's JSON body: blank fields left out (the body's defaults
    apply), dotted names nested, numbered ones made lists."""
    data: dict[str, Any] = {}
    for name, raw in form.items():
        if name in ("csrf", "idempotency_key"):
            continue
        value: Any = raw.strip()
        if not value:
            continue
        last = name.rpartition(".")[2]
        if last in LISTS:
            value = [v.strip() for v in re.split(LISTS[last], value) if v.strip()]
        elif last in AMOUNTS:
            value = value.replace(",", "").replace("，", "").removeprefix("¥")
        _put(data, name.split("."), value)
    return _lists(data)


def _put(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def _lists(value: Any) -> Any:
    """{"0": {...}, "1": {...}} to [{...}, {...}], in order, the blank ones gone."""
    if not isinstance(value, dict):
        return value
    if value and all(k.isdigit() for k in value):
        return [_lists(value[k]) for k in sorted(value, key=int)]
    return {k: _lists(v) for k, v in value.items()}


def others(problems: dict[str, list[str]], action: str) -> list[str]:
    """The refusals of a form that name none of its inputs."""
    shown = set(FIELDS.get(action, []))
    return [p for name, found in problems.items() if name not in shown for p in found]
