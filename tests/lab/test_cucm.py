"""The lab's CUCM over real HTTP: UC SSO implicit grant, UDS (every resource and filter, paging, auth) and
WebDialer SOAP, fault injection and HTTPS."""

from __future__ import annotations

import ssl
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from ucexplore.lab import start
from ucexplore.lab.context import CUCM_CLIENT_ID, JABBER_CLIENT_ID
from ucexplore.lab.person import LabSignInError, Person

EXTRA_REDIRECT = "https://app.example.com/ssocb.html"
SCOPE = "UnifiedCommunications:readwrite"
INVALID_REQUEST = (
    b'{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes an '
    b'invalid parameter value, includes a parameter more than once, or is otherwise malformed."}'
)
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


# ------------------------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    with start(users=300, seed=11, products=("cucm",), redirect_uris=(EXTRA_REDIRECT,)) as lab:
        yield lab


@pytest.fixture(scope="module")
def strict_lab():
    """HTTPS, 1-second CUCM tokens, contact-search authentication on, a page cap of 50."""
    with start(users=120, seed=5, products=("cucm",), https=True, token_ttl={"cucm": 1},
               uds_users_auth=True, uds_page_cap=50) as lab:
        yield lab


@pytest.fixture(scope="module")
def demo_token(lab):
    with Person(*lab.demo_user) as person:
        landed = person.sign_in(authorize_url(lab))
    return fragment(landed)["access_token"]


def authorize_url(lab, **overrides) -> str:
    params = {"scope": SCOPE, "response_type": "token", "redirect_uri": lab.redirect_uri,
              "client_id": CUCM_CLIENT_ID}
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return f"{lab.urls['cucm']}/ssosp/oauth/authorize?{urlencode(params)}"


def fragment(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).fragment, keep_blank_values=True))


def get(lab, path: str, **kw) -> httpx.Response:
    return httpx.get(lab.urls["cucm"] + path, **kw)


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "application/xml"
    return ET.fromstring(response.content)


def users_page(lab, **params) -> ET.Element:
    r = get(lab, "/cucm-uds/users", params=params)
    assert r.status_code == 200, r.text
    return xml(r)


def search(lab, **params) -> list[str]:
    """Every user name matching ``params``, walking the pages by returnedCount."""
    names: list[str] = []
    start_at = 0
    while True:
        root = users_page(lab, start=start_at, **params)
        got = [u.findtext("userName") for u in root.findall("user")]
        assert int(root.get("returnedCount")) == len(got)
        names += got
        if not got:
            return names
        start_at += len(got)


def cf(value: str | None) -> str:
    return (value or "").casefold()


def other_user(lab, **kw):
    demo = lab.org.demo
    return next(u for u in lab.org.users[1:]
                if u is not demo and all(getattr(u, k) == v for k, v in kw.items()))


def trust(lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=lab.ca_path)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------------------------------------
# SSO
# ------------------------------------------------------------------------------------------------------------
def test_implicit_grant_sign_in_lands_with_token_in_fragment(lab):
    with Person(*lab.demo_user) as person:
        landed = person.sign_in(authorize_url(lab, state="s-1 &x=y"))
    parts = urlsplit(landed)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == lab.redirect_uri
    assert parts.fragment.startswith("access_token=")  # the DevNet sample reads it as the first parameter
    frag = fragment(landed)
    assert frag["token_type"] == "Bearer"
    assert 3500 <= int(frag["expires_in"]) <= 3600
    assert frag["state"] == "s-1 &x=y"  # echoed (RFC 6749 §4.2.2)
    user = lab.demo_user[0]
    r = get(lab, f"/cucm-uds/user/{user}", headers=bearer(frag["access_token"]))
    assert r.status_code == 200 and xml(r).findtext("userName") == user


def test_no_state_no_state_echo_and_external_registered_redirect(lab):
    with Person(*lab.demo_user) as person:
        landed = person.sign_in(authorize_url(lab, redirect_uri=EXTRA_REDIRECT, client_id=JABBER_CLIENT_ID))
    assert landed.startswith(EXTRA_REDIRECT + "#access_token=")
    assert "state" not in fragment(landed)


