"""Where tokens live between sessions: in memory (the default), or — opt-in — in the OS keyring.

ucexplore never writes a token to a plain file. :class:`KeyringStore` uses the ``keyring`` package (the
``ucexplore[keyring]`` extra) with a real OS backend: macOS Keychain, Windows Credential Locker, or the Secret
Service / KWallet on Linux. The ``fail``/``null`` backends and the ``keyrings.alt`` file backends are refused,
with a message saying so, instead of silently falling back to something weaker.

Example::

    >>> from ucexplore.auth.flows import CucmSSO
    >>> flow = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> store = MemoryStore()
    >>> remember(flow, store)          # nothing stored yet
    False
    >>> _ = flow.complete(f"#access_token=MjpkZTkxYjNmYS0wYzU2LTQx&expires_in=3600&state={flow.state}")
    >>> store.load(flow.store_key).issuer          # saved on sign-in
    'cucm'
    >>> other = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> remember(other, store), other.signed_in      # a later session picks it up
    (True, True)
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..errors import UcError
from .token import Token

__all__ = [
    "TokenStore",
    "MemoryStore",
    "KeyringStore",
    "open_store",
    "remember",
    "forget",
    "token_to_json",
    "token_from_json",
    "KEYRING_SERVICE",
]

#: The keyring "service" under which ucexplore keeps tokens (the key is e.g. ``cucm@cucm.example.com:8443``).
KEYRING_SERVICE = "ucexplore"


@runtime_checkable
class TokenStore(Protocol):
    """Anything that can keep tokens by key."""

    def load(self, key: str) -> Token | None:
        """The stored token, or None."""
        ...

    def save(self, key: str, token: Token) -> None:
        """Store (or replace) the token under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Forget the token under ``key`` (no error when absent)."""
        ...


# -- serialisation (only ever handed to a keyring) -------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def token_to_json(token: Token) -> str:
    """The token as JSON **including its secrets** — for a secure store only, never for a file or an output."""
    return json.dumps({
        "v": 1,
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "token_type": token.token_type,
        "issued_at": _iso(token.issued_at),
        "expires_at": _iso(token.expires_at),
        "refresh_expires_at": _iso(token.refresh_expires_at),
        "issuer": token.issuer,
        "user": token.user,
    }, separators=(",", ":"))


def token_from_json(text: str) -> Token | None:
    """The inverse of :func:`token_to_json`; None when ``text`` is not a stored token.

    Example::

        >>> tok = Token("abcdef123456", expires_in=60, refresh_token="r-abcdef123456", issuer="finesse")
        >>> back = token_from_json(token_to_json(tok))
        >>> [getattr(back, a) == getattr(tok, a) for a in ("access_token", "refresh_token", "expires_at")]
        [True, True, True]
    """
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != 1 or not data.get("access_token"):
            return None
        tok = Token(
            data["access_token"],
            token_type=data.get("token_type") or "Bearer",
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
            issued_at=datetime.fromisoformat(data["issued_at"]) if data.get("issued_at") else None,
            issuer=data.get("issuer"),
            user=data.get("user"),
        )
        if data.get("refresh_expires_at"):
            tok.refresh_expires_at = datetime.fromisoformat(data["refresh_expires_at"])
        return tok
    except (ValueError, TypeError, KeyError):
        return None


# -- stores -----------------------------------------------------------------------------------------------


class MemoryStore:
    """Tokens in this process's memory only (the default; gone when the kernel stops).

    Example::

        >>> s = MemoryStore(); s.save("k", Token("abcdef123456")); s.load("k").access_token
        'abcdef123456'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def load(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def save(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def keys(self) -> list[str]:
        """The keys held."""
        with self._lock:
            return sorted(self._tokens)

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._tokens)} token(s)>"


def _refused_backend(backend: Any) -> str | None:
    """Why ``backend`` is not acceptable, or None when it is a real OS keyring."""
    module = type(backend).__module__
    name = type(backend).__name__
    if module.startswith("keyring.backends.chainer"):
        parts = list(getattr(backend, "backends", []) or [])
        if not parts:
            return "no OS keyring backend is available"
        for part in parts:
            why = _refused_backend(part)
            if why:
                return why
        return None
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return "no OS keyring backend is available"
    if module.startswith("keyrings.alt") or "plaintext" in name.lower() or "plaintext" in module.lower():
        return f"the keyring backend {module}.{name} keeps secrets in a file, which ucexplore does not do"
    return None


