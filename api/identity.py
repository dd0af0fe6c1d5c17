"""Who is calling: the one verifier of every bearer token the API reads (the route dependency
and the idempotency middleware both ask it).

Two kinds of token are accepted:

- HS256, signed with ``jwt_secret``: the embedded stack's own (``make token``);
- RS256 or ES256, signed by the district's identity provider, whose public keys are read from
  ``jwks_url`` (when it is set).

The token's algorithm chooses where its key comes from, never the other way round: an HS256
token is checked against the secret alone, so a token "signed" with the provider's public key
is a forgery (key confusion); a provider key is used only with the algorithm of its type (RSA:
RS256, EC P-256: ES256). ``alg: none`` and every other algorithm are refused.
"""

import json
import math
import threading
import time
from collections import deque
from typing import Any

import anyio
import anyio.to_thread
import httpx
import jwt
import structlog

from domain.cases import LEVEL_OF_ROLE, Actor, Role
from domain.referrals import Department
from domain.townships import jurisdiction_level
from settings import Settings

log = structlog.get_logger()

MAX_TOKEN_CHARS = 8192
"""A longer bearer token is refused before it is parsed."""
LEEWAY_SECONDS = 30
"""Clock difference allowed between us and the identity provider (``exp``, ``nbf``, ``iat``)."""
KEY_ALGORITHM = {"RSA": "RS256", "EC": "ES256"}
"""The one algorithm each type of provider key is used with (EC keys on the P-256 curve)."""
MAX_FETCHES_PER_MINUTE = 6
"""Key-set fetches, successful or not: tokens naming made-up keys cannot make us hammer the
provider."""
MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 100
READING_THREADS = 4
"""Requests waiting on a slow provider hold at most these threads, never the database's."""


class TokenRefused(Exception):
    """No valid token: missing, malformed, forged, expired, or not issued for us (401)."""


class UnusableClaims(Exception):
    """An authentic token whose role or jurisdiction this system does not know, or whose
    jurisdiction is not of its role's level (403, not 401: signing in again would not help)."""


class ProviderUnavailable(Exception):
    """The identity provider's keys cannot be read, so the token cannot be checked (503)."""


INVALID = "the token is invalid; sign in again"


class TokenVerifier:
    """Made once from the settings (``from_settings``) and kept on ``app.state``."""

    def __init__(
        self,
        *,
        secret: str | None,
        provider: "ProviderKeys | None" = None,
        issuer: str | None = None,
        audience: str | None = None,
        max_lifetime_hours: float = 12,
    ) -> None:
        self.secret = secret
        self.provider = provider
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime_hours = max_lifetime_hours

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenVerifier":
        secret: str | None = settings.jwt_secret
        if settings.jwks_url and secret == Settings.model_fields["jwt_secret"].default:
            # The embedded secret is in the source code: beside a real identity provider,
            # anyone could sign tokens with it.
            log.warning("identity.embedded_secret_refused", jwks_url=settings.jwks_url)
            secret = None
        provider = (
            ProviderKeys(
                settings.jwks_url,
                cache_seconds=settings.jwks_cache_seconds,
                timeout=settings.external_timeout_seconds,
            )
            if settings.jwks_url
            else None
        )
        return cls(
            secret=secret,
            provider=provider,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            max_lifetime_hours=settings.token_max_lifetime_hours,
        )

    async def verify(self, token: str) -> Actor:
        """The user the token names. Raises ``TokenRefused``, ``UnusableClaims`` or
        ``ProviderUnavailable``; a key-set fetch, when one is needed, runs in a thread."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused(INVALID)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRefused(INVALID) from None
        algorithm = header.get("alg")
        if algorithm == "HS256":
            if self.secret is None:
                raise TokenRefused(
                    "tokens signed with the embedded stack's secret are refused beside an identity "
                    "provider; sign in through the provider (or set JIUZHU_JWT_SECRET)"
                )
            key: Any = self.secret
        elif algorithm in KEY_ALGORITHM.values() and self.provider is not None:
            key = await self.provider.key(header.get("kid"), algorithm)
        else:
            raise TokenRefused("the token's signing algorithm is not accepted; sign in again")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                    # Checked by _check_times, with their types.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError):
            raise TokenRefused("the token was not issued for this system; sign in again") from None
        except jwt.MissingRequiredClaimError as missing:
            raise TokenRefused(f"the token has no '{missing.claim}'; sign in again") from None
        except jwt.InvalidTokenError:
            raise TokenRefused(INVALID) from None
        self._check_times(claims)
        return actor_of(claims)

    def _check_times(self, claims: dict[str, Any]) -> None:
        """``exp``, ``iat`` and ``nbf``, checked here rather than by the library, which reads
        ``"1796000000"`` and ``true`` as times and lets a token live for ever (``exp`` of
        10**20). Each is a number of seconds since 1970 (a fraction allowed: RFC 7519's
        NumericDate), and ``exp`` at most the longest lifetime from now."""
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name, 0)
            number = isinstance(value, int) and not isinstance(value, bool)
            if not number and not (isinstance(value, float) and math.isfinite(value)):
                raise TokenRefused(f"the token's '{name}' is not a time; sign in again")
        now = time.time()
        if claims["exp"] <= now - LEEWAY_SECONDS:
            raise TokenRefused("the token has expired; sign in again")
        if claims["exp"] > now + self.max_lifetime_hours * 3600 + LEEWAY_SECONDS:
            raise TokenRefused(
                f"the token is valid for longer than {self.max_lifetime_hours:g} hours, more "
                "than this system accepts; sign in again"
            )
        if claims.get("nbf", now) > now + LEEWAY_SECONDS:
            raise TokenRefused("the token is not valid yet; sign in again")
        if claims.get("iat", now) > now + LEEWAY_SECONDS:
            raise TokenRefused("the token was issued in the future; sign in again")


def actor_of(claims: dict[str, Any]) -> Actor:
    """The user an authentic token's claims name: ``sub``, ``name``, ``role``, ``department``
    (a department liaison's), ``jurisdiction`` (the code of the district, one of its townships or one of its villages:
    the level of the role, ``domain.cases.LEVEL_OF_ROLE``)."""
    user_id, name = claims["sub"], claims.get("name") or claims["sub"]
    if not isinstance(user_id, str) or not isinstance(name, str):
        raise TokenRefused(INVALID)
    if len(user_id) > 200 or len(name) > 200:
        raise TokenRefused(INVALID)
    role, jurisdiction = claims.get("role"), claims.get("jurisdiction")
    if not isinstance(role, str) or role not in Role.__members__:
        raise UnusableClaims("the role in your token is not a role of this system")
    if not isinstance(jurisdiction, str) or jurisdiction_level(jurisdiction) is None:
        raise UnusableClaims(
            "the jurisdiction in your token is not the code of the district, a township or a "
            "village; ask the administrator to correct your account"
        )
    level, works_at = jurisdiction_level(jurisdiction), LEVEL_OF_ROLE[Role(role)]
    if level != works_at:
        raise UnusableClaims(
            f"role '{role}' works for {NAMED[works_at]}; this token names {NAMED[level]}: "
            "ask the administrator to correct your account"
        )
    return Actor(
        user_id=user_id, name=name, role=Role(role), jurisdiction=jurisdiction,
        department=_department(Role(role), claims.get("department")),
    )  # fmt: skip


def _department(role: Role, department: Any) -> str | None:
    """A department liaison's ``department`` claim (部门转介: whose referrals they file and
    read); the other roles are 民政's own staff and carry none."""
    if role != Role.department_liaison:
        return None
    if not isinstance(department, str) or department not in Department.__members__:
        raise UnusableClaims(
            "a department liaison's token names its department (one of "
            f"{', '.join(Department)}); ask the administrator to correct your account"
        )
    return department