def test_sso_session_reused_for_a_second_authorize(lab):
    with Person(*lab.demo_user) as person:
        first = fragment(person.sign_in(authorize_url(lab, state="one")))
        second = fragment(person.sign_in(authorize_url(lab, state="two")))
        assert person.forms_filled == 1
    assert second["state"] == "two" and first["access_token"] != second["access_token"]


def test_wrong_password_shows_the_form_again_with_an_error(lab):
    with Person(lab.demo_user[0], "not-the-password") as person:
        with pytest.raises(LabSignInError, match="Incorrect user name or password"):
            person.sign_in(authorize_url(lab))
        assert person.forms_filled == 1


@pytest.mark.parametrize("overrides", [
    {"client_id": "C0000000000000000000000000000000000000000000000000000000000000000"},
    {"client_id": None},
    {"redirect_uri": "https://evil.example.com/cb"},
    {"redirect_uri": None},
    {"response_type": "code"},
    {"scope": "openid"},
    {"scope": None},
])
def test_malformed_authorize_gets_the_exact_invalid_request_body(lab, overrides):
    r = httpx.get(authorize_url(lab, **overrides))
    assert r.status_code == 400
    assert r.content == INVALID_REQUEST


def test_a_parameter_given_twice_is_invalid(lab):
    r = httpx.get(authorize_url(lab) + "&client_id=" + CUCM_CLIENT_ID)
    assert r.status_code == 400 and r.content == INVALID_REQUEST


def test_valid_authorize_redirects_to_the_idp(lab):
    r = httpx.get(authorize_url(lab, client_id=JABBER_CLIENT_ID))
    assert r.status_code == 302 and r.headers["location"].startswith(lab.urls["idp"] + "/idp/sso?sp=cucm")


def test_acs_refuses_a_forged_assertion_or_unknown_transaction(lab):
    acs = lab.urls["cucm"] + "/ssosp/saml/SSO/alias/cucm-pub.lab.local"
    assert httpx.get(acs, params={"SAMLResponse": "forged.x", "RelayState": "nope"}).status_code == 403
    start_hop = httpx.get(authorize_url(lab))
    relay = dict(parse_qsl(urlsplit(start_hop.headers["location"]).query))["RelayState"]
    forged = lab.ctx.sign_assertion(lab.demo_user[0], audience="unity")  # wrong audience
    r = httpx.get(acs, params={"SAMLResponse": forged, "RelayState": relay})
    assert r.status_code == 403 and "access_token" not in r.headers.get("location", "")


def test_single_sign_on_status_is_anonymous(lab):
    r = get(lab, "/ssosp/ws/public/singleSignOn")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.tag == "Response" and root.find("SingleSignOn/Status").get("enabled") == "true"


def test_admin_revokes_a_users_tokens(lab):
    user = lab.org.users[7]
    with Person(user.username, lab.config.user_password) as person:
        token = fragment(person.sign_in(authorize_url(lab)))["access_token"]
    assert get(lab, f"/cucm-uds/user/{user.username}", headers=bearer(token)).status_code == 200
    denied = get(lab, "/ssosp/token/revoke", params={"user_id": user.username}, auth=lab.demo_user)
    assert denied.status_code == 401
    ok = get(lab, "/ssosp/token/revoke", params={"user_id": user.username}, auth=lab.admin)
    assert ok.status_code in (200, 204)
    assert get(lab, f"/cucm-uds/user/{user.username}", headers=bearer(token)).status_code == 401


def test_expired_token_is_refused(strict_lab):
    user, password = strict_lab.demo_user
    with Person(user, password, verify=trust(strict_lab)) as person:
        landed = person.sign_in(authorize_url(strict_lab))
    frag = fragment(landed)
    assert int(frag["expires_in"]) <= 1
    time.sleep(1.5)
    r = get(strict_lab, f"/cucm-uds/user/{user}", headers=bearer(frag["access_token"]),
            verify=trust(strict_lab))
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="Cisco UDS"'


