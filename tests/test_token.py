"""Token: lifetimes, the 75 % refresh point, expiry, and secrets kept out of every string."""

from __future__ import annotations

import pickle
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ucexplore.auth.token import REFRESH_FRACTION, Token
from ucexplore.errors import TokenExpired, UcError
from ucexplore.redact import redact

try:
    from .hypothesis_profiles import PROFILE  # type: ignore[import-not-found]
except ImportError:
    from hypothesis_profiles import PROFILE  # type: ignore[no-redef]

ACCESS = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
REFRESH = "UmVmcmVzaC10b2tlbi1mb3ItdGVzdHMtb25seQ"


def at(elapsed: float, lifetime: float = 100.0, **kw) -> Token:
    """A token ``elapsed`` seconds into a ``lifetime``-second life (no waiting in tests)."""
    return Token(ACCESS, expires_in=lifetime, issued_at=time.time() - elapsed, **kw)


def test_lifetime_and_expiry_from_expires_in():
    tok = Token(ACCESS, expires_in=3600, issuer="cucm")
    assert tok.lifetime == pytest.approx(3600)
    assert 3590 < tok.remaining <= 3600
    assert not tok.expired and not tok.needs_refresh
    assert tok.expires_at.tzinfo is not None
    assert Token(ACCESS, expires_in="120").lifetime == pytest.approx(120)


def test_the_75_percent_point():
    assert REFRESH_FRACTION == 0.75
    assert not at(70).needs_refresh
    assert at(80).needs_refresh and not at(80).expired
    assert at(101).needs_refresh and at(101).expired
    tok = at(0, lifetime=400)
    assert tok.refresh_at == tok.issued_at + timedelta(seconds=300)


def test_unknown_lifetime_never_expires_nor_refreshes():
    tok = Token(ACCESS)
    assert tok.expires_at is None and tok.lifetime is None and tok.remaining is None
    assert not tok.expired and not tok.needs_refresh and tok.refresh_at is None


@pytest.mark.parametrize("value", [
    datetime(2030, 1, 1, 12, 0, 0),                                  # naive: taken as UTC
    datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc),
    datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp(),
    "2030-01-01T12:00:00Z",
    "2030-01-01T13:00:00+01:00",
])
def test_expires_at_in_every_form(value):
    assert Token(ACCESS, expires_at=value).expires_at == datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_refresh_token_and_its_expiry():
    tok = Token(ACCESS, expires_in=300, refresh_token=REFRESH, refresh_expires_in=36000)
    assert tok.refreshable and tok.refresh_token == REFRESH
    assert (tok.refresh_expires_at - tok.issued_at).total_seconds() == pytest.approx(36000)
    assert not Token(ACCESS, refresh_token="").refreshable


def test_authorization_header():
    assert Token(ACCESS).authorization() == f"Bearer {ACCESS}"
    assert Token(ACCESS, token_type="bearer").authorization() == f"Bearer {ACCESS}"
    # a token_type from a paste or a store never changes the scheme (a pasted token_type=Basic must not make
    # the token a Basic credential): every product takes Bearer
    assert Token(ACCESS, token_type="Basic").authorization() == f"Bearer {ACCESS}"
    assert Token(ACCESS, token_type="MAC").authorization() == f"Bearer {ACCESS}"


def test_repr_str_describe_never_show_secrets():
    tok = Token(ACCESS, expires_in=300, refresh_token=REFRESH, issuer="finesse", user="1001001")
    for text in (repr(tok), str(tok), str(tok.describe()), f"{tok}", "%s" % tok):
        assert ACCESS not in text and REFRESH not in text
    assert "issuer='finesse'" in repr(tok) and "user='1001001'" in repr(tok) and "refreshable" in repr(tok)
    assert "expired" in repr(at(200)) and "valid" in repr(at(1))
    assert set(tok.describe()) >= {"issuer", "user", "expires_at", "refresh_at", "refreshable", "expired"}


def test_secrets_are_registered_for_redaction():
    tok = Token("registered-token-" + "x" * 20, refresh_token="registered-refresh-" + "y" * 20)
    line = f"GET /x failed with {tok.access_token} and {tok.refresh_token}"
    out = redact(line)
    assert tok.access_token not in out and tok.refresh_token not in out
    err = TokenExpired(f"token {tok.access_token} expired", hint=f"refresh with {tok.refresh_token}")
    assert tok.access_token not in str(err) and tok.refresh_token not in str(err)


def test_tokens_cannot_be_pickled():
    with pytest.raises(TypeError, match="keyring"):
        pickle.dumps(Token(ACCESS))


def test_empty_token_is_refused():
    with pytest.raises(ValueError):
        Token("")
    with pytest.raises(ValueError):
        Token(None)  # type: ignore[arg-type]


def test_errors_are_ucerrors():
    assert issubclass(TokenExpired, UcError)


@PROFILE
@given(lifetime=st.floats(min_value=10, max_value=10**7), fraction=st.floats(min_value=0, max_value=2))
def test_needs_refresh_is_the_75_percent_rule(lifetime, fraction):
    tok = at(lifetime * fraction, lifetime=lifetime)
    if fraction < 0.74:
        assert not tok.needs_refresh
    if fraction > 0.76:
        assert tok.needs_refresh
    if fraction > 1.01:
        assert tok.expired
    if fraction < 0.99:
        assert not tok.expired


@PROFILE
@given(access=st.text(min_size=6).filter(lambda s: s.strip() == s and s),
       refresh=st.text(min_size=6).filter(lambda s: s.strip() == s and s))
def test_no_secret_in_repr_for_any_token_text(access, refresh):
    tok = Token(access, refresh_token=refresh, expires_in=60, issuer="webex", user="u")
    text = repr(tok)
    if access not in "<Token Bearer issuer='webex' user='u' valid expires_at= refreshable>":
        assert access not in text.replace(tok.expires_at.isoformat(timespec="seconds"), "")
    if refresh not in "<Token Bearer issuer='webex' user='u' valid expires_at= refreshable>":
        assert refresh not in text.replace(tok.expires_at.isoformat(timespec="seconds"), "")
