"""Bearer tokens (JWT, HS256) with the claims ``sub``, ``name``, ``role``, ``jurisdiction``.

``python -m api.tokens --role township_assistant --jurisdiction 370305001`` prints one for the
embedded stack (``make token`` does the same).
"""

import argparse
from datetime import UTC, datetime, timedelta

import jwt

from domain.cases import Actor, Role
from domain.townships import jurisdiction_level

ALGORITHM = "HS256"


class UnusableClaims(Exception):
    """An authentic token whose role or jurisdiction this system does not know (403, not 401:
    signing in again would not help)."""


def issue_token(
    *, secret: str, sub: str, name: str, role: Role, jurisdiction: str, hours: int = 12
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> Actor:
    """The user a token names.

    ``jwt.InvalidTokenError`` when the token is forged, expired or malformed;
    ``UnusableClaims`` when it is authentic but names an unknown role or a jurisdiction that is
    not a code of the district, one of its townships or one of its villages.
    """
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    user_id, name = claims["sub"], claims.get("name") or claims["sub"]
    role, jurisdiction = claims.get("role"), claims.get("jurisdiction")
    if not isinstance(user_id, str) or not isinstance(name, str):
        raise jwt.InvalidTokenError("sub and name are strings")
    if role not in Role.__members__:
        raise UnusableClaims("the role in your token is not a role of this system")
    if not isinstance(jurisdiction, str) or jurisdiction_level(jurisdiction) is None:
        raise UnusableClaims(
            "the jurisdiction in your token is not the code of the district, a township or a "
            "village; ask the administrator to correct your account"
        )
    return Actor(user_id=user_id, name=name, role=Role(role), jurisdiction=jurisdiction)


def main() -> None:
    from settings import get_settings

    parser = argparse.ArgumentParser(description="Print a bearer token for a jiuzhu user.")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--jurisdiction", required=True, help="district, township or village code")
    parser.add_argument("--sub", help="user id (default: the role and jurisdiction)")
    parser.add_argument("--name", help="display name (default: the user id)")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    sub = args.sub or f"{args.role}-{args.jurisdiction}"
    print(
        issue_token(
            secret=get_settings().jwt_secret,
            sub=sub,
            name=args.name or sub,
            role=Role(args.role),
            jurisdiction=args.jurisdiction,
            hours=args.hours,
        )
    )


if __name__ == "__main__":
    main()