# ------------------------------------------------------------------------------------------------------------
# UDS: anonymous resources
# ------------------------------------------------------------------------------------------------------------
def test_version(lab):
    root = xml(get(lab, "/cucm-uds/version"))
    assert root.tag == "versionInformation" and root.get("version") == "10.0.0"
    assert root.findtext("version") == "14.0.1.13900-155"
    assert root.findtext("capabilities/usersResourceAuthEnabled") == "false"


def test_servers(lab):
    root = xml(get(lab, "/cucm-uds/servers"))
    assert root.tag == "servers" and [s.text for s in root.findall("server")][0] == "cucm-pub.lab.local"


@pytest.mark.parametrize("param", ["username", "email", "useridentifier"])
def test_cluster_user_found(lab, param):
    demo = lab.org.demo
    value = demo.email if param == "email" else demo.username
    root = xml(get(lab, "/cucm-uds/clusterUser", params={param: value}))
    result = root.find("result")
    assert result.get("found") == "true" and result.get("uri").endswith(f"/cucm-uds/user/{demo.username}")
    assert root.findtext("homeCluster") == "cucm-pub.lab.local"
    assert root.find("homeCluster").get("serversUri").endswith("/cucm-uds/servers")


def test_cluster_user_not_found_and_missing_parameter(lab):
    root = xml(get(lab, "/cucm-uds/clusterUser", params={"username": "nobody-here"}))
    assert root.find("result").get("found") == "false" and root.find("homeCluster") is None
    assert get(lab, "/cucm-uds/clusterUser").status_code == 415


# ------------------------------------------------------------------------------------------------------------
# UDS: users search
# ------------------------------------------------------------------------------------------------------------
def _number(u, q):
    return u.phone.casefold().startswith(q) or u.phone.lstrip("+").startswith(q) or u.extension.startswith(q)


def _name(u, q):
    f, l, d = cf(u.first_name), cf(u.last_name), cf(u.display_name)
    if q.count(" ") == 1:
        x, y = q.split(" ")
        return ((f.startswith(x) and l.startswith(y)) or (l.startswith(x) and f.startswith(y))
                or l.startswith(q) or f.startswith(q) or d.startswith(q))
    return d.startswith(q)


GROUND_TRUTH = {
    "last": lambda u, q: cf(u.last_name).startswith(q),
    "first": lambda u, q: cf(u.first_name).startswith(q),
    "displayname": lambda u, q: cf(u.display_name).startswith(q),
    "email": lambda u, q: cf(u.email).startswith(q),
    "uri": lambda u, q: cf(u.directory_uri).startswith(q.removeprefix("sip:")),
    "number": _number,
    "numberLast": lambda u, q: _number(u, q) or cf(u.last_name).startswith(q),
    "name": _name,
}


def expected(lab, **filters) -> list[str]:
    return [u.username for u in lab.org.sorted_users
            if all(GROUND_TRUTH[k](u, cf(v)) for k, v in filters.items())]


@pytest.mark.parametrize("filters", [
    {"last": "KA"}, {"last": "mÜ"}, {"last": "o'b"}, {"first": "JUN"}, {"first": "zo"},
    {"displayname": "jun hao k"}, {"email": "JKA"}, {"uri": "sip:jkam@"}, {"uri": "jkam@ACME"},
    {"number": "200"}, {"number": "+1408526"}, {"number": "14085262001"},
    {"numberLast": "2001"}, {"numberLast": "kam"},
    {"last": "k", "first": "j"}, {"last": "zzz"},
])
def test_every_filter_is_a_case_insensitive_prefix_match(lab, filters):
    want = expected(lab, **filters)
    got = search(lab, **filters)
    assert got == want
    if filters != {"last": "zzz"}:
        assert want, f"the seeded org should have matches for {filters}"


@pytest.mark.parametrize("query", ["Jun Kam", "kam jun", "jun hao", "Jun Hao Kam", "jun", "kam", "Müller",
                                   "o'brien x"])
def test_name_filter_follows_the_one_space_rule(lab, query):
    assert search(lab, name=query) == expected(lab, name=query)


