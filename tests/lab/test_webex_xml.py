"""The lab's Webex Meetings XML API over real HTTP: AuthenticateUser (REST token → session ticket),
LstsummaryMeeting paging and filters, FAILURE envelopes inside HTTP 200, throttling, HTTPS.
Plain httpx + ElementTree; ground truth comes from ``lab.org``."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest

import ucexplore.lab
from ucexplore.lab.person import Person

NS = {
    "serv": "http://www.webex.com/schemas/2002/06/service",
    "meet": "http://www.webex.com/schemas/2002/06/service/meeting",
    "use": "http://www.webex.com/schemas/2002/06/service/user",
}
AUTH = "java:com.webex.service.binding.user.AuthenticateUser"
LST = "java:com.webex.service.binding.meeting.LstsummaryMeeting"
MAX_PAGE = 7
SITE_TZ = timezone(timedelta(hours=8))
DATE = re.compile(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d$")


# -- helpers ---------------------------------------------------------------------------------------------
def envelope(security: dict[str, str], body_type: str, body: str = "", *, prefixed: bool = False) -> str:
    sc = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in security.items())
    h, b = ("serv:header", "serv:body") if prefixed else ("header", "body")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<serv:message xmlns:serv="http://www.webex.com/schemas/2002/06/service" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<{h}><securityContext>{sc}</securityContext></{h}>"
        f'<{b}><bodyContent xsi:type="{body_type}">{body}</bodyContent></{b}></serv:message>'
    )


class Answer:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.root = ET.fromstring(response.content)

    def head(self, name: str) -> str | None:
        el = self.root.find(f"serv:header/serv:response/serv:{name}", NS)
        return None if el is None else el.text

    @property
    def result(self) -> str | None:
        return self.head("result")

    @property
    def body(self) -> ET.Element:
        return self.root.find("serv:body/serv:bodyContent", NS)

    def meetings(self) -> list[dict[str, str]]:
        return [{_local(c.tag): (c.text or "") for c in m} for m in self.body.findall("meet:meeting", NS)]

    def matching(self) -> dict[str, int]:
        mr = self.body.find("meet:matchingRecords", NS)
        return {_local(c.tag): int(c.text) for c in mr}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def post(lab, document: str | bytes, verify=True, **kw) -> Answer:
    data = document.encode() if isinstance(document, str) else document
    r = httpx.post(f"{lab.urls['webex_xml']}/WBXService/XMLService", content=data,
                   headers={"Content-Type": "application/xml"}, verify=verify, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    return Answer(r)


def assert_failure(answer: Answer, exception_id: str | None = None, reason: str | None = None) -> None:
    assert answer.result == "FAILURE", answer.response.text
    assert answer.head("gsbStatus") == "PRIMARY"
    assert answer.head("reason")
    assert answer.head("exceptionID")
    if exception_id:
        assert answer.head("exceptionID") == exception_id, answer.response.text
    if reason:
        assert answer.head("reason") == reason
    assert len(answer.body) == 0 and not (answer.body.text or "").strip()


def lst_body(start_from=None, maximum=None, *, extra: str = "", method=None) -> str:
    lc = ""
    if start_from is not None:
        lc += f"<startFrom>{start_from}</startFrom>"
    if maximum is not None:
        lc += f"<maximumNum>{maximum}</maximumNum>"
    if method:
        lc += f"<listMethod>{method}</listMethod>"
    return (f"<listControl>{lc}</listControl>" if lc else "") + extra


def email_of(user) -> str:
    return user.email or f"{user.username}@acme.example"


def ctx_for(lab, user, **auth) -> dict[str, str]:
    return {"siteName": lab.org.site_name, "webExID": email_of(user), **auth}


def pwd(lab, user) -> dict[str, str]:
    return ctx_for(lab, user, password=lab.demo_user[1])


def fmt(dt: datetime) -> str:
    return dt.astimezone(SITE_TZ).strftime("%m/%d/%Y %H:%M:%S")


def webex_token_by_sign_in(lab, scope="spark:all") -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    url = f"{lab.urls['webex']}/v1/authorize?" + urlencode({
        "client_id": lab.webex_client_id, "response_type": "code", "redirect_uri": lab.redirect_uri,
        "scope": scope, "state": "x", "code_challenge": challenge, "code_challenge_method": "S256"})
    with Person(*lab.demo_user) as person:
        code = parse_qs(urlsplit(person.sign_in(url)).query)["code"][0]
    r = httpx.post(f"{lab.urls['webex']}/v1/access_token", data={
        "grant_type": "authorization_code", "client_id": lab.webex_client_id, "code": code,
        "redirect_uri": lab.redirect_uri, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def walk(lab, security, page_size, extra="") -> tuple[list[dict[str, str]], list[dict[str, int]]]:
    got, records, start = [], [], 1
    while True:
        answer = post(lab, envelope(security, LST, lst_body(start, page_size, extra=extra)))
        if answer.result == "FAILURE":
            assert_failure(answer, "000015")
            return got, records
        page = answer.meetings()
        records.append(answer.matching())
        got.extend(page)
        start += len(page)


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    with ucexplore.lab.start(users=60, products=("webex", "webex_xml"), xml_api_max_page=MAX_PAGE) as running:
        yield running


@pytest.fixture(scope="module")
def rest_token(lab):
    return webex_token_by_sign_in(lab)


@pytest.fixture(scope="module")
def ticket(lab, rest_token):
    demo = lab.org.demo
    answer = post(lab, envelope(ctx_for(lab, demo), AUTH, f"<accessToken>{rest_token}</accessToken>"))
    assert answer.result == "SUCCESS", answer.response.text
    return answer.body.find("use:sessionTicket", NS).text


# -- AuthenticateUser --------------------------------------------------------------------------------------
def test_authenticate_user_with_rest_token(lab, rest_token):
    demo = lab.org.demo
    answer = post(lab, envelope(ctx_for(lab, demo), AUTH, f"<accessToken>{rest_token}</accessToken>"))
    assert answer.result == "SUCCESS"
    assert answer.head("gsbStatus") == "PRIMARY"
    ticket = answer.body.find("use:sessionTicket", NS).text
    assert ticket and ticket in lab.ctx.xml_session_tickets
    assert lab.ctx.xml_session_tickets[ticket][0] == demo.username
    create = int(answer.body.find("use:createTime", NS).text)
    assert abs(create / 1000 - time.time()) < 60
    assert int(answer.body.find("use:timeToLive", NS).text) > 0
    # webExID may be the user name too, or left out (the token names the user)
    assert post(lab, envelope({"siteName": "acme", "webExID": demo.username}, AUTH,
                              f"<accessToken>{rest_token}</accessToken>")).result == "SUCCESS"
    assert post(lab, envelope({"siteName": "acme"}, AUTH,
                              f"<accessToken>{rest_token}</accessToken>")).result == "SUCCESS"


def test_authenticate_user_refusals(lab, rest_token):
    demo, other = lab.org.demo, lab.org.users[4]
    assert_failure(post(lab, envelope(ctx_for(lab, other), AUTH, f"<accessToken>{rest_token}</accessToken>")),
                   "030002", "Incorrect user or password")
    def auth_with(token):
        return post(lab, envelope(ctx_for(lab, demo), AUTH, f"<accessToken>{token}</accessToken>"))

    assert_failure(auth_with("bogus"), "030002")
    assert_failure(auth_with(lab.ctx.issuers["cucm"].issue(demo.username).access_token), "030002")
    narrow = lab.ctx.issuers["webex"].issue(demo.username, scope="meeting:schedules_read").access_token
    assert_failure(auth_with(narrow), "000001")
    assert_failure(post(lab, envelope({"siteName": "other", "webExID": email_of(demo)}, AUTH,
                                      f"<accessToken>{rest_token}</accessToken>")))


def test_authenticate_user_with_password_and_empty_body(lab):
    user = next(u for u in lab.org.users[1:] if lab.org.meetings(u))
    answer = post(lab, envelope(pwd(lab, user), AUTH))
    assert answer.result == "SUCCESS"
    ticket = answer.body.find("use:sessionTicket", NS).text
    listed = post(lab, envelope(ctx_for(lab, user, sessionTicket=ticket), LST, lst_body(1, 1)))
    assert listed.matching()["total"] == len(lab.org.meetings(user))
    assert_failure(post(lab, envelope(ctx_for(lab, user, password="wrong"), AUTH)), "030002")


# -- LstsummaryMeeting ---------------------------------------------------------------------------------------
def test_lstsummary_paging_with_ticket_matches_ground_truth(lab, ticket):
    demo = lab.org.demo
    truth = lab.org.meetings(demo)
    got, records = walk(lab, ctx_for(lab, demo, sessionTicket=ticket), 4)
    assert [m["meetingKey"] for m in got] == [m["meetingNumber"] for m in truth]
    assert len(records) == -(-len(truth) // 4)
    start = 1
    for rec in records:
        assert rec["total"] == len(truth)
        assert rec["startFrom"] == start
        assert rec["returned"] == min(4, len(truth) - start + 1)
        start += rec["returned"]


def test_lstsummary_fields_and_site_zone_dates(lab, ticket):
    demo = lab.org.demo
    truth = {m["meetingNumber"]: m for m in lab.org.meetings(demo)}
    answer = post(lab, envelope(ctx_for(lab, demo, sessionTicket=ticket), LST, lst_body(1, 50)))
    meetings = answer.meetings()
    assert len(meetings) == MAX_PAGE  # maximumNum is clamped to xml_api_max_page
    name, zone_id, _ = lab.org.site_timezone
    order = ["meetingKey", "confName", "meetingType", "hostWebExID", "otherHostWebExID", "timeZoneID",
             "timeZone", "status", "startDate", "duration", "listStatus", "hostJoined", "participantsJoined"]
    for m in meetings:
        assert list(m) == order
        t = truth[m["meetingKey"]]
        assert m["confName"] == t["title"]
        assert m["hostWebExID"] == m["otherHostWebExID"] == email_of(demo)
        assert m["timeZoneID"] == str(zone_id) and m["timeZone"] == name
        assert DATE.match(m["startDate"])
        assert m["startDate"] == fmt(t["start"])
        assert datetime.strptime(m["startDate"], "%m/%d/%Y %H:%M:%S").replace(tzinfo=SITE_TZ) == t["start"]
        assert int(m["duration"]) == t["durationMinutes"]
        assert m["status"] in ("NOT_INPROGRESS", "INPROGRESS")
        assert m["hostJoined"] in ("true", "false")


def test_default_maximum_num_is_10_then_clamped(lab, ticket):
    demo = lab.org.demo
    answer = post(lab, envelope(ctx_for(lab, demo, sessionTicket=ticket), LST))
    assert answer.matching()["returned"] == min(10, MAX_PAGE)
    assert answer.matching()["startFrom"] == 1


def test_xml_special_characters_escaped(lab):
    user = next(u for u in lab.org.users if any(m["title"] == "Q&A: <roadmap>" for m in lab.org.meetings(u)))
    total = len(lab.org.meetings(user))
    pages = [post(lab, envelope(pwd(lab, user), LST, lst_body(s, MAX_PAGE)))
             for s in range(1, total + 1, MAX_PAGE)]
    titles = [m["confName"] for page in pages for m in page.meetings()]
    assert titles == [m["title"] for m in lab.org.meetings(user)]
    assert "Q&A: <roadmap>" in titles
    escaped = b"<meet:confName>Q&amp;A: &lt;roadmap&gt;</meet:confName>"
    assert any(escaped in p.response.content for p in pages)


def test_password_auth_and_credential_failures(lab, ticket):
    demo, other = lab.org.demo, lab.org.users[5]
    other_answer = post(lab, envelope(pwd(lab, other), LST, lst_body(1, 1)))
    if lab.org.meetings(other):
        assert other_answer.matching()["total"] == len(lab.org.meetings(other))
    else:
        assert_failure(other_answer, "000015")
    by_name = post(lab, envelope({"siteName": "acme", "webExID": demo.username, "password": lab.demo_user[1]},
                                 LST, lst_body(1, 2)))
    assert by_name.result == "SUCCESS"
    bad = [
        ctx_for(lab, demo, password="wrong"),
        ctx_for(lab, demo, sessionTicket="AAABmnot-a-ticket"),
        ctx_for(lab, other, sessionTicket=ticket),  # someone else's ticket
        {"siteName": "acme", "webExID": "nobody@acme.example", "password": lab.demo_user[1]},
        {"siteName": "acme", "webExID": email_of(demo)},  # no credential at all
    ]
    for security in bad:
        assert_failure(post(lab, envelope(security, LST, lst_body(1, 2))), "030002",
                       "Incorrect user or password")


def test_expired_ticket_refused(lab):
    user = lab.org.users[11]
    t = post(lab, envelope(pwd(lab, user), AUTH)).body.find("use:sessionTicket", NS).text
    lab.ctx.xml_session_tickets[t] = (user.username, time.time() - 1)
    assert_failure(post(lab, envelope(ctx_for(lab, user, sessionTicket=t), LST)), "030002")


def test_web_ex_access_token_in_security_context(lab, rest_token):
    demo = lab.org.demo
    answer = post(lab, envelope(ctx_for(lab, demo, webExAccessToken=rest_token), LST, lst_body(1, 3)))
    assert answer.result == "SUCCESS" and answer.matching()["returned"] == 3


def test_wrong_site_is_failure(lab, ticket):
    demo = lab.org.demo
    security = {"siteName": "globex", "webExID": email_of(demo), "sessionTicket": ticket}
    assert_failure(post(lab, envelope(security, LST)))
    security = {"webExID": email_of(demo), "sessionTicket": ticket}
    assert_failure(post(lab, envelope(security, LST)))
    upper = {"siteName": "ACME", "webExID": email_of(demo), "sessionTicket": ticket}
    assert post(lab, envelope(upper, LST, lst_body(1, 1))).result == "SUCCESS"


def test_no_records(lab, ticket):
    demo = lab.org.demo
    empty = next((u for u in lab.org.users if not lab.org.meetings(u)), None)
    if empty is not None:
        assert_failure(post(lab, envelope(pwd(lab, empty), LST)), "000015", "Sorry, no record found")
    security = ctx_for(lab, demo, sessionTicket=ticket)
    beyond = len(lab.org.meetings(demo)) + 1
    assert_failure(post(lab, envelope(security, LST, lst_body(beyond, 5))), "000015",
                   "Sorry, no record found")
    scope = ("<dateScope><startDateStart>01/01/2000 00:00:00</startDateStart>"
             "<startDateEnd>01/02/2000 00:00:00</startDateEnd></dateScope>")
    assert_failure(post(lab, envelope(security, LST, scope)), "000015")


def _new_york():
    """The zone the lab uses for timeZoneID 11 (America/New_York; a fixed EST offset without tz data)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/New_York")
    except Exception:  # noqa: BLE001 - no tz database: the lab falls back to the same fixed offset
        return timezone(timedelta(hours=-5))


