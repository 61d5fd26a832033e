"""The Unity Connection lab app over real HTTP: UC SSO, CUPI (XML/JSON quirks, query, sort, paging), CUMI."""

from __future__ import annotations

import importlib.util
import json
import ssl
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from ucexplore.lab import start
from ucexplore.lab.context import CUCM_CLIENT_ID, JABBER_CLIENT_ID
from ucexplore.lab.person import Person

INVALID_REQUEST = (
    b'{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes an '
    b'invalid parameter value, includes a parameter more than once, or is otherwise malformed."}'
)
JSON = {"Accept": "application/json"}
HAVE_CUCM = importlib.util.find_spec("ucexplore.lab.cucm") is not None


@pytest.fixture(scope="module")
def lab():
    products = ("cucm", "unity") if HAVE_CUCM else ("unity",)
    with start(users=150, seed=11, products=products) as running:
        yield running


@pytest.fixture(scope="module")
def base(lab):
    return lab.urls["unity"]


@pytest.fixture(scope="module")
def admin(lab):
    return lab.admin


def authorize_url(base_url: str, redirect_uri: str, **extra: str) -> str:
    params = {"scope": "UnifiedCommunications:readwrite", "response_type": "token",
              "redirect_uri": redirect_uri, "client_id": CUCM_CLIENT_ID, **extra}
    return f"{base_url}/ssosp/oauth/authorize?{urlencode(params)}"


def fragment(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).fragment)


def sign_in_token(lab, user=None) -> str:
    username, password = user or lab.demo_user
    with Person(username, password) as person:
        landed = person.sign_in(authorize_url(lab.urls["unity"], lab.redirect_uri))
    return dict(fragment(landed))["access_token"]


