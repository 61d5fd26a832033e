"""Security hardening of the lab (hostile review): login CSRF on the IdP form, and the ``spark:all`` scope
rule on the Webex XML API. Real HTTP against a running lab; plain httpx."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest

import ucexplore.lab
import ucexplore.lab.idp as idp_module
from ucexplore.lab.idp import CSRF_COOKIE, SESSION_COOKIE
from ucexplore.lab.person import LabSignInError, Person
from ucexplore.lab.tokens import Grant

SP = "cucm"
FAKE_SP_URL = "http://127.0.0.1:9"  # a service provider the IdP knows; nothing needs to answer there
_FORM = re.compile(r"<form id=ucx-idp-login[^>]*>(.*?)</form>", re.S)
_CSRF = re.compile(r"<input type=hidden name=csrf_token value='([^']+)'>")


@pytest.fixture(scope="module")
def idp_lab():
    with ucexplore.lab.start(users=20, seed=5, products=("idp",)) as lab:
        lab.ctx.urls.setdefault(SP, FAKE_SP_URL)
        yield lab


@pytest.fixture(scope="module")
def webex_lab():
    with ucexplore.lab.start(users=30, seed=9, products=("webex", "webex_xml")) as lab:
        yield lab


def open_form(browser: httpx.Client, lab, relay: str = "r1", sp: str = SP) -> str:
    """GET the login form; return the csrf_token inside it ("" when there is none: the refusal tests then
    show what a forged form does, the form test checks the field is there)."""
    page = browser.get(f"{lab.urls['idp']}/idp/sso", params={"sp": sp, "RelayState": relay})
    assert page.status_code == 200, page.text
    form = _FORM.search(page.text)
    assert form is not None
    match = _CSRF.search(form.group(1))
    return match.group(1) if match else ""


def submit(browser: httpx.Client, lab, *, csrf: str | None, relay: str = "r1", sp: str = SP,
           password: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    user, demo_password = lab.demo_user
    data = {"sp": sp, "RelayState": relay, "username": user, "password": password or demo_password}
    if csrf is not None:
        data["csrf_token"] = csrf
    return browser.post(f"{lab.urls['idp']}/idp/sso", data=data, headers=headers or {})


def own_origin(lab) -> str:
    parts = urlsplit(lab.urls["idp"])
    return f"{parts.scheme}://{parts.netloc}"


def assert_refused(response: httpx.Response, browser: httpx.Client, lab) -> None:
    """403, a readable page, no SSO cookie set, no session planted in this browser."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "expired or was sent from another site" in text and "Start the sign-in again" in text
    assert "SAMLResponse" not in text and "location" not in response.headers
    assert not any(SESSION_COOKIE in v for v in response.headers.get_list("set-cookie"))
    assert SESSION_COOKIE not in browser.cookies
    again = browser.get(f"{lab.urls['idp']}/idp/sso", params={"sp": SP, "RelayState": "check"})
    assert again.status_code == 200 and "id=ucx-idp-login" in again.text  # still asks for the password


def assert_signed_in(response: httpx.Response, browser: httpx.Client, relay: str = "r1") -> None:
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(FAKE_SP_URL + "/ssosp/saml/SSO/alias/")
    assert f"RelayState={relay}" in response.headers["location"]
    assert SESSION_COOKIE in browser.cookies


# -- the form and its cookie -------------------------------------------------------------------------------
def test_form_sets_an_httponly_lax_csrf_cookie_and_a_hidden_field(idp_lab):
    with httpx.Client() as browser:
        page = browser.get(f"{idp_lab.urls['idp']}/idp/sso", params={"sp": SP, "RelayState": "r1"})
        cookie = next(v for v in page.headers.get_list("set-cookie") if v.startswith(CSRF_COOKIE + "="))
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/idp"} <= attrs
        form = _FORM.search(page.text).group(0)
        assert _CSRF.search(form), "the csrf_token field must be inside the form"
        # the form keeps its shape (the Chromium test and the scripted person rely on it)
        for name in ("sp", "RelayState", "csrf_token", "username", "password"):
            assert re.search(f"<input [^>]*name={name}[ >]", form), name
        assert "id=ucx-idp-submit" in form and "action='/idp/sso'" in form
        # two forms in one browser (two tabs) share the cookie: both stay valid
        first = _CSRF.search(page.text).group(1)
        second = open_form(browser, idp_lab, relay="r2")
        assert first != second
        assert_signed_in(submit(browser, idp_lab, csrf=first), browser)