class KeyringStore:
    """Tokens in the OS keyring (opt-in). Raises :class:`~ucexplore.errors.UcError` when no secure backend exists.

    ``backend`` is a ``keyring`` backend object (default: ``keyring.get_keyring()``).

    Example::

        >>> store = KeyringStore()                      # doctest: +SKIP
        >>> store.save("cucm@cucm.example.com:8443", tok)   # doctest: +SKIP
    """

    def __init__(self, service: str = KEYRING_SERVICE, *, backend: Any = None) -> None:
        try:
            import keyring
        except ImportError:
            raise UcError(
                "the token store needs the keyring package",
                hint="pip install 'ucexplore[keyring]', or keep tokens in memory (store=False, the default)",
            ) from None
        self._keyring = keyring
        self.backend = backend if backend is not None else keyring.get_keyring()
        why = _refused_backend(self.backend)
        if why:
            raise UcError(
                f"cannot store tokens: {why}",
                hint=("install an OS keyring (macOS Keychain and Windows work out of the box; on Linux run a Secret "
                      "Service such as gnome-keyring), or keep tokens in memory (store=False, the default)"),
            )
        self.service = service

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # keyring.errors.* and backend (D-Bus, Keychain) failures
            raise UcError(f"the OS keyring could not {what} the token ({type(exc).__name__})",
                          hint="unlock the keyring and try again, or keep tokens in memory (store=False)") from None

    def load(self, key: str) -> Token | None:
        text = self._call("read", self.backend.get_password, self.service, key)
        return token_from_json(text) if text else None

    def save(self, key: str, token: Token) -> None:
        self._call("save", self.backend.set_password, self.service, key, token_to_json(token))

    def delete(self, key: str) -> None:
        try:
            self.backend.delete_password(self.service, key)
        except Exception:  # absent already (PasswordDeleteError) or keyring locked: nothing to forget
            pass

    def __repr__(self) -> str:
        return f"<KeyringStore service={self.service!r} backend={type(self.backend).__name__}>"


_default_memory = MemoryStore()


def open_store(store: bool | TokenStore | None = None) -> TokenStore:
    """``True`` → :class:`KeyringStore`; ``False``/``None`` → the process-wide :class:`MemoryStore`; a store → itself.

    Example::

        >>> open_store(False) is open_store(None)
        True
    """
    if store is True:
        return KeyringStore()
    if store is None or store is False:
        return _default_memory
    if isinstance(store, TokenStore):
        return store
    raise TypeError("store= takes True (OS keyring), False (memory) or a TokenStore")


class _StoreHook:
    """The on_change callback that keeps a store in step with a flow."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def __call__(self, event: str, flow: Any) -> None:
        if event in ("signed_in", "refreshed") and flow.token is not None:
            self.store.save(flow.store_key, flow.token)
        elif event == "signed_out":
            self.store.delete(flow.store_key)


def _usable(tok: Token, flow: Any) -> bool:
    if tok.issuer is not None and tok.issuer != flow.product:
        return False
    if not tok.expired:
        return True
    return bool(getattr(flow, "refreshable", False) and flow._can_refresh(tok))


def remember(flow: Any, store: bool | TokenStore | None = True) -> bool:
    """Keep ``flow``'s token in ``store``: restore a usable stored token now, save on every sign-in and refresh,
    delete on sign-out. Returns True when a token was restored.

    Example: ``remember(flow)`` in a notebook's first cell, then ``ux.login(flow)`` only when it returned False.
    """
    st = open_store(store)
    restored = False
    if flow.token is None:
        tok = st.load(flow.store_key)
        if tok is not None:
            if _usable(tok, flow):
                flow.use_token(tok)
                restored = True
            else:
                st.delete(flow.store_key)
    if not any(isinstance(cb, _StoreHook) and cb.store is st for cb in flow.on_change):
        flow.on_change.append(_StoreHook(st))
    if flow.token is not None and not restored:
        st.save(flow.store_key, flow.token)
    return restored


def forget(flow: Any, store: bool | TokenStore | None = True) -> None:
    """Delete ``flow``'s stored token and stop keeping it in ``store``."""
    st = open_store(store)
    st.delete(flow.store_key)
    flow.on_change[:] = [cb for cb in flow.on_change if not (isinstance(cb, _StoreHook) and cb.store is st)]