def test_date_scope_in_site_zone_and_other_zone(lab, ticket):
    demo = lab.org.demo
    truth = lab.org.meetings(demo)
    security = ctx_for(lab, demo, sessionTicket=ticket)
    lo, hi = lab.org.now - timedelta(days=30), lab.org.now + timedelta(days=10)
    expected = [m["meetingNumber"] for m in truth if lo <= m["start"] <= hi]
    scope = (f"<dateScope><startDateStart>{fmt(lo)}</startDateStart>"
             f"<startDateEnd>{fmt(hi)}</startDateEnd></dateScope>")
    got, records = walk(lab, security, 3, extra=scope)
    assert [m["meetingKey"] for m in got] == expected
    if records:
        assert records[0]["total"] == len(expected)
    ny = _new_york()  # EST or EDT, whichever the anchor day (today) has
    lo_ny, hi_ny = lab.org.now - timedelta(days=5), lab.org.now + timedelta(days=20)
    scope = (f"<dateScope><startDateStart>{lo_ny.astimezone(ny):%m/%d/%Y %H:%M:%S}</startDateStart>"
             f"<startDateEnd>{hi_ny.astimezone(ny):%m/%d/%Y %H:%M:%S}</startDateEnd>"
             f"<timeZoneID>11</timeZoneID></dateScope>")
    got, _ = walk(lab, security, 50, extra=scope)
    expected = [m["meetingNumber"] for m in truth if lo_ny <= m["start"] <= hi_ny]
    assert [m["meetingKey"] for m in got] == expected
    bad = f"<dateScope><startDateStart>{lab.org.now:%Y-%m-%dT%H:%M:%SZ}</startDateStart></dateScope>"  # ISO
    assert_failure(post(lab, envelope(security, LST, bad)))
    bad_zone = (f"<dateScope><startDateStart>{lab.org.now:%m/%d/%Y %H:%M:%S}</startDateStart>"
                "<timeZoneID>999</timeZoneID></dateScope>")
    assert_failure(post(lab, envelope(security, LST, bad_zone)))


