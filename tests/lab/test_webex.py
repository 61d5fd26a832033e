"""The lab's Webex REST API over real HTTP: OAuth (code + PKCE + refresh), people, meetings, participants,
rooms, Link paging, errors, faults and HTTPS. Plain httpx + json; ground truth comes from ``lab.org``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import ssl
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

import ucexplore.lab
from ucexplore.lab.person import Person

EXTRA_REDIRECT = "http://localhost:8765/cb?app=1"
MAX_PAGE = 25
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TRACKING = re.compile(r"^ROUTER_[0-9A-F-]{36}$")


# -- helpers ---------------------------------------------------------------------------------------------
def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(lab, *, redirect_uri=None, scope="spark:all", state="st-1", challenge=None, **extra) -> str:
    params = {"client_id": lab.webex_client_id, "response_type": "code",
              "redirect_uri": redirect_uri or lab.redirect_uri, "scope": scope}
    if state is not None:
        params["state"] = state
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return f"{lab.urls['webex']}/v1/authorize?{urlencode(params)}"


def landed_query(landed: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}


def get_code(lab, user=None, **kw) -> dict[str, str]:
    """Sign in through the IdP as a person would; returns the landing query (code, state)."""
    username, password = user or lab.demo_user
    with Person(username, password, verify=kw.pop("verify", True)) as person:
        return landed_query(person.sign_in(authorize_url(lab, **kw)))


def token_post(lab, verify=True, **form) -> httpx.Response:
    return httpx.post(f"{lab.urls['webex']}/v1/access_token", data=form, verify=verify)


def redeem(lab, code, *, verifier=None, secret=True, redirect_uri=None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": lab.webex_client_id, "code": code,
            "redirect_uri": redirect_uri or lab.redirect_uri}
    if secret:
        form["client_secret"] = lab.webex_client_secret
    if verifier:
        form["code_verifier"] = verifier
    return token_post(lab, **form)


def sign_in_tokens(lab, user=None, scope="spark:all") -> dict:
    verifier, challenge = pkce_pair()
    q = get_code(lab, user, scope=scope, challenge=challenge)
    r = redeem(lab, q["code"], verifier=verifier, secret=False)
    assert r.status_code == 200, r.text
    return r.json()


def api(lab, path, token=None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = path if path.startswith("http") else f"{lab.urls['webex']}/v1{path}"
    return httpx.get(url, params=params or None, headers=headers)


def walk(lab, path, token, **params) -> tuple[list[dict], int]:
    """Follow Link rel="next" to the end; returns (items, pages)."""
    items, pages = [], 0
    r = api(lab, path, token, **params)
    while True:
        assert r.status_code == 200, r.text
        pages += 1
        items.extend(r.json()["items"])
        link = r.headers.get("link")
        if not link:
            return items, pages
        m = re.match(r'^<([^>]+)>; rel="next"$', link)
        assert m, link
        assert m.group(1).startswith(lab.urls["webex"] + "/v1/")
        r = api(lab, m.group(1), token)


def assert_error_json(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["errors"] and body["errors"][0]["description"]
    assert TRACKING.match(body["trackingId"])
    assert r.headers["trackingid"] == body["trackingId"]
    return body


def email_of(user) -> str:
    return user.email or f"{user.username}@acme.example"


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    with ucexplore.lab.start(users=60, products=("webex",), redirect_uris=(EXTRA_REDIRECT,),
                             webex_max_page=MAX_PAGE) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(lab):
    return sign_in_tokens(lab)


@pytest.fixture(scope="module")
def token(tokens):
    return tokens["access_token"]


@pytest.fixture
def demo(lab):
    return lab.org.demo


# -- OAuth ----------------------------------------------------------------------------------------------
def test_code_flow_with_pkce_end_to_end(lab, demo):
    verifier, challenge = pkce_pair()
    q = get_code(lab, scope="spark:all spark:people_read", state="s t&ate/1", challenge=challenge)
    assert q["state"] == "s t&ate/1"
    r = redeem(lab, q["code"], verifier=verifier, secret=False)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in",
                         "token_type"}
    assert body["token_type"] == "Bearer"
    assert 1209590 <= body["expires_in"] <= 1209599
    assert 7775990 <= body["refresh_token_expires_in"] <= 7775999
    me = api(lab, "/people/me", body["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == demo.webex_id


def test_pkce_with_client_secret_also_works(lab):
    verifier, challenge = pkce_pair()
    q = get_code(lab, challenge=challenge)
    assert redeem(lab, q["code"], verifier=verifier, secret=True).status_code == 200


def test_pkce_wrong_verifier_refused(lab):
    _, challenge = pkce_pair()
    q = get_code(lab, challenge=challenge)
    r = redeem(lab, q["code"], verifier=secrets.token_urlsafe(48), secret=True)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "PKCE" in r.json()["error_description"]


def test_pkce_missing_verifier_refused(lab):
    _, challenge = pkce_pair()
    q = get_code(lab, challenge=challenge)
    r = redeem(lab, q["code"], verifier=None, secret=True)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_secret_required_without_pkce(lab):
    q = get_code(lab)
    r = redeem(lab, q["code"], secret=False)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # the refused attempt did not burn the code: the confidential client can still redeem it
    assert redeem(lab, q["code"], secret=True).status_code == 200


def test_wrong_client_secret_and_client_id_refused(lab):
    q = get_code(lab)
    r = token_post(lab, grant_type="authorization_code", client_id=lab.webex_client_id, client_secret="nope",
                   code=q["code"], redirect_uri=lab.redirect_uri)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = token_post(lab, grant_type="authorization_code", client_id="Cbogus",
                   client_secret=lab.webex_client_secret, code=q["code"], redirect_uri=lab.redirect_uri)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_client_secret_basic_auth_accepted(lab):
    q = get_code(lab)
    r = httpx.post(f"{lab.urls['webex']}/v1/access_token",
                   data={"grant_type": "authorization_code", "code": q["code"],
                         "redirect_uri": lab.redirect_uri},
                   auth=(lab.webex_client_id, lab.webex_client_secret))
    assert r.status_code == 200, r.text


def test_code_redeemed_twice_refused_and_revokes(lab):
    q = get_code(lab)
    first = redeem(lab, q["code"])
    assert first.status_code == 200
    token = first.json()["access_token"]
    assert api(lab, "/people/me", token).status_code == 200
    second = redeem(lab, q["code"])
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert "already been used" in second.json()["error_description"]
    # RFC 6749 §4.1.2: the replay revokes what the code issued
    assert_error_json(api(lab, "/people/me", token), 401)


def test_redirect_uri_mismatch_at_token_endpoint(lab):
    q = get_code(lab)
    r = redeem(lab, q["code"], redirect_uri=EXTRA_REDIRECT)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_unknown_code_refused(lab):
    r = redeem(lab, "not-a-code")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_other_registered_redirect_uri_keeps_its_query(lab):
    q = get_code(lab, redirect_uri=EXTRA_REDIRECT, state="abc")
    assert q["app"] == "1" and q["state"] == "abc" and q["code"]
    assert redeem(lab, q["code"], redirect_uri=EXTRA_REDIRECT).status_code == 200


def test_unregistered_redirect_uri_refused_without_redirect(lab):
    r = httpx.get(authorize_url(lab, redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "text/html" in r.headers["content-type"]
    assert TRACKING.match(r.headers["trackingid"])
    r = httpx.get(authorize_url(lab, redirect_uri=None).replace("redirect_uri=", "redirect_urx="))
    assert r.status_code == 400 and "location" not in r.headers


def test_bad_client_id_refused_without_redirect(lab):
    url = authorize_url(lab).replace(lab.webex_client_id, "Cdeadbeef")
    r = httpx.get(url)
    assert r.status_code == 400
    assert "location" not in r.headers


@pytest.mark.parametrize("extra, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": ""}, "invalid_scope"),
    ({"scope": "spark:all bogus_scope"}, "invalid_scope"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
])
def test_authorize_errors_redirect_with_error(lab, extra, error):
    url = authorize_url(lab, state="keep-me", **{k: v for k, v in extra.items() if k != "scope"})
    if "scope" in extra:
        url = authorize_url(lab, state="keep-me", scope=extra["scope"])
    r = httpx.get(url)
    assert r.status_code == 302
    target = r.headers["location"]
    assert target.startswith(lab.redirect_uri + "?")
    q = landed_query(target)
    assert q["error"] == error and q["error_description"]
    assert q["state"] == "keep-me"
    assert "code" not in q


def test_authorize_goes_to_idp_and_acs_checks_assertion(lab):
    r = httpx.get(authorize_url(lab))
    assert r.status_code == 302
    idp = urlsplit(r.headers["location"])
    assert r.headers["location"].startswith(lab.urls["idp"] + "/idp/sso?")
    relay = parse_qs(idp.query)["RelayState"][0]
    assert parse_qs(idp.query)["sp"] == ["webex"]
    acs = f"{lab.urls['webex']}/v1/sso/acs"
    bad = httpx.get(acs, params={"SAMLResponse": "forged.sig", "RelayState": relay})
    assert bad.status_code == 403
    unknown = httpx.get(acs, params={"SAMLResponse": "x", "RelayState": "nope"})
    assert unknown.status_code == 400


def test_single_sign_on_second_authorize_skips_form(lab):
    with Person(*lab.demo_user) as person:
        person.sign_in(authorize_url(lab))
        landed = person.sign_in(authorize_url(lab, state="again"))
        assert person.forms_filled == 1
    assert landed_query(landed)["state"] == "again"


def test_refresh_rotates(lab):
    first = sign_in_tokens(lab)
    r = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                   client_secret=lab.webex_client_secret, refresh_token=first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert 1209590 <= second["expires_in"] <= 1209599
    assert api(lab, "/people/me", second["access_token"]).status_code == 200
    old = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                     client_secret=lab.webex_client_secret, refresh_token=first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    # a PKCE grant refreshes without the client secret
    third = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                       refresh_token=second["refresh_token"])
    assert third.status_code == 200, third.text


def test_refresh_of_confidential_grant_needs_secret(lab):
    q = get_code(lab)
    grant = redeem(lab, q["code"]).json()
    r = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                   refresh_token=grant["refresh_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                   client_secret=lab.webex_client_secret, refresh_token=grant["refresh_token"])
    assert r.status_code == 200


def test_token_endpoint_bad_requests(lab):
    assert token_post(lab, grant_type="password", client_id=lab.webex_client_id,
                      client_secret=lab.webex_client_secret).json()["error"] == "unsupported_grant_type"
    r = token_post(lab, client_id=lab.webex_client_id, client_secret=lab.webex_client_secret)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = httpx.post(f"{lab.urls['webex']}/v1/access_token", json={"grant_type": "authorization_code"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = token_post(lab, grant_type="refresh_token", client_id=lab.webex_client_id,
                   client_secret=lab.webex_client_secret, refresh_token="nope")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert_error_json(httpx.get(f"{lab.urls['webex']}/v1/access_token"), 405)


# -- API errors and headers -------------------------------------------------------------------------------
def test_401_without_or_with_bad_token(lab):
    assert_error_json(api(lab, "/people/me"), 401)
    assert_error_json(api(lab, "/people/me", "bogus"), 401)
    assert_error_json(api(lab, "/meetings", "bogus"), 401)
    other_issuer = lab.ctx.issuers["cucm"].issue(lab.org.demo.username).access_token
    assert_error_json(api(lab, "/rooms", other_issuer), 401)


def test_404_and_405_error_json(lab, token):
    assert_error_json(api(lab, "/nothing/here", token), 404)
    assert_error_json(api(lab, "/people/Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub3BlIA", token), 404)
    assert_error_json(api(lab, "/meetings/0123456789abcdef0123456789abcdef", token), 404)
    assert_error_json(api(lab, "/rooms/nope", token), 404)
    r = httpx.post(f"{lab.urls['webex']}/v1/people", headers={"Authorization": f"Bearer {token}"}, json={})
    assert_error_json(r, 405)
    assert "GET" in r.headers["allow"]
    auth = {"Authorization": f"Bearer {token}"}
    assert_error_json(httpx.delete(f"{lab.urls['webex']}/v1/meetings", headers=auth), 405)


def test_tracking_id_on_every_response(lab, token):
    seen = set()
    for r in (api(lab, "/people/me", token), api(lab, "/people", token, max=2), api(lab, "/rooms", token),
              api(lab, "/nope", token), httpx.get(authorize_url(lab)), token_post(lab, grant_type="x")):
        assert TRACKING.match(r.headers["trackingid"]), r.headers
        seen.add(r.headers["trackingid"])
    assert len(seen) == 6


def test_scope_enforced(lab):
    people_only = sign_in_tokens(lab, scope="spark:people_read")["access_token"]
    assert api(lab, "/people/me", people_only).status_code == 200
    assert_error_json(api(lab, "/meetings", people_only), 403)
    assert_error_json(api(lab, "/rooms", people_only), 403)
    meetings_only = sign_in_tokens(lab, scope="meeting:schedules_read")["access_token"]
    assert api(lab, "/meetings", meetings_only).status_code == 200
    assert_error_json(api(lab, "/people/me", meetings_only), 403)


# -- people -------------------------------------------------------------------------------------------------
def test_people_me_fields(lab, token, demo):
    body = api(lab, "/people/me", token).json()
    assert body["id"] == demo.webex_id
    assert body["emails"] == [email_of(demo)]
    assert body["displayName"] == demo.display_name
    assert body["firstName"] == demo.first_name and body["lastName"] == demo.last_name
    assert body["nickName"] == demo.first_name.split()[0]
    assert body["type"] == "person"
    assert body["status"] in {"active", "inactive", "DoNotDisturb", "meeting", "OutOfOffice", "presenting",
                              "call"}
    assert ISO_MS.match(body["created"]) and ISO_MS.match(body["lastActivity"])
    assert {"type": "work", "value": demo.phone} in body["phoneNumbers"]
    assert all(set(p) == {"type", "value"} for p in body["phoneNumbers"])
    assert body["orgId"]
    assert api(lab, f"/people/{demo.webex_id}", token).json() == body


def test_people_email_filter(lab, token):
    for user in lab.org.users[:12]:
        items = api(lab, "/people", token, email=email_of(user).upper()).json()["items"]
        assert [p["id"] for p in items] == [user.webex_id]
    assert api(lab, "/people", token, email="nobody@acme.example").json()["items"] == []


def test_people_display_name_prefix(lab, token):
    for prefix in ("a", "Jun", "ma", "Zo"):
        expected = [u.webex_id for u in lab.org.sorted_users
                    if u.display_name.casefold().startswith(prefix.casefold())]
        got, _ = walk(lab, "/people", token, displayName=prefix, max=3)
        assert [p["id"] for p in got] == expected


def test_people_id_list(lab, token):
    picked = [lab.org.users[i] for i in (5, 2, 40, 17)]
    ids = ",".join(u.webex_id for u in picked) + ",unknownid"
    items = api(lab, "/people", token, id=ids).json()["items"]
    assert [p["id"] for p in items] == [u.webex_id for u in picked]
    assert_error_json(api(lab, "/people", token, id=",".join(["x"] * 86)), 400)


def test_people_link_paging_walks_everyone_once(lab, token):
    items, pages = walk(lab, "/people", token, max=7)
    expected = [u.webex_id for u in lab.org.sorted_users]
    assert [p["id"] for p in items] == expected
    assert len(set(p["id"] for p in items)) == len(expected) == 60
    assert pages == -(-60 // 7)


def test_people_default_max_is_clamped(lab, token):
    r = api(lab, "/people", token)
    assert len(r.json()["items"]) == MAX_PAGE  # default 100, clamped to webex_max_page
    assert len(api(lab, "/people", token, max=1000).json()["items"]) == MAX_PAGE
    assert len(api(lab, "/people", token, max=3).json()["items"]) == 3


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
def test_bad_max_is_400(lab, token, value):
    assert_error_json(api(lab, "/people", token, max=value), 400)


def test_bad_or_foreign_cursor_is_400(lab, token):
    assert_error_json(api(lab, "/people", token, cursor="!!notbase64"), 400)
    link = api(lab, "/people", token, max=2).headers["link"]
    cursor = parse_qs(urlsplit(link[1:link.index(">")]).query)["cursor"][0]
    assert_error_json(api(lab, "/people", token, cursor=cursor, displayName="a"), 400)
    assert api(lab, "/people", token, cursor=cursor, max=5).status_code == 200  # max may change between pages


def test_paging_consistent_under_concurrency(lab, token):
    expected = [u.webex_id for u in lab.org.sorted_users]
    results, errors = [], []

    def run(size):
        try:
            results.append([p["id"] for p in walk(lab, "/people", token, max=size)[0]])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(size,)) for size in (3, 4, 5, 6, 7, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results and all(r == expected for r in results)


# -- meetings -----------------------------------------------------------------------------------------------
def test_meetings_all_pages_match_ground_truth(lab, token, demo):
    expected = lab.org.meetings(demo)
    items, pages = walk(lab, "/meetings", token)
    assert pages == -(-len(expected) // 10)  # default max 10
    assert [m["id"] for m in items] == [m["id"] for m in expected]
    for got, truth in zip(items, expected):
        assert got["meetingNumber"] == truth["meetingNumber"]
        assert got["title"] == truth["title"]
        assert got["state"] == truth["state"]
        assert got["meetingType"] == "meeting"
        assert got["hostEmail"] == truth["hostEmail"] == email_of(demo)
        assert got["hostUserId"] == demo.webex_id
        assert ISO_MS.match(got["start"]) and ISO_MS.match(got["end"])
        assert datetime.fromisoformat(got["start"]) == truth["start"]
        assert datetime.fromisoformat(got["end"]) == truth["end"]


def test_meetings_filters(lab, token, demo):
    truth = lab.org.meetings(demo)
    ended = [m["id"] for m in truth if m["state"] == "ended"]
    got, _ = walk(lab, "/meetings", token, state="ended", max=4)
    assert [m["id"] for m in got] == ended
    everything = walk(lab, "/meetings", token, max=50)[0]
    assert walk(lab, "/meetings", token, meetingType="meeting", max=50)[0] == everything
    assert api(lab, "/meetings", token, meetingType="meetingSeries").json()["items"] == []
    lo = lab.org.now - timedelta(days=20)
    hi = lab.org.now + timedelta(days=10)
    window = [m["id"] for m in truth if lo <= m["start"] < hi]
    got, _ = walk(lab, "/meetings", token, **{"from": lo.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                "to": hi.isoformat(), "max": 3})
    assert [m["id"] for m in got] == window
    after = [m["id"] for m in truth if m["start"] >= lab.org.now]
    singapore = lab.org.now.astimezone(timezone(timedelta(hours=8))).isoformat()
    got, _ = walk(lab, "/meetings", token, **{"from": singapore})
    assert [m["id"] for m in got] == after
    own = api(lab, "/meetings", token, hostEmail=email_of(demo), max=100).json()["items"]
    assert len(own) == len(truth)


@pytest.mark.parametrize("params", [{"from": "yesterday"}, {"to": "2026-13-45"}, {"state": "bogus"},
                                    {"meetingType": "webinar"},
                                    {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}])
def test_meetings_bad_filters_are_400(lab, token, params):
    assert_error_json(api(lab, "/meetings", token, **params), 400)


def test_meetings_other_host_is_403_unless_admin(lab, token):
    other = lab.org.users[3]
    assert_error_json(api(lab, "/meetings", token, hostEmail=email_of(other)), 403)
    admin = lab.ctx.issuers["webex"].issue(lab.admin[0]).access_token
    items, _ = walk(lab, "/meetings", admin, hostEmail=email_of(other), max=50)
    assert [m["id"] for m in items] == [m["id"] for m in lab.org.meetings(other)]
    assert_error_json(api(lab, "/people/me", admin), 404)


def test_meeting_by_id(lab, token, demo):
    truth = lab.org.meetings(demo)[3]
    body = api(lab, f"/meetings/{truth['id']}", token).json()
    assert body["id"] == truth["id"] and body["title"] == truth["title"]
    foreign = next(m for u in lab.org.users[1:] for m in lab.org.meetings(u))
    assert_error_json(api(lab, f"/meetings/{foreign['id']}", token), 404)


def test_meeting_participants(lab, token, demo):
    assert_error_json(api(lab, "/meetingParticipants", token), 400)
    ended = next(m for m in lab.org.meetings(demo) if m["state"] == "ended")
    items, pages = walk(lab, "/meetingParticipants", token, meetingId=ended["id"], max=4)
    assert len(items) == min(ended["participants"], lab.org.size)
    assert pages == -(-len(items) // 4)
    assert items[0]["host"] is True and items[0]["email"] == email_of(demo)
    assert len({p["id"] for p in items}) == len(items)
    assert all(p["meetingId"] == ended["id"] and p["state"] == "end" for p in items)
    assert all(ISO_MS.match(p["joinedTime"]) and ISO_MS.match(p["leftTime"]) for p in items)
    again, _ = walk(lab, "/meetingParticipants", token, meetingId=ended["id"], max=100)
    assert again == items  # deterministic
    scheduled = next(m for m in lab.org.meetings(demo) if m["state"] == "scheduled")
    assert api(lab, "/meetingParticipants", token, meetingId=scheduled["id"]).json()["items"] == []
    foreign = next(m for u in lab.org.users[1:] for m in lab.org.meetings(u))
    assert_error_json(api(lab, "/meetingParticipants", token, meetingId=foreign["id"]), 404)


# -- rooms ---------------------------------------------------------------------------------------------------
def test_rooms(lab, token, demo):
    rooms = api(lab, "/rooms", token).json()["items"]
    assert len(rooms) == 5
    assert rooms == api(lab, "/rooms", token).json()["items"]
    assert all(r["type"] in ("direct", "group") and ISO_MS.match(r["lastActivity"]) for r in rooms)
    assert [r["lastActivity"] for r in rooms] == sorted((r["lastActivity"] for r in rooms), reverse=True)
    one_by_one, pages = walk(lab, "/rooms", token, max=1)
    assert one_by_one == rooms and pages == 5
    groups = api(lab, "/rooms", token, type="group").json()["items"]
    assert groups == [r for r in rooms if r["type"] == "group"]
    assert api(lab, f"/rooms/{rooms[0]['id']}", token).json() == rooms[0]
    assert_error_json(api(lab, "/rooms", token, type="team"), 400)
    other = sign_in_tokens(lab, user=(lab.org.users[7].username, lab.demo_user[1]))["access_token"]
    other_rooms = api(lab, "/rooms", other).json()["items"]
    assert 2 <= len(other_rooms) <= 6
    assert not {r["id"] for r in other_rooms} & {r["id"] for r in rooms}
    assert_error_json(api(lab, f"/rooms/{rooms[0]['id']}", other), 404)


# -- faults --------------------------------------------------------------------------------------------------
def test_fault_429_with_retry_after(lab, token):
    lab.set_faults("webex", rate_429=1.0, retry_after=3)
    try:
        r = api(lab, "/people/me", token)
        body = assert_error_json(r, 429)
        assert r.headers["retry-after"] == "3"
        assert body["trackingId"].startswith("ROUTER_")
        # the OAuth endpoints are never faulted
        assert token_post(lab, grant_type="nope", client_id=lab.webex_client_id,
                          client_secret=lab.webex_client_secret).status_code == 400
        assert httpx.get(authorize_url(lab)).status_code == 302
    finally:
        lab.set_faults("webex")
    assert api(lab, "/people/me", token).status_code == 200


def test_fault_503_with_retry_after(lab, token):
    lab.set_faults("webex", rate_503=1.0, retry_after=2)
    try:
        r = api(lab, "/meetings", token)
        assert_error_json(r, 503)
        assert r.headers["retry-after"] == "2"
    finally:
        lab.set_faults("webex")


# -- determinism and HTTPS ---------------------------------------------------------------------------------
def test_same_seed_same_data(lab, token):
    with ucexplore.lab.start(users=60, products=("webex",)) as twin:
        twin_token = twin.ctx.issuers["webex"].issue(twin.demo_user[0]).access_token
        assert api(twin, "/people/me", twin_token).json() == api(lab, "/people/me", token).json()
        assert api(twin, "/rooms", twin_token).json() == api(lab, "/rooms", token).json()
        mine = walk(lab, "/people", token, max=25)[0]
        assert walk(twin, "/people", twin_token, max=25)[0] == mine


def test_https_with_lab_ca():
    with ucexplore.lab.start(users=10, products=("webex",), https=True) as tls:
        assert tls.urls["webex"].startswith("https://") and tls.ca_path
        verify = ssl.create_default_context(cafile=tls.ca_path)
        verifier, challenge = pkce_pair()
        q = get_code(tls, challenge=challenge, verify=verify)
        r = token_post(tls, verify=verify, grant_type="authorization_code", client_id=tls.webex_client_id,
                       code=q["code"], redirect_uri=tls.redirect_uri, code_verifier=verifier)
        assert r.status_code == 200, r.text
        tok = r.json()["access_token"]
        with httpx.Client(verify=verify, headers={"Authorization": f"Bearer {tok}"}) as client:
            me = client.get(f"{tls.urls['webex']}/v1/people/me")
            assert me.status_code == 200
            first = client.get(f"{tls.urls['webex']}/v1/people", params={"max": 4})
            assert first.headers["link"].startswith("<https://")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{tls.urls['webex']}/v1/people/me")  # the system trust store does not know the lab CA


def test_bodies_are_json(lab, token):
    r = api(lab, "/people", token, max=2)
    assert r.headers["content-type"].startswith("application/json")
    json.loads(r.text)
