"""Signing in to the console through the district's identity provider (统一身份认证):
OpenID Connect's authorization code flow with PKCE, by authlib's OAuth 2 client.

The browser is sent to the provider with a fresh ``state``, ``nonce`` and PKCE challenge,
which a short-lived signed cookie of ours (HttpOnly, SameSite=Lax) remembers; coming back, the
``state`` must be that cookie's (else the sign-in was not started here: refused), the code is
exchanged for tokens with the PKCE verifier, and the ID token is checked by the very verifier
of the API's bearer tokens (``api.identity.TokenVerifier``: the provider's keys, its issuer,
our client id as audience, its times) and must carry our ``nonce``. The user's role and
jurisdiction are the ID token's claims, read as the API reads a token's (``actor_of``)."""

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import anyio
import authlib.deprecate  # noqa: F401  (first: it sets its warnings to "always")
import httpx
import jwt
import structlog
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.console.session import PATH
from api.identity import (
    ProviderKeys,
    ProviderUnavailable,
    TokenRefused,
    TokenVerifier,
    UnusableClaims,
)
from domain.cases import Actor
from settings import Settings

with warnings.catch_warnings():
    # authlib announces that its client will move from httpx to a fork of it; httpx is what
    # the rest of the project speaks, and the client works on it.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

log = structlog.get_logger()

PENDING = "jiuzhu_console_sign_in"
"""The cookie that remembers a sign-in under way (its state, nonce and PKCE verifier)."""
PENDING_SECONDS = 600
"""How long the browser may stay at the provider before the sign-in must start again."""
CALLBACK = "/console/signed-in"
MAX_METADATA_BYTES = 64 * 1024

STALE = "登录请求已失效或不是从本系统发起的，请重新登录。"
UNAVAILABLE = "统一身份认证暂时无法访问，请稍后重新登录。"


class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in: a page with the message, and a way back."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks: str


