"""JWT verification and the authenticated principal.

HS256 with a shared secret in development; RS256/ES256 from a JWKS URL in
production. The accepted algorithms are an allowlist, so `alg: none` or an
HS256 token forged with a public key never verifies. The tenant (`org_id`)
always comes from the token, never from a path or a body.
"""

from __future__ import annotations

import asyncio
import enum
import time
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from attache_core.errors import NotFound, Unauthenticated
from attache_core.settings import CommonSettings

_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}
_SYMMETRIC = {"HS256", "HS384", "HS512"}
# Verified tokens remembered per process (a few MB at most).
_VERIFIED_CACHE_SIZE = 10_000


class Role(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    CUSTOMER = "customer"


class Tier(enum.StrEnum):
    FREE = "free"
    PRO = "pro"


# Prebuilt: a set literal would hash its members (Enum.__hash__ is Python) on every check.
_STAFF_ROLES = frozenset({Role.ADMIN, Role.AGENT})


class Principal(BaseModel):
    """Who is calling, as the token says."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1, max_length=200)
    org_id: str = Field(min_length=1, max_length=200)
    roles: frozenset[Role] = frozenset()
    customer_id: str | None = Field(default=None, max_length=200)
    tier: Tier = Tier.FREE
    # The OIDC `email` claim, when the identity provider sends one (profiles show it).
    email: str | None = Field(default=None, max_length=320)

    @property
    def is_staff(self) -> bool:
        return not self.roles.isdisjoint(_STAFF_ROLES)

    def require_staff(self) -> None:
        # Customers can't see staff endpoints exist: 404 like any foreign object.
        if not self.is_staff:
            raise NotFound("Not found")

    def require_customer_access(self, customer_id: str) -> None:
        """Staff act for any customer of their organisation; a customer only for itself."""
        if self.is_staff:
            return
        if Role.CUSTOMER in self.roles and self.customer_id == customer_id:
            return
        raise NotFound("Customer not found")


class TokenVerifier:
    """Verifies bearer tokens against the configured keys and claims."""

    def __init__(self, settings: CommonSettings) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        unknown = set(self._algorithms) - _ASYMMETRIC - _SYMMETRIC
        if unknown or not self._algorithms:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown) or 'none'}")
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._secret = settings.jwt_secret.get_secret_value()
        # token → (principal, expires at as a unix time, leeway included)
        self._verified: dict[str, tuple[Principal, float]] = {}
        # PyJWKClient caches the key set and refetches on an unknown `kid`.
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
            if settings.jwks_url
            else None
        )

    def _key_for(self, token: str, alg: str) -> Any:
        if alg in _SYMMETRIC:
            return self._secret
        if self._jwks is None:
            raise Unauthenticated("Authentication required")
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated("Authentication required") from exc

    def _algorithm(self, token: str) -> str:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Authentication required") from exc
        if alg not in self._algorithms:
            raise Unauthenticated("Authentication required")
        return alg

    def verify(self, token: str, key: Any = None) -> Principal:
        """Blocking when a JWKS key must be fetched: use `authenticate` on the event loop."""
        alg = self._algorithm(token)
        return self._decode(token, alg, key if key is not None else self._key_for(token, alg))

    def _decode(self, token: str, alg: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("Authentication required") from exc
        try:
            principal = Principal.model_validate(claims)
        except ValidationError as exc:
            raise Unauthenticated("Authentication required") from exc
        self._remember(token, principal, claims["exp"])
        return principal

    def _remember(self, token: str, principal: Principal, exp: int | float) -> None:
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            # Dicts keep insertion order: drop the oldest entry.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, float(exp) + self._leeway)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer …` header, or Unauthenticated."""
        if not authorization:
            raise Unauthenticated("Authentication required")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authentication required")
        # A token verified before is the same claims until it expires: skip the crypto.
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            del self._verified[token]
        alg = self._algorithm(token)
        if alg in _SYMMETRIC:
            return self._decode(token, alg, self._secret)
        # PyJWKClient fetches keys with blocking I/O (cached afterwards): keep it off the loop.
        key = await asyncio.to_thread(self._key_for, token, alg)
        return self._decode(token, alg, key)


def issue_dev_token(
    settings: CommonSettings,
    *,
    sub: str,
    org_id: str,
    roles: list[str],
    customer_id: str | None = None,
    tier: str = "free",
    ttl_seconds: int = 3600,
) -> str:
    """An HS256 token for development and tests (never used by the services themselves)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "org_id": org_id,
        "roles": roles,
        "tier": tier,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if customer_id is not None:
        claims["customer_id"] = customer_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