def test_order_and_meeting_key(lab, ticket):
    demo = lab.org.demo
    truth = lab.org.meetings(demo)
    security = ctx_for(lab, demo, sessionTicket=ticket)
    desc = post(lab, envelope(security, LST, lst_body(1, MAX_PAGE, extra=(
        "<order><orderBy>STARTTIME</orderBy><orderAD>DESC</orderAD></order>")))).meetings()
    assert [m["meetingKey"] for m in desc] == [m["meetingNumber"] for m in reversed(truth)][:MAX_PAGE]
    by_name, _ = walk(lab, security, 5,
                      extra="<order><orderBy>CONFNAME</orderBy><orderAD>ASC</orderAD></order>")
    names = [m["confName"].casefold() for m in by_name]
    assert names == sorted(names) and len(by_name) == len(truth)
    key = truth[2]["meetingNumber"]
    one = post(lab, envelope(security, LST, f"<meetingKey>{key}</meetingKey>"))
    assert [m["meetingKey"] for m in one.meetings()] == [key]
    assert one.matching() == {"total": 1, "returned": 1, "startFrom": 1}
    assert_failure(post(lab, envelope(security, LST, "<order><orderBy>COLOUR</orderBy></order>")))


def test_list_method_or(lab, ticket):
    demo = lab.org.demo
    truth = lab.org.meetings(demo)
    security = ctx_for(lab, demo, sessionTicket=ticket)
    first_key = truth[0]["meetingNumber"]
    future = lab.org.now
    scope = (f"<dateScope><startDateStart>{fmt(future)}</startDateStart></dateScope>"
             f"<meetingKey>{first_key}</meetingKey>")
    got, _ = walk(lab, security, 50, extra=scope)
    assert got == []  # AND: the first meeting is in the past
    answer = post(lab, envelope(security, LST, lst_body(1, MAX_PAGE, method="OR", extra=scope)))
    expected = [m["meetingNumber"] for m in truth if m["start"] >= future or m["meetingNumber"] == first_key]
    assert answer.matching()["total"] == len(expected)
    assert [m["meetingKey"] for m in answer.meetings()] == expected[:MAX_PAGE]


