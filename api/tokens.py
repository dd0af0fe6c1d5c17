"""Bearer tokens (JWT, HS256) with the claims ``sub``, ``name``, ``role``, ``jurisdiction``.

``python -m api.tokens --role township_assistant --jurisdiction 370305001`` prints one for the
embedded stack (``make token`` does the same).
"""

import argparse
from datetime import datetime, timedelta, timezone

import jwt

from domain.cases import Actor, Role

ALGORITHM = "HS256"


def issue_token(*, secret: str, sub: str, name: str, role: Role, jurisdiction: str, hours: int = 12) -> str:
    now = datetime.now(timezone.utc)
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
    """The user a token names; ``jwt.InvalidTokenError`` or ``ValueError`` when it is not valid."""
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    return Actor(
        user_id=claims["sub"],
        name=claims.get("name") or claims["sub"],
        role=Role(claims["role"]),
        jurisdiction=str(claims["jurisdiction"]),
    )


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