# -- refusals ------------------------------------------------------------------------------------------------
def test_cross_origin_post_is_refused_even_with_a_valid_token(idp_lab):
    with httpx.Client() as browser:
        csrf = open_form(browser, idp_lab)
        r = submit(browser, idp_lab, csrf=csrf, headers={"Origin": "http://evil.example"})
        assert_refused(r, browser, idp_lab)
        assert "ucx-idp-restart" not in r.text  # no link back into a flow another site started
        other_scheme = own_origin(idp_lab).replace("http://", "https://", 1)  # the lab here is plain HTTP
        for origin in ("null", "http://127.0.0.1:1", other_scheme, "http://localhost:1", "not a url"):
            csrf = open_form(browser, idp_lab)
            assert_refused(submit(browser, idp_lab, csrf=csrf, headers={"Origin": origin}), browser, idp_lab)


def test_cross_site_referer_or_fetch_metadata_is_refused(idp_lab):
    with httpx.Client() as browser:
        r = submit(browser, idp_lab, csrf=open_form(browser, idp_lab),
                   headers={"Referer": "http://evil.example/attack.html"})
        assert_refused(r, browser, idp_lab)
        r = submit(browser, idp_lab, csrf=open_form(browser, idp_lab),
                   headers={"Sec-Fetch-Site": "cross-site"})
        assert_refused(r, browser, idp_lab)


def test_post_without_csrf_token_is_refused(idp_lab):
    with httpx.Client() as browser:
        open_form(browser, idp_lab)  # the cookie is there, the field is not
        r = submit(browser, idp_lab, csrf=None)
        assert_refused(r, browser, idp_lab)
        assert "ucx-idp-restart" in r.text and "/idp/sso?sp=cucm" in r.text  # a way back to the form
        assert_refused(submit(browser, idp_lab, csrf=""), browser, idp_lab)
    with httpx.Client() as fresh:  # neither cookie nor field: a forged form from nowhere
        assert_refused(submit(fresh, idp_lab, csrf=None), fresh, idp_lab)


def test_token_from_another_browser_is_refused(idp_lab):
    with httpx.Client() as attacker, httpx.Client() as victim:
        stolen = open_form(attacker, idp_lab)
        # the victim's browser has never seen the form: no cookie (classic login CSRF)
        assert_refused(submit(victim, idp_lab, csrf=stolen), victim, idp_lab)
        # the victim has its own form open: its cookie does not match the attacker's token
        open_form(victim, idp_lab)
        assert_refused(submit(victim, idp_lab, csrf=stolen), victim, idp_lab)
        # the attacker's own token still works in the attacker's own browser
        assert_signed_in(submit(attacker, idp_lab, csrf=stolen), attacker)


def test_token_is_bound_to_the_form_and_cannot_be_forged(idp_lab):
    with httpx.Client() as browser:
        csrf = open_form(browser, idp_lab, relay="r1")
        assert_refused(submit(browser, idp_lab, csrf=csrf, relay="other"), browser, idp_lab)
        issued, _, mac = csrf.partition(".")
        for forged in (f"{int(issued) + 1}.{mac}", f"{issued}.{mac[:-1]}A", mac, "1.x", "x" * 40):
            assert_refused(submit(browser, idp_lab, csrf=forged), browser, idp_lab)
        browser.cookies.set(CSRF_COOKIE, "A" * 43, domain=urlsplit(idp_lab.urls["idp"]).hostname, path="/idp")
        assert_refused(submit(browser, idp_lab, csrf=csrf), browser, idp_lab)


