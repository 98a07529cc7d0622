"""Security settings of sites (tenants): keys, session tokens, rate limits, quotas and PII redaction.

Nested into the app settings as `security`; env: ASSISTANT_SECURITY__<FIELD>, e.g.
ASSISTANT_SECURITY__REQUIRE_KEYS=true, ASSISTANT_SECURITY__ADMIN_KEY=..., ASSISTANT_SECURITY__IP_RATE="60/minute".
Rates use the `limits` notation ("30/minute", "5/second;100/hour"); an empty rate disables that limit.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

DEFAULT_QUOTA_MESSAGE = (
    "This support chat has reached its message limit for today. Please try again tomorrow, "
    "or contact us by e-mail."
)


class SecurityConfig(BaseModel):
    require_keys: bool = Field(
        False,
        description="Refuse API calls without a key or widget session. False (local `make run`) lets keyless "
        "calls act as the 'default' site with full access and logs a warning at start; set true in deployment.",
    )
    admin_key: SecretStr = Field(
        SecretStr(""), description="Key for /v1/admin/* (header X-Admin-Key or Bearer). Empty = admin API off."
    )
    token_secret: SecretStr = Field(
        SecretStr(""),
        description="Signs widget session tokens. Empty = random per process (tokens die with a restart and "
        "are not shared between replicas).",
    )
    token_ttl_seconds: int = Field(900, ge=30, le=86_400, description="Lifetime of a widget session token.")
    default_site_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to embed the widget for the 'default' site (besides the server's own).",
    )
    rate_limit_storage: str = Field(
        "memory://", description="`limits` storage URI: memory:// per process, redis://host:6379 across replicas."
    )
    ip_rate: str = Field("300/minute", description="Requests per client IP address.")
    key_rate: str = Field("600/minute", description="Requests per secret API key (default; a site may override).")
    session_rate: str = Field("30/minute", description="Requests per widget session (default; a site may override).")
    daily_quota: int = Field(0, ge=0, description="Chat messages per site per UTC day (default); 0 = unlimited.")
    quota_message: str = Field(DEFAULT_QUOTA_MESSAGE, description="Shown when a site's daily quota is spent.")
    redact_pii: bool = Field(True, description="Redact PII from messages before they are stored or analysed.")
    redact_kinds: list[str] = Field(
        default_factory=lambda: ["email", "card", "iban", "phone", "ip"],
        description="Built-in PII detectors to apply: email, card, iban, phone, ip.",
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Extra detectors, LABEL -> regular expression; matches become [LABEL].",
    )
