"""Contract: ux.WebDialer against the lab's CUCM WebDialer SOAP service (``lab.org`` is the ground truth)."""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

import ucexplore as ux
from ucexplore.lab import start
from ucexplore.lab.person import Person
from ucexplore.services.webdialer import soap_result
from ucexplore.transport import RetryPolicy

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
FAST = RetryPolicy(attempts=12, backoff=0.01, max_backoff=0.05, max_wait=0.1)


# ------------------------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------------------------
class Recording(httpx.AsyncBaseTransport):
    """Forwards to the lab and keeps every request body (to check what went on the wire)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(await request.aread())
        self.headers.append(request.headers)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def last(self) -> dict[str, object]:
        """The last request: operation name and parameter elements (in0 …) as {name: element}."""
        root = ET.fromstring(self.bodies[-1])
        body = root.find(f"{{{SOAP_ENV}}}Body")
        op = body[0]
        return {"op": op.tag.rsplit("}", 1)[-1], **{c.tag: c for c in op}}


def field(el: ET.Element, name: str) -> str | None:
    found = el.find(name)
    return None if found is None else found.text


@pytest.fixture(scope="module")
def flow(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    return flow


@pytest.fixture()
def wire():
    return Recording()


@pytest.fixture()
def wd(lab, flow, wire):
    with ux.WebDialer(lab.urls["cucm"], auth=flow, http_transport=wire, progress=False) as client:
        yield client


def me(lab):
    return lab.org.demo


def other(lab):
    return next(u for u in lab.org.users[1:] if lab.org.devices(u))


# ------------------------------------------------------------------------------------------------------------
# make / end call
# ------------------------------------------------------------------------------------------------------------
def test_make_and_end_call_with_the_flow_sends_a_token_credential(wd, wire, lab, flow) -> None:
    u = me(lab)
    first = lab.org.devices(u)[0]
    s = wd.make_call("2002 & <3>", user_id=u.username)
    assert int(s["responseCode"]) == 0 and s["responseDescription"] == "Success"
    assert s.attrs["ucexplore"]["params"]["device_name"] == first["name"]
    sent = wire.last()
    assert sent["op"] == "makeCallSoap"
    assert field(sent["in0"], "token") == flow.token.access_token
    assert sent["in0"].find("password") is None
    assert sent["in1"].text == "2002 & <3>"  # escaped on the wire, intact after parsing
    assert field(sent["in2"], "user") == u.username
    assert field(sent["in2"], "deviceName") == first["name"]
    assert field(sent["in2"], "lineNumber") == first["lineNumber"]
    assert b"urn:WD70" in wire.bodies[-1] and wire.headers[-1]["content-type"].startswith("text/xml")
    assert "authorization" not in wire.headers[-1]  # the credential travels in the body only

    ended = wd.end_call(user_id=u.username)
    assert int(ended["responseCode"]) == 0
    sent = wire.last()
    assert sent["op"] == "endCallSoap" and field(sent["in1"], "deviceName") == first["name"]


def test_default_device_comes_from_the_profile_once(wd, wire, lab) -> None:
    u = me(lab)
    wd.make_call("2002", user_id=u.username)
    wd.end_call(user_id=u.username)
    ops = [ET.fromstring(b).find(f"{{{SOAP_ENV}}}Body")[0].tag.rsplit("}", 1)[-1] for b in wire.bodies]
    assert ops == ["getProfileSoap", "makeCallSoap", "endCallSoap"]
    wd.make_call("2003", user_id=u.username)
    wd.end_call(user_id=u.username)
    assert len(wire.bodies) == 5  # remembered: no second profile look-up


def test_make_and_end_call_with_basic(lab, wire) -> None:
    u = me(lab)
    device = lab.org.devices(u)[-1]["name"]
    with ux.WebDialer(lab.urls["cucm"], auth=lab.demo_user, http_transport=wire, progress=False) as wd:
        s = wd.make_call("+1 408 555 0100", user_id=u.username, device_name=device)
        assert int(s["responseCode"]) == 0
        sent = wire.last()
        assert field(sent["in0"], "userID") == u.username
        assert field(sent["in0"], "password") == lab.demo_user[1]
        assert field(sent["in2"], "deviceName") == device
        assert int(wd.end_call(user_id=u.username)["responseCode"]) == 0
        assert field(wire.last()["in1"], "deviceName") == device  # the phone the call was made from


def test_admin_with_proxy_rights_dials_for_another_user(lab) -> None:
    o = other(lab)
    with ux.WebDialer(lab.urls["cucm"], auth=lab.admin, progress=False) as wd:
        assert int(wd.make_call("2001", user_id=o.username)["responseCode"]) == 0
        assert int(wd.end_call(user_id=o.username)["responseCode"]) == 0


def test_proxy_refusal_is_code_3_with_hint(wd, lab, flow) -> None:
    o = other(lab)
    with pytest.raises(ux.ApiError) as info:
        wd.make_call("2001", user_id=o.username, device_name=lab.org.devices(o)[0]["name"])
    err = info.value
    assert err.code == "3" and err.status == 200
    assert err.server_message == "No authentication proxy rights"
    assert "Proxy Rights" in err.hint and "(responseCode 3)" in str(err)
    assert flow.token.access_token not in str(err)
    with pytest.raises(ux.ApiError) as info:  # without device_name: refused by the profile look-up
        wd.make_call("2001", user_id=o.username)
    assert info.value.code == "3"


def test_wrong_password_is_code_2_with_hint_and_no_password(lab) -> None:
    u = me(lab)
    with (
        ux.WebDialer(lab.urls["cucm"], auth=(u.username, "wrong-pass-9"), progress=False) as wd,
        pytest.raises(ux.ApiError) as info,
    ):
        wd.make_call("2002", user_id=u.username, device_name=lab.org.devices(u)[0]["name"])
    err = info.value
    assert err.code == "2" and "password" in err.hint
    assert "wrong-pass-9" not in str(err) and "wrong-pass-9" not in repr(err)


def test_unknown_device_is_code_5_with_hint(wd, lab) -> None:
    with pytest.raises(ux.ApiError) as info:
        wd.make_call("2002", user_id=me(lab).username, device_name="SEP000000000000")
    assert info.value.code == "5" and "profile(" in info.value.hint


def test_user_without_devices_is_code_5(lab) -> None:
    nobody = next(u for u in lab.org.users if not lab.org.devices(u))
    with (
        ux.WebDialer(lab.urls["cucm"], auth=lab.admin, progress=False) as wd,
        pytest.raises(ux.ApiError) as info,
    ):
        wd.make_call("2002", user_id=nobody.username)
    assert info.value.code == "5"


def test_end_call_without_a_call_is_code_1(wd, lab) -> None:
    with pytest.raises(ux.ApiError) as info:
        wd.end_call(user_id=me(lab).username)
    assert info.value.code == "1" and info.value.server_message


def test_arguments_are_checked(wd, lab) -> None:
    with pytest.raises(ValueError):
        wd.make_call("  ", user_id=me(lab).username)
    with pytest.raises(TypeError):
        wd.make_call("2002", user_id="")
    with pytest.raises(ValueError, match="control character"):
        wd.make_call("20\x0002", user_id=me(lab).username, device_name="SEP1")


def test_no_credentials_is_not_signed_in(lab) -> None:
    with ux.WebDialer(lab.urls["cucm"], progress=False) as wd, pytest.raises(ux.NotSignedIn, match="auth="):
        wd.make_call("2002", user_id=me(lab).username)
    fresh = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    with (
        ux.WebDialer(lab.urls["cucm"], auth=fresh, progress=False) as wd,
        pytest.raises(ux.NotSignedIn, match="ux.login"),
    ):
        wd.make_call("2002", user_id=me(lab).username)


# ------------------------------------------------------------------------------------------------------------
# profile and cluster-user look-ups
# ------------------------------------------------------------------------------------------------------------
def test_profile_matches_ground_truth(wd, lab) -> None:
    truth = lab.org.devices(me(lab))
    mine = wd.profile()
    assert mine["deviceName"].tolist() == [d["name"] for d in truth]
    assert mine["lines"].tolist() == [[d["lineNumber"]] for d in truth]
    assert mine["phoneType"].tolist() == [d["model"] for d in truth]
    assert wd.profile(me(lab).username)["deviceName"].tolist() == [d["name"] for d in truth]


def test_profile_of_a_user_without_devices_is_empty(lab) -> None:
    nobody = next(u for u in lab.org.users if not lab.org.devices(u))
    with ux.WebDialer(lab.urls["cucm"], auth=lab.admin, progress=False) as wd:
        df = wd.profile(nobody.username)
    assert df.empty and list(df.columns) == ["deviceName", "lines", "phoneDesc", "phoneType"]


def test_is_cluster_user(lab) -> None:
    with ux.WebDialer(lab.urls["cucm"], progress=False) as anonymous:
        assert anonymous.is_cluster_user(me(lab).username) is True
        assert anonymous.is_cluster_user("no-such-user") is False


# ------------------------------------------------------------------------------------------------------------
# async twins and the sync facade inside a running loop
# ------------------------------------------------------------------------------------------------------------
def test_async_twins(lab, flow) -> None:
    u = me(lab)

    async def main():
        async with ux.WebDialer(lab.urls["cucm"], auth=flow, progress=False) as wd:
            made = await wd.make_call_async("2002", user_id=u.username)
            ended = await wd.end_call_async(user_id=u.username)
            profile = await wd.profile_async()
            return made, ended, profile

    made, ended, profile = asyncio.run(main())
    assert int(made["responseCode"]) == 0 == int(ended["responseCode"])
    assert len(profile) == len(lab.org.devices(u))


def test_sync_call_inside_a_running_loop(wd, lab) -> None:
    async def main():
        s = wd.make_call("2002", user_id=me(lab).username)
        wd.end_call(user_id=me(lab).username)
        return s

    assert int(asyncio.run(main())["responseCode"]) == 0


# ------------------------------------------------------------------------------------------------------------
# the response shapes: legacy multiRef (the lab) and CUCM 15SU5+ doc/literal; SOAP faults
# ------------------------------------------------------------------------------------------------------------
DOC_LITERAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
    b'envelope/"><soapenv:Body><ns2:makeCallSoapResponse xmlns:ns2="http://webdialer.ccm.cisco.com">'
    b"<ns2:return><ns2:responseCode>{code}</ns2:responseCode><ns2:responseDescription>{desc}"
    b"</ns2:responseDescription></ns2:return></ns2:makeCallSoapResponse></soapenv:Body></soapenv:Envelope>"
)
FAULT = (
    b'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
    b'envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server.userException</faultcode>'
    b"<faultstring>java.lang.NullPointerException</faultstring></soapenv:Fault></soapenv:Body>"
    b"</soapenv:Envelope>"
)


def mock(status: int, body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers={"content-type": "text/xml"})
    )


def test_doc_literal_response_is_read() -> None:
    body = DOC_LITERAL.replace(b"{code}", b"0").replace(b"{desc}", b"Success")
    assert soap_result(body) == {"responseCode": "0", "responseDescription": "Success"}
    with ux.WebDialer(
        "https://cucm.example.com:8443",
        auth=("jkam", "pw-123456"),
        http_transport=mock(200, body),
        progress=False,
    ) as wd:
        s = wd.make_call("2002", user_id="jkam", device_name="SEP1")
    assert int(s["responseCode"]) == 0 and s["responseDescription"] == "Success"


def test_doc_literal_error_code() -> None:
    body = DOC_LITERAL.replace(b"{code}", b"3").replace(b"{desc}", b"No authentication proxy rights")
    with (
        ux.WebDialer(
            "https://cucm.example.com:8443",
            auth=("jkam", "pw-123456"),
            http_transport=mock(200, body),
            progress=False,
        ) as wd,
        pytest.raises(ux.ApiError) as info,
    ):
        wd.make_call("2002", user_id="someone", device_name="SEP1")
    assert info.value.code == "3" and "Proxy Rights" in info.value.hint


def test_soap_fault_is_an_api_error_with_the_fault_fields() -> None:
    with (
        ux.WebDialer(
            "https://cucm.example.com:8443",
            auth=("jkam", "pw-123456"),
            http_transport=mock(500, FAULT),
            progress=False,
        ) as wd,
        pytest.raises(ux.ApiError) as info,
    ):
        wd.make_call("2002", user_id="jkam", device_name="SEP1")
    err = info.value
    assert err.status == 500 and err.error_type == "soapenv:Server.userException"
    assert err.server_message == "java.lang.NullPointerException" and err.hint


def test_missing_service_is_404_with_hint() -> None:
    page = b"<!doctype html><html><head><title>HTTP Status 404 - Not Found</title></head></html>"
    with (
        ux.WebDialer(
            "https://cucm.example.com:8443",
            auth=("jkam", "pw-123456"),
            http_transport=mock(404, page),
            progress=False,
        ) as wd,
        pytest.raises(ux.ApiError) as info,
    ):
        wd.make_call("2002", user_id="jkam", device_name="SEP1")
    assert info.value.status == 404 and "WebDialer" in info.value.hint


def test_not_soap_is_a_parse_error() -> None:
    with (
        ux.WebDialer(
            "https://cucm.example.com:8443",
            auth=("jkam", "pw-123456"),
            http_transport=mock(200, b"<hello/>"),
            progress=False,
        ) as wd,
        pytest.raises(ux.ParseError),
    ):
        wd.make_call("2002", user_id="jkam", device_name="SEP1")


# ------------------------------------------------------------------------------------------------------------
# secrets: never in exceptions or logs (DEBUG included)
# ------------------------------------------------------------------------------------------------------------
def test_no_secret_in_exceptions_or_logs(lab, flow, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    u, o = me(lab), other(lab)
    token, password = flow.token.access_token, lab.demo_user[1]
    errors: list[BaseException] = []
    with (
        ux.WebDialer(lab.urls["cucm"], auth=flow, progress=False) as by_token,
        ux.WebDialer(lab.urls["cucm"], auth=lab.demo_user, progress=False) as basic,
    ):
        results = [
            by_token.make_call("2002", user_id=u.username),
            by_token.end_call(user_id=u.username),
            basic.make_call("2002", user_id=u.username),
            basic.end_call(user_id=u.username),
        ]
        for client in (by_token, basic):
            try:
                client.make_call("2002", user_id=o.username)
            except ux.ApiError as exc:
                errors.append(exc)
        text = "\n".join(r.getMessage() for r in caplog.records)
        text += "".join(str(e) + repr(e) + str(getattr(e, "hint", "")) for e in errors)
        text += "".join(repr(s.attrs) for s in results) + repr(by_token) + repr(basic)
    assert len(errors) == 2 and caplog.records
    assert token not in text and password not in text
    assert "<in0" not in text and "Credential" not in text  # the SOAP body is never logged


# ------------------------------------------------------------------------------------------------------------
# token expiry, faults
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_lab():
    with start(users=30, seed=3, products=("cucm",), token_ttl={"cucm": 2}) as running:
        yield running


def test_expired_token_says_how_to_sign_in(short_lab) -> None:
    flow = ux.CucmSSO(short_lab.urls["cucm"], redirect_uri=short_lab.redirect_uri)
    with Person(*short_lab.demo_user) as person:
        tok = flow.complete(person.sign_in(flow.authorize_url))
    while not tok.expired:
        time.sleep(0.1)
    u = short_lab.org.demo.username
    with (
        ux.WebDialer(short_lab.urls["cucm"], auth=flow, progress=False) as wd,
        pytest.raises(ux.TokenExpired) as info,
    ):
        wd.make_call("2002", user_id=u)
    assert "ux.login(flow)" in str(info.value) and tok.access_token not in str(info.value)
    # the server dropped it a moment before a lenient client's clock did: WebDialer's code 2 → TokenExpired
    lenient = ux.Token(tok.access_token, expires_in=3)
    with (
        ux.WebDialer(short_lab.urls["cucm"], auth=lenient, progress=False) as wd,
        pytest.raises(ux.TokenExpired),
    ):
        wd.make_call("2002", user_id=u, device_name="SEP1")


def test_busy_server_is_retried_and_profile_survives_truncation(short_lab) -> None:
    u = short_lab.org.demo
    with ux.WebDialer(short_lab.urls["cucm"], auth=short_lab.demo_user, retry=FAST, progress=False) as wd:
        clean = wd.profile()
        short_lab.set_faults("cucm", rate_503=0.3, truncate_rate=0.2, retry_after=0.01)
        try:
            for _ in range(20):
                assert wd.profile().equals(clean)  # read-only: truncated answers are asked again
            short_lab.set_faults("cucm", rate_503=0.5, truncate_rate=0.0, retry_after=0.01)
            for _ in range(5):  # a 503 means nothing was done: even makeCall is sent again
                assert int(wd.make_call("2002", user_id=u.username)["responseCode"]) == 0
                assert int(wd.end_call(user_id=u.username)["responseCode"]) == 0
        finally:
            short_lab.set_faults("cucm")
        assert wd.transport.stats["busy_waits"] > 0 and wd.transport.stats["parse_retries"] > 0
