"""The Finesse lab app over real HTTP: SSO token API and refresh rotation, agent state rules, ApiErrors."""

from __future__ import annotations

import json
import re
import ssl
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from urllib.parse import urlencode, urljoin

import httpx
import pytest

from ucexplore.lab import finesse, start
from ucexplore.lab.person import Person

XML = {"Content-Type": "application/xml"}
TOKEN_KEYS = ["token", "refresh_token", "expires_in", "user_id", "realm", "user_principal"]


@pytest.fixture(scope="module")
def lab():
    with start(users=400, seed=7, products=("finesse",)) as running:
        yield running


@pytest.fixture(scope="module")
def base(lab):
    return lab.urls["finesse"]


@pytest.fixture(scope="module")
def pw(lab):
    return lab.config.user_password


def agents(lab):
    return list(lab.org.agents.values())


def plain_agent(lab, *, team=None, skip=(), has_dialogs=None):
    """A non-supervisor agent (optionally in ``team``, with or without dialogs), not in ``skip``."""
    for a in agents(lab):
        if "Supervisor" in a.roles or a.login_id in skip or a is lab.org.demo_agent:
            continue
        if team is not None and a.team_id != team:
            continue
        if has_dialogs is not None and bool(a.dialogs) != has_dialogs:
            continue
        return a
    raise LookupError("no such agent in this lab")


def api_error(response: httpx.Response) -> tuple[str, str, str]:
    root = ET.fromstring(response.content)
    assert root.tag == "ApiErrors" and root[0].tag == "ApiError", response.text
    err = root[0]
    return err.findtext("ErrorType"), err.findtext("ErrorMessage"), err.findtext("ErrorData")


def token_url(base: str, cc_username: str, **extra: str) -> str:
    query = urlencode({"cc_username": cc_username, "return_refresh_token": "true", **extra})
    return f"{base}/desktop/sso/token?{query}"


def browse(client: httpx.Client, url: str, username: str, password: str,
           max_hops: int = 12) -> httpx.Response:
    """Follow redirects and fill the IdP form like a person; return the first other response."""
    response = client.get(url)
    for _ in range(max_hops):
        if response.is_redirect:
            response = client.get(urljoin(str(response.url), response.headers["location"]))
            continue
        if "id=ucx-idp-login" in response.text:
            fields = dict(re.findall(r"<input type=hidden name=(\w+) value='([^']*)'>", response.text))
            fields.update(username=username, password=password)
            response = client.post(urljoin(str(response.url), "/idp/sso"), data=fields)
            continue
        return response
    raise AssertionError("too many hops")


def sso_tokens(lab, agent=None, cc_username=None) -> dict:
    agent = agent or lab.org.demo_agent
    with Person(agent.user.username, lab.config.user_password) as person:
        return json.loads(person.sign_in(token_url(lab.urls["finesse"], cc_username or agent.user.username)))


def state_xml(state: str, reason: int | None = None, extension: str | None = None) -> str:
    """``<User><state>…</state>[<reasonCodeId>…</reasonCodeId>][<extension>…</extension>]</User>``."""
    extra = f"<reasonCodeId>{reason}</reasonCodeId>" if reason is not None else ""
    extra += f"<extension>{extension}</extension>" if extension is not None else ""
    return f"<User><state>{state}</state>{extra}</User>"


def put_state(base, auth, agent_id, body, headers=XML):
    """PUT a User body; ``auth`` is (user, password) or a bearer token string."""
    headers = dict(headers)
    if isinstance(auth, str):
        headers["Authorization"] = f"Bearer {auth}"
        auth = None
    return httpx.put(f"{base}/finesse/api/User/{agent_id}", content=body, auth=auth, headers=headers)


def get_user(base, auth, agent_id):
    return ET.fromstring(httpx.get(f"{base}/finesse/api/User/{agent_id}", auth=auth).content)


# -- SSO token API ------------------------------------------------------------------------------------------
def test_sso_token_end_to_end(lab, base):
    user, password = lab.demo_user
    agent = lab.org.demo_agent
    with Person(user, password) as person:
        body = json.loads(person.sign_in(token_url(base, user)))
        assert list(body) == TOKEN_KEYS
        assert body["expires_in"] == 1800 and isinstance(body["expires_in"], int)
        assert body["user_id"] == user and body["realm"] == lab.org.site_domain
        assert body["user_principal"] == f"{user}@{lab.org.site_domain}"
        assert person.forms_filled == 1
        # the loginId works as cc_username too, and the IdP session makes it silent
        again = json.loads(person.sign_in(token_url(base, agent.login_id)))
        assert person.forms_filled == 1 and again["token"] != body["token"]
    for key in (agent.login_id, user):
        r = httpx.get(f"{base}/finesse/api/User/{key}", headers={"Authorization": f"Bearer {body['token']}"})
        assert r.status_code == 200 and ET.fromstring(r.content).findtext("loginId") == agent.login_id
    # without return_refresh_token there is no refresh token
    with Person(user, password) as person:
        plain = json.loads(person.sign_in(f"{base}/desktop/sso/token?cc_username={user}"))
    assert "refresh_token" not in plain and plain["token"]