def test_name_rule_examples(lab):
    demo = lab.org.demo.username  # Jun Hao Kam
    assert demo in search(lab, name="jun kam")  # first^x AND last^y
    assert demo in search(lab, name="kam jun")  # last^x AND first^y
    assert demo in search(lab, name="jun hao")  # first^"x y"
    assert demo in search(lab, name="jun")  # displayName^x
    assert demo not in search(lab, name="kam")  # no space: displayName only
    assert demo not in search(lab, last="am")  # prefix, never substring


def test_paging_walks_every_user_exactly_once(lab):
    everyone = [u.username for u in lab.org.sorted_users]
    for size in (37, 64, 500):
        names: list[str] = []
        start_at = 0
        while True:
            root = users_page(lab, start=start_at, max=size)
            assert {"start", "requestedCount", "returnedCount", "totalCount"} <= set(root.attrib)
            assert int(root.get("start")) == start_at and int(root.get("requestedCount")) == size
            assert int(root.get("totalCount")) == len(everyone)
            got = [u.findtext("userName") for u in root.findall("user")]
            assert int(root.get("returnedCount")) == len(got) <= min(size, 64)
            if not got:
                break
            names += got
            start_at += len(got)
        assert names == everyone


def test_default_page_and_cap(lab):
    root = users_page(lab)
    assert root.get("start") == "0" and root.get("requestedCount") == "64"
    assert root.get("returnedCount") == "64"
    root = users_page(lab, max=1000)
    assert root.get("requestedCount") == "1000" and root.get("returnedCount") == "64"
    root = users_page(lab, max=0)
    assert root.get("returnedCount") == "0" and root.get("totalCount") == str(lab.org.size)
    root = users_page(lab, start=10_000)
    assert root.get("returnedCount") == "0" and root.get("totalCount") == str(lab.org.size)
    assert root.findall("user") == []


def test_lone_result_is_still_a_list(lab):
    demo = lab.org.demo
    root = users_page(lab, email=demo.email)
    users = root.findall("user")
    assert root.get("totalCount") == "1" and len(users) == 1
    u = users[0]
    assert u.get("uri").endswith(f"/cucm-uds/user/{demo.username}")
    assert [c.tag for c in u] == ["id", "userName", "firstName", "lastName", "displayName", "phoneNumber",
                                  "mobileNumber", "email", "directoryUri"]
    assert u.findtext("id") == demo.id and u.findtext("phoneNumber") == demo.phone


def test_unicode_and_apostrophes_round_trip(lab):
    checked = 0
    for last in ("Müller", "O'Brien", "Nguyễn", "Åberg", "Yılmaz"):
        people = [u for u in lab.org.sorted_users if u.last_name == last]
        if not people:
            continue
        root = users_page(lab, last=last, max=500)
        got = [(u.findtext("firstName"), u.findtext("lastName"), u.findtext("displayName"))
               for u in root.findall("user")]
        assert got[: len(people)] == [(p.first_name, p.last_name, p.display_name) for p in people]
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("params", [{"start": "abc"}, {"max": "ten"}, {"max": "-1"}, {"start": "-5"},
                                    {"start": "1.5"}])
def test_bad_paging_parameters_are_415(lab, params):
    r = get(lab, "/cucm-uds/users", params=params)
    assert r.status_code == 415


# ------------------------------------------------------------------------------------------------------------
# UDS: the authenticated user subtree
# ------------------------------------------------------------------------------------------------------------
def test_user_resource_with_basic(lab):
    user, password = lab.demo_user
    demo = lab.org.demo
    root = xml(get(lab, f"/cucm-uds/user/{user}", auth=(user, password)))
    assert root.tag == "user" and root.get("uri").endswith(f"/cucm-uds/user/{user}")
    assert root.findtext("id") == demo.id and root.findtext("userName") == user
    assert root.findtext("firstName") == demo.first_name and root.findtext("lastName") == demo.last_name
    assert root.findtext("displayName") == demo.display_name and root.findtext("email") == demo.email
    assert root.findtext("phoneNumber") == demo.phone and root.findtext("mobileNumber") == (demo.mobile or "")
    assert root.findtext("directoryUri") == demo.directory_uri
    assert root.findtext("department") == demo.department and root.findtext("title") == demo.title
    assert root.find("accountType").get("useLdapAuth") == "true"
    assert root.find("homeCluster").get("enableImAndPresence") == "true"
    assert root.findtext("primaryExtension/directoryNumber") == demo.extension
    assert root.find("primaryExtension/callForwardAllDestination") is not None
    assert root.find("enableDoNotDisturb").get("appliesToAllDevices") == "true"
    for link in ("devices", "credentials", "extensions", "subscribedServices", "speedDials",
                 "remoteDestinations"):
        uri = root.find(link).get("uri")
        assert uri.endswith(f"/cucm-uds/user/{user}/{link}")
        assert get(lab, urlsplit(uri).path, auth=(user, password)).status_code == 200


