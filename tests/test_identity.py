"""Sign-in: tokens of the district's identity provider (RS256, ES256) checked against a JWKS
that the test itself serves over HTTP, beside the embedded stack's own HS256 tokens, through
the real API. Every bad token is a 401; an unreachable provider is a 503."""

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.identity import MAX_FETCHES_PER_MINUTE
from api.main import create_app
from api.tokens import issue_token
from domain.cases import LEVEL_OF_ROLE, Actor, Role
from settings import Settings
from tests.helpers.actors import ASSISTANT, assistant_of
from tests.helpers.api import application, emergency, key
from tests.helpers.servers import free_port, serve

ISSUER = "https://sso.linzi.example/realms/civil-affairs"
AUDIENCE = "jiuzhu"
SECRET = "this-test's-own-secret-not-the-embedded-one"
TOWNSHIP = "370305001"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEW_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key, kid: str) -> dict:
    """The public half of a key as the provider publishes it."""
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True) | {"kid": kid, "use": "sig"}
    return jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True) | {"kid": kid, "use": "sig"}


class IdentityProvider:
    """The district's identity provider, as far as we use it: its key set over HTTP."""

    def __init__(self) -> None:
        self.keys = [jwk(RSA_KEY, "rsa-1"), jwk(EC_KEY, "ec-1")]
        self.fetches = 0

    async def jwks(self, _request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse({"keys": self.keys})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/jwks", self.jwks)])


def claims(**overrides) -> dict:
    now = datetime.now(UTC)
    return {
        "sub": "u-officer-sso",
        "name": "赵科长",
        "role": "district_officer",
        "jurisdiction": "370305",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
    } | overrides


def signed(private_key, kid: str, algorithm: str, **overrides) -> str:
    return jwt.encode(claims(**overrides), private_key, algorithm=algorithm, headers={"kid": kid})


def by_hand(header: dict, payload: dict, sign=lambda _signing_input: b"") -> str:
    """A token put together without a library, as an attacker would."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in payload.items()}
    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(payload).encode())}"
    return f"{signing_input}.{part(sign(signing_input.encode()))}"


@dataclass
class Api:
    url: str
    provider: IdentityProvider

    async def get(self, path: str, token: str | None, **options) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            return await http.get(path, headers=headers, **options)


@contextmanager
def api_with_provider(settings: Settings, dev_env, **changes) -> Iterator[Api]:
    provider = IdentityProvider()
    with serve(provider.app()) as provider_url:
        configured = settings.model_copy(
            update={
                "temporal_address": dev_env.client.service_client.config.target_host,
                "jwt_secret": SECRET,
                "jwks_url": f"{provider_url}/jwks",
                "token_issuer": ISSUER,
                "token_audience": AUDIENCE,
                "external_timeout_seconds": 2.0,
            }
            | changes
        )
        with serve(create_app(configured)) as url:
            yield Api(url, provider)


@pytest.fixture
def api(settings, dev_env) -> Iterator[Api]:
    with api_with_provider(settings, dev_env) as running:
        yield running


async def test_the_providers_rs256_and_es256_tokens_and_our_own_hs256_are_accepted(api):
    for token in (
        signed(RSA_KEY, "rsa-1", "RS256"),
        signed(EC_KEY, "ec-1", "ES256", sub="u-assistant-sso", role="township_assistant",
               jurisdiction=TOWNSHIP),
        issue_token(secret=SECRET, sub="u-admin", name="管理员", role=Role.admin,
                    jurisdiction="370305", issuer=ISSUER, audience=AUDIENCE),
    ):  # fmt: skip
        answer = await api.get("/notifications", token)
        assert answer.status_code == 200, answer.text
    assert api.provider.fetches == 1  # both keys came in one read of the key set
    # An authentic token of a role this system does not know: signing in again would not help.
    mayor = await api.get("/notifications", signed(RSA_KEY, "rsa-1", "RS256", role="mayor"))
    assert mayor.status_code == 403 and "role" in mayor.json()["detail"]


async def test_a_rotated_key_is_read_once_when_a_token_first_names_it(api):
    assert (await api.get("/policy", signed(RSA_KEY, "rsa-1", "RS256"))).status_code == 200
    api.provider.keys = [jwk(NEW_RSA_KEY, "rsa-2"), *api.provider.keys]
    for _ in range(3):
        answer = await api.get("/policy", signed(NEW_RSA_KEY, "rsa-2", "RS256"))
        assert answer.status_code == 200, answer.text
    assert api.provider.fetches == 2


def public_pem() -> bytes:
    return RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


BAD_TOKENS = {
    "expired an hour ago": lambda: signed(
        RSA_KEY, "rsa-1", "RS256", exp=datetime.now(UTC) - timedelta(hours=1)
    ),
    "another issuer": lambda: signed(RSA_KEY, "rsa-1", "RS256", iss="https://evil.example"),
    "another audience": lambda: signed(RSA_KEY, "rsa-1", "RS256", aud="payroll"),
    "no audience": lambda: jwt.encode(
        {k: v for k, v in claims().items() if k != "aud"},
        RSA_KEY,
        "RS256",
        headers={"kid": "rsa-1"},
    ),
    "no expiry": lambda: jwt.encode(
        {k: v for k, v in claims().items() if k != "exp"},
        RSA_KEY,
        "RS256",
        headers={"kid": "rsa-1"},
    ),
    "alg none": lambda: by_hand({"alg": "none", "typ": "JWT"}, claims()),
    "alg None, kid of a provider key": lambda: by_hand({"alg": "None", "kid": "rsa-1"}, claims()),
    "HS256 signed with the provider's public key": lambda: by_hand(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
        claims(),
        lambda data: hmac.new(public_pem(), data, hashlib.sha256).digest(),
    ),
    "HS256 with a guessed secret": lambda: jwt.encode(claims(), "change-me" * 4, "HS256"),
    "HS512 with our own secret": lambda: by_hand(
        {"alg": "HS512", "typ": "JWT"},
        claims(),
        lambda data: hmac.new(SECRET.encode(), data, hashlib.sha512).digest(),
    ),
    "RS384": lambda: signed(RSA_KEY, "rsa-1", "RS384"),
    "an RSA signature on the EC key's kid": lambda: signed(RSA_KEY, "ec-1", "RS256"),
    "a forged signature on a provider kid": lambda: signed(STRANGER_KEY, "rsa-1", "RS256"),
    "an unknown kid": lambda: signed(STRANGER_KEY, "nobody", "RS256"),
    "no kid": lambda: jwt.encode(claims(), RSA_KEY, "RS256"),
    "garbage": lambda: "not-a-token",
    "three dots of garbage": lambda: "eyJhbGciOi.JIUzI1NiJ9.x",
    "oversized": lambda: signed(RSA_KEY, "rsa-1", "RS256", name="x" * 7000),
}


@pytest.mark.parametrize("what", BAD_TOKENS)
async def test_a_bad_token_is_401(api, what):
    answer = await api.get("/applications", BAD_TOKENS[what]())
    assert answer.status_code == 401, (what, answer.text)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    detail = answer.json()["detail"]
    assert "sign in" in detail and "eyJ" not in detail
    if what == "expired an hour ago":
        assert "expired" in detail
    if what in ("another issuer", "another audience"):
        assert "not issued for this system" in detail


async def test_no_token_or_another_scheme_is_401(api):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        async with httpx.AsyncClient(base_url=api.url) as http:
            answer = await http.get("/applications", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_tokens_naming_made_up_keys_do_not_make_us_hammer_the_provider(api):
    for _ in range(3 * MAX_FETCHES_PER_MINUTE):
        token = signed(STRANGER_KEY, f"kid-{uuid.uuid4()}", "RS256")
        assert (await api.get("/policy", token)).status_code == 401
    assert api.provider.fetches == MAX_FETCHES_PER_MINUTE
    # Known keys still work, from the cache.
    assert (await api.get("/policy", signed(EC_KEY, "ec-1", "ES256"))).status_code == 200
    assert api.provider.fetches == MAX_FETCHES_PER_MINUTE


async def test_an_unreachable_provider_is_503_and_our_own_tokens_still_work(settings, dev_env):
    nobody_listens = f"http://127.0.0.1:{free_port()}/jwks"
    with api_with_provider(settings, dev_env, jwks_url=nobody_listens) as api:
        for path in ("/applications", "/policy"):
            answer = await api.get(path, signed(RSA_KEY, "rsa-1", "RS256"))
            assert answer.status_code == 503, answer.text
            assert "identity provider cannot be reached" in answer.json()["detail"]
        # The middleware asks the same verifier: a POST with a key is a 503 too, never a 500.
        async with httpx.AsyncClient(base_url=api.url) as http:
            posted = await http.post(
                f"/townships/{TOWNSHIP}/reserve/top-ups",
                json={"amount": "1.00", "note": "x"},
                headers={
                    "Authorization": f"Bearer {signed(RSA_KEY, 'rsa-1', 'RS256')}",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
            )
        assert posted.status_code == 503, posted.text
        own = issue_token(secret=SECRET, sub="u-admin", name="管理员", role=Role.admin,
                          jurisdiction="370305", issuer=ISSUER, audience=AUDIENCE)  # fmt: skip
        assert (await api.get("/policy", own)).status_code == 200


async def test_the_embedded_secret_is_refused_beside_an_identity_provider(settings, dev_env):
    embedded = Settings.model_fields["jwt_secret"].default
    with api_with_provider(settings, dev_env, jwt_secret=embedded) as api:
        forged = issue_token(secret=embedded, sub="u-x", name="x", role=Role.admin,
                             jurisdiction="370305", issuer=ISSUER, audience=AUDIENCE)  # fmt: skip
        answer = await api.get("/policy", forged)
        assert answer.status_code == 401 and "JIUZHU_JWT_SECRET" in answer.json()["detail"]
        assert (await api.get("/policy", signed(RSA_KEY, "rsa-1", "RS256"))).status_code == 200


async def test_a_retried_top_up_with_a_provider_token_moves_money_once(api):
    """The idempotency middleware knows the user by the same verifier as the routes: the
    retry is recognised as the same user's and answered from the first."""
    officer = {"Authorization": f"Bearer {signed(RSA_KEY, 'rsa-1', 'RS256')}"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    top_up = {"amount": "123.45", "note": "区财政补足储备金"}
    async with httpx.AsyncClient(base_url=api.url, headers=officer, timeout=30) as http:
        before = Decimal((await http.get(f"/townships/{TOWNSHIP}/reserve")).json()["balance"])
        path = f"/townships/{TOWNSHIP}/reserve/top-ups"
        first = await http.post(path, json=top_up, headers=key)
        again = await http.post(path, json=top_up, headers=key)
        other = await http.post(path, json=top_up | {"amount": "1.00"}, headers=key)
        after = Decimal((await http.get(f"/townships/{TOWNSHIP}/reserve")).json()["balance"])
        ledger = (await http.get(f"/townships/{TOWNSHIP}/reserve/ledger")).json()["items"]
    assert first.status_code == 200, first.text
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422  # in the shape of every 422: the header is named
    [problem] = other.json()["detail"]
    assert problem["loc"] == ["header", "Idempotency-Key"]
    assert "different request" in problem["msg"]
    assert after - before == Decimal("123.45")
    top_ups = [e for e in ledger if e["kind"] == "top_up" and e["by_user"] == "u-officer-sso"]
    assert [e["amount"] for e in top_ups] == ["123.45"]


# ---- a bounded lifetime ----------------------------------------------------------------------


def timestamp(**delta: float) -> int:
    return int((datetime.now(UTC) + timedelta(**delta)).timestamp())


REFUSED_TIMES = {
    "exp 10**20": ({"exp": 10**20}, "longer than 12 hours"),
    "exp 10**400": ({"exp": 10**400}, "longer than 12 hours"),
    "exp 13 hours away": ({"exp": timestamp(hours=13)}, "longer than 12 hours"),
    "exp a string": ({"exp": str(timestamp(hours=1))}, "'exp' is not a time"),
    "exp true": ({"exp": True}, "'exp' is not a time"),
    "iat a string": ({"iat": str(timestamp())}, "'iat' is not a time"),
    "nbf true": ({"nbf": True}, "'nbf' is not a time"),
}


@pytest.mark.parametrize("what", REFUSED_TIMES)
async def test_a_token_whose_lifetime_is_unbounded_or_not_a_number_is_401(api, what):
    changes, says = REFUSED_TIMES[what]
    ours = by_hand(
        {"alg": "HS256", "typ": "JWT"},
        claims(role="admin") | changes,
        lambda data: hmac.new(SECRET.encode(), data, hashlib.sha256).digest(),
    )
    providers = by_hand(
        {"alg": "RS256", "typ": "JWT", "kid": "rsa-1"},
        claims() | changes,
        lambda data: RSA_KEY.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )
    for token in (ours, providers):
        answer = await api.get("/policy", token)
        assert answer.status_code == 401, (what, answer.text)
        assert says in answer.json()["detail"] and "sign in again" in answer.json()["detail"]


async def test_a_token_of_the_longest_lifetime_is_accepted(api):
    for exp in (timestamp(hours=12), timestamp(hours=12) + 0.5):  # NumericDate may be a fraction
        answer = await api.get("/policy", signed(RSA_KEY, "rsa-1", "RS256", exp=exp))
        assert answer.status_code == 200, answer.text


# ---- each role at its level ------------------------------------------------------------------

CODES = {"district": "370305", "township": TOWNSHIP, "village": f"{TOWNSHIP}001"}
NAMED = {"district": "the district", "township": "a township", "village": "a village"}


@pytest.mark.parametrize("role", list(Role))
async def test_a_role_at_another_level_than_its_own_is_403_saying_so(api, role):
    own = LEVEL_OF_ROLE[role]
    # A department liaison (部门转介) reads reference data, not the staff's notifications.
    liaison = role == Role.department_liaison
    extra = {"department": "medical_insurance"} if liaison else {}
    for level, code in CODES.items():
        token = signed(RSA_KEY, "rsa-1", "RS256", role=role.value, jurisdiction=code, **extra)
        answer = await api.get("/policy" if liaison else "/notifications", token)
        if level == own:
            assert answer.status_code == 200, (role, level, answer.text)
            continue
        assert answer.status_code == 403, (role, level, answer.text)
        assert answer.json()["detail"].startswith(
            f"role '{role.value}' works for {NAMED[own]}; this token names {NAMED[level]}"
        )


async def test_a_district_officer_named_for_a_village_neither_reads_nor_approves_its_case(stack):
    """Reproduced: such a token read the village's case and approved ¥20,000 as 一事一议."""
    township, village = "370305104", "370305104201"
    officer_of_a_village = Actor(
        user_id="u-officer-v", name="赵科长", role=Role.district_officer, jurisdiction=village
    )
    async with (
        stack.client(assistant_of(township)) as assistant,
        stack.client(officer_of_a_village) as officer,
    ):
        created = await assistant.post(
            "/emergencies", json=emergency(township, village, amount="20000.00"), headers=key()
        )
        assert created.status_code == 201, created.text
        case_no = created.json()["case_no"]
        approved = await officer.post(
            f"/emergencies/{case_no}/exception-approval",
            json={"amount": "20000.00", "reason": "房屋全部烧毁，一事一议"},
            headers=key(),
        )
        assert approved.status_code == 403, approved.text
        assert "works for the district; this token names a village" in approved.json()["detail"]
        read = await officer.get(f"/emergencies/{case_no}")
        assert read.status_code == 403, read.text
        case = (await assistant.get(f"/emergencies/{case_no}")).json()
        assert case["stage"] == "awaiting_approval" and case["payments"] == []


async def test_a_township_assistant_named_for_the_district_takes_no_intake(stack):
    """Reproduced: such a token took an intake in a township."""
    assistant_of_the_district = Actor(
        user_id="u-assistant-d", name="王助理", role=Role.township_assistant, jurisdiction="370305"
    )
    body = application()
    async with stack.client(assistant_of_the_district) as http:
        taken = await http.post("/applications", json=body, headers=key())
        assert taken.status_code == 403, taken.text
        assert "works for a township; this token names the district" in taken.json()["detail"]
    async with stack.client(ASSISTANT) as assistant:  # nothing was taken: the family applies
        assert (await assistant.post("/applications", json=body, headers=key())).status_code == 201