def test_sso_refuses_the_wrong_person_and_non_agents(lab, base, pw):
    other = plain_agent(lab)
    with httpx.Client() as browser:
        r = browse(browser, token_url(base, other.user.username), *lab.demo_user)
        assert r.status_code == 403 and r.json()["error"] == "access_denied"
        # the one-time transaction cannot be replayed
        assert browser.get(str(r.url)).status_code == 401
    non_agent = next(u for u in lab.org.users if not u.is_agent)
    with httpx.Client() as browser:
        r = browse(browser, token_url(base, non_agent.username), non_agent.username, pw)
        assert r.status_code == 401 and "error" in r.json()
    assert httpx.get(f"{base}/desktop/sso/token", params={"refresh-token": "x"}).status_code == 400
    r = httpx.get(f"{base}/desktop/sso/token", params={"cc_username": "x", "ucx_sso_txn": "forged"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/json")


def test_sso_cookie_form_of_cc_username_and_no_cc_username(lab, base, pw):
    user, password = lab.demo_user
    with httpx.Client(cookies={"cc_username": user}) as browser:
        r = browse(browser, f"{base}/desktop/sso/token?return_refresh_token=true", user, password)
    assert r.status_code == 200 and r.json()["user_id"] == user
    with httpx.Client(cookies={"cc_username": user}) as browser:  # the cookie names someone else
        other = plain_agent(lab)
        r = browse(browser, f"{base}/desktop/sso/token", other.user.username, pw)
    assert r.status_code == 403
    # without cc_username at all, the token is for whoever signs in
    agent = plain_agent(lab)
    with Person(agent.user.username, pw) as person:
        body = json.loads(person.sign_in(f"{base}/desktop/sso/token?return_refresh_token=true"))
    assert body["user_id"] == agent.user.username and body["refresh_token"]


def test_acs_refuses_a_forged_assertion(lab, base):
    hop = httpx.get(token_url(base, lab.demo_user[0]))
    relay = httpx.URL(hop.headers["location"]).params["RelayState"]
    forged = lab.ctx.sign_assertion(lab.demo_user[0], audience="unity")
    r = httpx.get(f"{base}/desktop/sso/acs", params={"SAMLResponse": forged, "RelayState": relay})
    assert r.status_code == 403
    r = httpx.get(f"{base}/desktop/sso/acs", params={"SAMLResponse": forged, "RelayState": "x"})
    assert r.status_code == 400


def test_refresh_post_rotates_the_refresh_token(lab, base):
    first = sso_tokens(lab)
    form = {"token": first["token"], "refresh-token": first["refresh_token"]}
    # a mismatched access token is refused and does not burn the refresh token
    bad = httpx.post(f"{base}/desktop/sso/token", data={**form, "token": "not-mine"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_grant"
    r = httpx.post(f"{base}/desktop/sso/token", data=form)
    assert r.status_code == 200
    second = r.json()
    assert list(second) == TOKEN_KEYS
    assert second["token"] != first["token"] and second["refresh_token"] != first["refresh_token"]
    old = httpx.post(f"{base}/desktop/sso/token", data=form)
    assert old.status_code == 401 and old.json()["error"] == "invalid_grant"
    assert httpx.get(f"{base}/finesse/api/User/{lab.demo_agent_id}",
                     headers={"Authorization": f"Bearer {second['token']}"}).status_code == 200
    third = httpx.post(f"{base}/desktop/sso/token",
                       data={"token": second["token"], "refresh-token": second["refresh_token"]})
    assert third.status_code == 200
    assert httpx.post(f"{base}/desktop/sso/token", data={"token": second["token"]}).status_code == 400
    r = httpx.post(f"{base}/desktop/sso/token", json=form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_refresh_get_rotates_and_checks_cc_username(lab, base):
    first = sso_tokens(lab)
    url = f"{base}/desktop/sso/token"
    other = plain_agent(lab)
    r = httpx.get(url, params={"cc_username": other.user.username, "refresh-token": first["refresh_token"]})
    assert r.status_code == 401  # not this refresh token's user, and nothing consumed
    r = httpx.get(url, params={"cc_username": lab.demo_agent_id, "refresh-token": first["refresh_token"]})
    assert r.status_code == 200 and list(r.json()) == TOKEN_KEYS
    again = httpx.get(url, params={"cc_username": lab.demo_agent_id, "refresh-token": first["refresh_token"]})
    assert again.status_code == 401 and again.json()["error"] == "invalid_grant"
    new = r.json()
    r = httpx.get(url, params={"cc_username": lab.demo_user[0], "refresh-token": new["refresh_token"]})
    assert r.status_code == 200
    assert httpx.get(url, params={"refresh-token": new["refresh_token"]}).status_code == 400


def test_sso_test_endpoint(base):
    r = httpx.get(f"{base}/desktop/sso/test")
    assert r.status_code == 200


# -- SystemInfo and authentication -------------------------------------------------------------------------
def test_system_info_is_anonymous(lab, base):
    r = httpx.get(f"{base}/finesse/api/SystemInfo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    info = ET.fromstring(r.content)
    assert info.tag == "SystemInfo"
    assert info.findtext("deploymentType") == "UCCX" and info.findtext("status") == "IN_SERVICE"
    assert info.findtext("systemAuthMode") == lab.config.finesse_auth_mode
    assert info.findtext("timezoneOffset") == "480" and info.findtext("uri") == "/finesse/api/SystemInfo"
    assert info.findtext("primaryNode/host") and info.findtext("xmppDomain")
    assert info.findtext("currentTimestamp")


def test_basic_auth_with_login_id_or_login_name(lab, base, pw):
    agent = lab.org.demo_agent
    for name in (agent.login_id, agent.user.username):
        assert httpx.get(f"{base}/finesse/api/User/{agent.login_id}", auth=(name, pw)).status_code == 200
    r = httpx.get(f"{base}/finesse/api/User/{agent.login_id}")
    assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"
    r = httpx.get(f"{base}/finesse/api/User/{agent.login_id}",
                  headers={"Authorization": "Bearer not-a-finesse-token"})
    assert r.status_code == 401 and api_error(r)[:2] == ("Authorization Failure", "UNAUTHORIZED")
    cucm_like = lab.ctx.issuers["cucm"].issue(agent.user.username).access_token  # tokens are per issuer
    assert httpx.get(f"{base}/finesse/api/User/{agent.login_id}",
                     headers={"Authorization": f"Bearer {cucm_like}"}).status_code == 401


def test_system_auth_mode_governs_basic_and_bearer(lab, base, pw):
    agent = lab.org.demo_agent
    token = sso_tokens(lab)["token"]
    url = f"{base}/finesse/api/User/{agent.login_id}"
    original = lab.ctx.config
    try:
        lab.ctx.config = replace(original, finesse_auth_mode="SSO")
        info = ET.fromstring(httpx.get(f"{base}/finesse/api/SystemInfo").content)
        assert info.findtext("systemAuthMode") == "SSO"
        assert httpx.get(url, auth=(agent.login_id, pw)).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(url, auth=lab.admin).status_code == 200
        lab.ctx.config = replace(original, finesse_auth_mode="NON_SSO")
        assert httpx.get(url, auth=(agent.login_id, pw)).status_code == 200
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        lab.ctx.config = original


def test_lockout_after_five_bad_passwords(lab, base, pw, monkeypatch):
    victim = plain_agent(lab, team="5003")
    bystander = plain_agent(lab, team="5003", skip={victim.login_id})
    monkeypatch.setattr(finesse, "LOCKOUT_SECONDS", 1.0)
    url = f"{base}/finesse/api/SystemInfo"
    for _ in range(5):
        r = httpx.get(url, auth=(victim.login_id, "wrong"))
        assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"
    locked = httpx.get(f"{base}/finesse/api/User/{victim.login_id}", auth=(victim.user.username, pw))
    assert locked.status_code == 401 and "locked" in api_error(locked)[2]
    r = httpx.get(f"{base}/finesse/api/User/{bystander.login_id}", auth=(bystander.login_id, pw))
    assert r.status_code == 200
    for _ in range(6):
        assert httpx.get(url, auth=(lab.admin[0], "wrong")).status_code == 401
    assert httpx.get(url, auth=lab.admin).status_code == 200  # the administrator is never locked out
    time.sleep(1.2)
    r = httpx.get(f"{base}/finesse/api/User/{victim.login_id}", auth=(victim.login_id, pw))
    assert r.status_code == 200


# -- User object and state changes -------------------------------------------------------------------------
def test_user_object_fields(lab, base, pw):
    agent = lab.org.demo_agent
    r = httpx.get(f"{base}/finesse/api/User/{agent.user.username}", auth=(agent.login_id, pw))
    assert "&amp;" in r.text or "&" not in lab.org.teams[agent.team_id].name
    u = ET.fromstring(r.content)
    assert u.tag == "User" and u.findtext("uri") == f"/finesse/api/User/{agent.login_id}"
    assert u.findtext("loginName") == agent.user.username and u.findtext("firstName") == agent.user.first_name
    assert u.findtext("lastName") == agent.user.last_name and u.findtext("extension") == agent.extension
    assert [x.text for x in u.findall("roles/role")] == list(agent.roles)
    assert u.findtext("teamId") == agent.team_id
    assert u.findtext("teamName") == lab.org.teams[agent.team_id].name
    assert u.findtext("dialogs") == f"/finesse/api/User/{agent.login_id}/Dialogs"
    assert u.findtext("settings/wrapUpOnIncoming") and u.findtext("stateChangeTime").endswith("Z")
    assert u.findtext("state") == agent.state and u.find("pendingState") is not None
    if agent.reason_code_id > 0:
        rc = lab.org.reason_code(agent.reason_code_id)
        assert u.findtext("reasonCode/label") == rc.label and u.findtext("reasonCode/category") == rc.category
    assert u.findtext("teams/Team/id") == agent.team_id  # the demo agent supervises its team
    missing = httpx.get(f"{base}/finesse/api/User/nobody", auth=lab.admin)
    assert missing.status_code == 404 and api_error(missing)[0] == "Not Found"


def test_state_machine_and_reason_codes(lab, base, pw):
    a = plain_agent(lab, team="5001", has_dialogs=False)
    auth = (a.login_id, pw)
    a.state, a.reason_code_id = "READY", -1  # ground truth set directly, as the org allows
    before = get_user(base, auth, a.login_id).findtext("stateChangeTime")

    r = put_state(base, auth, a.login_id, state_xml("NOT_READY", 2))
    assert r.status_code == 202 and r.content == b""
    u = get_user(base, auth, a.login_id)
    assert u.findtext("state") == "NOT_READY" and u.findtext("reasonCodeId") == "2"
    assert u.findtext("reasonCode/label") == "Break" and u.findtext("stateChangeTime") != before

    for body, etype in [
        (state_xml("NOT_READY", 20), "Invalid Input"),  # a LOGOUT code
        ("<User><state>NOT_READY</state><reasonCodeId>999</reasonCodeId></User>", "Invalid Input"),
        ("<User><state>NOT_READY</state><reasonCodeId>lunch</reasonCodeId></User>", "Invalid Input"),
        ("<User><state>TALKING</state></User>", "Invalid Input"),
        ("<User><state>SLEEPING</state></User>", "Invalid Input"),
        ("<User><reasonCodeId>2</reasonCodeId></User>", "Parameter Missing"),
        ("<User><state></state></User>", "Parameter Missing"),
        ("<User><state>READY</state>", "Bad Request"),
        ("<Dialog><state>READY</state></Dialog>", "Bad Request"),
        ("<!DOCTYPE User [<!ENTITY s 'READY'>]><User><state>&s;</state></User>", "Bad Request"),
    ]:
        r = put_state(base, auth, a.login_id, body)
        assert r.status_code == 400 and api_error(r)[0] == etype, body
    r = put_state(base, auth, a.login_id, state_xml("READY"), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and api_error(r)[0] == "Invalid Input"
    r = httpx.put(f"{base}/finesse/api/User/{a.login_id}", auth=auth, content=state_xml("READY"))
    assert r.status_code == 415
    assert get_user(base, auth, a.login_id).findtext("state") == "NOT_READY"  # nothing changed

    assert put_state(base, auth, a.login_id, "<User><state>NOT_READY</state></User>").status_code == 202
    u = get_user(base, auth, a.login_id)
    assert u.findtext("reasonCodeId") == "-1" and u.find("reasonCode") is None
    assert put_state(base, auth, a.login_id, "<User><state>READY</state></User>").status_code == 202
    # UCCX: LOGOUT straight from READY, with a LOGOUT reason code
    r = put_state(base, auth, a.login_id, "<User><state>LOGOUT</state><reasonCodeId>2</reasonCodeId></User>")
    assert r.status_code == 400 and api_error(r)[0] == "Invalid Input"
    r = put_state(base, auth, a.login_id, "<User><state>LOGOUT</state><reasonCodeId>20</reasonCodeId></User>")
    assert r.status_code == 202
    u = get_user(base, auth, a.login_id)
    assert u.findtext("state") == "LOGOUT" and u.findtext("reasonCode/label") == "End of shift"
    for state in ("READY", "NOT_READY", "LOGOUT"):
        r = put_state(base, auth, a.login_id, f"<User><state>{state}</state></User>")
        assert r.status_code == 400 and api_error(r)[0] == "Invalid State", state
    r = put_state(base, auth, a.login_id, "<User><state>LOGIN</state></User>")
    assert r.status_code == 400
    assert api_error(r) == ("Parameter Missing", "The extension parameter is missing", "extension")
    r = put_state(base, auth, a.login_id, "<User><state>LOGIN</state><extension>0000</extension></User>")
    assert r.status_code == 400 and api_error(r)[0] == "Bad Request"
    r = put_state(base, auth, a.login_id, state_xml("LOGIN", extension=a.extension))
    assert r.status_code == 202
    u = get_user(base, auth, a.login_id)
    assert u.findtext("state") == "NOT_READY" and u.findtext("reasonCodeId") == "-1"
    # LOGIN while signed in keeps the state
    assert put_state(base, auth, a.login_id, "<User><state>READY</state></User>").status_code == 202
    r = put_state(base, auth, a.login_id, state_xml("LOGIN", extension=a.extension))
    assert r.status_code == 202 and get_user(base, auth, a.login_id).findtext("state") == "READY"
    # the request id is echoed
    r = put_state(base, auth, a.login_id, state_xml("READY"), headers={**XML, "requestId": "abc-1"})
    assert r.status_code == 202 and r.headers["requestid"] == "abc-1"
    # a bearer token works the same way
    token = sso_tokens(lab, a)["token"]
    r = put_state(base, token, a.login_id, state_xml("NOT_READY", 1))
    assert r.status_code == 202 and a.state == "NOT_READY" and a.reason_code_id == 1


def test_state_rules_during_calls_and_wrap_up(lab, base, pw):
    a = next(x for x in agents(lab) if x.dialogs and x.state == "TALKING" and "Supervisor" not in x.roles)
    auth = (a.login_id, pw)
    for state in ("READY", "LOGOUT"):
        r = put_state(base, auth, a.login_id, f"<User><state>{state}</state></User>")
        assert r.status_code == 400 and api_error(r)[0] == "Invalid State", state
    r = put_state(base, auth, a.login_id, state_xml("NOT_READY", 3))
    assert r.status_code == 202
    u = get_user(base, auth, a.login_id)
    assert u.findtext("state") == "TALKING" and u.findtext("pendingState") == "NOT_READY"
    w = plain_agent(lab, skip={a.login_id}, has_dialogs=False)
    w.state, w.reason_code_id = "WORK", -1
    r = put_state(base, (w.login_id, pw), w.login_id, "<User><state>LOGOUT</state></User>")
    assert r.status_code == 400 and api_error(r)[0] == "Invalid State"
    assert put_state(base, (w.login_id, pw), w.login_id, state_xml("READY")).status_code == 202


def test_cross_agent_and_supervisor_rules(lab, base, pw):
    sup = lab.org.demo_agent
    assert "Supervisor" in sup.roles
    mate = plain_agent(lab, team=sup.team_id, has_dialogs=False)
    other_team = plain_agent(lab, team="5001", has_dialogs=False, skip={mate.login_id})
    peer = plain_agent(lab, team=sup.team_id, has_dialogs=False, skip={mate.login_id})
    # an agent can read and change only itself
    r = httpx.get(f"{base}/finesse/api/User/{peer.login_id}", auth=(mate.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Authorization User Specified"
    assert api_error(r)[2] == mate.login_id
    before = peer.state
    r = put_state(base, (mate.login_id, pw), peer.login_id, "<User><state>READY</state></User>")
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Authorization User Specified"
    assert peer.state == before
    r = httpx.get(f"{base}/finesse/api/User/{peer.login_id}/Dialogs", auth=(mate.login_id, pw))
    assert r.status_code == 401
    mate_token = sso_tokens(lab, mate)["token"]
    r = put_state(base, mate_token, peer.login_id, "<User><state>READY</state></User>")
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Authorization User Specified"
    # the supervisor reads and changes its own team
    assert httpx.get(f"{base}/finesse/api/User/{mate.login_id}", auth=(sup.login_id, pw)).status_code == 200
    mate.state, mate.reason_code_id = "READY", -1
    r = put_state(base, (sup.login_id, pw), mate.login_id, "<User><state>NOT_READY</state></User>")
    assert r.status_code == 202 and mate.state == "NOT_READY" and mate.reason_code_id == 33
    assert get_user(base, (mate.login_id, pw), mate.login_id).findtext("reasonCode/code") == "33"
    r = put_state(base, (sup.login_id, pw), mate.login_id,
                  "<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>")
    assert r.status_code == 400 and api_error(r)[0] == "Invalid Input"
    r = put_state(base, (sup.login_id, pw), mate.login_id,
                  f"<User><state>LOGIN</state><extension>{mate.extension}</extension></User>")
    assert r.status_code == 400 and api_error(r)[0] == "Invalid State"
    assert put_state(base, (sup.login_id, pw), mate.login_id, state_xml("LOGOUT")).status_code == 202
    # ...but not another team
    r = httpx.get(f"{base}/finesse/api/User/{other_team.login_id}", auth=(sup.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Supervisor"
    r = put_state(base, (sup.login_id, pw), other_team.login_id, "<User><state>READY</state></User>")
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Supervisor"
    # the administrator reads everyone and changes no one
    assert httpx.get(f"{base}/finesse/api/User/{other_team.login_id}", auth=lab.admin).status_code == 200
    r = put_state(base, lab.admin, other_team.login_id, "<User><state>READY</state></User>")
    assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"


# -- Team, Dialogs, ReasonCodes, Queues, Users -------------------------------------------------------------
def test_team_shape_and_access(lab, base, pw):
    sup = lab.org.demo_agent
    team = lab.org.teams[sup.team_id]
    r = httpx.get(f"{base}/finesse/api/Team/{team.id}", auth=(sup.login_id, pw))
    assert r.status_code == 200
    t = ET.fromstring(r.content)
    assert t.tag == "Team" and t.findtext("id") == team.id and t.findtext("name") == team.name
    assert t.findtext("uri") == f"/finesse/api/Team/{team.id}"
    members = t.findall("users/User")
    assert [m.findtext("loginId") for m in members] == team.agent_ids
    for m in members:
        a = lab.org.agents[m.findtext("loginId")]
        assert m.findtext("firstName") == a.user.first_name and m.findtext("state") == a.state
        assert m.findtext("uri") and m.findtext("dialogs") and m.findtext("extension")
        assert m.find("pendingState") is not None
        assert m.findtext("stateChangeTime")
    assert "&amp;" in r.text  # "Billing & Payments"
    angle = next(x for x in lab.org.teams.values() if "<" in x.name)
    r = httpx.get(f"{base}/finesse/api/Team/{angle.id}", auth=lab.admin)
    assert "&lt;" in r.text and ET.fromstring(r.content).findtext("name") == angle.name
    r = httpx.get(f"{base}/finesse/api/Team/{angle.id}", auth=(sup.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Supervisor"
    agent = plain_agent(lab, team=sup.team_id)
    r = httpx.get(f"{base}/finesse/api/Team/{team.id}", auth=(agent.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"
    r = httpx.get(f"{base}/finesse/api/Team/9999", auth=lab.admin)
    assert r.status_code == 404 and api_error(r)[0] == "Not Found"
    # unicode names survive
    assert any(not m.findtext("lastName").isascii() or not m.findtext("firstName").isascii()
               for x in lab.org.teams.values()
               for m in ET.fromstring(httpx.get(f"{base}/finesse/api/Team/{x.id}", auth=lab.admin).content)
               .findall("users/User"))


def test_dialogs_and_dialog(lab, base, pw):
    a = next(x for x in agents(lab) if x.dialogs and "Supervisor" not in x.roles)
    d = a.dialogs[0]
    r = httpx.get(f"{base}/finesse/api/User/{a.login_id}/Dialogs", auth=(a.login_id, pw))
    assert r.status_code == 200 and "Gold &amp; Silver" in r.text
    root = ET.fromstring(r.content)
    assert root.tag == "Dialogs"
    dialog = root.find("Dialog")
    assert dialog.findtext("id") == d["id"] and dialog.findtext("uri") == f"/finesse/api/Dialog/{d['id']}"
    assert dialog.findtext("fromAddress") == d["fromAddress"] and dialog.findtext("mediaType") == "Voice"
    variables = {v.findtext("name"): v.findtext("value")
                 for v in dialog.findall("mediaProperties/callvariables/CallVariable")}
    assert variables == dict(d["callvariables"]) and variables["callVariable2"] == "Gold & Silver"
    assert dialog.findtext("mediaProperties/queueName") == d["queueName"]
    participants = dialog.findall("participants/Participant")
    assert len(participants) == 2
    assert {p.findtext("mediaAddress") for p in participants} == {d["fromAddress"], a.extension}
    assert all(p.findtext("state") and p.findtext("startTime") for p in participants)
    one = httpx.get(f"{base}/finesse/api/Dialog/{d['id']}", auth=(a.login_id, pw))
    assert one.status_code == 200 and ET.fromstring(one.content).findtext("id") == d["id"]
    stranger = plain_agent(lab, skip={a.login_id}, team=("5001" if a.team_id != "5001" else "5002"))
    r = httpx.get(f"{base}/finesse/api/Dialog/{d['id']}", auth=(stranger.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Invalid Authorization User Specified"
    r = httpx.get(f"{base}/finesse/api/Dialog/1", auth=(a.login_id, pw))
    assert r.status_code == 404 and api_error(r)[0] == "Not Found"
    idle = plain_agent(lab, has_dialogs=False)
    r = httpx.get(f"{base}/finesse/api/User/{idle.login_id}/Dialogs", auth=(idle.login_id, pw))
    root = ET.fromstring(r.content)
    assert root.tag == "Dialogs" and len(root) == 0


def test_reason_codes(lab, base, pw):
    auth = (lab.demo_agent_id, pw)
    counts = {}
    for category in ("NOT_READY", "LOGOUT", "ALL"):
        r = httpx.get(f"{base}/finesse/api/ReasonCodes", params={"category": category}, auth=auth)
        root = ET.fromstring(r.content)
        assert root.tag == "ReasonCodes"
        codes = root.findall("ReasonCode")
        counts[category] = len(codes)
        for rc in codes:
            assert rc.findtext("uri").startswith("/finesse/api/ReasonCode/") and rc.findtext("label")
            assert category == "ALL" or rc.findtext("category") == category
    assert counts["ALL"] == counts["NOT_READY"] + counts["LOGOUT"] == len(lab.org.reason_codes)
    r = httpx.get(f"{base}/finesse/api/User/{lab.demo_agent_id}/ReasonCodes",
                  params={"category": "NOT_READY"}, auth=auth)
    root = ET.fromstring(r.content)
    assert root.get("category") == "NOT_READY" and len(root) == counts["NOT_READY"]
    one = ET.fromstring(httpx.get(f"{base}/finesse/api/ReasonCode/1", auth=auth).content)
    assert one.tag == "ReasonCode" and one.findtext("label") == "Lunch" and one.findtext("code") == "1"
    r = httpx.get(f"{base}/finesse/api/ReasonCodes", auth=auth)
    assert r.status_code == 400 and api_error(r)[0] == "Parameter Missing"
    r = httpx.get(f"{base}/finesse/api/ReasonCodes", params={"category": "SOMETIMES"}, auth=auth)
    assert r.status_code == 400 and api_error(r)[0] == "Invalid Input"
    for missing in ("999", "abc"):
        r = httpx.get(f"{base}/finesse/api/ReasonCode/{missing}", auth=auth)
        assert r.status_code == 404 and api_error(r)[0] == "Not Found"


STATS = ["callsInQueue", "startTimeOfLongestCallInQueue", "agentsReady", "agentsNotReady", "agentsBusyOther",
         "agentsLoggedOn", "agentsTalkingInbound", "agentsTalkingOutbound", "agentsTalkingInternal",
         "agentsWrapUpNotReady", "agentsWrapUpReady"]


def test_queues(lab, base, pw):
    a = lab.org.demo_agent
    r = httpx.get(f"{base}/finesse/api/User/{a.login_id}/Queues", auth=(a.login_id, pw))
    root = ET.fromstring(r.content)
    assert root.tag == "Queues" and len(root) >= 1
    for q in root.findall("Queue"):
        assert q.findtext("uri").startswith("/finesse/api/Queue/") and q.findtext("name")
        assert [s.tag for s in q.find("statistics")] == STATS
        assert all(int(q.findtext(f"statistics/{k}")) >= 0
                   for k in STATS if k != "startTimeOfLongestCallInQueue")
    mine = root.find("Queue").findtext("uri").rsplit("/", 1)[1]
    assert httpx.get(f"{base}/finesse/api/Queue/{mine}", auth=(a.login_id, pw)).status_code == 200
    ids = {q.findtext("uri").rsplit("/", 1)[1] for q in root}
    foreign = next(str(q[0]) for q in finesse.QUEUES if str(q[0]) not in ids)
    r = httpx.get(f"{base}/finesse/api/Queue/{foreign}", auth=(a.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"
    vip = next(q for q in finesse.QUEUES if "<" in q[1])
    r = httpx.get(f"{base}/finesse/api/Queue/{vip[0]}", auth=lab.admin)
    assert "&lt;" in r.text and ET.fromstring(r.content).findtext("name") == vip[1]
    r = httpx.get(f"{base}/finesse/api/Queue/77", auth=lab.admin)
    assert r.status_code == 404 and api_error(r)[0] == "Not Found"


def test_users_collection(lab, base, pw):
    r = httpx.get(f"{base}/finesse/api/Users", auth=lab.admin)
    root = ET.fromstring(r.content)
    assert root.tag == "Users" and len(root) == len(lab.org.agents)
    sup = lab.org.demo_agent
    mine = ET.fromstring(httpx.get(f"{base}/finesse/api/Users", auth=(sup.login_id, pw)).content)
    assert {u.findtext("loginId") for u in mine} == set(lab.org.teams[sup.team_id].agent_ids)
    agent = plain_agent(lab)
    r = httpx.get(f"{base}/finesse/api/Users", auth=(agent.login_id, pw))
    assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"


# -- robustness, faults, HTTPS ------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,status,etype", [
    ("GET", "/finesse/api/NoSuchThing", 404, "Not Found"),
    ("GET", "/finesse/api/User", 404, "Not Found"),
    ("GET", "/finesse/api/User/", 404, "Not Found"),
    ("GET", "/elsewhere", 404, "Not Found"),
    ("DELETE", "/finesse/api/User/1001001", 405, "Method Not Allowed"),
    ("POST", "/finesse/api/SystemInfo", 405, "Method Not Allowed"),
    ("PUT", "/finesse/api/Team/5000", 405, "Method Not Allowed"),
])
def test_unknown_paths_and_methods_answer_api_errors(lab, base, method, path, status, etype):
    r = httpx.request(method, f"{base}{path}", auth=lab.admin)
    assert r.status_code == status and api_error(r)[0] == etype


def test_faults_answer_api_errors_with_retry_after(lab, base, pw):
    try:
        lab.set_faults("finesse", rate_429=1.0, retry_after=3)
        r = httpx.get(f"{base}/finesse/api/SystemInfo")
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert api_error(r)[0] == "Too Many Requests"
        # the SSO token API is a sign-in path and is never faulted
        assert httpx.get(f"{base}/desktop/sso/test").status_code == 200
        lab.set_faults("finesse", rate_429=0.0, rate_503=1.0, retry_after=0.25)
        r = httpx.get(f"{base}/finesse/api/User/{lab.demo_agent_id}", auth=(lab.demo_agent_id, pw))
        assert r.status_code == 503 and r.headers["retry-after"] == "0.25"
        assert api_error(r)[0] == "Service Unavailable"
    finally:
        lab.set_faults("finesse")
    assert httpx.get(f"{base}/finesse/api/SystemInfo").status_code == 200


def test_garbage_never_causes_a_500(lab, base, pw):
    a = lab.org.demo_agent
    for value in ("Basic !!!", "Basic " + "A" * 4000, "Bearer", "Digest x"):
        r = httpx.get(f"{base}/finesse/api/User/{a.login_id}", headers={"Authorization": value})
        assert r.status_code == 401 and api_error(r)[0] == "Authorization Failure"
    for body in (b"", b"\xff\xfe\x00junk", b"<User>" * 1000, b"<User><state>READY</state></User>" * 2):
        r = put_state(base, (a.login_id, pw), a.login_id, body)
        assert r.status_code == 400 and api_error(r)[0] in ("Bad Request", "Parameter Missing")
    r = httpx.get(f"{base}/finesse/api/User/%00%ff", auth=lab.admin)
    assert r.status_code == 404 and api_error(r)[0] == "Not Found"


def test_https_with_the_lab_ca():
    with start(users=30, https=True, products=("finesse",)) as secure:
        base = secure.urls["finesse"]
        verify = ssl.create_default_context(cafile=secure.ca_path)
        assert httpx.get(f"{base}/finesse/api/SystemInfo", verify=verify).status_code == 200
        user, password = secure.demo_user
        with Person(user, password, verify=verify) as person:
            body = json.loads(person.sign_in(token_url(base, user)))
        r = httpx.get(f"{base}/finesse/api/User/{secure.demo_agent_id}", verify=verify,
                      headers={"Authorization": f"Bearer {body['token']}"})
        assert r.status_code == 200
        r = httpx.post(f"{base}/desktop/sso/token", verify=verify,
                       data={"token": body["token"], "refresh-token": body["refresh_token"]})
        assert r.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/finesse/api/SystemInfo")