def test_user_resource_with_bearer(lab, demo_token):
    user = lab.demo_user[0]
    assert xml(get(lab, f"/cucm-uds/user/{user}/devices", headers=bearer(demo_token))).tag == "devices"
    assert get(lab, f"/cucm-uds/user/{user}", headers=bearer("not-a-token")).status_code == 401


def test_xml_special_characters_are_escaped(lab):
    user = next(u for u in lab.org.users if u.department == "Sales & Marketing")
    r = get(lab, f"/cucm-uds/user/{user.username}", auth=lab.admin)
    assert b"<department>Sales &amp; Marketing</department>" in r.content
    assert xml(r).findtext("department") == "Sales & Marketing"


def test_an_end_user_reads_only_their_own_subtree(lab, demo_token):
    user, password = lab.demo_user
    other = other_user(lab)
    for path in (f"/cucm-uds/user/{other.username}", f"/cucm-uds/user/{other.username}/devices"):
        r = get(lab, path, auth=(user, password))
        assert r.status_code in (401, 403)
        assert get(lab, path, headers=bearer(demo_token)).status_code in (401, 403)
        assert get(lab, path, auth=lab.admin).status_code == 200  # the administrator reads anyone


def test_unauthenticated_and_bad_password_are_401(lab):
    user = lab.demo_user[0]
    r = get(lab, f"/cucm-uds/user/{user}")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="Cisco UDS"'
    assert len(r.content) < 200
    assert get(lab, f"/cucm-uds/user/{user}", auth=(user, "wrong")).status_code == 401


def test_404_405_shapes(lab):
    user, password = lab.demo_user
    assert get(lab, "/cucm-uds/user/nobody-here", auth=lab.admin).status_code == 404
    assert get(lab, f"/cucm-uds/user/{user}/nothing", auth=(user, password)).status_code == 404
    assert get(lab, "/cucm-uds/nothing").status_code == 404
    assert get(lab, "/elsewhere").status_code == 404
    r = httpx.post(lab.urls["cucm"] + "/cucm-uds/users", content=b"<x/>")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    r = httpx.put(lab.urls["cucm"] + f"/cucm-uds/user/{user}/speedDials", auth=(user, password),
                  content=b"<x/>")
    assert r.status_code == 405
    assert httpx.delete(lab.urls["cucm"] + "/cucm-uds/version").status_code == 405


def test_devices(lab):
    org = lab.org
    cases = [org.demo]
    cases.append(next(u for u in org.users if len(org.devices(u)) == 1))
    cases.append(next(u for u in org.users if len(org.devices(u)) >= 2))
    cases.append(next(u for u in org.users if not org.devices(u)))
    for user in cases:
        root = xml(get(lab, f"/cucm-uds/user/{user.username}/devices", auth=lab.admin))
        assert root.tag == "devices"
        got = [(d.findtext("id"), d.findtext("name"), d.findtext("model"), d.findtext("description"),
                d.findtext("protocol")) for d in root.findall("device")]
        assert got == [(d["id"], d["name"], d["model"], d["description"], d["protocol"])
                       for d in org.devices(user)]
        for d in root.findall("device"):
            assert d.get("uri").endswith(f"/device/{d.findtext('id')}")
            one = xml(get(lab, urlsplit(d.get("uri")).path, auth=lab.admin))
            assert one.tag == "device" and one.findtext("name") == d.findtext("name")


