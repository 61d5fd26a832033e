"""The opt-in token store: memory by default, the OS keyring on request, never a plaintext file."""

from __future__ import annotations

import json
import sys
import time

import pytest

from ucexplore.auth.flows import CucmSSO, FinesseSSO, UnitySSO, WebexOAuth
from ucexplore.auth.store import (KEYRING_SERVICE, KeyringStore, MemoryStore, TokenStore, forget, open_store,
                                  remember, token_from_json, token_to_json)
from ucexplore.auth.token import Token
from ucexplore.errors import UcError

keyring = pytest.importorskip("keyring")
from keyring.backend import KeyringBackend  # noqa: E402

CB = "https://app.example.com/cb"
CUCM = "https://cucm.example.com:8443"
ACCESS = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
REFRESH = "UmVmcmVzaC10b2tlbi1mb3ItdGVzdHMtb25seQ"


class MemoryKeyring(KeyringBackend):
    """A keyring backend held in a dict: stands in for the OS keyring in tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.items:
            raise PasswordDeleteError("not found")
        del self.items[(service, username)]


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError(f"locked; cannot read {username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"locked; cannot write {password}")


def _fake_backend(module: str, name: str) -> object:
    cls = type(name, (), {})
    cls.__module__ = module
    return cls()


# -- serialisation ------------------------------------------------------------------------------------------


def test_token_json_round_trip_keeps_everything():
    tok = Token(ACCESS, expires_in=300, refresh_token=REFRESH, refresh_expires_in=3600, issuer="finesse",
                user="1001001", token_type="Bearer")
    back = token_from_json(token_to_json(tok))
    assert back is not None
    for attr in ("access_token", "refresh_token", "token_type", "issued_at", "expires_at", "refresh_expires_at",
                 "issuer", "user"):
        assert getattr(back, attr) == getattr(tok, attr), attr


@pytest.mark.parametrize("text", ["", "not json", "[]", "{}", json.dumps({"v": 2, "access_token": "x"}),
                                  json.dumps({"v": 1, "access_token": "abc", "expires_at": "yesterday"})])
def test_token_from_json_refuses_garbage(text):
    assert token_from_json(text) is None


# -- memory -------------------------------------------------------------------------------------------------


def test_memory_store_is_the_default():
    assert open_store(False) is open_store(None)
    assert isinstance(open_store(False), MemoryStore)
    s = MemoryStore()
    assert open_store(s) is s and isinstance(s, TokenStore)
    tok = Token(ACCESS)
    s.save("k", tok)
    assert s.load("k") is tok and s.keys() == ["k"]
    s.delete("k")
    s.delete("k")
    assert s.load("k") is None
    assert ACCESS not in repr(s)
    with pytest.raises(TypeError):
        open_store("yes")  # type: ignore[arg-type]


# -- keyring --------------------------------------------------------------------------------------------------


def test_keyring_store_saves_json_under_the_service():
    backend = MemoryKeyring()
    store = KeyringStore(backend=backend)
    tok = Token(ACCESS, expires_in=300, refresh_token=REFRESH, issuer="finesse")
    store.save("finesse@f:8445", tok)
    assert list(backend.items) == [(KEYRING_SERVICE, "finesse@f:8445")]
    assert json.loads(backend.items[(KEYRING_SERVICE, "finesse@f:8445")])["refresh_token"] == REFRESH
    back = store.load("finesse@f:8445")
    assert back.access_token == ACCESS and back.refresh_token == REFRESH
    store.delete("finesse@f:8445")
    store.delete("finesse@f:8445")  # absent: no error
    assert store.load("finesse@f:8445") is None
    assert ACCESS not in repr(store)


def test_keyring_store_uses_the_default_backend(monkeypatch):
    backend = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)
    store = open_store(True)
    assert isinstance(store, KeyringStore) and store.backend is backend


@pytest.mark.parametrize("module,name,why", [
    ("keyring.backends.fail", "Keyring", "no OS keyring backend"),
    ("keyring.backends.null", "Keyring", "no OS keyring backend"),
    ("keyrings.alt.file", "PlaintextKeyring", "keeps secrets in a file"),
    ("keyrings.alt.file", "EncryptedKeyring", "keeps secrets in a file"),
    ("somewhere.else", "PlaintextKeyring", "keeps secrets in a file"),
])
def test_weak_backends_are_refused(module, name, why):
    with pytest.raises(UcError, match=why) as exc:
        KeyringStore(backend=_fake_backend(module, name))
    assert "store=False" in str(exc.value)


def test_real_fail_backend_is_refused():
    from keyring.backends import fail

    with pytest.raises(UcError, match="no OS keyring backend"):
        KeyringStore(backend=fail.Keyring())


def test_chainer_is_judged_by_its_parts():
    from keyring.backends.chainer import ChainerBackend

    def chainer(parts: list[object]) -> object:
        cls = type("ChainerBackend", (ChainerBackend,), {"backends": parts})
        cls.__module__ = "keyring.backends.chainer"
        return cls.__new__(cls)

    good = chainer([MemoryKeyring()])
    assert KeyringStore(backend=good).backend is good
    with pytest.raises(UcError, match="file"):
        KeyringStore(backend=chainer([MemoryKeyring(), _fake_backend("keyrings.alt.file", "PlaintextKeyring")]))
    with pytest.raises(UcError, match="no OS keyring"):
        KeyringStore(backend=chainer([]))


def test_missing_keyring_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)
    with pytest.raises(UcError, match=r"pip install 'ucexplore\[keyring\]'"):
        KeyringStore()


def test_keyring_failures_are_ucerrors_without_secrets():
    store = KeyringStore(backend=LockedKeyring())
    tok = Token(ACCESS)
    with pytest.raises(UcError, match="could not save") as exc:
        store.save("k", tok)
    assert ACCESS not in str(exc.value) and exc.value.__cause__ is None and exc.value.__suppress_context__
    with pytest.raises(UcError, match="could not read"):
        store.load("k")


def test_nothing_is_written_to_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    flow = CucmSSO(CUCM, redirect_uri=CB)
    remember(flow, KeyringStore(backend=MemoryKeyring()))
    remember(flow, False)
    flow.complete(f"#access_token={ACCESS}&state={flow.state}")
    flow.sign_out()
    assert list(tmp_path.rglob("*")) == []


# -- remember / forget ------------------------------------------------------------------------------------------


def test_remember_saves_on_sign_in_and_restores_later():
    store = KeyringStore(backend=MemoryKeyring())
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert remember(flow, store) is False
    flow.complete(f"#access_token={ACCESS}&expires_in=600&state={flow.state}")
    assert store.load(flow.store_key).access_token == ACCESS
    later = CucmSSO(CUCM, redirect_uri=CB)
    events = []
    later.on_change.append(lambda event, f: events.append(event))
    assert remember(later, store) is True
    assert later.token.access_token == ACCESS and later.signed_in and events == ["signed_in"]


def test_remember_keys_are_per_product_and_host():
    store = MemoryStore()
    cucm = CucmSSO(CUCM, redirect_uri=CB)
    remember(cucm, store)
    cucm.complete(f"#access_token={ACCESS}&state={cucm.state}")
    unity = UnitySSO(CUCM, redirect_uri=CB)
    other_host = CucmSSO("https://cucm2.example.com:8443", redirect_uri=CB)
    assert remember(unity, store) is False and remember(other_host, store) is False
    wx = WebexOAuth("C1", redirect_uri=CB)
    assert wx.store_key == "webex@webexapis.com/C1" and cucm.store_key == "cucm@cucm.example.com:8443"


def test_remember_drops_expired_unrefreshable_tokens():
    store = MemoryStore()
    flow = CucmSSO(CUCM, redirect_uri=CB)
    store.save(flow.store_key, Token(ACCESS, expires_in=60, issued_at=time.time() - 120, issuer="cucm"))
    assert remember(flow, store) is False and flow.token is None
    assert store.load(flow.store_key) is None


def test_remember_restores_expired_but_refreshable_tokens():
    store = MemoryStore()
    flow = FinesseSSO("https://finesse.example.com:8445", agent_id="1")
    store.save(flow.store_key, Token(ACCESS, expires_in=60, issued_at=time.time() - 120, refresh_token=REFRESH,
                                     refresh_expires_in=36000, issuer="finesse"))
    assert remember(flow, store) is True and flow.signed_in and flow.token.expired


def test_remember_ignores_a_token_of_another_issuer():
    store = MemoryStore()
    flow = CucmSSO(CUCM, redirect_uri=CB)
    store.save(flow.store_key, Token(ACCESS, expires_in=600, issuer="unity"))
    assert remember(flow, store) is False


def test_remember_follows_refresh_and_sign_out_and_does_not_double_subscribe():
    store = MemoryStore()
    flow = CucmSSO(CUCM, redirect_uri=CB)
    remember(flow, store)
    remember(flow, store)
    assert len(flow.on_change) == 1
    flow.complete(f"#access_token={ACCESS}&state={flow.state}")
    newer = flow.use_token(Token("MjpuZXdlci10b2tlbi10ZXh0LWZvci10ZXN0cw", expires_in=600))
    assert store.load(flow.store_key) is newer
    flow.sign_out()
    assert store.load(flow.store_key) is None


def test_remember_saves_a_token_held_already():
    store = MemoryStore()
    flow = CucmSSO(CUCM, redirect_uri=CB)
    tok = flow.complete(f"#access_token={ACCESS}&state={flow.state}")
    assert remember(flow, store) is False
    assert store.load(flow.store_key) is tok


def test_forget_deletes_and_unsubscribes():
    store = MemoryStore()
    flow = CucmSSO(CUCM, redirect_uri=CB)
    remember(flow, store)
    flow.complete(f"#access_token={ACCESS}&state={flow.state}")
    forget(flow, store)
    assert store.load(flow.store_key) is None and flow.on_change == []
    flow.sign_out()
    flow.complete(f"#access_token={ACCESS}&state={flow.state}")
    assert store.load(flow.store_key) is None
