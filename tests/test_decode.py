"""ucexplore.decode: records from XML/JSON bodies, safety, and error bodies → the exception tree."""

from __future__ import annotations

import httpx
import pytest

from ucexplore.decode import (
    Meta,
    RecordSpec,
    decode_body,
    decode_records,
    error_from_body,
    error_from_response,
    flatten_element,
    looks_like_login_page,
    parse_xml,
)
from ucexplore.errors import ApiError, ParseError, RateLimited, ServerBusy, TokenExpired
from ucexplore.redact import register_secret

UDS_USERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<users uri="https://cucm:8443/cucm-uds/users" version="14.0.1" start="0" requestedCount="64"
       returnedCount="2" totalCount="130">
  <user uri="https://cucm:8443/cucm-uds/user/jkam">
    <id>a3c1-0001</id>
    <userName>jkam</userName>
    <lastName>Kam</lastName>
    <mobileNumber></mobileNumber>
    <accountType useLdapAuth="true">ldap</accountType>
    <primaryExtension>
      <directoryNumber>2001</directoryNumber>
      <callForwardAllDestination appliesToAllExtensions="false"><destination></destination>
      </callForwardAllDestination>
    </primaryExtension>
    <devices uri="https://cucm:8443/cucm-uds/user/jkam/devices"/>
  </user>
  <user uri="https://cucm:8443/cucm-uds/user/wtan">
    <id>a3c1-0002</id><userName>wtan</userName><lastName>Tan</lastName>
  </user>
</users>"""


def test_uds_users_flattened_with_attributes_and_totals() -> None:
    records, meta = decode_body(UDS_USERS, RecordSpec(item="user"))
    assert len(records) == 2
    first = records[0]
    assert first["@uri"] == "https://cucm:8443/cucm-uds/user/jkam"
    assert first["userName"] == "jkam"
    assert first["mobileNumber"] is None  # empty element
    assert first["accountType"] == "ldap" and first["accountType@useLdapAuth"] == "true"
    assert first["primaryExtension.directoryNumber"] == "2001"
    assert first["primaryExtension.callForwardAllDestination@appliesToAllExtensions"] == "false"
    assert first["primaryExtension.callForwardAllDestination.destination"] is None
    assert first["devices@uri"].endswith("/devices") and "devices" not in first  # attribute-only element
    assert records[1] == {
        "@uri": "https://cucm:8443/cucm-uds/user/wtan",
        "id": "a3c1-0002",
        "userName": "wtan",
        "lastName": "Tan",
    }
    assert meta.total == 130
    assert meta.fields["returnedCount"] == "2" and meta.fields["start"] == "0"


def test_lone_object_and_empty_list_are_not_special() -> None:
    one, meta = decode_body(b'<users totalCount="1"><user><id>1</id></user></users>', RecordSpec(item="user"))
    assert one == [{"id": "1"}] and meta.total == 1
    none, meta = decode_body(b'<users totalCount="0"/>', RecordSpec(item="user"))
    assert none == [] and meta.total == 0
    empty, meta = decode_body(b"", RecordSpec(item="user"))
    assert empty == [] and meta.total == 0
    # a server that sends the bare record instead of its list wrapper
    bare, _ = decode_body(b"<user><id>7</id></user>", RecordSpec(item="user"))
    assert bare == [{"id": "7"}]


def test_one_object_and_leaf_items() -> None:
    rec, meta = decode_body(
        b'<versionInformation version="10.0.0"><version>14.0.1</version><capabilities>'
        b"<usersResourceAuthEnabled>false</usersResourceAuthEnabled></capabilities>"
        b"</versionInformation>",
        RecordSpec(one=True),
    )
    assert rec == [
        {"@version": "10.0.0", "version": "14.0.1", "capabilities.usersResourceAuthEnabled": "false"}
    ]
    servers, _ = decode_body(
        b"<servers><server>cucm1</server><server>cucm2</server></servers>", RecordSpec(item="server")
    )
    assert servers == [{"server": "cucm1"}, {"server": "cucm2"}]
    with pytest.raises(ParseError):
        decode_body(b"  ", RecordSpec(one=True))


FINESSE_DIALOGS = b"""<Dialogs>
 <Dialog>
  <id>16817482</id><state>ACTIVE</state>
  <mediaProperties><DNIS>2001</DNIS>
    <callvariables><CallVariable><name>callVariable1</name><value>42</value></CallVariable></callvariables>
  </mediaProperties>
  <participants>
    <Participant><mediaAddress>2001</mediaAddress><state>ACTIVE</state>
      <actions><action>HOLD</action><action>DROP</action></actions></Participant>
  </participants>
 </Dialog>
 <Dialog>
  <id>16817483</id><state>ALERTING</state>
  <mediaProperties><DNIS>2002</DNIS><callvariables/></mediaProperties>
  <participants>
    <Participant><mediaAddress>2002</mediaAddress><actions><action>ANSWER</action></actions></Participant>
    <Participant><mediaAddress>3001</mediaAddress><actions/></Participant>
  </participants>
 </Dialog>
