"""Configuration of every jiuzhu process, from environment variables (prefix ``JIUZHU_``).

The defaults run the embedded stack of ``make run`` on one machine; production points each
address at the real service (see README, "Configuration").
"""

import hashlib
import hmac
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import Policy
from domain.sealing import KeyRing
from domain.supervision import Thresholds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JIUZHU_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "jiuzhu-cases"

    # Application database (SQLite for the embedded stack, PostgreSQL in production)
    database_url: str = "sqlite:///var/jiuzhu.db"

    # External systems (the simulators in the embedded stack)
    payment_url: str = "http://127.0.0.1:8100/payment"
    sms_url: str = "http://127.0.0.1:8100/sms"
    verification_url: str = "http://127.0.0.1:8100/verification"
    external_timeout_seconds: float = 10.0

    # Identity: tokens signed with the embedded secret (HS256), and, when a JWKS URL is set,
    # tokens of the district's identity provider (RS256/ES256)
    jwt_secret: str = "jiuzhu-embedded-stack-secret-change-in-production"
    jwks_url: str | None = None
    """The identity provider's key set; unset: only the embedded secret signs tokens."""
    token_issuer: str | None = None
    """When set, a token's ``iss`` must be exactly this."""
    token_audience: str | None = None
    """When set, a token's ``aud`` must name this."""
    jwks_cache_seconds: int = 300
    """How long the key set is kept; a token with an unknown ``kid`` fetches it again sooner."""
    token_max_lifetime_hours: float = Field(default=12, gt=0)
    """A token whose ``exp`` is further from now (30 s of clock difference aside) is refused:
    a stolen token is of use for this long at most."""

    # The web console (/console/): its session is a signed cookie
    console_session_secret: str | None = None
    """Signs the console's session cookie; unset, one derived from ``jwt_secret`` (the
    embedded stack's). Set your own in production."""
    console_session_hours: float = Field(default=12, gt=0)
    """A console session ends this long after sign-in."""

    # The console's sign-in through the district's identity provider (OpenID Connect,
    # authorization code with PKCE); unset, the embedded stack's demo sign-in
    oidc_discovery_url: str | None = None
    """The provider's ``/.well-known/openid-configuration``; set, the console signs in there."""
    oidc_client_id: str = "jiuzhu-console"
    oidc_client_secret: str | None = None
    """The console's secret at the provider (a confidential client); unset, a public client
    (PKCE alone)."""
    oidc_redirect_url: str | None = None
    """Where the provider sends the browser back (registered with it): the console's
    ``/console/signed-in`` at its public address; unset, that path at the address the
    browser used."""
    oidc_scopes: str = "openid profile"

    # Encryption of personal data: Temporal payloads and bank accounts in the case records.
    # AES-256-GCM keys by id (base64 of 32 bytes); the current one encrypts, every one decrypts,
    # so a new key is added beside the old ones and made current (rotation).
    encryption_keys: dict[str, str] = {"embedded-1": "WTlNtrRCFDgo2M8AP35LBpSInz/sa2G5dtlttGHhM3s="}
    """The embedded stack's key is public: set your own in production."""
    encryption_key_id: str = "embedded-1"
    codec_cors_origins: list[str] = ["http://localhost:8233", "http://127.0.0.1:8233"]
    """The Temporal Web UI addresses that may call the codec endpoint (/codec) from a browser."""

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_kib: int = 64
    """A request body above this is refused (413) before it is parsed."""
    action_timeout_seconds: float = 30.0
    """How long a caseworker action waits for its case before answering 503 (retry is safe)."""

    # Worker
    worker_runs: Literal["all", "workflows", "activities"] = "all"
    """What this worker process runs: both (the embedded stack), or only the workflows (CPU,
    the sticky cache) or only the activities (database and external calls), to scale apart."""
    worker_shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long running activities have to finish before they are handed back to
    the server (then retried by another worker, with the same idempotency keys)."""
    halted_watch_seconds: float = 60.0
    """How often the worker's watch runs: cases whose workflow the engine stopped (halted),
    whose workflow task keeps failing or that have no workflow; sealing the audit trail;
    re-hashing the claim tables' ID numbers after a key rotation."""
    reconcile_after_seconds: float = 120.0
    """How long after its workflow stopped a halted case's payments are reconciled with the
    bank: longer than a payment attempt already under way could still take to reach it."""

    # The monthly payroll (按月社会化发放)
    payroll_day: int = Field(default=10, ge=1, le=28)
    """The day of the month the payroll runs by itself (Asia/Shanghai)."""
    payroll_hour: int = Field(default=9, ge=0, le=23)
    review_round_hour: int = Field(default=7, ge=0, le=23)
    """Each day at this hour the periodic reviews falling due open (定期核查)."""
    payroll_batch_size: int = Field(default=5_000, ge=1, le=20_000)
    """Households per batch (代发文件) sent to the bank."""
    payroll_townships_at_once: int = Field(default=4, ge=0, le=10_000)
    """Townships whose payroll shares run at once (0: all of them)."""
    standard_page_size: int = Field(default=500, ge=1, le=5_000)
    """Households given a new 低保 standard per transaction (and per SMS batch)."""

    supervision: Thresholds = Field(default_factory=Thresholds)
    """When a case counts as not moving (督办): JIUZHU_SUPERVISION__DUE_SOON_WORKING_DAYS, …"""

    # Operations (see README, "Operations")
    tracing_endpoint: str | None = None
    """Where traces go: an OTLP/HTTP endpoint (``http://collector:4318/v1/traces``) or
    ``console``; unset, tracing is off."""
    worker_metrics_address: str | None = None
    """host:port where the worker serves the Temporal SDK's metrics for Prometheus; unset, off."""
    readiness_timeout_seconds: float = 2.0
    """How long /readyz waits for the database and for Temporal before calling them down."""

    # Logs: "console" (readable) or "json"
    log_format: str = "console"
    log_level: str = "INFO"

    # Policy parameters (社会救助政策参数); defaults from the district's policy
    policy: Policy = Field(default_factory=Policy)

    @model_validator(mode="after")
    def _keys_usable(self) -> "Settings":
        self.key_ring()  # a bad key stops the process at start, not at its first case
        return self

    def console_secret(self) -> str:
        """What signs the console's session cookie."""
        if self.console_session_secret:
            return self.console_session_secret
        digest = hmac.new(self.jwt_secret.encode(), b"jiuzhu console session", hashlib.sha256)
        return digest.hexdigest()

    def identity_provider(self) -> bool:
        """Whether the district's identity provider is configured (for the API's tokens or
        the console's sign-in): the embedded stack's shortcuts are then off."""
        return bool(self.jwks_url or self.oidc_discovery_url)

    def key_ring(self) -> KeyRing:
        """The encryption keys; ``KeyConfigError`` says what is wrong with them."""
        return KeyRing(self.encryption_keys, current=self.encryption_key_id)


@lru_cache
def get_settings() -> Settings:
    return Settings()
