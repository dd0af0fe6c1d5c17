"""Who may call each route: one declared permission per route, checked the same way everywhere.

A permission names the roles that may use a route and the jurisdiction rule for what the route
touches. A route declares exactly one, as its user parameter: ``user: Actor = permit(DECIDE)``.
Every router makes its routes with ``PermittedRoute``, which refuses a route that declares
none and writes each into the OpenAPI schema as the operation's ``x-permission``.

The roles are ``domain.cases.Role``; the README's table of what each role may do is written
from this file, which is what the API enforces.
"""

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import CaseNo, signed_in
from domain.cases import Actor, Role
from domain.errors import NotFound
from domain.policy import Policy
from domain.townships import covers, jurisdiction_level
from store.db import Database
from store.jurisdiction import CaseRef, case_ref
from store.recipients import village_of_recipient
from store.referrals import village_of_referral


class Scope(StrEnum):
    """The jurisdiction rule of a route."""

    case = "case"
    """The case in the path (``{case_no}``) lies in your jurisdiction; else 404."""
    township = "township"
    """The township in the path (``{code}``) lies in your jurisdiction; else 404."""
    referral = "referral"
    """The referral in the path (``{referral_no}``) lies in your jurisdiction; else 404 (a
    department liaison's own department's: the service checks it)."""
    recipient = "recipient"
    """The recipient household in the path (``{recipient_no}``) lies in your jurisdiction;
    else 404."""
    rows = "rows"
    """A list, count or report of your jurisdiction's cases only; a ``township`` filter that
    does not meet your jurisdiction is 404."""
    intake = "intake"
    """A new case: the family's village (in the body) lies in your jurisdiction; else 403."""
    district = "district"
    """Spans the whole district: an account of the district only; else 403."""
    none = "none"
    """The same for everyone (reference data)."""


@dataclass(frozen=True)
class Permission:
    name: str
    """What it allows, as the 403 says it: "role 'auditor' may not top up a township's reserve"."""
    roles: frozenset[Role]
    scope: Scope
    sign_in: bool = True
    by_policy: Callable[[Policy], frozenset[Role]] | None = None
    """The roles follow a policy setting (``roles``: those of the default policy)."""

    def roles_under(self, policy: Policy) -> frozenset[Role]:
        """The roles allowed under the policy in force."""
        return self.by_policy(policy) if self.by_policy else self.roles

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": sorted(self.roles),
            "jurisdiction": self.scope.value,
            "sign_in": self.sign_in,
        }


def _permission(name: str, roles: set[Role] | frozenset[Role], scope: Scope) -> Permission:
    return Permission(name, frozenset(roles), scope)


R = Role
EVERYONE = frozenset(Role)
STAFF = EVERYONE - {R.department_liaison}
"""民政's own people: a department liaison (部门转介) files and reads its department's referrals
and the reference data, never a case file, a reserve or the staff's notices."""
CASE_READERS = STAFF - {R.admin}
"""Whoever works on cases or oversees them; the admin keeps the system, not the case files."""
OVERSIGHT = {R.supervisor, R.district_officer, R.auditor, R.admin}

HEALTH = Permission("check the API is up", EVERYONE, Scope.none, sign_in=False)
READY = Permission(
    "check the API can serve (its database and Temporal answer)",
    EVERYONE,
    Scope.none,
    sign_in=False,
)
METRICS = Permission(
    "read the service's metrics (counts by route, stage and township; nothing personal)",
    EVERYONE,
    Scope.none,
    sign_in=False,
)
READ_REFERENCE = _permission("read reference data", EVERYONE, Scope.none)
EDIT_TOWNSHIP = _permission("edit a township", {R.admin}, Scope.township)
PUBLISH_CALENDAR = _permission("publish the holiday calendar", {R.admin}, Scope.district)
READ_NOTIFICATIONS = _permission("read notifications", STAFF, Scope.rows)

LIST_CASES = _permission("list cases", CASE_READERS, Scope.rows)
READ_CASE = _permission("read a case", CASE_READERS, Scope.case)
ACCEPT_APPLICATION = _permission(
    "accept an application", {R.township_assistant, R.village_coordinator}, Scope.intake
)
REQUEST_EMERGENCY = _permission("request emergency aid", {R.township_assistant}, Scope.intake)
SURVEY = _permission(
    "record a household survey",
    {R.village_coordinator, R.township_assistant, R.district_officer},
    Scope.case,
)
REVIEW = _permission("record the township review", {R.township_assistant}, Scope.case)
OBJECT = _permission(
    "record an objection",
    {R.township_assistant, R.village_coordinator, R.district_officer},
    Scope.case,
)
CASEWORK = _permission(
    "keep a case's file (documents, withdrawal, bank account)",
    {R.township_assistant, R.district_officer},
    Scope.case,
)


def deciders(policy: Policy) -> frozenset[Role]:
    """审核确认: the district's officers (``decision_by: district``, the default), or, where the
    province delegates it (``township``), the township leader of the case's township — the
    district keeps the power (and 一事一议 stays its own)."""
    if policy.decision_by == "township":
        return frozenset({R.township_approver, R.district_officer})
    return frozenset({R.district_officer})