</Dialogs>"""


def test_force_list_makes_lone_children_and_empty_wrappers_lists() -> None:
    spec = RecordSpec(
        item="Dialog", force_list=("participants.Participant", "callvariables.CallVariable", "actions.action")
    )
    records, _ = decode_body(FINESSE_DIALOGS, spec)
    a, b = records
    assert a["mediaProperties.callvariables.CallVariable"] == [{"name": "callVariable1", "value": "42"}]
    assert a["participants.Participant"] == [
        {"mediaAddress": "2001", "state": "ACTIVE", "actions.action": ["HOLD", "DROP"]}
    ]
    assert b["mediaProperties.callvariables.CallVariable"] == []  # <callvariables/>
    assert [p["actions.action"] for p in b["participants.Participant"]] == [["ANSWER"], []]


def test_repeated_children_become_lists_without_force_list() -> None:
    rec = flatten_element(parse_xml(b"<User><roles><role>Agent</role><role>Supervisor</role></roles></User>"))
    assert rec == {"roles.role": ["Agent", "Supervisor"]}
    lone = flatten_element(parse_xml(b"<User><roles><role>Agent</role></roles></User>"), ["roles.role"])
    assert lone == {"roles.role": ["Agent"]}
    empty = flatten_element(parse_xml(b"<User><roles/></User>"), ["roles.role"])
    assert empty == {"roles.role": []}


WEBEX_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<serv:message xmlns:serv="http://www.webex.com/schemas/2002/06/service"
  xmlns:meet="http://www.webex.com/schemas/2002/06/service/meeting">
 <serv:header><serv:response><serv:result>SUCCESS</serv:result><serv:gsbStatus>PRIMARY</serv:gsbStatus>
 </serv:response></serv:header>
 <serv:body><serv:bodyContent xsi:type="meet:lstsummaryMeetingResponse"
   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <meet:meeting><meet:meetingKey>1728839204</meet:meetingKey><meet:confName>Weekly ops</meet:confName>
   <meet:startDate>06/10/2024 09:30:00</meet:startDate></meet:meeting>
  <meet:meeting><meet:meetingKey>1728839205</meet:meetingKey><meet:confName>Retro</meet:confName>
   <meet:startDate>06/11/2024 10:00:00</meet:startDate></meet:meeting>
  <meet:matchingRecords><serv:total>9</serv:total><serv:returned>2</serv:returned>
   <serv:startFrom>1</serv:startFrom></meet:matchingRecords>
 </serv:bodyContent></serv:body></serv:message>"""


def test_webex_xml_namespaces_stripped_and_matching_records() -> None:
    records, meta = decode_body(WEBEX_XML, RecordSpec(item="meeting"))
    assert records[0] == {
        "meetingKey": "1728839204",
        "confName": "Weekly ops",
        "startDate": "06/10/2024 09:30:00",
    }
    assert meta.total == 9 and meta.fields["matchingRecords.returned"] == "2"
    assert not any("xsi" in k or "type" in k for k in meta.fields)  # xsi:type carries no data