def test_extensions_speed_dials_services_remote_destinations(lab):
    org = lab.org
    user, password = lab.demo_user
    demo = org.demo
    auth = (user, password)
    ext = xml(get(lab, f"/cucm-uds/user/{user}/extensions", auth=auth))
    assert [e.findtext("directoryNumber") for e in ext.findall("extension")] == [demo.extension]
    sd = xml(get(lab, f"/cucm-uds/user/{user}/speedDials", auth=auth))
    got = [(s.findtext("index"), s.findtext("number"), s.findtext("label")) for s in sd.findall("speedDial")]
    assert got == [(str(s["index"]), s["number"], s["label"]) for s in org.speed_dials(demo)]
    svc = xml(get(lab, f"/cucm-uds/user/{user}/subscribedServices", auth=auth))
    names = [s.findtext("serviceName") for s in svc.findall("subscribedService")]
    assert "Sales & Marketing Dashboard" in names
    urls = [s.findtext("url") for s in svc.findall("subscribedService")]
    assert any("&view=<today>" in u for u in urls) and b"&amp;view=&lt;today&gt;" in \
        get(lab, f"/cucm-uds/user/{user}/subscribedServices", auth=auth).content
    assert all(s.findtext("url") for s in svc.findall("subscribedService"))
    rd = xml(get(lab, f"/cucm-uds/user/{user}/remoteDestinations", auth=auth))
    assert [r.findtext("destination") for r in rd.findall("remoteDestination")] == [demo.mobile]
    # a user without a speed dial still gets a valid (empty) wrapper
    empty = next(u for u in org.users if not org.speed_dials(u))
    root = xml(get(lab, f"/cucm-uds/user/{empty.username}/speedDials", auth=lab.admin))
    assert root.tag == "speedDials" and root.findall("speedDial") == []
    alias = xml(get(lab, f"/cucm-uds/user/{user}/userExtensions", auth=auth))
    assert alias.tag == "extensions"


def test_credentials_show_the_last_login(lab):
    user = lab.org.users[3]
    get(lab, f"/cucm-uds/user/{user.username}", auth=(user.username, "wrong"))
    r = get(lab, f"/cucm-uds/user/{user.username}/credentials",
            auth=(user.username, lab.config.user_password))
    root = xml(r)
    pw = next(c for c in root.findall("credential") if c.findtext("credentialType") == "password")
    assert pw.findtext("lastSuccessfulLoginIpAddress") == "127.0.0.1"
    assert pw.findtext("lastSuccessfulLoginTime").endswith("Z")
    assert pw.findtext("locked") == "false"


# ------------------------------------------------------------------------------------------------------------
# WebDialer
# ------------------------------------------------------------------------------------------------------------
def envelope(op: str, *params: str) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:WD70" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soapenv:Body><urn:{op} soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        f'{"".join(params)}</urn:{op}></soapenv:Body></soapenv:Envelope>'
    ).encode()


def cred(user: str, password: str) -> str:
    return (f'<in0 xsi:type="urn:Credential"><userID xsi:type="xsd:string">{user}</userID>'
            f'<password xsi:type="xsd:string">{password}</password></in0>')


def cred_token(token: str) -> str:
    return f'<in0 xsi:type="urn:Credential"><token xsi:type="xsd:string">{token}</token></in0>'


def profile(tag: str, user: str, device: str = "", line: str = "") -> str:
    return (f'<{tag} xsi:type="urn:UserProfile"><user xsi:type="xsd:string">{user}</user>'
            f'<deviceName xsi:type="xsd:string">{device}</deviceName>'
            f'<lineNumber xsi:type="xsd:string">{line}</lineNumber></{tag}>')


def string(tag: str, value: str) -> str:
    return f'<{tag} xsi:type="xsd:string">{value}</{tag}>'