DECIDE = Permission(
    "take the decision (审核确认) on a case",
    deciders(Policy()),
    Scope.case,
    by_policy=deciders,
)
APPROVE_EXCEPTION = _permission(
    "approve an emergency payment by exception (一事一议)", {R.district_officer}, Scope.case
)
APPROVE_EMERGENCY = _permission(
    "approve or reject emergency aid", {R.township_approver, R.district_officer}, Scope.case
)
INTERVENE = _permission("intervene in a case", {R.supervisor}, Scope.case)
EXTEND_DEADLINE = _permission(
    "extend a case's deadline", {R.supervisor, R.district_officer}, Scope.case
)
"""A supervisor within the cap on extensions (``max_extension_working_days``); beyond it a
district officer decides."""

READ_RESERVE = _permission(
    "read a township's reserve", STAFF - {R.village_coordinator}, Scope.township
)
TOP_UP = _permission("top up a township's reserve", {R.district_officer}, Scope.township)

LIST_RECIPIENTS = _permission("list recipient households", CASE_READERS, Scope.rows)
READ_RECIPIENT = _permission("read a recipient household", CASE_READERS, Scope.recipient)
RECIPIENT_CASEWORK = _permission(
    "keep a recipient household's file (its bank account)",
    {R.township_assistant, R.district_officer},
    Scope.recipient,
)
CORRECT_BENEFIT = _permission(
    "correct a recipient household's benefit, record a recovery or a finding of dishonesty",
    {R.district_officer},
    Scope.recipient,
)
SET_STANDARD = _permission("set a new 低保 standard", {R.district_officer}, Scope.district)
REVIEW_RECIPIENT = _permission(
    "open a review of a recipient household",
    {R.township_assistant, R.district_officer},
    Scope.recipient,
)
REPORT_CHANGE = _permission(
    "report a change in a recipient household",
    {R.village_coordinator, R.township_assistant},
    Scope.recipient,
)
SURVEY_RECIPIENT = _permission(
    "record a review's household survey",
    {R.village_coordinator, R.township_assistant, R.district_officer},
    Scope.recipient,
)
PROPOSE_FOR_RECIPIENT = _permission(
    "record the township's proposal in a review", {R.township_assistant}, Scope.recipient
)
DECIDE_FOR_RECIPIENT = _permission(
    "take the district's decision in a review", {R.district_officer}, Scope.recipient
)
START_PAYROLL = _permission("start a month's payroll", {R.district_officer}, Scope.district)
READ_PAYROLLS = _permission(
    "read the monthly payrolls", CASE_READERS - {R.village_coordinator}, Scope.rows
)

SUPERVISE = _permission("read the supervision and compliance reports", OVERSIGHT, Scope.rows)
VERIFY_AUDIT_TRAIL = _permission("verify the audit trail", OVERSIGHT, Scope.district)
READ_TIMELINE = _permission("read a case's timeline", OVERSIGHT, Scope.case)
DECRYPT_PAYLOADS = _permission(
    "decrypt the case engine's payloads (the Web UI's codec)",
    {R.supervisor, R.admin},
    Scope.district,
)

FILE_REFERRAL = _permission(
    "file a referral from a department", {R.department_liaison, R.district_officer}, Scope.district
)
LIST_REFERRALS = _permission("list referrals", CASE_READERS | {R.department_liaison}, Scope.rows)
READ_REFERRAL = _permission(
    "read a referral", CASE_READERS | {R.department_liaison}, Scope.referral
)
RECORD_REFERRAL_OUTCOME = _permission(
    "record a referral's outcome", {R.township_assistant}, Scope.referral
)


def permit(permission: Permission) -> Any:
    """The route's user parameter: the signed-in user, once the role and the jurisdiction rule
    allow the request (401, 403 or 404 otherwise)."""
    if not permission.sign_in:

        async def anyone() -> None:
            return None

        anyone.permission = permission  # type: ignore[attr-defined]
        return Depends(anyone)

    async def check(request: Request, user: Actor = Depends(signed_in)) -> Actor:
        return await authorize(permission, request, user)

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


async def authorize(permission: Permission, request: Request, user: Actor) -> Actor:
    """The user, once the permission's roles and jurisdiction rule allow the request (403 or
    404 otherwise): what ``permit`` checks of a bearer token's user, and the console of its
    session's."""
    roles = permission.roles_under(request.app.state.settings.policy)
    if user.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role '{user.role}' may not {permission.name}; allowed: {allowed}",
        )
    await _check_jurisdiction(permission.scope, request, user)
    return user


_CASE_NO = re.compile(r"[0-9A-Za-z-]{1,40}")
_TOWNSHIP = re.compile(r"\d{9}")


