"""Fuzzing the decoder (hypothesis): whatever a server sends, ucexplore answers with records or a typed error.

Malformed and truncated XML and JSON, wrong content types, HTML where XML was expected, huge bodies (also
streamed without a Content-Length), entity expansion ("billion laughs") and external entities: every one
ends as records or as a :class:`~ucexplore.errors.UcError` (``ParseError``, ``TokenExpired`` or ``ApiError``),
quickly and in bounded memory — never as another exception.

The number of generated inputs follows the hypothesis profile loaded by ``tests/conftest.py`` (``ci``: 300
per property; ``HYPOTHESIS_PROFILE=long`` for a long run).
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ucexplore.decode import RecordSpec, decode_body, decode_records, error_from_body, parse_json, parse_xml
from ucexplore.errors import ApiError, ParseError, TokenExpired, UcError
from ucexplore.services.base import Cursor, Fetch, NoPaging, Offset, PageNumber, Service
from ucexplore.transport import RetryPolicy, Transport, run_sync

#: what a decoder may raise: nothing else, ever
TYPED = (ParseError, TokenExpired, ApiError)

SPECS = [
    RecordSpec(item="user"),
    RecordSpec(item="User", force_list=("roles.role",)),
    RecordSpec(item="items"),
    RecordSpec(item=None),
    RecordSpec(item="Dialog", force_list=("participants.Participant", "mediaProperties.callvariables")),
    RecordSpec(item="meeting", container="body.bodyContent"),
    RecordSpec(item="versionInformation", one=True),
    RecordSpec(item="User", one=True),
]
CONTENT_TYPES = [
    None,
    "application/xml",
    "application/xml;charset=UTF-8",
    "text/xml;charset=ISO-8859-1",
    "application/json",
    "application/json;charset=UTF-8",
    "text/html",
    "text/html;charset=utf-8",
    "text/plain",
    "application/octet-stream",
    "image/png",
    "",
]

specs = st.sampled_from(SPECS)
content_types = st.sampled_from(CONTENT_TYPES)


def _decode(
    body: bytes, spec: RecordSpec, content_type: str | None
) -> tuple[list[dict[str, Any]], Any] | UcError:
    """decode_body, returning a typed error instead of raising it (any other exception fails the test)."""
    try:
        records, meta = decode_body(
            body,
            spec,
            content_type=content_type,
            url="https://h.test/x",
            service="Fuzz",
            sign_in_hint="sign in again",
        )
    except TYPED as exc:
        assert str(exc)  # an actionable message, never empty
        return exc
    assert isinstance(records, list)
    assert all(isinstance(r, dict) for r in records)
    return records, meta


# ============================================================================================================
# strategies: XML and JSON documents, then damage
# ============================================================================================================

_names = st.sampled_from(
    [
        "user",
        "users",
        "User",
        "id",
        "userName",
        "a",
        "b",
        "items",
        "roles",
        "role",
        "serv:message",
        "body",
        "bodyContent",
        "meet:meeting",
        "Dialog",
        "x-y",
        "n_1",
    ]
)
_texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _esc(text: str) -> str:
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    # only characters XML 1.0 allows
    return "".join(c for c in out if c in "\t\n\r" or ord(c) >= 0x20 and c not in "\ufffe\uffff")


@st.composite
def xml_elements(draw: Any, depth: int = 0) -> str:
    name = draw(_names)
    attrs = draw(
        st.dictionaries(
            st.sampled_from(["uri", "total", "totalCount", "id", "useLdapAuth"]), _texts, max_size=2
        )
    )
    attr_text = "".join(f' {k}="{_esc(v)}"' for k, v in attrs.items())
    if depth >= 3 or draw(st.booleans()):
        return f"<{name}{attr_text}>{_esc(draw(_texts))}</{name}>"
    children = draw(st.lists(xml_elements(depth=depth + 1), max_size=4))
    return f"<{name}{attr_text}>{''.join(children)}</{name}>"


@st.composite
def xml_documents(draw: Any) -> bytes:
    root = draw(st.sampled_from(["users", "Users", "message", "Dialogs", "versionInformation"]))
    children = draw(st.lists(xml_elements(), max_size=6))
    decl = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
            ]
        )
    )
    total = draw(st.integers(0, 10**6))
    ns = ' xmlns:serv="http://www.webex.com/schemas/2002/06/service" xmlns:meet="urn:meet"'
    return f'{decl}<{root}{ns} totalCount="{total}">{"".join(children)}</{root}>'.encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def json_documents(draw: Any) -> bytes:
    shape = draw(st.sampled_from(["items", "cupi", "lone", "list", "any"]))
    if shape == "items":
        obj: Any = {"items": draw(st.lists(st.dictionaries(_texts, json_values, max_size=4), max_size=4))}
    elif shape == "cupi":
        obj = {
            "@total": str(draw(st.integers(0, 99))),
            "User": draw(st.lists(st.dictionaries(_texts, json_values, max_size=4), max_size=3)),
        }
    elif shape == "lone":
        obj = {"@total": "1", "User": draw(st.dictionaries(_texts, json_values, max_size=4))}
    elif shape == "list":
        obj = draw(st.lists(json_values, max_size=4))
    else:
        obj = draw(json_values)
    return json.dumps(obj).encode()


def _damage(draw: Any, body: bytes) -> bytes:
    how = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "garbage-prefix", "none"]))
    if not body or how == "none":
        return body
    i = draw(st.integers(0, len(body) - 1))
    if how == "truncate":
        return body[:i]
    if how == "flip":
        return body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
    if how == "insert":
        return body[:i] + draw(st.binary(min_size=1, max_size=8)) + body[i:]
    if how == "delete":
        j = draw(st.integers(i, min(len(body), i + 16)))
        return body[:i] + body[j:]
    return draw(st.binary(max_size=16)) + body


@st.composite
def damaged_bodies(draw: Any) -> bytes:
    body = draw(st.one_of(xml_documents(), json_documents()))
    return _damage(draw, body)


# ============================================================================================================
# properties of the decoder
# ============================================================================================================


@given(body=st.binary(max_size=2048), spec=specs, ctype=content_types)
def test_arbitrary_bytes_give_records_or_a_typed_error(
    body: bytes, spec: RecordSpec, ctype: str | None
) -> None:
    _decode(body, spec, ctype)


@given(body=damaged_bodies(), spec=specs, ctype=content_types)
def test_damaged_xml_and_json_give_records_or_a_typed_error(
    body: bytes, spec: RecordSpec, ctype: str | None
) -> None:
    _decode(body, spec, ctype)


@given(doc=xml_documents(), data=st.data())
def test_truncated_xml_is_a_parse_error_marked_for_retry(doc: bytes, data: Any) -> None:
    """A body cut anywhere inside the root element is never taken for data, and the transport may retry it."""
    root_start = doc.index(b"<", doc.index(b"?>") + 2 if doc.startswith(b"<?") else 0)
    cut = data.draw(st.integers(root_start + 1, len(doc) - 1))
    out = _decode(doc[:cut], SPECS[0], "application/xml")
    assert isinstance(out, ParseError), f"a truncated body decoded as data: {doc[:cut]!r}"
    assert getattr(out, "retry", None) == "truncated", f"not marked for retry: {out}"


@given(doc=json_documents(), data=st.data())
def test_truncated_json_is_a_parse_error_marked_for_retry(doc: bytes, data: Any) -> None:
    assume(doc[:1] in (b"{", b"["))
    cut = data.draw(st.integers(1, len(doc) - 1))
    out = _decode(doc[:cut], RecordSpec(item="items"), "application/json")
    assert isinstance(out, ParseError), f"a truncated body decoded as data: {doc[:cut]!r}"
    assert getattr(out, "retry", None) == "truncated", f"not marked for retry: {out}"


@given(doc=xml_documents(), spec=specs)
def test_well_formed_xml_always_decodes(doc: bytes, spec: RecordSpec) -> None:
    out = _decode(doc, spec, "application/xml")
    if isinstance(out, UcError):
        # only a Webex-XML-API-shaped failure envelope or a missing one-object container may refuse
        assert isinstance(out, (ApiError, ParseError)) and (b"message" in doc or spec.one or spec.container)


@given(
    body=st.one_of(xml_documents(), json_documents()),
    ctype=st.sampled_from(
        ["text/html", "text/html;charset=utf-8", "image/png", "text/plain", "application/octet-stream"]
    ),
)
def test_wrong_content_types_give_records_or_a_typed_error(body: bytes, ctype: str) -> None:
    _decode(body, SPECS[0], ctype)


_HTML_PAGES = [
    (
        b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action='/idp/sso' method=post>"
        b"<input name=username><input type=password name=password></form></body></html>"
    ),
    (
        b"<html><body><form method='post' action='https://idp.example.com/SAML2/SSO'>"
        b"<input type='hidden' name='SAMLRequest' value='PHNhbWxwOkF1dGhu'/></form></body></html>"
    ),
    (
        b"<!doctype html><html lang=en><head><title>HTTP Status 500 \xe2\x80\x93 Internal Server Error</title>"
        b"</head><body><h1>HTTP Status 500</h1></body></html>"
    ),
    (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
        b"<hr><center>nginx</center></body></html>"
    ),
    b"\xef\xbb\xbf  <HTML><BODY>Maintenance</BODY></HTML>",
]


@pytest.mark.parametrize("page", _HTML_PAGES)
@pytest.mark.parametrize("ctype", ["text/html", "application/xml", None])
def test_html_where_xml_was_expected(page: bytes, ctype: str | None) -> None:
    out = _decode(page, RecordSpec(item="user"), ctype)
    assert isinstance(out, (ParseError, TokenExpired))
    if b"password" in page or b"SAMLRequest" in page:
        assert isinstance(out, TokenExpired) and "sign in again" in str(out)
    else:
        assert isinstance(out, ParseError) and "HTML" in str(out)


@given(page=st.sampled_from(_HTML_PAGES), data=st.data())
def test_damaged_html_gives_a_typed_error(page: bytes, data: Any) -> None:
    out = _decode(_damage(data.draw, page), RecordSpec(item="user"), "text/html")
    assert isinstance(out, (ParseError, TokenExpired, tuple))


@given(
    status=st.sampled_from([200, 400, 401, 403, 404, 405, 409, 415, 429, 500, 502, 503, 504, 599]),
    body=st.one_of(st.binary(max_size=1024), damaged_bodies(), st.sampled_from(_HTML_PAGES)),
    ctype=content_types,
    retry_after=st.sampled_from([None, "1", "-3", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "1e309", "nan"]),
)
def test_error_bodies_always_become_an_exception_object(
    status: int, body: bytes, ctype: str | None, retry_after: str | None
) -> None:
    headers = {"content-type": ctype or "", **({"retry-after": retry_after} if retry_after else {})}
    err = error_from_body(status, body, headers=headers, url="https://h.test/x", method="GET", service="Fuzz")
    assert isinstance(err, UcError) and str(err)


# ============================================================================================================
# entity expansion, external entities, deep nesting, encodings
# ============================================================================================================

_LOL = b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10 if i else b"lol") for i in range(10)
)
HOSTILE_XML = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz ['
    + _LOL
    + b"]><users><user><id>&lol9;</id></user>"
    b"</users>",
    "quadratic blowup": b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><users>'
    + b"<user><id>"
    + b"&a;" * 2000
    + b"</id></user></users>",
    "external entity": b'<?xml version="1.0"?><!DOCTYPE users [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<users><user><id>&xxe;</id></user></users>",
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE users SYSTEM "http://127.0.0.1:9/evil.dtd">'
    b"<users><user><id>1</id></user></users>",
    "parameter entity": b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]>'
    b"<users/>",
    "lowercase doctype": b"<!doctype users [<!entity x 'y'>]><users><user><id>&x;</id></user></users>",
    "spaced doctype": b"<!  DOCTYPE users [<!ENTITY x 'y'>]><users/>",
    "doctype after comment": b"<!-- hi --><!DOCTYPE users [<!ENTITY x 'y'>]><users><user><id>&x;</id></user>"
    b"</users>",
    "doctype after BOM": b"\xef\xbb\xbf<!DOCTYPE users [<!ENTITY x 'y'>]><users><user><id>&x;</id></user></users>",
    "undeclared entity": b"<users><user><id>&nbsp;&undefined;</id></user></users>",
    "utf-16 with entities": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE u [<!ENTITY x "y">]><u>&x;</u>'.encode(
        "utf-16"
    ),
    "utf-16le without BOM": "<users><user><id>1</id></user></users>".encode("utf-16-le"),
    "ebcdic declared": b'<?xml version="1.0" encoding="cp500"?>'
    + '<!DOCTYPE u [<!ENTITY x "y">]><users><user><id>&x;</id></user></users>'.encode("cp500"),
    "xinclude": b'<users xmlns:xi="http://www.w3.org/2001/XInclude"><user><id><xi:include href="file:///etc/passwd"'
    b' parse="text"/></id></user></users>',
    "unknown encoding": b'<?xml version="1.0" encoding="no-such-codec"?><users/>',
    "processing instruction": b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?><users><user><id>1</id></user>'
    b"</users>",
    "CDATA with markup": b"<users><user><id><![CDATA[<!DOCTYPE x [<!ENTITY a 'b'>]>]]></id></user></users>",
    "deep nesting": b"<users><user>" + b"<a>" * 50_000 + b"x" + b"</a>" * 50_000 + b"</user></users>",
    "deep wrapper": b"<users>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</users>",
    "many attributes": b"<users><user " + b" ".join(b'a%d="v"' % i for i in range(20_000)) + b"/></users>",
}

HOSTILE_JSON = {
    "deep arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep items": b'{"items":[' + b'{"a":' * 5_000 + b"1" + b"}" * 5_000 + b"]}",
    "huge number": b'{"items":[{"n":' + b"9" * 100_000 + b"}]}",
    "lone surrogate": b'{"items":[{"n":"\\ud800"}]}',
    "invalid utf-8": b'{"items":[{"n":"\xff\xfe"}]}',
    "nan and infinity": b'{"items":[{"a":NaN,"b":Infinity,"c":-Infinity}]}',
    "duplicate keys": b'{"items":[{"a":1,"a":2}]}',
    "top-level string": b'"just a string"',
    "top-level null": b"null",
}


def _bounded(fn: Any, *, seconds: float = 5.0, megabytes: float = 64.0) -> Any:
    """Run ``fn`` under tracemalloc: it must finish within ``seconds`` (generous: two shared cores, and
    tracemalloc slows allocation ~3x; an entity expansion would take orders of magnitude longer) and peak below
    ``megabytes``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 1e6, f"peak memory {peak / 1e6:.1f} MB"
    return out


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
@pytest.mark.parametrize(
    "spec", [RecordSpec(item="user"), RecordSpec(item="user", one=True)], ids=["list", "one"]
)
def test_hostile_xml_is_refused_quickly_in_bounded_memory(name: str, spec: RecordSpec) -> None:
    body = HOSTILE_XML[name]
    out = _bounded(lambda: _decode(body, spec, "application/xml"))
    if isinstance(out, tuple):  # decoded: nothing was expanded or fetched
        text = repr(out[0])
        assert "root:" not in text and "lollol" not in text
        assert name in (
            "undeclared entity",
            "xinclude",
            "processing instruction",
            "CDATA with markup",
            "many attributes",
        )
    else:
        assert isinstance(out, ParseError)
    if "ENTITY" in name.upper() or "doctype" in name or "laughs" in name or "blowup" in name:
        assert isinstance(out, ParseError)


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_json_gives_records_or_a_typed_error(name: str) -> None:
    out = _bounded(lambda: _decode(HOSTILE_JSON[name], RecordSpec(item="items"), "application/json"))
    if name.startswith("deep") and name != "deep items":
        assert isinstance(out, ParseError)