def test_host_web_ex_id_only_self_unless_admin(lab, ticket):
    demo, other = lab.org.demo, next(u for u in lab.org.users[1:] if lab.org.meetings(u))
    security = ctx_for(lab, demo, sessionTicket=ticket)
    own = post(lab, envelope(security, LST,
                             lst_body(1, 1, extra=f"<hostWebExID>{demo.username}</hostWebExID>")))
    assert own.result == "SUCCESS"
    assert_failure(post(lab, envelope(security, LST, f"<hostWebExID>{email_of(other)}</hostWebExID>")),
                   "000001", "Access denied, additional privileges are required")
    admin = {"siteName": "acme", "webExID": lab.admin[0], "password": lab.admin[1]}
    got, _ = walk(lab, admin, 5, extra=f"<hostWebExID>{email_of(other)}</hostWebExID>")
    assert [m["meetingKey"] for m in got] == [m["meetingNumber"] for m in lab.org.meetings(other)]
    everyone = post(lab, envelope(admin, LST, lst_body(1, 1)))
    assert everyone.matching()["total"] == sum(len(lab.org.meetings(u)) for u in lab.org.users)
    assert_failure(post(lab, envelope({**admin, "password": "nope"}, LST)), "030002")


@pytest.mark.parametrize("body", [lst_body(0, 5), lst_body(1, 0), lst_body("one", 5),
                                  lst_body(1, 5, method="XOR"), lst_body(-3, 5)])
