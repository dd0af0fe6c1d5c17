"""Every caseworker action goes through the one update path (``CaseWorkflow.apply``): its
Update is one call, its validator one check, so that a new action, or a new kind of case, is
written in that shape rather than copied."""

import ast
import inspect
import textwrap

import pytest
from temporalio import workflow

from worker import WORKFLOWS
from workflows.client import CASE_WORKFLOWS

CASES = [cls for cls in WORKFLOWS if cls.__name__ in CASE_WORKFLOWS]
"""The workflows of cases (a payroll is no case: it takes no caseworker's action)."""
UPDATES = [
    (cls.__name__, update)
    for cls in CASES
    for update in workflow._Definition.must_from_class(cls).updates.values()
]


def statements(fn) -> list[ast.stmt]:
    """The body of ``fn`` without its docstring."""
    [definition] = ast.parse(textwrap.dedent(inspect.getsource(fn))).body
    body = definition.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body


def called(statement: ast.stmt) -> str:
    call = statement.value
    while isinstance(call, ast.Await):
        call = call.value
    assert isinstance(call, ast.Call), ast.unparse(statement)
    return ast.unparse(call.func)


def test_both_kinds_of_case_have_updates():
    assert {name for name, _ in UPDATES} == set(CASE_WORKFLOWS)


@pytest.mark.parametrize(
    "update", [u for _, u in UPDATES], ids=[f"{kind}.{u.name}" for kind, u in UPDATES]
)
def test_an_update_is_one_call_of_the_update_path_and_its_validator_one_check(update):
    [handler] = statements(update.fn)
    assert isinstance(handler, ast.Return) and called(handler) == "self.apply"
    assert update.validator is not None, f"{update.name} has no validator"
    [validator] = statements(update.validator)
    assert isinstance(validator, ast.Expr) and called(validator) == "check"