@pytest.mark.parametrize(
    "body", [*HOSTILE_XML.values(), *HOSTILE_JSON.values()], ids=[*HOSTILE_XML, *HOSTILE_JSON]
)
def test_hostile_error_bodies_become_exception_objects(body: bytes) -> None:
    for status in (400, 401, 500, 503):
        err = _bounded(lambda s=status: error_from_body(s, body, headers={"content-type": "application/xml"}))
        assert isinstance(err, UcError)
        assert "root:" not in str(err)


def test_parse_helpers_raise_only_parse_errors() -> None:
    for body in HOSTILE_XML.values():
        try:
            parse_xml(body)
        except ParseError:
            pass
    for body in HOSTILE_JSON.values():
        try:
            parse_json(body)
        except ParseError:
            pass


# ============================================================================================================
# huge bodies
# ============================================================================================================


def test_body_over_the_decoder_limit_is_refused_without_parsing() -> None:
    spec = RecordSpec(item="user", max_bytes=1_000_000)
    body = b"<users>" + b"<user><id>1</id></user>" * 60_000 + b"</users>"
    out = _bounded(lambda: _decode(body, spec, "application/xml"), seconds=2, megabytes=5)
    assert isinstance(out, ParseError) and "too large" in str(out)


def test_a_large_valid_body_decodes_in_bounded_memory() -> None:
    body = (
        b"<users totalCount='20000'>"
        + b"".join(
            b"<user uri='u/%d'><id>%d</id><userName>u%d</userName></user>" % (i, i, i) for i in range(20_000)
        )
        + b"</users>"
    )
    records, meta = _bounded(lambda: decode_body(body, RecordSpec(item="user")), seconds=5, megabytes=60)
    assert len(records) == 20_000 and meta.total == 20_000