def _xml_failure(reason: str, code: str) -> bytes:
    return (
        b'<serv:message xmlns:serv="http://www.webex.com/schemas/2002/06/service"><serv:header>'
        b"<serv:response><serv:result>FAILURE</serv:result><serv:reason>"
        + reason.encode()
        + b"</serv:reason><serv:gsbStatus>PRIMARY</serv:gsbStatus><serv:exceptionID>"
        + code.encode()
        + b"</serv:exceptionID></serv:response></serv:header><serv:body><serv:bodyContent/></serv:body>"
        b"</serv:message>"
    )


def test_webex_xml_failure_inside_http_200() -> None:
    with pytest.raises(ApiError) as info:
        decode_body(_xml_failure("Incorrect user or password", "030002"), RecordSpec(item="meeting"))
    err = info.value
    assert not isinstance(err, RateLimited)
    assert err.code == "030002" and err.error_type == "FAILURE" and "Incorrect user or password" in str(err)
    with pytest.raises(RateLimited) as limited:
        decode_body(_xml_failure("API Rate Limit Reach", "000045"), RecordSpec(item="meeting"))
    assert limited.value.code == "000045" and limited.value.retry == "rate_limited"
    # "Sorry, no record found" is how the XML API says the list is empty
    assert decode_body(_xml_failure("Sorry, no record found", "000015"), RecordSpec(item="meeting"))[0] == []


def test_cupi_json_shapes() -> None:
    spec = RecordSpec(item="User")
    many, meta = decode_body(b'{"@total":"2","User":[{"Alias":"a","Inactive":"false"},{"Alias":"b"}]}', spec)
    assert [r["Alias"] for r in many] == ["a", "b"] and meta.total == 2
    assert many[0]["Inactive"] == "false"  # values stay strings here: frames coerces
    lone, meta = decode_body(b'{"@total":"1","User":{"Alias":"jkam","Language":"1033"}}', spec)
    assert lone == [{"Alias": "jkam", "Language": "1033"}] and meta.total == 1
    zero, meta = decode_body(b'{"@total":"0"}', spec)
    assert zero == [] and meta.total == 0
    old, meta = decode_body(b'{"Users":{"-total":"1","User":{"Alias":"jkam"}}}', spec)
    assert old == [{"Alias": "jkam"}] and meta.total == 1
    nested, _ = decode_body(
        b'{"@total":"1","Message":{"From":{"DisplayName":"Wendy"},"ArrivalTime":"1717400000000"}}',
        RecordSpec(item="Message"),
    )
    assert nested == [{"From.DisplayName": "Wendy", "ArrivalTime": "1717400000000"}]
    one, _ = decode_body(b'{"ObjectId":"8f2b","Alias":"jkam"}', RecordSpec(item="User", one=True))
    assert one == [{"ObjectId": "8f2b", "Alias": "jkam"}]


def test_webex_items_and_link_next() -> None:
    r = httpx.Response(
        200,
        json={"items": [{"id": "p1", "emails": ["a@x"]}, {"id": "p2", "emails": []}]},
        headers={"Link": '</v1/people?max=2&after=Y2lz>; rel="next"'},
        request=httpx.Request("GET", "https://webexapis.com/v1/people?max=2"),
    )
    records, meta = decode_records(r, RecordSpec(item="items"))
    assert records == [{"id": "p1", "emails": ["a@x"]}, {"id": "p2", "emails": []}]
    assert meta.next_url == "https://webexapis.com/v1/people?max=2&after=Y2lz"


# -- safety --------------------------------------------------------------------------------------------------


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<users><user><id>&lol9;</id></user></users>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><users><user><id>&xxe;</id></user></users>',
        b'<!DOCTYPE users SYSTEM "http://127.0.0.1:9/evil.dtd"><users/>',
        b'<users><!ENTITY x "y"><user/></users>',
    ],
)
def test_dtd_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        decode_body(body, RecordSpec(item="user"))
    assert "DOCTYPE/ENTITY" in str(info.value)


def test_utf16_xml_is_refused() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode("utf-16")
    with pytest.raises(ParseError):
        decode_body(body, RecordSpec(item="a"))