async def _check_jurisdiction(scope: Scope, request: Request, user: Actor) -> None:
    """A malformed code is left to the route's own validation (422), unread and unechoed."""
    if scope is Scope.case:
        case_no = request.path_params["case_no"]
        if _CASE_NO.fullmatch(case_no):
            known: KnownCases = request.app.state.known_cases
            if (case := known.get(case_no)) is None:
                database = Database(request.app.state.settings.database_url)
                case = await database.read(case_ref, case_no=case_no)
                known.keep(case_no, case)
            if case is None or not covers(user.jurisdiction, case.village):
                raise NotFound(f"no case {case_no} in your jurisdiction")
            request.state.case = case
    elif scope is Scope.recipient:
        recipient_no = request.path_params["recipient_no"]
        if _CASE_NO.fullmatch(recipient_no):
            database = Database(request.app.state.settings.database_url)
            village = await database.read(village_of_recipient, recipient_no=recipient_no)
            if village is None or not covers(user.jurisdiction, village):
                raise NotFound(f"no recipient household {recipient_no} in your jurisdiction")
    elif scope is Scope.referral:
        referral_no = request.path_params["referral_no"]
        if _CASE_NO.fullmatch(referral_no):
            database = Database(request.app.state.settings.database_url)
            village = await database.read(village_of_referral, referral_no=referral_no)
            if village is None or not covers(user.jurisdiction, village):
                raise NotFound(f"no referral {referral_no} in your jurisdiction")
    elif scope is Scope.township:
        code = request.path_params["code"]
        if _TOWNSHIP.fullmatch(code) and not covers(user.jurisdiction, code):
            raise NotFound(f"no township {code} in your jurisdiction")
    elif scope is Scope.rows:
        township = request.query_params.get("township")
        if (
            township is not None
            and _TOWNSHIP.fullmatch(township)
            and not (covers(user.jurisdiction, township) or covers(township, user.jurisdiction))
        ):
            raise NotFound(f"no township {township} in your jurisdiction")
    elif scope is Scope.district and jurisdiction_level(user.jurisdiction) != "district":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this covers the whole district: it needs an account of the district, not of a "
            "township or village",
        )


class KnownCases:
    """The cases seen lately, each with its kind and village: set at intake and never changed,
    so the check of a case's jurisdiction reads them once, not on every request about the
    case. Only cases that exist are kept; past ``size`` (~200 bytes each) the least lately
    asked for go first."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._cases: OrderedDict[str, CaseRef] = OrderedDict()

    def get(self, case_no: str) -> CaseRef | None:
        case = self._cases.get(case_no)
        if case is not None:
            self._cases.move_to_end(case_no)
        return case

    def keep(self, case_no: str, case: CaseRef | None) -> None:
        if case is None:
            return
        self._cases[case_no] = case
        if len(self._cases) > self.size:
            self._cases.popitem(last=False)


async def permitted_case(request: Request, case_no: CaseNo) -> CaseRef:
    """The case the route's permission (of ``Scope.case``) found in the user's jurisdiction
    (a malformed number is refused first, 422, as the path's)."""
    return request.state.case


PERMITTED_CASE: Any = Depends(permitted_case)
"""A route's case, as its permission checked it: ``case: CaseRef = PERMITTED_CASE``, declared
after the permission (``PermittedRoute`` checks), which finds it first."""


class PermittedRoute(APIRoute):
    """The route class of every router: a route that does not declare exactly one permission,
    fitting its path, cannot be made; its permission shows in the OpenAPI schema as
    ``x-permission``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        declared = [d.call.permission for d in _dependencies(self.dependant)]
        where = f"{'/'.join(sorted(self.methods))} {path}"
        if len(declared) != 1:
            raise RuntimeError(
                f"{where} must declare one permission (user: Actor = permit(...)), "
                f"not {len(declared)}"
            )
        [permission] = declared
        needs = {
            Scope.case: "{case_no}",
            Scope.township: "{code}",
            Scope.recipient: "{recipient_no}",
            Scope.referral: "{referral_no}",
        }.get(permission.scope)
        if needs and needs not in path:
            raise RuntimeError(f"{where}: a {permission.scope} permission needs {needs}")
        calls = [d.call for d in self.dependant.dependencies]
        if permitted_case in calls and (
            permission.scope is not Scope.case
            or not any(hasattr(c, "permission") for c in calls[: calls.index(permitted_case)])
        ):
            raise RuntimeError(f"{where}: its case comes from a case permission declared before it")
        self.openapi_extra = (self.openapi_extra or {}) | {"x-permission": permission.openapi()}


def _dependencies(dependant: Dependant) -> list[Dependant]:
    found = []
    for dependency in dependant.dependencies:
        if hasattr(dependency.call, "permission"):
            found.append(dependency)
        found += _dependencies(dependency)
    return found


RECORD_SWEEP = _permission(
    "record a sweep of a township's villages",
    {R.township_assistant, R.district_officer},
    Scope.township,
)
LIST_SWEEPS = _permission(
    "list a township's sweeps", CASE_READERS - {R.village_coordinator}, Scope.township
)
LIST_WATCH = _permission("read the watch list", CASE_READERS, Scope.rows)
CHECK_UP = _permission(
    "record a watched household's check-up",
    {R.township_assistant, R.village_coordinator},
    Scope.rows,
)
"""The entry in the path is looked up within the caller's jurisdiction (404 outside it)."""