def test_bad_list_control_is_failure(lab, ticket, body):
    assert_failure(post(lab, envelope(ctx_for(lab, lab.org.demo, sessionTicket=ticket), LST, body)))


# -- malformed documents ----------------------------------------------------------------------------------
BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                  "<serv:message xmlns:serv='http://www.webex.com/schemas/2002/06/service'>&lol2;"
                  "</serv:message>")


@pytest.mark.parametrize("document", [
    b"",
    b"not xml at all",
    b"<serv:message xmlns:serv='x'><header>",
    BILLION_LAUGHS.encode(),
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b"<other/>",
    b"<serv:message xmlns:serv='http://www.webex.com/schemas/2002/06/service'/>",
    "<unbound:message><a/></unbound:message>".encode(),
    b"\xff\xfe\x00garbage",
])
def test_bad_documents_are_failure_in_http_200(lab, document):
    assert_failure(post(lab, document))


def test_unknown_request_type_is_failure(lab, ticket):
    security = ctx_for(lab, lab.org.demo, sessionTicket=ticket)
    for kind in ("java:com.webex.service.binding.meeting.CreateMeeting",
                 "java:com.webex.service.binding.user.GetUser", "nonsense", ""):
        answer = post(lab, envelope(security, kind))
        assert_failure(answer)
        assert answer.head("exceptionID") not in ("000015", "030002")