def test_expired_form_is_refused_with_a_way_back(idp_lab, monkeypatch):
    with httpx.Client() as browser:
        csrf = open_form(browser, idp_lab)
        monkeypatch.setattr(idp_module, "FORM_TTL", -120)
        r = submit(browser, idp_lab, csrf=csrf)
        assert_refused(r, browser, idp_lab)
        monkeypatch.undo()
        restart = re.search(r"id=ucx-idp-restart href='([^']+)'", r.text).group(1).replace("&amp;", "&")
        again = browser.get(idp_lab.urls["idp"] + restart)
        assert again.status_code == 200 and "id=ucx-idp-login" in again.text
        assert_signed_in(submit(browser, idp_lab, csrf=_CSRF.search(again.text).group(1)), browser)


# -- what is accepted ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    "origin", "referer", "none", "sec-fetch-same-origin", "localhost-alias",
])
def test_same_origin_post_with_the_right_token_signs_in(idp_lab, headers):
    origin = own_origin(idp_lab)
    sent = {
        "origin": {"Origin": origin},
        "referer": {"Referer": f"{origin}/idp/sso?sp=cucm&RelayState=r1"},
        "none": {},  # old browsers and scripts: the token alone decides
        "sec-fetch-same-origin": {"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        "localhost-alias": {},
    }[headers]
    base = idp_lab.urls["idp"]
    if headers == "localhost-alias":  # the same loopback IdP, reached by the browser as localhost
        alias = urlsplit(base).netloc.replace("127.0.0.1", "localhost")
        sent = {"Origin": f"http://{alias}", "Host": alias}
    with httpx.Client() as browser:
        page = browser.get(f"{base}/idp/sso", params={"sp": SP, "RelayState": "r1"})
        csrf = _CSRF.search(page.text).group(1)
        user, password = idp_lab.demo_user
        r = browser.post(f"{base}/idp/sso", headers=sent, data={
            "sp": SP, "RelayState": "r1", "username": user, "password": password, "csrf_token": csrf})
        assert_signed_in(r, browser)


def test_wrong_password_shows_a_fresh_form_that_still_works(idp_lab):
    with httpx.Client() as browser:
        csrf = open_form(browser, idp_lab)
        bad = submit(browser, idp_lab, csrf=csrf, password="wrong", headers={"Origin": own_origin(idp_lab)})
        assert bad.status_code == 200 and "Incorrect user name or password" in bad.text
        fresh = _CSRF.search(_FORM.search(bad.text).group(1)).group(1)
        again = submit(browser, idp_lab, csrf=fresh, headers={"Origin": own_origin(idp_lab)})
        assert_signed_in(again, browser)


# -- the scripted person -------------------------------------------------------------------------------------
def test_scripted_person_posts_the_token_cookie_and_origin(webex_lab):
    seen: list[httpx.Request] = []
    url = f"{webex_lab.urls['webex']}/v1/authorize?" + urlencode({
        "client_id": webex_lab.webex_client_id, "response_type": "code",
        "redirect_uri": webex_lab.redirect_uri, "scope": "spark:all", "state": "p1"})
    with Person(*webex_lab.demo_user) as person:
        person.client.event_hooks["request"].append(seen.append)
        landed = person.sign_in(url)
        assert "code=" in landed and person.forms_filled == 1
    post = next(r for r in seen if r.method == "POST")
    assert post.url.path == "/idp/sso"
    body = parse_qs(post.content.decode())
    assert body["csrf_token"][0] and CSRF_COOKIE in post.headers["cookie"]
    assert post.headers["origin"] == own_origin(webex_lab)


def test_scripted_person_reports_a_refused_form(idp_lab, monkeypatch):
    monkeypatch.setattr(idp_module, "FORM_TTL", -120)
    relay_url = f"{idp_lab.urls['idp']}/idp/sso?" + urlencode({"sp": SP, "RelayState": "p2"})
    with Person(*idp_lab.demo_user) as person:
        with pytest.raises(LabSignInError, match="refused the sign-in form: This sign-in form has expired"):
            person.sign_in(relay_url)


# -- Webex XML API: the spark:all scope rule -----------------------------------------------------------------
AUTH = "java:com.webex.service.binding.user.AuthenticateUser"
LST = "java:com.webex.service.binding.meeting.LstsummaryMeeting"
SERV = {"serv": "http://www.webex.com/schemas/2002/06/service"}


def minted_token(lab, scope: str) -> str:
    """A Webex REST token minted the real way (the person signs in, PKCE, /v1/access_token)."""
    from test_webex_xml import webex_token_by_sign_in

    return webex_token_by_sign_in(lab, scope)


def xml_post(lab, security: dict[str, str], body_type: str, body: str = "") -> tuple[str, str | None]:
    sc = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in security.items())
    doc = ('<?xml version="1.0" encoding="UTF-8"?><serv:message '
           'xmlns:serv="http://www.webex.com/schemas/2002/06/service" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
           f"<header><securityContext>{sc}</securityContext></header>"
           f'<body><bodyContent xsi:type="{body_type}">{body}</bodyContent></body></serv:message>')
    r = httpx.post(f"{lab.urls['webex_xml']}/WBXService/XMLService", content=doc.encode(),
                   headers={"Content-Type": "application/xml"})
    assert r.status_code == 200  # the XML API answers failures inside HTTP 200
    root = ET.fromstring(r.content)
    return (root.findtext("serv:header/serv:response/serv:result", namespaces=SERV),
            root.findtext("serv:header/serv:response/serv:exceptionID", namespaces=SERV))