def test_html_login_page_means_sign_in_again() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
        b'<form method="post" action="/idp/login"><input name="username"><input type="password" name="pw">'
        b"</form></body></html>"
    )
    with pytest.raises(TokenExpired) as info:
        decode_body(page, RecordSpec(item="user"), service="UDS", sign_in_hint="run ux.login(flow) again")
    assert "sign-in page" in str(info.value) and "ux.login(flow)" in str(info.value)
    saml = (
        b'<html><body onload="document.forms[0].submit()"><form><input name="SAMLRequest" value="x"/></form>'
    )
    with pytest.raises(TokenExpired):
        decode_body(saml, RecordSpec(item="user"))


def test_other_html_is_a_parse_error_with_excerpt() -> None:
    with pytest.raises(ParseError) as info:
        decode_body(
            b"<html><h1>It works!</h1></html>", RecordSpec(item="user"), url="https://h/cucm-uds/users"
        )
    assert "HTML" in str(info.value) and "It works" in info.value.excerpt


def test_truncated_xml_is_a_parse_error_with_excerpt_and_retry_mark() -> None:
    secret = "trunc-secret-token-4242"
    register_secret(secret)
    body = b"<users totalCount='3'><user><id>1</id><note>" + secret.encode() + b"</note></user><user><id>2</i"
    with pytest.raises(ParseError) as info:
        decode_body(body, RecordSpec(item="user"), url=f"https://h/x?access_token={secret}")
    err = info.value
    assert "incomplete" in str(err) and "try again" in str(err)
    assert err.excerpt.startswith("<users totalCount='3'>")
    assert secret not in str(err) and secret not in err.excerpt
    assert err.retry == "truncated"


def test_malformed_xml_is_not_marked_for_retry() -> None:
    with pytest.raises(ParseError) as info:
        decode_body(b"<users><user></users>", RecordSpec(item="user"))
    assert "malformed" in str(info.value) and getattr(info.value, "retry", None) is None


def test_truncated_json() -> None:
    with pytest.raises(ParseError) as info:
        decode_body(b'{"@total":"2","User":[{"Alias":"a"},{"Ali', RecordSpec(item="User"))
    assert info.value.retry == "truncated" and info.value.excerpt.startswith('{"@total"')


def test_oversized_body_is_refused() -> None:
    with pytest.raises(ParseError):
        decode_body(b"<a>" + b"x" * 100 + b"</a>", RecordSpec(item="a", max_bytes=50))


def test_login_page_detector() -> None:
    assert looks_like_login_page('<form action="/ssosp/saml/login"><input type="password"></form>')
    assert not looks_like_login_page("<html><title>HTTP Status 500</title></html>")


# -- error bodies --------------------------------------------------------------------------------------------


def _resp(
    status: int,
    body: bytes | str,
    headers: dict[str, str] | None = None,
    url: str = "https://host:8443/api/thing",
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers=headers, request=httpx.Request("GET", url))


def test_finesse_api_errors() -> None:
    err = error_from_response(
        _resp(
            401,
            "<ApiErrors><ApiError><ErrorType>Authorization Failure</ErrorType>"
            "<ErrorMessage>UNAUTHORIZED</ErrorMessage><ErrorData>jsmith</ErrorData>"
            "</ApiError></ApiErrors>",
        ),
        service="Finesse",
    )
    assert type(err) is ApiError and err.status == 401
    assert err.error_type == "Authorization Failure" and err.code == "UNAUTHORIZED"
    assert "UNAUTHORIZED" in str(err) and "jsmith" in err.server_message
    low = error_from_response(
        _resp(
            400,
            "<apiErrors><apiError><errorData>265</errorData><errorMessage>"
            "CF_INVALID_AGENT_WORKMODE</errorMessage><errorType>Invalid State</errorType>"
            "</apiError></apiErrors>",
        ),
        service="Finesse",
    )
    assert low.error_type == "Invalid State" and low.code == "CF_INVALID_AGENT_WORKMODE"


