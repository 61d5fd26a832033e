"""The lab core: IdP form and SSO cookie, callback page, organisation determinism, issuers, HTTPS."""

from __future__ import annotations

import re
import ssl

import httpx
import pytest

from ucexplore.lab import start
from ucexplore.lab.context import LabContext
from ucexplore.lab.config import LabConfig
from ucexplore.lab.org import Organisation
from ucexplore.lab.tokens import Issuer, pkce_s256


@pytest.fixture(scope="module")
def idp_lab():
    with start(users=30, seed=3, products=("idp",)) as lab:
        lab.ctx.urls.setdefault("cucm", "http://127.0.0.1:9")  # a service provider the IdP knows
        yield lab


def test_login_form_then_sso_cookie(idp_lab):
    idp = idp_lab.urls["idp"]
    user, password = idp_lab.demo_user
    with httpx.Client() as browser:
        page = browser.get(f"{idp}/idp/sso", params={"sp": "cucm", "RelayState": "t1"})
        assert page.status_code == 200 and "id=ucx-idp-login" in page.text
        csrf = re.search(r"<input type=hidden name=csrf_token value='([^']+)'>", page.text).group(1)
        bad = browser.post(f"{idp}/idp/sso", data={"sp": "cucm", "RelayState": "t1", "username": user,
                                                    "password": "wrong", "csrf_token": csrf})
        assert bad.status_code == 200 and "Incorrect user name or password" in bad.text
        csrf = re.search(r"<input type=hidden name=csrf_token value='([^']+)'>", bad.text).group(1)
        ok = browser.post(f"{idp}/idp/sso", data={"sp": "cucm", "RelayState": "t1", "username": user,
                                                   "password": password, "csrf_token": csrf})
        assert ok.status_code == 302
        location = ok.headers["location"]
        assert location.startswith("http://127.0.0.1:9/ssosp/saml/SSO/alias/") and "RelayState=t1" in location
        # the SSO cookie now skips the form for the next product request
        again = browser.get(f"{idp}/idp/sso", params={"sp": "cucm", "RelayState": "t2"})
        assert again.status_code == 302 and "RelayState=t2" in again.headers["location"]
        browser.get(f"{idp}/idp/logout")
        after = browser.get(f"{idp}/idp/sso", params={"sp": "cucm", "RelayState": "t3"})
        assert after.status_code == 200 and "ucx-idp-login" in after.text


def test_assertion_is_bound_to_audience_and_signed(idp_lab):
    ctx = idp_lab.ctx
    blob = ctx.sign_assertion("jkam", "cucm")
    assert ctx.verify_assertion(blob, "cucm") == "jkam"
    assert ctx.verify_assertion(blob, "unity") is None
    body, sig = blob.split(".")
    assert ctx.verify_assertion(body[:-2] + "xx." + sig, "cucm") is None
    assert ctx.verify_assertion("garbage", "cucm") is None


def test_unknown_sp_and_callback_page(idp_lab):
    idp = idp_lab.urls["idp"]
    assert httpx.get(f"{idp}/idp/sso", params={"sp": "evil", "RelayState": "x"}).status_code == 400
    page = httpx.get(idp_lab.redirect_uri)
    assert page.status_code == 200 and "ucx-callback-url" in page.text and "location.href" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_organisation_is_deterministic_and_consistent():
    a, b = Organisation(users=500, seed=5), Organisation(users=500, seed=5)
    assert [u.username for u in a.users] == [u.username for u in b.users]
    assert a.mailbox(a.users[42]) == b.mailbox(b.users[42])
    assert Organisation(users=500, seed=6).users[1].username != a.users[1].username or \
        Organisation(users=500, seed=6).users[1].id != a.users[1].id
    assert len({u.username for u in a.users}) == 500
    assert a.demo.is_agent and a.agent(a.demo.username) is a.demo_agent
    assert any("&" in t.name for t in a.teams.values()) or len(a.teams) < 2
    assert any(not u.isascii() for u in (x.last_name for x in a.users))
    box = a.mailbox(a.users[7])["inbox"]
    assert all(0 <= (a.now.timestamp() * 1000 - m["ArrivalTime"]) <= 90 * 86400 * 1000 for m in box)
    assert a.user_by_cuc_id(a.users[3].cuc_object_id) is a.users[3]


def test_issuer_rotation_codes_and_pkce():
    issuer = Issuer("webex", ttl=60, refresh_ttl=600)
    grant = issuer.issue("amy", with_refresh=True, client_id="c1")
    new = issuer.refresh(grant.refresh_token, client_id="c1")
    assert new is not None and new.refresh_token != grant.refresh_token
    assert issuer.refresh(grant.refresh_token, client_id="c1") is None  # rotated: old one is dead
    verifier = "v" * 50
    code = issuer.new_code("amy", "c1", "http://cb", "spark:all", pkce_s256(verifier), "S256")
    entry, why = issuer.redeem_code(code, client_id="c1", redirect_uri="http://cb", code_verifier="wrong")
    assert entry is None and "PKCE" in why
    code = issuer.new_code("amy", "c1", "http://cb", "spark:all", pkce_s256(verifier), "S256")
    entry, _ = issuer.redeem_code(code, client_id="c1", redirect_uri="http://cb", code_verifier=verifier)
    assert entry is not None and entry.subject == "amy"
    assert issuer.redeem_code(code, client_id="c1", redirect_uri="http://cb", code_verifier=verifier)[0] is None


def test_lab_context_redirect_uris():
    ctx = LabContext(LabConfig(users=10, redirect_uris=("https://app.example.com/cb",)))
    ctx.urls["idp"] = "http://127.0.0.1:1"
    assert ctx.registered_redirect_uris() == {"http://127.0.0.1:1/callback", "https://app.example.com/cb"}


def test_https_lab_verifies_with_its_ca_only():
    with start(users=10, https=True, products=("idp",)) as lab:
        assert lab.urls["idp"].startswith("https://127.0.0.1:")
        assert httpx.get(lab.urls["idp"] + "/health", verify=ssl.create_default_context(cafile=lab.ca_path)).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(lab.urls["idp"] + "/health")
