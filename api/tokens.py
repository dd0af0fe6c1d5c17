"""Bearer tokens of the embedded stack (JWT, HS256, signed with ``jwt_secret``) with the claims
``sub``, ``name``, ``role``, ``jurisdiction`` (and a department liaison's ``department``);
``api.identity`` verifies them.

``python -m api.tokens --role township_assistant --jurisdiction 370305001`` prints one for the
embedded stack (``make token`` does the same).
"""

import argparse
from datetime import UTC, datetime, timedelta

import jwt

from domain.cases import LEVEL_OF_ROLE, Role
from domain.referrals import Department
from domain.townships import jurisdiction_level

ALGORITHM = "HS256"
CODE_OF = {
    "district": "the district: give its code (6 digits)",
    "township": "a township: give its code (9 digits)",
    "village": "a village: give its code (12 digits)",
}


def issue_token(
    *,
    secret: str,
    sub: str,
    name: str,
    role: Role,
    jurisdiction: str,
    hours: float = 12,
    issuer: str | None = None,
    audience: str | None = None,
    department: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": sub,
        "name": name,
        "role": role.value,
        "jurisdiction": jurisdiction,
        "iat": now,
        "exp": now + timedelta(hours=hours),
    }
    claims |= {"department": department} if department else {}
    # When the API checks them, its own tokens carry them too.
    claims |= {"iss": issuer} if issuer else {}
    claims |= {"aud": audience} if audience else {}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def main() -> None:
    from settings import get_settings

    parser = argparse.ArgumentParser(description="Print a bearer token for a jiuzhu user.")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--jurisdiction", required=True, help="district, township or village code")
    parser.add_argument("--sub", help="user id (default: the role and jurisdiction)")
    parser.add_argument("--name", help="display name (default: the user id)")
    parser.add_argument(
        "--department",
        choices=[d.value for d in Department],
        help="a department liaison's department (部门转介)",
    )
    parser.add_argument("--hours", type=float, default=12)
    args = parser.parse_args()
    sub = args.sub or f"{args.role}-{args.jurisdiction}"
    settings = get_settings()
    # What the API would refuse, said now.
    works_at = LEVEL_OF_ROLE[Role(args.role)]
    if jurisdiction_level(args.jurisdiction) != works_at:
        parser.error(f"role '{args.role}' works for {CODE_OF[works_at]}")
    if (args.role == Role.department_liaison) != (args.department is not None):
        parser.error("--department is given for a department_liaison, and only for one")
    if not 0 < args.hours <= settings.token_max_lifetime_hours:
        parser.error(
            f"--hours is at most {settings.token_max_lifetime_hours:g} "
            "(JIUZHU_TOKEN_MAX_LIFETIME_HOURS)"
        )
    print(
        issue_token(
            secret=settings.jwt_secret,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            sub=sub,
            name=args.name or sub,
            role=Role(args.role),
            jurisdiction=args.jurisdiction,
            hours=args.hours,
            department=args.department,
        )
    )


if __name__ == "__main__":
    main()
