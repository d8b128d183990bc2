"""Bearer tokens: minted once, stored as hashes, resolved to an actor with a role and an agency."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from .domain.errors import DomainError, ValidationFailed
from .domain.model import ROLES
from .store.repository import Store, Token

TOKEN_PREFIX = "rw_"


class Unauthenticated(DomainError):
    """No valid bearer token was presented for a write."""


class Forbidden(DomainError):
    """The token is valid but may not do this."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: an anonymous reader or the holder of a token."""

    name: str
    role: str | None = None
    agency: str | None = None
    token_id: int | None = None

    @property
    def is_editor(self) -> bool:
        return self.role in ("editor", "admin")

    def may_write(self, agency: str) -> bool:
        """Admins write everything; an editor only its own agency's projects and closures."""
        return self.role == "admin" or (self.role == "editor" and self.agency == agency)

    def require_editor(self) -> "Actor":
        """Writes need an editor or admin token, whatever the body says."""
        if not self.is_editor:
            raise Unauthenticated("a valid editor or admin bearer token is required")
        return self

    def require_write(self, agency: str) -> None:
        self.require_editor()
        if not self.may_write(agency):
            raise Forbidden(f"token of agency {self.agency!r} may not write data of agency {agency!r}")


ANONYMOUS = Actor(name="anonymous")


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: Store, *, role: str, name: str, agency: str | None, now: datetime) -> tuple[str, Token]:
    """Mint a token; the plain text is returned once and never stored."""
    if role not in ROLES:
        raise ValidationFailed.one("role", f"must be one of {', '.join(ROLES)}")
    if role == "editor" and not agency:
        raise ValidationFailed.one("agency", "an editor token belongs to one agency")
    if not name or len(name) > 200:
        raise ValidationFailed.one("name", "must be 1 to 200 characters")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plain, store.add_token(name=name, role=role, agency=agency, token_hash=hash_token(plain), now=now)


def resolve(store: Store, header: str | None) -> Actor:
    """The actor behind an Authorization header; a bad or revoked token is an error, not anonymous."""
    if not header:
        return ANONYMOUS
    scheme, _, plain = header.partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    # Looking up the hash, never the token, means timing can reveal nothing about valid tokens.
    token = store.token_by_hash(hash_token(plain.strip()))
    if token is None or token.revoked_at:
        raise Unauthenticated("the bearer token is unknown or revoked")
    return Actor(name=token.name, role=token.role, agency=token.agency, token_id=token.id)