def wd(lab, body: bytes, path: str = "/webdialer/services/WebdialerSoapService70") -> httpx.Response:
    return httpx.post(lab.urls["cucm"] + path, content=body,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def wd_result(response: httpx.Response) -> tuple[int, str]:
    """(responseCode, responseDescription) of a multiRef-encoded CallResponse / GetConfigResponse."""
    assert response.status_code == 200, response.text
    body = ET.fromstring(response.content).find(f"{{{SOAP_NS}}}Body")
    ret = list(list(body)[0])[0]
    assert ret.get("href") == "#id0"
    ref = next(e for e in body if e.get("id") == "id0")
    return int(ref.findtext("responseCode")), ref.findtext("responseDescription")


def fault(response: httpx.Response) -> str:
    assert response.status_code == 500
    assert "Traceback" not in response.text
    f = ET.fromstring(response.content).find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert f is not None and f.findtext("faultcode")
    return f.findtext("faultstring")


def test_webdialer_make_and_end_call_with_password(lab):
    user, password = lab.demo_user
    device = lab.org.devices(lab.org.demo)[0]["name"]
    r = wd(lab, envelope("makeCallSoap", cred(user, password), string("in1", "2002"),
                         profile("in2", user, device, lab.org.demo.extension)))
    assert wd_result(r) == (0, "Success")
    end = envelope("endCallSoap", cred(user, password), profile("in1", user, device))
    assert wd_result(wd(lab, end)) == (0, "Success")
    code, _ = wd_result(wd(lab, end))
    assert code != 0  # nothing left to end


def test_webdialer_with_sso_token_and_legacy_path(lab, demo_token):
    user = lab.demo_user[0]
    r = wd(lab, envelope("makeCallSoap", cred_token(demo_token), string("in1", "+14155550100"),
                         profile("in2", user)), path="/webdialer/services/WebdialerSoapservice")
    assert wd_result(r) == (0, "Success")
    assert wd_result(wd(lab, envelope("endCallSoap", cred_token(demo_token), profile("in1", user))))[0] == 0
    assert wd_result(wd(lab, envelope("makeCallSoap", cred_token("bogus"), string("in1", "2002"),
                                      profile("in2", user))))[0] == 2


def test_webdialer_proxy_rule_and_errors(lab):
    user, password = lab.demo_user
    other = other_user(lab, has_devices=True)
    # acting for someone else needs proxy rights
    r = wd(lab, envelope("makeCallSoap", cred(user, password), string("in1", "2002"),
                         profile("in2", other.username)))
    assert wd_result(r)[0] == 3
    admin, admin_pw = lab.admin
    r = wd(lab, envelope("makeCallSoap", cred(admin, admin_pw), string("in1", "2002"),
                         profile("in2", other.username)))
    assert wd_result(r) == (0, "Success")
    end = envelope("endCallSoap", cred(admin, admin_pw), profile("in1", other.username))
    assert wd_result(wd(lab, end))[0] == 0
    # bad credentials
    r = wd(lab, envelope("makeCallSoap", cred(user, "wrong"), string("in1", "2002"), profile("in2", user)))
    assert wd_result(r)[0] == 2
    # a device that is not the user's
    foreign = lab.org.devices(other)[0]["name"]
    r = wd(lab, envelope("makeCallSoap", cred(user, password), string("in1", "2002"),
                         profile("in2", user, foreign)))
    assert wd_result(r)[0] == 5


def test_webdialer_profile_primary_line_and_cluster_user(lab):
    user, password = lab.demo_user
    demo = lab.org.demo
    r = wd(lab, envelope("getProfileDetailSoap", cred(user, password)))
    assert wd_result(r) == (0, "Success")
    body = ET.fromstring(r.content).find(f"{{{SOAP_NS}}}Body")
    items = [e for e in body if e.get("id") not in (None, "id0")]
    assert [i.findtext("deviceName") for i in items] == [d["name"] for d in lab.org.devices(demo)]
    assert all(i.findtext("lines/item") == demo.extension for i in items)
    r = wd(lab, envelope("getPrimaryLine", cred(user, password)))
    assert r.status_code == 200
    assert ET.fromstring(r.content).find(".//getPrimaryLineReturn").text == demo.extension
    for uid, want in ((user, "true"), ("nobody-here", "false")):
        r = wd(lab, envelope("isClusterUserSoap", string("in0", uid)))
        assert r.status_code == 200
        assert ET.fromstring(r.content).find(".//isClusterUserSoapReturn").text == want


@pytest.mark.parametrize("body", [
    b"<soapenv:Envelope><unclosed>",
    b"not xml at all",
    b"",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b"\xff\xfe<\x00x\x00/\x00>\x00",
])
def test_webdialer_bad_xml_is_a_soap_fault(lab, body):
    assert fault(wd(lab, body))


def test_webdialer_multiref_encoded_request(lab):
    # Axis-style clients may send parameters as href references to multiRef elements
    user, password = lab.demo_user
    body = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:WD70" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<urn:getProfileDetailSoap><in0 href="#id0"/></urn:getProfileDetailSoap>'
        f'<multiRef id="id0" xsi:type="urn:Credential"><userID>{user}</userID><password>{password}</password>'
        "</multiRef></soapenv:Body></soapenv:Envelope>"
    ).encode()
    assert wd_result(wd(lab, body)) == (0, "Success")