def test_prefixed_header_and_form_encoded_body(lab, ticket):
    demo = lab.org.demo
    security = ctx_for(lab, demo, sessionTicket=ticket)
    assert post(lab, envelope(security, LST, lst_body(1, 2), prefixed=True)).result == "SUCCESS"
    r = httpx.post(f"{lab.urls['webex_xml']}/WBXService/XMLService",
                   data={"XML": envelope(security, LST, lst_body(1, 2))})
    assert r.status_code == 200
    assert Answer(r).result == "SUCCESS" and Answer(r).matching()["returned"] == 2


def test_http_level_errors(lab):
    base = lab.urls["webex_xml"]
    assert httpx.get(f"{base}/WBXService/XMLService").status_code == 405
    assert httpx.post(f"{base}/WBXService/Nope", content=b"<x/>").status_code == 404


# -- faults ------------------------------------------------------------------------------------------------
def test_rate_limit_fault_is_000045_in_http_200(lab, ticket):
    security = ctx_for(lab, lab.org.demo, sessionTicket=ticket)
    lab.set_faults("webex_xml", rate_429=1.0, retry_after=2)
    try:
        answer = post(lab, envelope(security, LST))
        assert_failure(answer, "000045", "API Rate Limit Reach")
    finally:
        lab.set_faults("webex_xml")
    assert post(lab, envelope(security, LST)).result == "SUCCESS"


def test_503_fault_is_plain_503(lab, ticket):
    security = ctx_for(lab, lab.org.demo, sessionTicket=ticket)
    lab.set_faults("webex_xml", rate_503=1.0, retry_after=4)
    try:
        r = httpx.post(f"{lab.urls['webex_xml']}/WBXService/XMLService",
                       content=envelope(security, LST).encode())
        assert r.status_code == 503
        assert r.headers["retry-after"] == "4"
    finally:
        lab.set_faults("webex_xml")


# -- HTTPS -------------------------------------------------------------------------------------------------
def test_https_with_lab_ca():
    with ucexplore.lab.start(users=10, products=("webex", "webex_xml"), https=True) as tls:
        verify = ssl.create_default_context(cafile=tls.ca_path)
        demo = tls.org.demo
        token = tls.ctx.issuers["webex"].issue(demo.username).access_token
        answer = post(tls, envelope(ctx_for(tls, demo), AUTH, f"<accessToken>{token}</accessToken>"),
                      verify=verify)
        assert answer.result == "SUCCESS"
        ticket = answer.body.find("use:sessionTicket", NS).text
        listed = post(tls, envelope(ctx_for(tls, demo, sessionTicket=ticket), LST, lst_body(1, 3)),
                      verify=verify)
        assert listed.matching()["total"] == len(tls.org.meetings(demo))
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{tls.urls['webex_xml']}/WBXService/XMLService", content=b"<x/>")
