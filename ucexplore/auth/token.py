"""The :class:`Token`: an access token, its expiry, an optional refresh token, and who issued it."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from ..redact import Unpicklable, register_secret

__all__ = ["Token"]

#: Finesse recommends refreshing once 75 % of the lifetime has passed; ucexplore does so for every product.
REFRESH_FRACTION = 0.75


def _as_utc(value: datetime | float | int | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    return _as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


class Token(Unpicklable):
    """An access token. ``repr`` and ``str`` never show the token or the refresh token.

    Example::

        >>> tok = Token(access_token="abcdef123456", expires_in=3600, issuer="cucm")
        >>> tok.expired, tok.needs_refresh
        (False, False)
        >>> "abcdef123456" in repr(tok)
        False
    """

    __slots__ = ("_access_token", "_refresh_token", "token_type", "issued_at", "expires_at", "issuer", "user",
                 "refresh_expires_at", "__weakref__")

    def __init__(
        self,
        access_token: str,
        *,
        token_type: str = "Bearer",
        expires_in: float | int | str | None = None,
        refresh_token: str | None = None,
        expires_at: datetime | float | str | None = None,
        issuer: str | None = None,
        user: str | None = None,
        issued_at: datetime | float | None = None,
        refresh_expires_in: float | int | str | None = None,
    ) -> None:
        if not access_token or not isinstance(access_token, str):
            raise ValueError("Token needs a non-empty access_token string")
        self._access_token = access_token
        self._refresh_token = refresh_token or None
        register_secret(access_token)
        register_secret(self._refresh_token)
        self.token_type = token_type or "Bearer"
        self.issued_at: datetime = _as_utc(issued_at) or datetime.now(timezone.utc)
        if expires_at is not None:
            self.expires_at: datetime | None = _as_utc(expires_at)
        elif expires_in not in (None, ""):
            self.expires_at = datetime.fromtimestamp(
                self.issued_at.timestamp() + float(expires_in), tz=timezone.utc  # type: ignore[arg-type]
            )
        else:
            self.expires_at = None
        self.refresh_expires_at: datetime | None = (
            datetime.fromtimestamp(self.issued_at.timestamp() + float(refresh_expires_in), tz=timezone.utc)
            if refresh_expires_in not in (None, "")
            else None
        )
        self.issuer = issuer
        self.user = user

    # -- secrets: readable on purpose, never shown -------------------------------------------------
    @property
    def access_token(self) -> str:
        """The token text (send it as ``Authorization: Bearer …``)."""
        return self._access_token

    @property
    def refresh_token(self) -> str | None:
        """The refresh token text, when the issuer gave one."""
        return self._refresh_token

    @property
    def refreshable(self) -> bool:
        """True when a refresh token is held."""
        return self._refresh_token is not None

    # -- time ------------------------------------------------------------------------------------
    @property
    def lifetime(self) -> float | None:
        """Seconds between issue and expiry, or None when the issuer did not say."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at.timestamp() - self.issued_at.timestamp())

    @property
    def remaining(self) -> float | None:
        """Seconds until expiry (negative once expired), or None when unknown."""
        if self.expires_at is None:
            return None
        return self.expires_at.timestamp() - time.time()

    @property
    def expired(self) -> bool:
        """True once the expiry time has passed."""
        rem = self.remaining
        return rem is not None and rem <= 0

    @property
    def needs_refresh(self) -> bool:
        """True once 75 % of the lifetime has elapsed (or the token has expired)."""
        life, rem = self.lifetime, self.remaining
        if life is None or rem is None:
            return False
        return rem <= life * (1 - REFRESH_FRACTION)

    @property
    def refresh_at(self) -> datetime | None:
        """When :attr:`needs_refresh` becomes true."""
        life = self.lifetime
        if life is None:
            return None
        return datetime.fromtimestamp(self.issued_at.timestamp() + life * REFRESH_FRACTION, tz=timezone.utc)

    def authorization(self) -> str:
        """The ``Authorization`` header value: always ``Bearer`` (every product ucexplore speaks takes bearer
        tokens; a ``token_type`` from a paste or a store never turns the token into a Basic credential).

        Example::

            >>> Token("abcdef123456", token_type="Basic").authorization().split()[0]
            'Bearer'
        """
        return f"Bearer {self._access_token}"

    # -- display -----------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Everything about the token except its secrets (for status bars and provenance)."""
        return {
            "issuer": self.issuer,
            "user": self.user,
            "token_type": self.token_type,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "refresh_at": self.refresh_at if self.refreshable else None,
            "refreshable": self.refreshable,
            "expired": self.expired,
        }

    def __repr__(self) -> str:
        exp = self.expires_at.isoformat(timespec="seconds") if self.expires_at else "unknown"
        who = f" user={self.user!r}" if self.user else ""
        iss = f" issuer={self.issuer!r}" if self.issuer else ""
        state = "expired" if self.expired else "valid"
        refresh = " refreshable" if self.refreshable else ""
        return f"<Token {self.token_type}{iss}{who} {state} expires_at={exp}{refresh}>"

    __str__ = __repr__

    _pickle_what = "a Token"
    _pickle_hint = "sign in again in the new process, or use ucexplore's opt-in keyring store"