@pytest.fixture(scope="module")
def narrow_token(webex_lab):
    return minted_token(webex_lab, "spark:people_read meeting:schedules_read")


@pytest.fixture(scope="module")
def full_token(webex_lab):
    return minted_token(webex_lab, "spark:all")


def security(lab, **auth: str) -> dict[str, str]:
    demo = lab.org.demo
    return {"siteName": lab.org.site_name, "webExID": demo.email or demo.username, **auth}


def test_xml_api_refuses_a_rest_token_without_spark_all(webex_lab, narrow_token):
    # the token is good on the REST side, within its scopes
    rest = httpx.get(f"{webex_lab.urls['webex']}/v1/people/me",
                     headers={"Authorization": f"Bearer {narrow_token}"})
    assert rest.status_code == 200
    # token → sessionTicket exchange
    assert xml_post(webex_lab, security(webex_lab), AUTH,
                    f"<accessToken>{narrow_token}</accessToken>") == ("FAILURE", "000001")
    # the token straight in the security context
    assert xml_post(webex_lab, security(webex_lab, webExAccessToken=narrow_token), LST,
                    "<listControl><maximumNum>1</maximumNum></listControl>") == ("FAILURE", "000001")


def test_xml_api_accepts_a_rest_token_with_spark_all(webex_lab, full_token):
    assert xml_post(webex_lab, security(webex_lab), AUTH, f"<accessToken>{full_token}</accessToken>") \
        == ("SUCCESS", None)
    assert webex_lab.org.meetings(webex_lab.org.demo)
    assert xml_post(webex_lab, security(webex_lab, webExAccessToken=full_token), LST,
                    "<listControl><maximumNum>1</maximumNum></listControl>") == ("SUCCESS", None)


def test_one_scope_rule_for_rest_and_xml(webex_lab):
    grant = Grant("u", "t", 0.0, scope="spark:rooms_read")
    assert grant.allows({"spark:rooms_read", "spark:all"}) and not grant.allows({"spark:all"})
    assert Grant("u", "t", 0.0).allows({"spark:all"})  # issued without scopes: passes, as on the REST side
    rooms_only = webex_lab.ctx.issuers["webex"].issue(webex_lab.org.demo.username, scope="spark:rooms_read")
    token = rooms_only.access_token
    assert httpx.get(f"{webex_lab.urls['webex']}/v1/people/me",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert xml_post(webex_lab, security(webex_lab, webExAccessToken=token), LST) == ("FAILURE", "000001")