def test_webdialer_unknown_operation_and_methods(lab):
    assert "No such operation" in fault(wd(lab, envelope("dropTablesSoap", string("in0", "x"))))
    r = httpx.get(lab.urls["cucm"] + "/webdialer/services/WebdialerSoapService70")
    assert r.status_code == 200 and "AXIS" in r.text
    r = httpx.put(lab.urls["cucm"] + "/webdialer/services/WebdialerSoapService70", content=b"x")
    assert r.status_code == 405
    assert httpx.get(lab.urls["cucm"] + "/webdialer/elsewhere").status_code == 404


# ------------------------------------------------------------------------------------------------------------
# faults, contact-search authentication, HTTPS
# ------------------------------------------------------------------------------------------------------------
def test_faults_503_429_latency_never_on_sign_in(lab):
    try:
        lab.set_faults("cucm", rate_503=1.0, retry_after=2)
        r = get(lab, "/cucm-uds/users")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.headers["content-type"].startswith("text/html") and b"503" in r.content
        assert wd(lab, envelope("isClusterUserSoap", string("in0", "x"))).status_code == 503
        assert get(lab, "/ssosp/ws/public/singleSignOn").status_code == 200  # sign-in pages are never faulted
        assert httpx.get(authorize_url(lab)).status_code == 302
        lab.set_faults("cucm")
        lab.set_faults("cucm", rate_429=1.0, retry_after=0.5)
        r = get(lab, "/cucm-uds/version")
        assert r.status_code == 429 and float(r.headers["retry-after"]) == 0.5
        lab.set_faults("cucm")
        lab.set_faults("cucm", latency_ms=150)
        delayed = lab.fault_counters["cucm"].delayed
        began = time.perf_counter()
        assert get(lab, "/cucm-uds/version").status_code == 200
        assert time.perf_counter() - began >= 0.15
        assert lab.fault_counters["cucm"].delayed == delayed + 1
    finally:
        lab.set_faults("cucm")
    assert get(lab, "/cucm-uds/version").status_code == 200


def test_https_and_contact_search_authentication(strict_lab):
    assert strict_lab.ca_path and strict_lab.urls["cucm"].startswith("https://")
    ca = trust(strict_lab)
    root = xml(get(strict_lab, "/cucm-uds/version", verify=ca))
    assert root.findtext("capabilities/usersResourceAuthEnabled") == "true"
    with pytest.raises(httpx.ConnectError):
        get(strict_lab, "/cucm-uds/version")  # the lab CA is not in the default trust store
    r = get(strict_lab, "/cucm-uds/users", verify=ca)
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="Cisco UDS"'
    r = get(strict_lab, "/cucm-uds/users", verify=ca, auth=strict_lab.demo_user, params={"max": 64})
    root = xml(r)
    assert root.get("requestedCount") == "64" and root.get("returnedCount") == "50"  # uds_page_cap=50
    assert root.get("totalCount") == str(strict_lab.org.size)
    assert root.find("user").get("uri").startswith("https://")
