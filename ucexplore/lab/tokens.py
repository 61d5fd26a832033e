"""Token issuers: opaque random tokens per issuer, with expiry, rotating refresh tokens and one-time codes.

Example::

    >>> issuer = Issuer("cucm", ttl=3600)
    >>> grant = issuer.issue("jkam")
    >>> issuer.validate(grant.access_token).subject
    'jkam'
    >>> Issuer("unity", ttl=60).validate(grant.access_token) is None   # tokens are per issuer
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Grant", "Issuer", "AuthCode"]


@dataclass
class Grant:
    """One issued access token (and refresh token, when the issuer gives them)."""

    subject: str
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    client_id: str | None = None
    scope: str | None = None
    revoked: bool = False

    def allows(self, accepted: "set[str] | frozenset[str]") -> bool:
        """True when the grant may be used where any scope of ``accepted`` is needed.

        The lab's one scope rule (Webex REST and the XML API): a grant issued without scopes (tests, personal
        tokens) passes; a grant with scopes needs at least one of ``accepted``.
        """
        return self.scope is None or bool(set(self.scope.split()) & set(accepted))

    @property
    def expires_in(self) -> int:
        """Seconds left, never negative."""
        return max(0, int(round(self.expires_at - time.time())))


@dataclass
class AuthCode:
    """A one-time authorization code (Webex)."""

    subject: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge for ``verifier``."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class Issuer:
    """Issues and validates the tokens of one product (CUCM, Unity, Finesse IdS, Webex)."""

    def __init__(self, name: str, ttl: int, refresh_ttl: int | None = None, prefix: str | None = None) -> None:
        self.name = name
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self.prefix = prefix or ""
        self._lock = threading.Lock()
        self._tokens: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, AuthCode] = {}
        self.refresh_count = 0  #: how many refresh grants were served (tests read it)

    def _new_token(self) -> str:
        return self.prefix + secrets.token_urlsafe(32)

    def issue(self, subject: str, *, with_refresh: bool = False, ttl: int | None = None,
              client_id: str | None = None, scope: str | None = None) -> Grant:
        """Issue a token for ``subject``; ``ttl`` overrides the issuer's lifetime."""
        now = time.time()
        grant = Grant(subject=subject, access_token=self._new_token(), expires_at=now + (ttl or self.ttl),
                      client_id=client_id, scope=scope)
        if with_refresh and self.refresh_ttl:
            grant.refresh_token = self._new_token()
            grant.refresh_expires_at = now + self.refresh_ttl
        with self._lock:
            self._tokens[grant.access_token] = grant
            if grant.refresh_token:
                self._refresh[grant.refresh_token] = grant
        return grant

    def validate(self, access_token: str | None) -> Grant | None:
        """The live grant for ``access_token``, or None (unknown, expired or revoked)."""
        if not access_token:
            return None
        with self._lock:
            grant = self._tokens.get(access_token)
        if grant is None or grant.revoked or grant.expires_at <= time.time():
            return None
        return grant

    def refresh(self, refresh_token: str | None, *, client_id: str | None = None) -> Grant | None:
        """Exchange a refresh token for a new grant; the old refresh token stops working (rotation)."""
        if not refresh_token:
            return None
        with self._lock:
            old = self._refresh.pop(refresh_token, None)
        if old is None or old.revoked or (old.refresh_expires_at or 0) <= time.time():
            return None
        if client_id is not None and old.client_id is not None and client_id != old.client_id:
            return None
        self.refresh_count += 1
        return self.issue(old.subject, with_refresh=True, client_id=old.client_id, scope=old.scope)

    def revoke_user(self, subject: str) -> int:
        """Revoke every token of ``subject``; returns how many were live."""
        n = 0
        with self._lock:
            for grant in self._tokens.values():
                if grant.subject == subject and not grant.revoked:
                    grant.revoked = True
                    n += 1
        return n

    # -- authorization codes ------------------------------------------------------------------------
    def new_code(self, subject: str, client_id: str, redirect_uri: str, scope: str,
                 code_challenge: str | None, code_challenge_method: str | None, ttl: int = 300) -> str:
        """A one-time code bound to the client, redirect URI and PKCE challenge."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = AuthCode(subject, client_id, redirect_uri, scope, code_challenge,
                                         code_challenge_method, time.time() + ttl)
        return code

    def redeem_code(self, code: str, *, client_id: str, redirect_uri: str,
                    code_verifier: str | None) -> tuple[AuthCode | None, str]:
        """Check and consume a code. Returns (code, "") or (None, reason)."""
        with self._lock:
            entry = self._codes.get(code)
            if entry is None:
                return None, "The authorization code is invalid"
            if entry.used:
                # RFC 6749 §4.1.2: a code used twice revokes what it issued
                return None, "The authorization code has already been used"
            entry.used = True
        if entry.expires_at <= time.time():
            return None, "The authorization code has expired"
        if entry.client_id != client_id:
            return None, "The client_id does not match the authorization code"
        if entry.redirect_uri != redirect_uri:
            return None, "The redirect_uri does not match the authorization request"
        if entry.code_challenge:
            if not code_verifier:
                return None, "code_verifier is required (PKCE)"
            expected = pkce_s256(code_verifier) if (entry.code_challenge_method or "plain") == "S256" else code_verifier
            if not hmac.compare_digest(expected, entry.code_challenge):
                return None, "code_verifier does not match the code_challenge (PKCE)"
        return entry, ""

    def __repr__(self) -> str:
        return f"<Issuer {self.name} ttl={self.ttl}s tokens={len(self._tokens)}>"