NAMED = {"district": "the district", "township": "a township", "village": "a village"}


class ProviderKeys:
    """The identity provider's public keys, by ``kid``, read from its JWKS URL.

    A key set is used for ``cache_seconds``; a token naming a key we do not have makes us read
    it again at once (the provider rotated its keys). Every read counts against
    ``MAX_FETCHES_PER_MINUTE``: past it, an unknown key is refused without asking. Reads run
    in a worker thread, one at a time; the tokens waiting on one use its result.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        timeout: float,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at: float | None = None
        """When the keys were last read successfully."""
        self._down = False
        """Whether the last attempt to read them failed."""
        self._attempts: deque[float] = deque()
        self._lock = threading.Lock()
        self._threads: anyio.CapacityLimiter | None = None  # made in the event loop

    async def key(self, kid: Any, algorithm: str) -> jwt.PyJWK:
        # A token naming no key (kid None): OpenID Connect Core §10.1 allows it while the
        # provider's set holds one key (some providers' ID tokens do so).
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 200):
            raise TokenRefused("the token names no key of the identity provider; sign in again")
        key = self._cached(kid)
        if key is None:
            self._threads = self._threads or anyio.CapacityLimiter(READING_THREADS)
            key = await anyio.to_thread.run_sync(self._read_for, kid, limiter=self._threads)
        if key.algorithm_name != algorithm:
            raise TokenRefused("the token's algorithm does not match its key; sign in again")
        return key

    def _cached(self, kid: str | None) -> jwt.PyJWK | None:
        fresh = self._read_at is not None and time.monotonic() - self._read_at < self.cache_seconds
        return self._named(kid) if fresh and not self._down else None

    def _named(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _read_for(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            if (key := self._cached(kid)) is not None:  # read by the token before us
                return key
            now = time.monotonic()
            while self._attempts and now - self._attempts[0] >= 60:
                self._attempts.popleft()
            if len(self._attempts) < MAX_FETCHES_PER_MINUTE:
                self._attempts.append(now)
                self._read(now)
            if self._down:
                raise ProviderUnavailable(
                    "the identity provider cannot be reached to check your sign-in; try again "
                    "shortly"
                )
            if (key := self._named(kid)) is None:
                raise TokenRefused(
                    "the token names a key the identity provider does not have; sign in again"
                )
            return key

    def _read(self, now: float) -> None:
        try:
            keys = _usable_keys(self._fetch())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as failed:
            log.warning("identity.jwks_unavailable", url=self.url, error=str(failed)[:200])
            self._down = True
            return
        self._keys, self._read_at, self._down = keys, now, False
        log.info("identity.jwks_read", url=self.url, keys=len(keys))

    def _fetch(self) -> Any:
        with (
            httpx.Client(timeout=self.timeout) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as answer,
        ):
            answer.raise_for_status()
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("the key set is larger than we accept")
        return json.loads(body)


def _usable_keys(jwks: Any) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS that we can use: an RSA or P-256 EC key with a ``kid``,
    whose ``alg`` (when given) is the one algorithm of its type."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("the identity provider's answer is not a JWKS")
    keys = {}
    for jwk in jwks["keys"][:MAX_KEYS]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        algorithm = KEY_ALGORITHM.get(jwk.get("kty"))
        if algorithm is None or jwk.get("alg", algorithm) != algorithm:
            continue
        if jwk.get("use", "sig") != "sig" or (jwk.get("kty") == "EC" and jwk.get("crv") != "P-256"):
            continue
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm)
        except jwt.PyJWTError:
            continue
    if not keys:
        raise ValueError("the identity provider's key set holds no RSA or P-256 signing key")
    return keys
