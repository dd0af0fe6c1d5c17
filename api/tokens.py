"""Bearer tokens of the embedded stack (JWT, HS256, signed with ``jwt_secret``) with the claims
``sub``, ``name``, ``role``, ``jurisdiction``; ``api.identity`` verifies them.

``python -m api.tokens --role township_assistant --jurisdiction 370305001`` prints one for the
embedded stack (``make token`` does the same).
"""

import argparse
from datetime import UTC, datetime, timedelta

import jwt

from domain.cases import Role

ALGORITHM = "HS256"


def issue_token(
    *,
    secret: str,
    sub: str,
    name: str,
    role: Role,
    jurisdiction: str,
    hours: int = 12,
    issuer: str | None = None,
    audience: str | None = None,
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
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    sub = args.sub or f"{args.role}-{args.jurisdiction}"
    settings = get_settings()
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
        )
    )


if __name__ == "__main__":
    main()