def all_strings(value) -> bool:
    if isinstance(value, dict):
        return all(all_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(all_strings(v) for v in value)
    return isinstance(value, str)


def cupi_error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from either error shape."""
    if "json" in response.headers["content-type"]:
        err = response.json()["errors"]
        return err["code"], err["message"]
    root = ET.fromstring(response.content)
    assert root.tag == "ErrorDetails"
    return root.findtext("errors/code"), root.findtext("errors/message")


def other_user(lab, *, skip=()):
    """A user with inbox messages that is not the demo user and not in ``skip``."""
    org = lab.org
    return next(u for u in org.users[1:] if len(org.mailbox(u)["inbox"]) >= 5 and u.username not in skip)


# -- SSO ----------------------------------------------------------------------------------------------------
def test_sso_sign_in_end_to_end(lab, base):
    user, password = lab.demo_user
    with Person(user, password) as person:
        landed = person.sign_in(authorize_url(base, lab.redirect_uri, state="s t&8"))
        assert landed.startswith(lab.redirect_uri + "#access_token=")
        frag = fragment(landed)
        assert frag[0][0] == "access_token"  # the DevNet sample reads it as the first fragment parameter
        fields = dict(frag)
        assert fields["token_type"] == "Bearer" and fields["expires_in"] == "3600"
        assert fields["state"] == "s t&8"
        assert person.forms_filled == 1
        # single sign-on: the second sign-in skips the IdP form
        again = person.sign_in(authorize_url(base, lab.redirect_uri))
        assert person.forms_filled == 1 and dict(fragment(again))["access_token"] != fields["access_token"]
    token = fields["access_token"]
    r = httpx.get(f"{base}/vmrest/mailbox", headers={"Authorization": f"Bearer {token}", **JSON})
    assert r.status_code == 200 and r.json()["DisplayName"] == lab.org.demo.display_name
    assert lab.ctx.issuers["unity"].validate(token).subject == user


def test_jabber_client_id_is_accepted(lab, base):
    url = authorize_url(base, lab.redirect_uri, client_id=JABBER_CLIENT_ID).replace(
        f"client_id={CUCM_CLIENT_ID}&", "")
    r = httpx.get(url)
    assert r.status_code == 302
    assert "/idp/sso?" in r.headers["location"] and "sp=unity" in r.headers["location"]


@pytest.mark.parametrize("change", [
    {"client_id": "C0ffee"},
    {"scope": "openid"},
    {"response_type": "code"},
    {"redirect_uri": "https://evil.example.com/cb"},
    {"client_id": None},
    {"redirect_uri": None},
    {"scope": None},
])
def test_authorize_refuses_malformed_requests_byte_exact(lab, base, change):
    params = {"scope": "UnifiedCommunications:readwrite", "response_type": "token",
              "redirect_uri": lab.redirect_uri, "client_id": CUCM_CLIENT_ID}
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    r = httpx.get(f"{base}/ssosp/oauth/authorize", params=params)
    assert r.status_code == 400 and r.content == INVALID_REQUEST
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


def test_authorize_refuses_a_repeated_parameter(lab, base):
    url = authorize_url(base, lab.redirect_uri) + "&scope=UnifiedCommunications:readwrite"
    r = httpx.get(url)
    assert r.status_code == 400 and r.content == INVALID_REQUEST


def test_acs_refuses_forged_or_unknown_assertions(lab, base):
    start_hop = httpx.get(authorize_url(base, lab.redirect_uri))
    relay = dict(parse_qsl(urlsplit(start_hop.headers["location"]).query))["RelayState"]
    forged = lab.ctx.sign_assertion(lab.demo_user[0], audience="cucm")  # signed for another product
    r = httpx.get(f"{base}/ssosp/saml/SSO/alias/cuc-pub.lab.local",
                  params={"SAMLResponse": forged, "RelayState": relay})
    assert r.status_code == 403 and "access_token" not in r.headers.get("location", "")
    r = httpx.get(f"{base}/ssosp/saml/SSO/alias/cuc-pub.lab.local",
                  params={"SAMLResponse": lab.ctx.sign_assertion(lab.demo_user[0], "unity"),
                          "RelayState": "nope"})
    assert r.status_code == 400


def test_cucm_issued_token_is_refused(lab, base):
    user, password = lab.demo_user
    if HAVE_CUCM:
        with Person(user, password) as person:
            landed = person.sign_in(authorize_url(lab.urls["cucm"], lab.redirect_uri))
        cucm_token = dict(fragment(landed))["access_token"]
    else:
        cucm_token = lab.ctx.issuers["cucm"].issue(user).access_token
    assert lab.ctx.issuers["cucm"].validate(cucm_token) is not None
    r = httpx.get(f"{base}/vmrest/mailbox", headers={"Authorization": f"Bearer {cucm_token}", **JSON})
    assert r.status_code == 401 and cupi_error(r)[0] == "UNAUTHORIZED"
    unity_token = lab.ctx.issuers["unity"].issue(user).access_token
    ok = httpx.get(f"{base}/vmrest/mailbox", headers={"Authorization": f"Bearer {unity_token}"})
    assert ok.status_code == 200


def test_expired_token_is_refused(lab, base):
    grant = lab.ctx.issuers["unity"].issue(lab.demo_user[0], ttl=1)
    grant.expires_at -= 5
    r = httpx.get(f"{base}/vmrest/mailbox", headers={"Authorization": f"Bearer {grant.access_token}"})
    assert r.status_code == 401 and cupi_error(r)[0] == "UNAUTHORIZED"


def test_single_sign_on_status(base):
    r = httpx.get(f"{base}/ssosp/ws/public/singleSignOn")
    assert r.status_code == 200
    assert ET.fromstring(r.content).find("SingleSignOn/Status").get("enabled") == "true"


# -- /vmrest basics -------------------------------------------------------------------------------------
def test_version_xml_and_json(base, admin, lab):
    r = httpx.get(f"{base}/vmrest/version", auth=admin)
    root = ET.fromstring(r.content)
    assert root.tag == "VersionInformation" and root.findtext("name") == "vmrest"
    assert r.text.startswith('<?xml version="1.0"')
    j = httpx.get(f"{base}/vmrest/version", auth=lab.demo_user, headers=JSON).json()
    assert j["name"] == "vmrest" and j["version"].startswith("14.")
    assert httpx.get(f"{base}/vmrest/version").status_code == 401


def test_cupi_is_admin_only(lab, base, admin):
    r = httpx.get(f"{base}/vmrest/users", auth=lab.demo_user, headers=JSON)
    assert r.status_code == 403 and cupi_error(r)[0] == "FORBIDDEN"
    assert set(r.json()) == {"errors"} and set(r.json()["errors"]) == {"code", "message"}
    r = httpx.get(f"{base}/vmrest/users", auth=lab.demo_user)
    assert r.status_code == 403 and cupi_error(r)[0] == "FORBIDDEN"  # XML error shape
    token = sign_in_token(lab)
    assert httpx.get(f"{base}/vmrest/handlers/callhandlers",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 403
    r = httpx.get(f"{base}/vmrest/users", auth=(admin[0], "wrong"), headers=JSON)
    assert r.status_code == 401 and cupi_error(r)[0] == "UNAUTHORIZED"
    r = httpx.get(f"{base}/vmrest/users")
    assert r.status_code == 401 and "basic" in r.headers["www-authenticate"].lower()


def test_users_xml_by_default(lab, base, admin):
    r = httpx.get(f"{base}/vmrest/users", auth=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "Users" and root.get("total") == str(lab.org.size)
    users = root.findall("User")
    assert len(users) == lab.org.size  # default rowsPerPage 2001 covers the whole lab
    aliases = [u.findtext("Alias") for u in users]
    assert aliases == sorted(aliases)
    demo = next(u for u in users if u.findtext("Alias") == lab.demo_user[0])
    org_user = lab.org.demo
    assert demo.findtext("ObjectId") == org_user.cuc_object_id
    assert demo.findtext("URI") == f"/vmrest/users/{org_user.cuc_object_id}"
    assert demo.findtext("DtmfAccessId") == org_user.extension and demo.findtext("Language") == "1033"
    assert demo.findtext("CallhandlerURI").endswith(org_user.callhandler_id)
    for field in ("FirstName", "LastName", "DisplayName", "EmailAddress", "TimeZone", "ListInDirectory",
                  "IsVmEnrolled", "Inactive", "CreationTime", "CosURI"):
        assert demo.findtext(field), field


def test_users_json_total_lists_lone_objects_and_strings(lab, base, admin):
    many = httpx.get(f"{base}/vmrest/users", auth=admin, params={"rowsPerPage": 3}, headers=JSON).json()
    assert set(many) == {"@total", "User"} and many["@total"] == str(lab.org.size)
    assert isinstance(many["User"], list) and len(many["User"]) == 3
    assert all_strings(many)
    one = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                    params={"query": f"(alias is {lab.demo_user[0]})"}).json()
    assert one["@total"] == "1" and isinstance(one["User"], dict)
    assert one["User"]["Alias"] == lab.demo_user[0] and one["User"]["ListInDirectory"] == "true"
    assert all_strings(one)
    none = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                     params={"query": "(alias is nobody-here)"})
    assert none.status_code == 200 and none.json() == {"@total": "0"}
    xml_none = httpx.get(f"{base}/vmrest/users", auth=admin, params={"query": "(alias is nobody-here)"})
    root = ET.fromstring(xml_none.content)
    assert root.tag == "Users" and root.get("total") == "0" and len(root) == 0


def test_user_by_object_id(lab, base, admin):
    u = lab.org.users[5]
    j = httpx.get(f"{base}/vmrest/users/{u.cuc_object_id}", auth=admin, headers=JSON).json()
    assert j["ObjectId"] == u.cuc_object_id and j["Alias"] == u.username and "@total" not in j
    x = ET.fromstring(httpx.get(f"{base}/vmrest/users/{u.cuc_object_id}", auth=admin).content)
    assert x.tag == "User" and x.findtext("DisplayName") == u.display_name
    missing = httpx.get(f"{base}/vmrest/users/00000000-0000-0000-0000-000000000000", auth=admin, headers=JSON)
    assert missing.status_code == 404 and cupi_error(missing)[0] == "NOT_FOUND"
    # trailing slash is the same resource, not a redirect
    assert httpx.get(f"{base}/vmrest/users/{u.cuc_object_id}/", auth=admin).status_code == 200


def test_query_startswith_case_insensitive_and_percent_escaped(lab, base, admin):
    prefix = lab.org.users[3].username[:2]
    expected = sorted(u.username for u in lab.org.users if u.username.lower().startswith(prefix.lower()))
    for column in ("alias", "Alias", "ALIAS"):
        url = f"{base}/vmrest/users?query=({column}%20startswith%20{prefix.upper()})"
        r = httpx.get(url, auth=admin)
        root = ET.fromstring(r.content)
        assert r.status_code == 200 and [u.findtext("Alias") for u in root] == expected
        assert root.get("total") == str(len(expected))
    # other columns, and "is" with a value that contains spaces
    u = lab.org.users[7]
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                  params={"query": f"(DisplayName is {u.display_name.upper()})"}).json()
    hits = r["User"] if isinstance(r["User"], list) else [r["User"]]
    assert u.username in {h["Alias"] for h in hits}
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                  params={"query": f"(dtmfaccessid is {u.extension})"}).json()
    assert r["@total"] == "1" and r["User"]["ObjectId"] == u.cuc_object_id
    no_mail = [x for x in lab.org.users if not x.email]
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                  params={"query": "(emailaddress isnull)"}).json()
    assert r["@total"] == str(len(no_mail))


@pytest.mark.parametrize("query", [
    "alias startswith a",  # no parentheses
    "(alias startswith)",  # no value
    "(alias contains a)",  # unknown operator
    "(alias is a) and (lastname is b)",  # two criteria
    "(nosuchcolumn is a)",
    "(alias isnull x)",
    "()",
])
def test_query_syntax_errors(base, admin, query):
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON, params={"query": query})
    assert r.status_code == 400 and cupi_error(r)[0] == "INVALID_PARAMETER"
    x = httpx.get(f"{base}/vmrest/users", auth=admin, params={"query": query})
    assert x.status_code == 400 and cupi_error(x)[0] == "INVALID_PARAMETER"


def test_sort_and_its_constraints(lab, base, admin):
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON, params={"sort": "(lastname desc)"}).json()
    last = [u["LastName"].casefold() for u in r["User"]]
    assert last == sorted(last, reverse=True) and len(last) == lab.org.size
    r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                  params={"query": "(alias startswith a)", "sort": "(ALIAS desc)"}).json()
    aliases = [u["Alias"] for u in (r["User"] if isinstance(r["User"], list) else [r["User"]])]
    assert aliases == sorted(aliases, reverse=True) and all(a.startswith("a") for a in aliases)
    for bad in ({"sort": "(lastname sideways)"}, {"sort": "lastname asc"}, {"sort": "(nosuch asc)"},
                {"query": "(alias startswith a)", "sort": "(lastname asc)"}):
        r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON, params=bad)
        assert r.status_code == 400 and cupi_error(r)[0] == "INVALID_PARAMETER", bad


def test_paging_both_spellings_and_count_only(lab, base, admin):
    size = lab.org.size
    seen = []
    page = 1
    while True:
        r = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                      params={"rowsPerPage": 40, "pageNumber": page})
        body = r.json()
        assert body["@total"] == str(size)
        if "User" not in body:
            break
        rows = body["User"] if isinstance(body["User"], list) else [body["User"]]
        seen += [u["Alias"] for u in rows]
        page += 1
    assert seen == sorted(u.username for u in lab.org.users) and page == -(-size // 40) + 1
    lower = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON,
                      params={"rowsperpage": 40, "pagenumber": 2}).json()
    assert [u["Alias"] for u in lower["User"]] == seen[40:80]
    for params in ({"rowsPerPage": 0}, {"pageNumber": 0}, {"rowsperpage": 0, "pagenumber": 3}):
        count = httpx.get(f"{base}/vmrest/users", auth=admin, headers=JSON, params=params)
        assert count.json() == {"@total": str(size)}, params
        xml = httpx.get(f"{base}/vmrest/users", auth=admin, params=params)
        assert xml.text.endswith(f'<Users total="{size}"/>')
    for bad in ({"rowsPerPage": -1}, {"pageNumber": "x"}, {"rowsPerPage": "1.5"}):
        r = httpx.get(f"{base}/vmrest/users", auth=admin, params=bad)
        assert r.status_code == 400 and cupi_error(r)[0] == "INVALID_PARAMETER"


def test_call_handlers(lab, base, admin):
    r = httpx.get(f"{base}/vmrest/handlers/callhandlers", auth=admin)
    assert "Sales &amp; Support" in r.text
    root = ET.fromstring(r.content)
    assert root.tag == "Callhandlers" and root.get("total") == str(lab.org.size + 4)
    names = {h.findtext("DisplayName") for h in root}
    assert {"Opening Greeting", "Operator", "Goodbye", "Sales & Support"} <= names
    ids = {h.findtext("ObjectId") for h in root if h.findtext("IsPrimary") == "true"}
    assert ids == {u.callhandler_id for u in lab.org.users}
    u = lab.org.users[9]
    one = httpx.get(f"{base}/vmrest/handlers/callhandlers/{u.callhandler_id}", auth=admin,
                    headers=JSON).json()
    assert one["DisplayName"] == u.display_name and one["RecipientSubscriberObjectId"] == u.cuc_object_id
    sys = httpx.get(f"{base}/vmrest/handlers/callhandlers", auth=admin, headers=JSON,
                    params={"query": "(displayname is sales & support)"}).json()
    assert sys["@total"] == "1" and sys["Callhandler"]["IsPrimary"] == "false"


def test_distribution_lists_and_members(lab, base, admin):
    dls = httpx.get(f"{base}/vmrest/distributionlists", auth=admin, headers=JSON).json()
    by_alias = {d["Alias"]: d for d in dls["DistributionList"]}
    departments = {u.department for u in lab.org.users}
    assert {"allvoicemailusers", "undeliverablemessages"} <= set(by_alias)
    assert int(dls["@total"]) == 2 + len(departments)
    assert {d["DisplayName"] for d in dls["DistributionList"]} >= departments

    def members(dl, **params):
        return httpx.get(f"{base}{dl['DistributionListMembersURI']}", auth=admin, headers=JSON, params=params)

    assert members(by_alias["allvoicemailusers"], rowsPerPage=0).json() == {"@total": str(lab.org.size)}
    assert members(by_alias["undeliverablemessages"]).json() == {"@total": "0"}
    for dept in departments:
        dl = next(d for d in dls["DistributionList"] if d["DisplayName"] == dept)
        body = members(dl).json()
        expected = {u.cuc_object_id for u in lab.org.users if u.department == dept}
        rows = body.get("DistributionListMember", [])
        rows = rows if isinstance(rows, list) else [rows]
        assert body["@total"] == str(len(expected)) and {m["MemberUserObjectId"] for m in rows} == expected
    x = httpx.get(f"{base}/vmrest/distributionlists", auth=admin)
    if "Sales & Marketing" in departments:
        assert "Sales &amp; Marketing" in x.text
    all_id = by_alias["allvoicemailusers"]["ObjectId"]
    one = httpx.get(f"{base}/vmrest/distributionlists/{all_id}", auth=admin)
    assert ET.fromstring(one.content).findtext("Alias") == "allvoicemailusers"
    missing = httpx.get(f"{base}/vmrest/distributionlists/nope/distributionlistmembers", auth=admin)
    assert missing.status_code == 404


def test_cos_referenced_by_users(lab, base, admin):
    user = httpx.get(f"{base}/vmrest/users/{lab.org.demo.cuc_object_id}", auth=admin, headers=JSON).json()
    cos = httpx.get(f"{base}{user['CosURI']}", auth=admin, headers=JSON)
    assert cos.status_code == 200 and cos.json()["DisplayName"] == "Voice Mail User COS"


# -- CUMI ---------------------------------------------------------------------------------------------------
def test_own_messages_epoch_ms_and_default_order(lab, base):
    org = lab.org
    truth = org.mailbox(org.demo)["inbox"]
    r = httpx.get(f"{base}/vmrest/mailbox/folders/inbox/messages", auth=lab.demo_user, headers=JSON)
    body = r.json()
    assert body["@total"] == str(len(truth)) and all_strings(body)
    msgs = body["Message"]
    assert len(msgs) == len(truth)
    by_id = {m["MsgId"]: m for m in truth}
    for m in msgs:
        assert m["MsgId"].startswith("0:") and m["URI"] == f"/vmrest/messages/{m['MsgId']}"
        assert int(m["ArrivalTime"]) == by_id[m["MsgId"]]["ArrivalTime"]
        assert 1_600_000_000_000 < int(m["ArrivalTime"]) < 2_000_000_000_000  # epoch milliseconds
        assert m["Read"] in ("true", "false") and m["MsgType"] == "Voice" and int(m["Duration"]) > 0
        assert m["CallerId"]["CallerNumber"]
    keys = [(m["Read"] == "true", -int(m["ArrivalTime"])) for m in msgs]
    assert keys == sorted(keys)  # unread first, newest first
    # XML too, with a Bearer token
    token = sign_in_token(lab)
    x = httpx.get(f"{base}/vmrest/mailbox/folders/inbox/messages",
                  headers={"Authorization": f"Bearer {token}"})
    root = ET.fromstring(x.content)
    assert root.tag == "Messages" and root.get("total") == str(len(truth))
    assert {m.findtext("MsgId") for m in root} == set(by_id)


def test_message_sorting_filters_and_paging(lab, base):
    user = other_user(lab)
    auth = (user.username, lab.config.user_password)
    truth = lab.org.mailbox(user)["inbox"]
    url = f"{base}/vmrest/mailbox/folders/inbox/messages"
    asc = httpx.get(url, auth=auth, headers=JSON,
                    params={"sortkey": "arrivaltime", "sortorder": "ascending"}).json()
    times = [int(m["ArrivalTime"]) for m in asc["Message"]]
    assert times == sorted(times)
    desc = httpx.get(url, auth=auth, headers=JSON, params={"sortkey": "arrivaltime"}).json()
    assert [int(m["ArrivalTime"]) for m in desc["Message"]] == sorted(times, reverse=True)
    unread = httpx.get(url, auth=auth, headers=JSON, params={"read": "false"}).json()
    assert unread["@total"] == str(sum(1 for m in truth if not m["Read"]))
    urgent = httpx.get(url, auth=auth, headers=JSON, params={"priority": "URGENT"}).json()
    assert urgent["@total"] == str(sum(1 for m in truth if m["Priority"] == "Urgent"))
    voice = httpx.get(url, auth=auth, headers=JSON, params={"type": "voice"}).json()
    assert voice["@total"] == str(len(truth))
    assert httpx.get(url, auth=auth, headers=JSON, params={"type": "fax"}).json() == {"@total": "0"}
    page2 = httpx.get(url, auth=auth, headers=JSON, params={"rowsPerPage": 2, "pageNumber": 2,
                                                           "sortkey": "arrivaltime"}).json()
    assert [m["MsgId"] for m in page2["Message"]] == [m["MsgId"] for m in desc["Message"][2:4]]
    lone = httpx.get(url, auth=auth, headers=JSON, params={"rowsperpage": 1}).json()
    assert isinstance(lone["Message"], dict) and lone["@total"] == str(len(truth))
    count = httpx.get(url, auth=auth, headers=JSON, params={"pagenumber": 0}).json()
    assert count == {"@total": str(len(truth))}
    for bad in ({"read": "maybe"}, {"priority": "high"}, {"type": "video"}, {"sortkey": "subject"},
                {"sortorder": "up"}, {"rowsperpage": "x"}):
        r = httpx.get(url, auth=auth, headers=JSON, params=bad)
        assert r.status_code == 400 and cupi_error(r)[0] == "INVALID_PARAMETER", bad


def test_cumi_own_mailbox_only_admin_userobjectid(lab, base, admin):
    other = other_user(lab)
    url = f"{base}/vmrest/mailbox/folders/inbox/messages"
    r = httpx.get(url, auth=lab.demo_user, headers=JSON, params={"userobjectid": other.cuc_object_id})
    assert r.status_code == 403 and cupi_error(r)[0] == "FORBIDDEN"
    token = sign_in_token(lab)
    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"},
                  params={"userobjectid": other.cuc_object_id})
    assert r.status_code == 403
    own = httpx.get(url, auth=lab.demo_user, headers=JSON,
                    params={"userobjectid": lab.org.demo.cuc_object_id})
    assert own.status_code == 200
    as_admin = httpx.get(url, auth=admin, headers=JSON, params={"userObjectId": other.cuc_object_id}).json()
    assert {m["MsgId"] for m in as_admin["Message"]} == {m["MsgId"] for m in lab.org.mailbox(other)["inbox"]}
    r = httpx.get(url, auth=admin, headers=JSON)
    assert r.status_code == 400 and cupi_error(r)[0] == "INVALID_PARAMETER"
    r = httpx.get(url, auth=admin, headers=JSON,
                  params={"userobjectid": "00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 404
    # someone else's message id is simply not in my mailbox
    theirs = lab.org.mailbox(other)["inbox"][0]["MsgId"]
    r = httpx.get(f"{base}/vmrest/messages/{theirs}", auth=lab.demo_user, headers=JSON)
    assert r.status_code == 404 and cupi_error(r)[0] == "NOT_FOUND"


def test_mailbox_and_folders(lab, base):
    user = other_user(lab)
    auth = (user.username, lab.config.user_password)
    box = httpx.get(f"{base}/vmrest/mailbox", auth=auth, headers=JSON).json()
    assert box["DisplayName"] == user.display_name and box["FoldersURI"] == "/vmrest/mailbox/folders"
    assert all_strings(box)
    folders = httpx.get(f"{base}/vmrest/mailbox/folders", auth=auth, headers=JSON).json()
    assert folders["@total"] == "3"
    assert [f["DisplayName"] for f in folders["Folder"]] == ["inbox", "sent", "deleted"]
    inbox = ET.fromstring(httpx.get(f"{base}/vmrest/mailbox/folders/inbox", auth=auth).content)
    assert inbox.tag == "Folder"
    assert inbox.findtext("MessageCount") == str(len(lab.org.mailbox(user)["inbox"]))
    assert inbox.findtext("USN") and inbox.findtext("UIDValidity")
    sent = httpx.get(f"{base}/vmrest/mailbox/folders/sent/messages", auth=auth, headers=JSON)
    assert sent.json() == {"@total": "0"}
    r = httpx.get(f"{base}/vmrest/mailbox/folders/archive", auth=auth, headers=JSON)
    assert r.status_code == 404 and cupi_error(r)[0] == "NOT_FOUND"


def test_get_and_put_message_read_flag(lab, base):
    user = other_user(lab, skip={other_user(lab).username})
    auth = (user.username, lab.config.user_password)
    msg = lab.org.mailbox(user)["inbox"][0]
    url = f"{base}/vmrest/messages/{msg['MsgId']}"
    one = httpx.get(url, auth=auth, headers=JSON).json()
    assert one["MsgId"] == msg["MsgId"] and one["Attachments"]["Attachment"]["contentType"] == "audio/wav"
    assert one["Recipients"]["Recipient"]["Address"]["UserGuid"] == user.cuc_object_id
    usn_before = int(httpx.get(f"{base}/vmrest/mailbox/folders/inbox", auth=auth, headers=JSON).json()["USN"])
    r = httpx.put(url, auth=auth, json={"Read": "true", "Subject": "Call back re: invoice & <quote>"})
    assert r.status_code == 204
    x = ET.fromstring(httpx.get(url, auth=auth).content)
    assert x.findtext("Read") == "true" and x.findtext("Subject") == "Call back re: invoice & <quote>"
    r = httpx.put(url, auth=auth, content=b"<Message><Read>false</Read></Message>",
                  headers={"Content-Type": "application/xml"})
    assert r.status_code == 204 and msg["Read"] is False
    r = httpx.put(url, auth=auth, json={"Read": True})
    assert r.status_code == 204 and msg["Read"] is True
    usn_after = int(httpx.get(f"{base}/vmrest/mailbox/folders/inbox", auth=auth, headers=JSON).json()["USN"])
    assert usn_after > usn_before
    for content, ctype, status in [
        (b'{"Read":"perhaps"}', "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"<Message><Read>true</Read>", "application/xml", 400),
        (b"<Folder/>", "application/xml", 400),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Message><Read>&a;</Read></Message>', "application/xml", 400),
        (b"Read=true", "application/x-www-form-urlencoded", 415),
    ]:
        r = httpx.put(url, auth=auth, content=content, headers={"Content-Type": ctype, **JSON})
        assert r.status_code == status, content
        assert cupi_error(r)[0] == ("INVALID_PARAMETER" if status == 400 else "UNSUPPORTED_MEDIA_TYPE")
    assert msg["Read"] is True
    # a control character cannot make the XML view unreadable later
    assert httpx.put(url, auth=auth, json={"Subject": "ring\x00back"}).status_code == 204
    assert ET.fromstring(httpx.get(url, auth=auth).content).findtext("Subject").startswith("ring")


def test_delete_moves_to_deleted_then_hard_delete(lab, base):
    taken = {other_user(lab).username, other_user(lab, skip={other_user(lab).username}).username}
    user = other_user(lab, skip=taken)
    auth = (user.username, lab.config.user_password)
    box = lab.org.mailbox(user)
    first, second = box["inbox"][0]["MsgId"], box["inbox"][1]["MsgId"]
    n = len(box["inbox"])
    assert httpx.delete(f"{base}/vmrest/messages/{first}", auth=auth).status_code == 204
    deleted = httpx.get(f"{base}/vmrest/mailbox/folders/deleted/messages", auth=auth, headers=JSON).json()
    assert deleted["@total"] == "1" and deleted["Message"]["MsgId"] == first
    assert httpx.get(f"{base}/vmrest/mailbox/folders/inbox/messages", auth=auth, headers=JSON,
                     params={"rowsPerPage": 0}).json() == {"@total": str(n - 1)}
    assert httpx.delete(f"{base}/vmrest/messages/{first}", auth=auth).status_code == 204  # from deleted: gone
    assert httpx.get(f"{base}/vmrest/messages/{first}", auth=auth).status_code == 404
    assert httpx.delete(f"{base}/vmrest/messages/{second}", auth=auth,
                        params={"harddelete": "true"}).status_code == 204
    assert all(m["MsgId"] != second for folder in box.values() for m in folder)
    third = box["inbox"][0]["MsgId"]
    httpx.delete(f"{base}/vmrest/messages/{third}", auth=auth)
    r = httpx.post(f"{base}/vmrest/mailbox/folders/deleted/messages", auth=auth, params={"method": "empty"})
    assert r.status_code == 204 and box["deleted"] == []


def test_attachment_is_a_wav(lab, base):
    msg = lab.org.mailbox(lab.org.demo)["inbox"][-1]
    r = httpx.get(f"{base}/vmrest/messages/{msg['MsgId']}/attachments/0", auth=lab.demo_user)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert len(r.content) == 44 + msg["Duration"] * 8


# -- robustness, faults, HTTPS ------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,params,status", [
    ("GET", "/vmrest/nosuchthing", None, 404),
    ("GET", "/nothing/here", None, 404),
    ("POST", "/vmrest/users", None, 405),
    ("DELETE", "/vmrest/users", None, 405),
    ("PATCH", "/vmrest/messages/0:abc", None, 405),
    ("GET", "/vmrest/users", {"query": "(alias%%startswith%zz)"}, 400),
    ("GET", "/vmrest/users", {"query": "((((((("}, 400),
    ("GET", "/vmrest/messages/%00weird", None, 404),
    ("POST", "/vmrest/mailbox/folders/inbox/messages", None, 405),
])
def test_bad_input_gets_the_cupi_error_shape(lab, base, admin, method, path, params, status):
    auth = admin if "mailbox" not in path and "messages" not in path else lab.demo_user
    for headers in ({}, JSON):
        r = httpx.request(method, f"{base}{path}", params=params, auth=auth, headers=headers)
        assert r.status_code == status
        code, message = cupi_error(r)
        assert code and message


def test_garbage_authorization_headers(base):
    for value in ("Basic !!!notbase64", "Bearer", "Negotiate abc", "Basic " + "x" * 5000):
        r = httpx.get(f"{base}/vmrest/users", headers={"Authorization": value, **JSON})
        assert r.status_code == 401 and cupi_error(r)[0] == "UNAUTHORIZED"


def test_faults_use_the_cupi_shape_with_retry_after(lab, base, admin):
    try:
        lab.set_faults("unity", rate_429=1.0, retry_after=2)
        r = httpx.get(f"{base}/vmrest/users", auth=admin)
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert cupi_error(r)[0] == "TOO_MANY_REQUESTS"
        # sign-in pages are never faulted
        assert httpx.get(f"{base}/ssosp/ws/public/singleSignOn").status_code == 200
        lab.set_faults("unity", rate_429=0.0, rate_503=1.0, retry_after=0.5)
        r = httpx.get(f"{base}/vmrest/mailbox", auth=lab.demo_user)
        assert r.status_code == 503 and r.headers["retry-after"] == "0.5"
        assert cupi_error(r)[0] == "SERVICE_UNAVAILABLE"
    finally:
        lab.set_faults("unity")
    assert httpx.get(f"{base}/vmrest/users", auth=admin, params={"rowsPerPage": 0}).status_code == 200


def test_https_with_the_lab_ca():
    with start(users=20, https=True, products=("unity",)) as secure:
        base = secure.urls["unity"]
        assert base.startswith("https://")
        verify = ssl.create_default_context(cafile=secure.ca_path)
        r = httpx.get(f"{base}/vmrest/version", auth=secure.admin, verify=verify, headers=JSON)
        assert r.status_code == 200 and r.json()["name"] == "vmrest"
        with Person(*secure.demo_user, verify=verify) as person:
            landed = person.sign_in(authorize_url(base, secure.redirect_uri))
        token = dict(fragment(landed))["access_token"]
        r = httpx.get(f"{base}/vmrest/mailbox/folders/inbox/messages", verify=verify,
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/vmrest/version", auth=secure.admin)