class Provider:
    """The console's client at the provider; made once (``of``) and kept on ``app.state``."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_discovery_url
        self.settings = settings
        self.discovery_url = settings.oidc_discovery_url
        self._endpoints: Endpoints | None = None
        self._verifier: TokenVerifier | None = None
        self._lock = anyio.Lock()

    @staticmethod
    def of(request: Request) -> "Provider | None":
        settings: Settings = request.app.state.settings
        if not settings.oidc_discovery_url:
            return None
        if getattr(request.app.state, "console_provider", None) is None:
            request.app.state.console_provider = Provider(settings)
        return request.app.state.console_provider

    async def begin(self, request: Request, *, next_path: str) -> Response:
        """Send the browser to the provider, remembering what its return must show."""
        endpoints = await self._discovered()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        verifier += secrets.token_urlsafe(32)  # RFC 7636: 43 to 128 characters
        async with self._client(request) as client:
            url, _ = client.create_authorization_url(
                endpoints.authorization, state=state, code_verifier=verifier, nonce=nonce
            )
        response = RedirectResponse(url, status_code=303)
        pending = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_path}
        response.set_cookie(
            PENDING,
            self._signer().dumps(pending),
            max_age=PENDING_SECONDS,
            path=PATH,
            httponly=True,
            samesite="lax",  # sent on the provider's redirect back, a top-level GET
            secure=request.url.scheme == "https",
        )
        return response

    async def finish(self, request: Request) -> tuple[Actor, str]:
        """The user the provider's answer names, and the console page to go back to; raises
        ``SignInFailed``."""
        pending = self._pending(request)
        sent = request.query_params.get("state", "")
        if pending is None or not sent or not secrets.compare_digest(sent, pending["state"]):
            log.warning("console.sign_in_state_refused", pending=pending is not None)
            raise SignInFailed(403, STALE)
        if error := request.query_params.get("error"):
            log.info("console.sign_in_denied", error=error[:100])
            raise SignInFailed(403, "统一身份认证未完成登录，请重新登录。")
        code = request.query_params.get("code", "")
        if not code or len(code) > 2000:
            raise SignInFailed(403, STALE)
        endpoints = await self._discovered()
        try:
            async with self._client(request) as client:
                token = await client.fetch_token(
                    endpoints.token,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending["verifier"],
                )
        except OAuthError as refused:
            log.warning("console.sign_in_code_refused", error=str(refused)[:200])
            raise SignInFailed(403, STALE) from None
        except (httpx.HTTPError, ValueError) as failed:
            log.warning("console.provider_unreachable", error=str(failed)[:200])
            raise SignInFailed(503, UNAVAILABLE) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed(403, "统一身份认证没有返回身份令牌，请联系管理员。")
        try:
            user = await self._id_verifier(endpoints).verify(id_token)
        except ProviderUnavailable:
            raise SignInFailed(503, UNAVAILABLE) from None
        except TokenRefused as refused:
            log.warning("console.id_token_refused", reason=str(refused))
            raise SignInFailed(403, STALE) from None
        except UnusableClaims as unusable:
            log.warning("console.id_token_unusable", reason=str(unusable))
            raise SignInFailed(
                403,
                "您在统一身份认证中的角色或辖区不是本系统可用的（" + str(unusable) + "），"
                "请联系管理员更正账号。",
            ) from None
        claims = jwt.decode(id_token, options={"verify_signature": False})
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not secrets.compare_digest(nonce, pending["nonce"]):
            log.warning("console.id_token_nonce_refused")
            raise SignInFailed(403, STALE)
        log.info("console.signed_in", user=user.user_id, role=user.role.value)
        return user, pending["next"]

    def forget(self, response: Response) -> None:
        """The sign-in under way is used up."""
        response.delete_cookie(PENDING, path=PATH, httponly=True, samesite="lax")

    def _client(self, request: Request) -> AsyncOAuth2Client:
        settings = self.settings
        return AsyncOAuth2Client(
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scope=settings.oidc_scopes,
            redirect_uri=settings.oidc_redirect_url or f"{request.base_url}{CALLBACK[1:]}",
            code_challenge_method="S256",
            timeout=settings.external_timeout_seconds,
        )

    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.settings.console_secret(), salt="jiuzhu-console-oidc")

    def _pending(self, request: Request) -> dict[str, str] | None:
        cookie = request.cookies.get(PENDING)
        if not cookie:
            return None
        try:
            data = self._signer().loads(cookie, max_age=PENDING_SECONDS)
        except BadSignature:
            return None
        keys = ("state", "nonce", "verifier", "next")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in keys):
            return None
        return data

    def _id_verifier(self, endpoints: Endpoints) -> TokenVerifier:
        if self._verifier is None:
            self._verifier = TokenVerifier(
                secret=None,  # an ID token is the provider's, never signed with our secret
                provider=ProviderKeys(
                    endpoints.jwks,
                    cache_seconds=self.settings.jwks_cache_seconds,
                    timeout=self.settings.external_timeout_seconds,
                ),
                issuer=endpoints.issuer,
                audience=self.settings.oidc_client_id,
                max_lifetime_hours=self.settings.token_max_lifetime_hours,
            )
        return self._verifier

    async def _discovered(self) -> Endpoints:
        """The provider's endpoints, read once from its discovery document."""
        async with self._lock:
            if self._endpoints is None:
                try:
                    self._endpoints = _endpoints(await self._fetch(), self.discovery_url)
                except (httpx.HTTPError, httpx.InvalidURL, ValueError) as failed:
                    log.warning(
                        "console.provider_unreachable",
                        url=self.discovery_url,
                        error=str(failed)[:200],
                    )
                    raise SignInFailed(503, UNAVAILABLE) from None
            return self._endpoints

    async def _fetch(self) -> Any:
        timeout = self.settings.external_timeout_seconds
        async with httpx.AsyncClient(timeout=timeout) as client:
            answer = await client.get(self.discovery_url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            if len(answer.content) > MAX_METADATA_BYTES:
                raise ValueError("the discovery document is larger than we accept")
            return answer.json()


def _endpoints(metadata: Any, discovery_url: str) -> Endpoints:
    """The endpoints a discovery document names; its issuer must be the one whose document
    it is (OpenID Connect Discovery §4.3), else another provider's tokens could pass."""
    if not isinstance(metadata, dict):
        raise ValueError("the discovery document is not a JSON object")
    names = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not all(isinstance(metadata.get(n), str) for n in names):
        raise ValueError("the discovery document lacks an endpoint")
    issuer = metadata["issuer"]
    if discovery_url.rstrip("/") != issuer.rstrip("/") + "/.well-known/openid-configuration":
        raise ValueError("the discovery document's issuer is not the provider's address")
    return Endpoints(
        issuer=issuer,
        authorization=metadata["authorization_endpoint"],
        token=metadata["token_endpoint"],
        jwks=metadata["jwks_uri"],
    )
