"""Who acts: one builder for a person of a role in a jurisdiction, the people most tests use,
and the bearer token a person's requests carry."""

from api.tokens import issue_token
from domain.cases import Actor, Role
from settings import Settings


def actor(
    role: Role,
    jurisdiction: str,
    *,
    name: str | None = None,
    user_id: str | None = None,
    department: str | None = None,
) -> Actor:
    """A person of ``role`` whose account covers ``jurisdiction`` (district, township or
    village code); the same role and jurisdiction give the same person. A department liaison
    is of ``department`` (default: the medical-insurance office)."""
    if role == Role.department_liaison:
        department = department or "medical_insurance"
    return Actor(
        user_id=user_id or f"u-{role}-{jurisdiction}",
        name=name or f"{role}@{jurisdiction}",
        role=role,
        jurisdiction=jurisdiction,
        department=department,
    )


def headers(settings: Settings, who: Actor, idempotency_key: str | None = None) -> dict[str, str]:
    """What ``who``'s client sends: a token signed as the identity provider of ``settings``
    signs it, and the Idempotency-Key when given."""
    token = issue_token(
        secret=settings.jwt_secret,
        sub=who.user_id,
        name=who.name,
        role=who.role,
        jurisdiction=who.jurisdiction,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        department=who.department,
    )
    sent = {"Authorization": f"Bearer {token}"}
    if idempotency_key:
        sent["Idempotency-Key"] = idempotency_key
    return sent


ASSISTANT = actor(Role.township_assistant, "370305001", name="王助理", user_id="u-assistant")
COORDINATOR = actor(
    Role.village_coordinator, "370305001001", name="李协理", user_id="u-coordinator"
)
OFFICER = actor(Role.district_officer, "370305", name="赵科长", user_id="u-officer")
APPROVER = actor(Role.township_approver, "370305001", name="孙镇长", user_id="u-approver")
SUPERVISOR = actor(Role.supervisor, "370305", name="周督办", user_id="u-supervisor")


def assistant_of(township: str) -> Actor:
    return actor(
        Role.township_assistant, township, name="陈助理", user_id=f"u-assistant-{township}"
    )


def approver_of(township: str) -> Actor:
    return actor(Role.township_approver, township, name="孙镇长", user_id=f"u-approver-{township}")


def coordinator_of(village: str) -> Actor:
    return actor(
        Role.village_coordinator, village, name="李协理", user_id=f"u-coordinator-{village}"
    )


# ---- every role at home, away and misplaced (the permission and fuzz suites) -------------

DISTRICT, HOME, AWAY = "370305", "370305001", "370305002"
HOME_VILLAGE, NEIGHBOUR_VILLAGE, AWAY_VILLAGE = f"{HOME}001", f"{HOME}002", f"{AWAY}001"

VC, TA, TP = Role.village_coordinator, Role.township_assistant, Role.township_approver
DO, SUP, AUD, ADM = Role.district_officer, Role.supervisor, Role.auditor, Role.admin
LIA = Role.department_liaison
ALL = {VC, TA, TP, DO, SUP, AUD, ADM}
"""民政's own roles (a department liaison is another department's: ``LIA``)."""
DISTRICT_ROLES = {DO, SUP, AUD, ADM}

HOME_ACTORS = {
    role: actor(role, DISTRICT if role in DISTRICT_ROLES else HOME_VILLAGE if role == VC else HOME)
    for role in ALL
} | {LIA: actor(LIA, DISTRICT)}
"""Each role at its level (``domain.cases.LEVEL_OF_ROLE``): the district, a township, a
village."""
AWAY_ACTORS = {TA: actor(TA, AWAY), TP: actor(TP, AWAY), VC: actor(VC, AWAY_VILLAGE)}
"""The township and village roles of the other township: for them, the home one is outside."""
MISPLACED = {role: actor(role, HOME) for role in DISTRICT_ROLES} | {
    TA: actor(TA, DISTRICT),
    TP: actor(TP, HOME_VILLAGE),
    VC: actor(VC, HOME),
    LIA: actor(LIA, HOME),
}
"""Each role with an account of another level than its own: refused everywhere (403)."""