def _huge_transport(kind: str, size: int) -> httpx.MockTransport:
    chunk = b"<user><id>1</id></user>" * 4096  # ~94 KB

    def handler(request: httpx.Request) -> httpx.Response:
        if kind == "content-length":
            # announces a huge body; the client must refuse it before reading
            return httpx.Response(
                200,
                headers={"content-length": str(size), "content-type": "application/xml"},
                stream=_Stream(b"<users>" + chunk, 1),
            )
        # chunked: no Content-Length, a body that goes on and on
        return httpx.Response(
            200, headers={"content-type": "application/xml"}, stream=_Stream(chunk, size // len(chunk) + 1)
        )

    return httpx.MockTransport(handler)


class _Stream(httpx.AsyncByteStream):
    """An async body of ``count`` copies of ``chunk`` (generated lazily: never held in memory at once)."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.count, self.sent = chunk, count, 0

    async def __aiter__(self) -> Any:
        for _ in range(self.count):
            self.sent += len(self.chunk)
            yield self.chunk

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize("kind", ["content-length", "chunked"])
def test_transport_refuses_a_huge_body_early_in_bounded_memory(kind: str) -> None:
    t = Transport(
        "https://h.test",
        http_transport=_huge_transport(kind, 200_000_000),
        max_body=2_000_000,
        progress=False,
        retry=RetryPolicy(attempts=1),
    )

    def go() -> Any:
        with pytest.raises(ParseError) as info:
            run_sync(t.request("GET", "/cucm-uds/users"))
        return info.value

    err = _bounded(go, seconds=5, megabytes=16)
    assert "too large" in str(err) and "limit=" in str(err)


# ============================================================================================================
# end to end: a service over a server that sends anything
# ============================================================================================================


class Fuzzed(Service):
    product = "fuzz"
    offset = Fetch("/o", item="user", paging=Offset(page=5, total="totalCount"), id="id")
    pages = Fetch("/p", item="User", paging=PageNumber(page=5), id="ObjectId", accept="application/json")
    cursor = Fetch("/c", item="items", paging=Cursor(page=5), accept="application/json")
    plain = Fetch("/n", item="user", paging=NoPaging())
    one = Fetch("/one/{x}", one=True, item="user")


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
@given(
    status=st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503]),
    body=st.one_of(
        st.binary(max_size=512),
        damaged_bodies(),
        st.sampled_from(_HTML_PAGES),
        st.sampled_from(list(HOSTILE_XML.values())[:6]),
    ),
    ctype=content_types,
    endpoint=st.sampled_from(["offset", "pages", "cursor", "plain", "one"]),
    headers=st.dictionaries(
        st.sampled_from(["retry-after", "link", "location", "content-encoding"]),
        st.sampled_from(
            [
                "1",
                "0",
                "soon",
                '<https://h.test/c?cursor=2>; rel="next"',
                '<https://evil.test/x>; rel="next"',
                "gzip",
                "/elsewhere",
            ]
        ),
        max_size=2,
    ),
)
def test_a_service_call_returns_a_frame_or_raises_a_typed_error(
    status: int, body: bytes, ctype: str | None, endpoint: str, headers: dict[str, str]
) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] > 400:  # a bounded conversation, whatever the paging says
            return httpx.Response(404, content=b"")
        h = {**headers, **({"content-type": ctype} if ctype else {})}
        return httpx.Response(status, content=body, headers=h)

    client = Fuzzed(
        "https://h.test",
        auth=("fuzz", "pa55-Word-fuzz"),
        http_transport=httpx.MockTransport(handler),
        progress=False,
        retry=RetryPolicy(attempts=2, backoff=0.0, max_wait=0.0, max_total=0.0),
    )
    method = getattr(client, endpoint)
    try:
        out = method("x") if endpoint == "one" else method(limit=50)
    except UcError as exc:
        assert isinstance(exc, (*TYPED, UcError))
        assert str(exc) and "pa55-Word-fuzz" not in str(exc)
    else:
        import pandas as pd

        assert isinstance(out, (pd.DataFrame, pd.Series))
    assert calls["n"] <= 400  # limit=50: never an unbounded loop of requests


def test_decode_records_with_broken_link_headers() -> None:
    for link in [
        '<>; rel="next"',
        "garbage",
        '<https://h/x?c=1>; rel="next", <',
        ";;;",
        '<\x00>; rel="next"',
    ]:
        r = httpx.Response(
            200,
            content=b'{"items": []}',
            headers={"link": link, "content-type": "application/json"},
            request=httpx.Request("GET", "https://h.test/v1/people"),
        )
        try:
            records, _ = decode_records(r, RecordSpec(item="items"))
        except TYPED:
            continue
        assert records == []


# ============================================================================================================
# the last step: records → typed DataFrame never raises, whatever the values
# ============================================================================================================

_values = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80).map(str),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "1",
            "-0",
            "+7",
            "1.5",
            "1e400",
            "NaN",
            "true",
            "FALSE",
            "2026-11-02T09:00:00.000Z",
            "11/02/2026 09:00:00",
            "1762074000000",
            "0x10",
            "٣",
            "²",
            " 12 ",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_kinds = st.sampled_from(
    ["int", "float", "bool", "category", "str", "datetime", "epoch_ms", "epoch_s", "mdy"]
)


@given(
    columns=st.dictionaries(st.sampled_from(["a", "b", "c", "id"]), _kinds, min_size=1, max_size=4),
    rows=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c", "id", "x"]), _values, max_size=5), max_size=6
    ),
    tz=st.sampled_from([None, "UTC", "+08:00", "GMT-05:00, Eastern (New York)", "Asia/Singapore", 330]),
)
def test_frames_never_raise_whatever_the_values(
    columns: dict[str, str], rows: list[dict[str, Any]], tz: Any
) -> None:
    from ucexplore.frames import to_frame, to_series

    try:
        df = to_frame(rows, columns=tuple(columns), dtypes=columns, tz=tz)
    except UcError:
        return
    assert len(df) == len(rows) and all(c in df.columns for c in columns)
    if rows:
        to_series(rows[0], columns=tuple(columns), dtypes=columns, tz=tz)
