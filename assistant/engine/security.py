"""Security settings of sites (tenants): keys, session tokens, where rate limits are counted, PII redaction.

Nested into the app settings as `security`; env: ASSISTANT_SECURITY__<FIELD>, e.g.
ASSISTANT_SECURITY__REQUIRE_KEYS=true, ASSISTANT_SECURITY__ADMIN_KEY=...
The rate limits and daily quota are constants of assistant/server/ratelimit.py (a site may override its
own in the admin API), the token lifetime one of assistant/server/auth.py, the built-in PII detectors
those of assistant/engine/privacy.py.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


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
    rate_limit_storage: str = Field(
        "memory://", description="`limits` storage URI: memory:// per process, redis://host:6379 across replicas."
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Extra PII detectors, LABEL: regular expression (JSON); matches become [LABEL] before a message "
        "is stored, besides the built-in e-mail, card, IBAN, phone and IP address detectors.",
    )