def test_cupi_errors_json_and_xml() -> None:
    j = error_from_response(
        _resp(400, '{"errors":{"code":"DUPLICATE_OBJECT","message":"Alias already exists"}}'), service="Unity"
    )
    assert j.code == "DUPLICATE_OBJECT" and j.server_message == "Alias already exists" and j.status == 400
    x = error_from_response(
        _resp(
            404,
            "<ErrorDetails><errors><code>OBJECT_NOT_FOUND</code><message>No user"
            "</message></errors></ErrorDetails>",
        ),
        service="Unity",
    )
    assert x.code == "OBJECT_NOT_FOUND" and x.server_message == "No user"


def test_webex_error_json_and_tracking_header() -> None:
    err = error_from_response(
        _resp(
            404,
            '{"message":"The requested resource could not be found.","errors":[{"description":"Not found"}],'
            '"trackingId":"ROUTER_665D"}',
            {"trackingid": "ROUTER_665D"},
        ),
        service="Webex",
    )
    assert err.tracking_id == "ROUTER_665D" and "could not be found" in str(err) and "ROUTER_665D" in str(err)
    assert err.details == ["Not found"]
    header_only = error_from_response(_resp(500, "", {"trackingid": "ROUTER_1"}), service="Webex")
    assert header_only.tracking_id == "ROUTER_1"


def test_webex_429_is_rate_limited() -> None:
    err = error_from_response(
        _resp(429, '{"message":"Too many requests","trackingId":"R_9"}', {"Retry-After": "12"}),
        service="Webex",
    )
    assert isinstance(err, RateLimited) and err.retry_after == 12.0 and err.tracking_id == "R_9"


def test_cucm_sso_quasi_json() -> None:
    body = (
        '{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes '
        'an invalid parameter value, includes a parameter more than once, or is otherwise malformed."}'
    )
    err = error_from_response(_resp(400, body), service="CUCM SSO")
    assert err.error_type == "INVALID_REQUEST" and err.server_message.startswith("The request is missing")


@pytest.mark.parametrize(
    "status, cls, words",
    [
        (401, ApiError, "sign in again"),
        (404, ApiError, "does not exist"),
        (415, ApiError, "missing or invalid"),
        (503, ServerBusy, "try again"),
    ],
)
def test_uds_bare_statuses(status: int, cls: type, words: str) -> None:
    err = error_from_response(
        _resp(status, b"", url="https://cucm:8443/cucm-uds/user/jkam/devices"), service="UDS"
    )
    assert type(err) is cls and err.status == status
    assert words in str(err) and "UDS GET /cucm-uds/user/jkam/devices" in str(err)


def test_401_uses_the_sign_in_hint_and_service_hints_override() -> None:
    err = error_from_body(401, b"", service="Finesse", sign_in_hint="run ux.login(FinesseSSO(...)) again")
    assert "ux.login(FinesseSSO" in str(err)
    custom = error_from_body(
        404, b"", service="UDS", hints={404: "check the user id (UDS ids cannot contain /)"}
    )
    assert "cannot contain /" in str(custom)


def test_html_error_pages() -> None:
    login = error_from_response(
        _resp(
            401,
            '<html><form action="/login"><input type="password"></form></html>',
            {"content-type": "text/html"},
        ),
        service="UDS",
    )
    assert isinstance(login, TokenExpired)
    tomcat = error_from_response(
        _resp(
            500,
            "<html><head><title>HTTP Status 500 - Internal Server Error</title>"
            "</head><body>stack</body></html>",
            {"content-type": "text/html"},
        ),
        service="UDS",
    )
    assert type(tomcat) is ApiError and tomcat.server_message == "HTTP Status 500 - Internal Server Error"


def test_error_text_is_redacted() -> None:
    secret = "err-secret-abcdef-123"
    register_secret(secret)
    err = error_from_response(
        _resp(400, f'{{"message":"bad token {secret}"}}', url=f"https://h/x?access_token={secret}"),
        service="Webex",
    )
    assert (
        secret not in str(err) and secret not in (err.server_message or "") and secret not in (err.url or "")
    )


def test_meta_total_from() -> None:
    m = Meta(fields={"totalCount": "x", "matchingRecords.total": "12"})
    assert m.total_from(("totalCount", "matchingRecords.total")) == 12
    assert m.total_from(("nothing",)) is None
