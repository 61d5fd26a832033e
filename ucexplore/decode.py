"""Bytes → records: XML (ElementTree) and JSON bodies become flat dicts; error bodies become exceptions.

Records are plain dicts keyed by the API's own field names. Nested elements are flattened with dots
(``primaryExtension.directoryNumber``), XML attributes become ``name@attr`` where they carry data
(``accountType@useLdapAuth``; a record element's own attributes are ``@uri``), repeated children become
lists, and namespaces are dropped (Webex XML ``serv:``/``meet:``). Names listed in ``force_list`` are always
lists, so a lone child or an empty wrapper is never a special case.

XML with a DOCTYPE or ENTITY declaration is refused before parsing (entity expansion, external entities).

Example::

    >>> spec = RecordSpec(item="user")
    >>> body = b'<users totalCount="1"><user uri="u/1"><id>1</id><primaryExtension><directoryNumber>2001'
    >>> body += b'</directoryNumber></primaryExtension></user></users>'
    >>> records, meta = decode_body(body, spec)
    >>> records, meta.total
    ([{'@uri': 'u/1', 'id': '1', 'primaryExtension.directoryNumber': '2001'}], 1)
"""

from __future__ import annotations

import contextlib
import gc
import json as _json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from .errors import ApiError, ParseError, RateLimited, ServerBusy, TokenExpired, UcError
from .redact import redact

if TYPE_CHECKING:  # pragma: no cover
    import xml.etree.ElementTree as ET

__all__ = [
    "DEFAULT_TOTAL_KEYS",
    "MAX_BODY_BYTES",
    "Meta",
    "RecordSpec",
    "decode_body",
    "decode_records",
    "error_from_body",
    "error_from_response",
    "flatten_element",
    "flatten_json",
    "looks_like_login_page",
    "parse_json",
    "parse_xml",
    "sniff",
]

#: Bodies larger than this are refused by the decoder.
MAX_BODY_BYTES = 64 * 1024 * 1024

#: Where servers report the total number of matching objects:
#: UDS, CUPI JSON, CUPI XML, old CUPI JSON, Webex XML API.
DEFAULT_TOTAL_KEYS = ("totalCount", "@total", "total", "-total", "matchingRecords.total")

_WS = " \t\r\n"
_XML_NS_SERVICE = "http://www.webex.com/schemas/2002/06/service"


# ============================================================================================================
# specs and results
# ============================================================================================================


@dataclass(frozen=True)
class RecordSpec:
    """Where the records are in a body and how to shape them.

    ``item``: the element/key of one record (``"user"``, ``"User"``, ``"items"``, ``"meeting"``);
    ``container``: a dotted path to the records' parent when it is not the root (``"body.bodyContent"``,
    ``"users"`` in a Finesse Team); ``one``: the body is one object; ``force_list``: dotted field names that
    are always lists (matched as a full path or as a suffix: ``"callvariables.CallVariable"``);
    ``total``: meta fields that carry the server's total.

    Example::

        >>> RecordSpec(item="Dialog", force_list=("participants.Participant",)).force_list
        ('participants.Participant',)
    """

    item: str | None = None
    container: str | None = None
    one: bool = False
    force_list: tuple[str, ...] = ()
    total: tuple[str, ...] = DEFAULT_TOTAL_KEYS
    max_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if isinstance(self.force_list, str):
            object.__setattr__(self, "force_list", (self.force_list,))
        else:
            object.__setattr__(self, "force_list", tuple(self.force_list))
        if isinstance(self.total, str):
            object.__setattr__(self, "total", (self.total,))
        else:
            object.__setattr__(self, "total", tuple(self.total))


@dataclass
class Meta:
    """What a body says about itself: ``total`` (the server's count), ``fields`` (wrapper attributes and
    non-record fields such as ``totalCount`` or ``matchingRecords.returned``), ``next_url`` (Webex ``Link``).

    Example::

        >>> Meta(fields={"@total": "3"}).total_from(("@total",))
        3
    """

    total: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    next_url: str | None = None
    format: str = ""

    def total_from(self, names: Iterable[str]) -> int | None:
        """The first of ``names`` present in :attr:`fields`, as an int (None when absent or not a number)."""
        for name in names:
            value = self.fields.get(name)
            if value is None:
                continue
            try:
                return int(str(value).strip())
            except ValueError:
                continue
        return None


# ============================================================================================================
# sniffing
# ============================================================================================================


def sniff(body: bytes, content_type: str | None = None) -> str:
    """``"xml"``, ``"json"``, ``"html"``, ``"empty"`` or ``"text"`` from the first bytes (and content type).

    Example::

        >>> sniff(b'  <?xml version="1.0"?><users/>'), sniff(b'{"items": []}')
        ('xml', 'json')
        >>> sniff(b"<!DOCTYPE html><html>")
        'html'
    """
    head = body[:1024].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if not head:
        return "empty"
    low = head[:512].lower()
    ct = (content_type or "").lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<html" in low or "html" in ct:
        return "html"
    first = head[:1]
    if first == b"<":
        return "xml"
    if first in (b"{", b"["):
        return "json"
    return "text"


def looks_like_login_page(text: str | bytes) -> bool:
    """True when an HTML page is a sign-in page (a form asking for a password, a SAML hop, an IdP).

    Example::

        >>> looks_like_login_page('<html><form action="/idp/login"><input type="password"></form></html>')
        True
        >>> looks_like_login_page("<html><h1>500 Internal Server Error</h1></html>")
        False
    """
    if isinstance(text, bytes):
        text = text[:65536].decode("utf-8", "replace")
    low = text[:65536].lower()
    if "samlrequest" in low or "samlresponse" in low or 'type="password"' in low or "type='password'" in low:
        return True
    if "<form" in low:
        return any(
            s in low
            for s in (
                "password",
                "sign in",
                "sign-in",
                "signin",
                "log in",
                "login",
                "saml",
                "sso",
                "authenticate",
            )
        )
    return False


def _excerpt(body: bytes, n: int = 200) -> str:
    # redact a wider window first so a secret cut at the edge is still masked
    return redact(body[: max(n * 4, 800)].decode("utf-8", "replace"))[:n]


_TOMCAT_DETAIL = re.compile(r"(?i)<b>(Message|Description)</b>\s*([^<]{1,400})")


def _html_title(text: str) -> str | None:
    """The message of an HTML error page: Tomcat's ``Message``/``Description`` line (what CUCM and Unity
    Connection send), else the title or the first heading."""
    details = {k.lower(): " ".join(v.split()) for k, v in _TOMCAT_DETAIL.findall(text[:65536])}
    for key in ("message", "description"):
        if details.get(key):
            return details[key][:200]
    m = re.search(r"<title[^>]*>(.*?)</title>", text[:65536], re.DOTALL | re.IGNORECASE)
    if not m:
        m = re.search(r"<h1[^>]*>(.*?)</h1>", text[:65536], re.DOTALL | re.IGNORECASE)
    if not m:
        return None
    title = re.sub(r"<[^>]+>", "", m.group(1))
    title = " ".join(title.split())
    return title[:200] or None


def _html_error(
    body: bytes, *, url: str | None, service: str | None, sign_in_hint: str | None, content_type: str | None
) -> UcError:
    who = service or "the server"
    if looks_like_login_page(body):
        return TokenExpired(
            f"{who} answered with a sign-in page instead of data: the session or token is no longer accepted",
            hint=sign_in_hint
            or "sign in again (ux.login(flow) or flow.complete(...)) and run the cell again",
        )
    return ParseError(
        f"{who} sent an HTML page where XML or JSON was expected",
        excerpt=_excerpt(body),
        content_type=content_type,
        url=url,
        hint="check the base URL, port and path (is this the right server?), or open the URL in a browser",
    )


# ============================================================================================================
# parsing
# ============================================================================================================


def _et() -> Any:
    """xml.etree.ElementTree, imported on first use (keeps ``import ucexplore`` cheap)."""
    import xml.etree.ElementTree

    return xml.etree.ElementTree


_TRUNCATED_HINT = (
    "the response was cut off: try again; if it keeps happening, a proxy or the server is truncating "
    "responses (try a lower max_concurrency=)"
)
_MALFORMED_HINT = (
    "the server sent something that is not well-formed XML: check the URL, or report the excerpt"
)
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_TRUNCATED_XML = ("no element found", "unclosed token", "unclosed cdata", "partial character")


def parse_xml(body: bytes, *, url: str | None = None, content_type: str | None = None) -> ET.Element:
    """Parse XML safely: DOCTYPE/ENTITY declarations and non-UTF-8-compatible encodings are refused.

    Example::

        >>> parse_xml(b"<a><b>1</b></a>").find("b").text
        '1'
        >>> parse_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
        Traceback (most recent call last):
        ...
        ucexplore.errors.ParseError: refusing XML with a DOCTYPE/ENTITY declaration ...
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:64]:
        raise ParseError(
            "XML in UTF-16/UTF-32 is not supported",
            excerpt=_excerpt(body),
            url=url,
            content_type=content_type,
        )
    if b"<!" in body and _DTD.search(body):
        raise ParseError(
            "refusing XML with a DOCTYPE/ENTITY declaration (entity expansion and external entities are not "
            "allowed)",
            excerpt=_excerpt(body, 80),
            url=url,
            content_type=content_type,
            hint="Cisco APIs never send one: check that the URL points at the real server",
        )
    try:
        return _et().fromstring(body)
    except (LookupError, ValueError) as exc:  # an encoding= Python does not know, or cannot use
        raise ParseError(
            f"the XML body cannot be read ({type(exc).__name__}: {exc})",
            excerpt=_excerpt(body),
            url=url,
            content_type=content_type,
            hint=_MALFORMED_HINT,
        ) from None
    except _et().ParseError as exc:
        text = str(exc)
        truncated = text.startswith(_TRUNCATED_XML)
        err = ParseError(
            f"the XML body is {'incomplete' if truncated else 'malformed'} ({text})",
            excerpt=_excerpt(body),
            url=url,
            content_type=content_type,
            hint=_TRUNCATED_HINT if truncated else _MALFORMED_HINT,
        )
        if truncated:
            err.retry = "truncated"  # type: ignore[attr-defined]
        raise err from None


#: what is left after a JSON error position when the body was cut inside a number
_JSON_PARTIAL_NUMBER = re.compile(r"-?\d*(?:\.\d*)?(?:[eE][+-]?\d*)?\Z")
#: the literals a body may be cut inside (Python's json also reads NaN and Infinity)
_JSON_LITERALS = ("null", "true", "false", "NaN", "Infinity", "-Infinity")


def _json_partial_tail(tail: str) -> bool:
    """True when ``tail`` (what follows a JSON error position) is the start of a literal or a number."""
    t = tail.strip()
    return _JSON_PARTIAL_NUMBER.match(t) is not None or any(w.startswith(t) for w in _JSON_LITERALS)


def _json_truncated(body: bytes, exc: ValueError) -> bool:
    """Whether a JSON error means the body was cut off (worth another try) rather than malformed."""
    if isinstance(exc, UnicodeDecodeError):  # cut inside a multi-byte character
        return exc.reason == "unexpected end of data" or exc.end >= len(body.rstrip())
    doc = getattr(exc, "doc", None)
    text = doc if isinstance(doc, str) else body.decode("utf-8", "replace")
    pos = getattr(exc, "pos", None)
    if not isinstance(pos, int) or pos < 0:
        return False
    msg = str(exc)
    stripped = len(text.rstrip())  # positions count characters of the decoded text, not bytes
    return (
        pos >= stripped - 1
        or "Unterminated string" in msg
        or ("escape" in msg and pos >= stripped - 6)  # cut inside a \uXXXX escape
        or (text.lstrip()[:1] in ("{", "[") and _json_partial_tail(text[pos:]))
    )


def parse_json(body: bytes, *, url: str | None = None, content_type: str | None = None) -> Any:
    """Parse JSON; a truncated or malformed body raises :class:`ParseError` with a short excerpt.

    Example::

        >>> parse_json(b'{"@total": "0"}')
        {'@total': '0'}
    """
    try:
        return _json.loads(body)
    except RecursionError:
        raise ParseError(
            "the JSON body is nested too deeply to decode",
            excerpt=_excerpt(body, 80),
            url=url,
            content_type=content_type,
            hint="check the URL, or report the excerpt",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        truncated = _json_truncated(body, exc)
        err = ParseError(
            f"the JSON body is {'incomplete' if truncated else 'malformed'} ({exc})",
            excerpt=_excerpt(body),
            url=url,
            content_type=content_type,
            hint="the response was cut off: try again"
            if truncated
            else "the server sent something that is not valid JSON: check the URL, or report the excerpt",
        )
        if truncated:
            err.retry = "truncated"  # type: ignore[attr-defined]
        raise err from None


# ============================================================================================================
# flattening
# ============================================================================================================


class _Force:
    """force_list names: matched as a full dotted path or a dotted suffix (memoised per key)."""

    __slots__ = ("_empty", "_match", "names", "parents")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self.parents: dict[str, str] = {}
        for n in self.names:
            parent, _, child = n.rpartition(".")
            if parent:
                self.parents[parent] = child
        self._match: dict[str, bool] = {}
        self._empty: dict[str, str | None] = {}

    def match(self, key: str) -> bool:
        r = self._match.get(key)
        if r is None:
            r = self._match[key] = any(key == n or key.endswith("." + n) for n in self.names)
        return r

    def empty_child(self, key: str) -> str | None:
        """When ``key`` is an empty wrapper of a forced list (``<roles/>``), the list's child name."""
        if key in self._empty:
            return self._empty[key]
        found = None
        for parent, child in self.parents.items():
            if key == parent or key.endswith("." + parent):
                found = child
                break
        self._empty[key] = found
        return found


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else tag[tag.rindex("}") + 1 :]


def _attrs(items: Iterable[tuple[str, str]], key: str, out: dict[str, Any]) -> bool:
    """Add ``key@name`` for each attribute that carries data; True when any was added."""
    added = False
    for name, value in items:
        if value and name[0] != "{":  # namespaced attributes (xsi:type …) carry no data
            out[f"{key}@{name}"] = value
            added = True
    return added


def _item(child: ET.Element, force: _Force | None, base: str) -> Any:
    """One member of a list: a dict for elements with children/attributes, else the text."""
    items = child.items()  # (not .attrib: that allocates a dict on every element)
    if len(child):
        rec: dict[str, Any] = {}
        if items:
            _attrs(items, "", rec)
        _flatten(child, "", rec, force, base)
        return rec
    text = child.text
    if text is not None and text.isspace():
        text = None
    if items:
        rec = {}
        if _attrs(items, "", rec):
            if text is not None:
                rec["#text"] = text
            return rec
    return text


def _flatten(
    elem: ET.Element, prefix: str, out: dict[str, Any], force: _Force | None, base: str = ""
) -> None:
    n = len(elem)
    repeated: set[str] | None = None
    if n > 1:
        tags = [c.tag for c in elem]
        if len(set(tags)) < n:
            seen: set[str] = set()
            repeated = set()
            for t in tags:
                (repeated if t in seen else seen).add(t)
    for child in elem:
        tag = child.tag
        if tag.__class__ is not str:  # comments, processing instructions
            continue
        name = tag if tag[0] != "{" else tag[tag.rindex("}") + 1 :]
        key = prefix + name
        if (repeated is not None and tag in repeated) or (force is not None and force.match(base + key)):
            lst = out.get(key)
            if lst.__class__ is not list:
                lst = out[key] = []
            lst.append(_item(child, force, base + key + "."))
            continue
        items = child.items()
        if len(child):
            if items:
                _attrs(items, key, out)
            _flatten(child, key + ".", out, force, base)
            continue
        text = child.text
        if text is not None and text.isspace():
            text = None
        if items and _attrs(items, key, out) and text is None:
            continue  # <devices uri="…"/>: the attribute is the data
        if text is None and force is not None:
            list_child = force.empty_child(base + key)
            if list_child is not None:  # <roles/> → roles.role = []
                out[f"{key}.{list_child}"] = []
                continue
        out[key] = text


def _record(elem: ET.Element, force: _Force | None) -> dict[str, Any]:
    """One record element → a flat dict; a fast path for the common flat, attribute-free case."""
    items = elem.items()
    rec: dict[str, Any] = {}
    if items:
        _attrs(items, "", rec)
    if not len(elem):
        text = elem.text
        rec[_local(elem.tag)] = None if text is None or text.isspace() else text
        return rec
    if force is None:
        mark = len(rec)
        for c in elem:
            t = c.tag
            if t.__class__ is not str or len(c) or t in rec or t[0] == "{" or c.items():
                break
            text = c.text
            rec[t] = None if text is not None and text.isspace() else text
        else:
            return rec
        if mark:  # start again on the slow path
            rec = {k: v for k, v in list(rec.items())[:mark]}
        else:
            rec = {}
    _flatten(elem, "", rec, force)
    return rec


def flatten_element(elem: ET.Element, force_list: Iterable[str] | _Force | None = None) -> dict[str, Any]:
    """One XML element → a flat record (see the module docstring for the naming rules).

    Example::

        >>> e = parse_xml(b'<user><accountType useLdapAuth="true">ldap</accountType>'
        ...               b'<roles><role>Agent</role></roles></user>')
        >>> flatten_element(e, ["roles.role"])
        {'accountType@useLdapAuth': 'true', 'accountType': 'ldap', 'roles.role': ['Agent']}
    """
    force = (
        force_list
        if isinstance(force_list, _Force) or force_list is None
        else (_Force(force_list) if force_list else None)
    )
    return _record(elem, force)


def _flatten_json(obj: Mapping[str, Any], prefix: str, out: dict[str, Any], force: _Force | None) -> None:
    for k, v in obj.items():
        key = prefix + k
        cls = v.__class__
        if cls is dict:
            if force is not None and force.match(key):
                out[key] = [flatten_json(v, force)]
            elif v:
                _flatten_json(v, key + ".", out, force)
            else:
                out[key] = None
        elif cls is list:
            out[key] = [flatten_json(x, force) if x.__class__ is dict else x for x in v]
        else:
            out[key] = v


def flatten_json(obj: Mapping[str, Any], force_list: Iterable[str] | _Force | None = None) -> dict[str, Any]:
    """One JSON object → a flat record: nested objects dotted, lists kept (forced names: lone object → list).

    Example::

        >>> flatten_json({"From": {"DisplayName": "Wendy"}, "emails": ["a@b"]})
        {'From.DisplayName': 'Wendy', 'emails': ['a@b']}
    """
    force = (
        force_list
        if isinstance(force_list, _Force) or force_list is None
        else (_Force(force_list) if force_list else None)
    )
    out: dict[str, Any] = {}
    _flatten_json(obj, "", out, force)
    return out


# ============================================================================================================
# bodies → records
# ============================================================================================================


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if c.tag.__class__ is str and _local(c.tag) == name:
            return c
    return None


def _webex_xml_failure(root: ET.Element, *, url: str | None, service: str | None) -> UcError | None:
    """The Webex XML API's ``serv:result=FAILURE`` (inside HTTP 200) as an exception, else None."""
    if _local(root.tag) != "message":
        return None
    header = _child(root, "header")
    response = _child(header, "response") if header is not None else None
    if response is None:
        return None
    fields = {_local(c.tag): (c.text or "").strip() for c in response if c.tag.__class__ is str}
    result = fields.get("result", "").upper()
    if result in ("", "SUCCESS"):
        return None
    reason = fields.get("reason") or "the XML API reported FAILURE"
    code = fields.get("exceptionID") or None
    who = service or "Webex XML API"
    if code == "000045":
        err: UcError = RateLimited(
            f"{who}: {reason}",
            status=200,
            error_type=result,
            code=code,
            server_message=reason,
            service=service,
            url=url,
            retry_after=60.0,
        )
        err.retry = "rate_limited"  # type: ignore[attr-defined]
        return err
    hint = _XML_API_HINTS.get(code or "", "see the XML API reference for exception " + (code or "?"))
    return ApiError(
        f"{who}: {reason}",
        status=200,
        error_type=result,
        code=code,
        server_message=reason,
        service=service,
        url=url,
        hint=hint,
    )


_XML_API_HINTS = {
    "030002": "check site_name/webex_id and the password or session ticket; sign in again",
    "000001": "the account lacks the privileges for this call (ask a site administrator)",
    "000035": "the Webex service is not responding: try again later",
    "010106": "classic Events are disabled on this site",
}

#: The XML API answers FAILURE 000015 ("Sorry, no record found") for an empty list.
_XML_API_EMPTY = "000015"


def _xml_records(
    root: ET.Element, spec: RecordSpec, url: str | None, service: str | None
) -> tuple[list[dict[str, Any]], Meta]:
    force = _Force(spec.force_list) if spec.force_list else None
    failure = _webex_xml_failure(root, url=url, service=service)
    if failure is not None:
        if isinstance(failure, ApiError) and failure.code == _XML_API_EMPTY and not spec.one:
            return [], Meta(total=0, fields={}, format="xml")
        raise failure
    fields: dict[str, Any] = {k: v for k, v in root.items() if k[0] != "{"}
    cont: ET.Element | None = root
    path = spec.container
    if path is None and _local(root.tag) == "message" and _child(root, "body") is not None:
        path = "body.bodyContent"  # the Webex XML API envelope
    if path:
        for part in path.split("."):
            cont = _child(cont, part) if cont is not None else None
        if cont is None:
            if spec.one:
                raise ParseError(f"the body has no {path} element", url=url)
            return [], Meta(total=0, fields=fields, format="xml")
        fields.update({k: v for k, v in cont.items() if k[0] != "{"})
    assert cont is not None
    if spec.one:
        elem = cont
        if spec.item and _local(cont.tag) != spec.item:
            found = _child(cont, spec.item)
            elem = cont if found is None else found
        return [flatten_element(elem, force)], Meta(total=1, fields=fields, format="xml")
    item = spec.item
    if item is None:  # every child of the container is a record when they share one tag
        tags = {c.tag for c in cont if c.tag.__class__ is str}
        item = _local(next(iter(tags))) if len(tags) == 1 else None
        if item is None:
            return ([flatten_element(cont, force)] if len(cont) else []), Meta(
                total=None, fields=fields, format="xml"
            )
    records: list[dict[str, Any]] = []
    if _local(cont.tag) == item and cont is root:  # a lone record instead of its list wrapper
        return [flatten_element(root, force)], Meta(total=1, fields={}, format="xml")
    append = records.append
    for child in cont:
        tag = child.tag
        if tag.__class__ is not str:
            continue
        name = tag if tag[0] != "{" else tag[tag.rindex("}") + 1 :]
        if name == item:
            append(_record(child, force))
        elif len(child):
            _attrs(child.items(), name, fields)
            _flatten(child, name + ".", fields, None)
        else:
            fields[name] = child.text
            _attrs(child.items(), name, fields)
    if not records and spec.container is None:  # records one level deeper than expected
        for parent in root.iter():
            if parent is not cont and any(c.tag.__class__ is str and _local(c.tag) == item for c in parent):
                records = [
                    flatten_element(c, force)
                    for c in parent
                    if c.tag.__class__ is str and _local(c.tag) == item
                ]
                break
    return records, Meta(total=None, fields=fields, format="xml")


def _json_records(obj: Any, spec: RecordSpec) -> tuple[list[dict[str, Any]], Meta]:
    force = _Force(spec.force_list) if spec.force_list else None
    fields: dict[str, Any] = {}
    if isinstance(obj, list):
        return [flatten_json(x, force) if isinstance(x, dict) else {"value": x} for x in obj], Meta(
            format="json"
        )
    if not isinstance(obj, dict):
        return [{"value": obj}], Meta(format="json")
    cont: Any = obj
    if spec.container:
        for part in spec.container.split("."):
            cont = cont.get(part) if isinstance(cont, dict) else None
        if not isinstance(cont, dict):
            return [], Meta(total=0, format="json")
    item = spec.item
    if spec.one:
        target = cont
        if item and isinstance(cont.get(item), dict):
            target = cont[item]
        elif item and isinstance(cont.get(item), list) and len(cont[item]) == 1:
            target = cont[item][0]
        return [flatten_json(target, force)], Meta(total=1, format="json")
    raw: Any = None
    if item is None:
        if "items" in cont:
            item = "items"
        else:
            item = next((k for k, v in cont.items() if isinstance(v, list)), None)
    for k, v in cont.items():
        if k == item:
            raw = v
        elif not isinstance(v, (dict, list)):
            fields[k] = v
    if raw is None and item is not None:  # the old CUPI shape {"Users": {"-total": "1", "User": {…}}}
        for k, v in cont.items():
            if isinstance(v, dict) and item in v:
                raw = v[item]
                fields.update(
                    {kk: vv for kk, vv in v.items() if kk != item and not isinstance(vv, (dict, list))}
                )
                break
    if raw is None:
        items: list[Any] = []
    elif isinstance(raw, list):
        items = raw
    else:
        items = [raw]  # CUPI's lone object
    records = [flatten_json(x, force) if x.__class__ is dict else {item or "value": x} for x in items]
    return records, Meta(total=None, fields=fields, format="json")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a body becomes many small objects (none of them cyclic garbage): the
    collector would otherwise rescan every record kept so far, again and again. Restored afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def decode_body(
    body: bytes,
    spec: RecordSpec,
    *,
    content_type: str | None = None,
    url: str | None = None,
    service: str | None = None,
    sign_in_hint: str | None = None,
) -> tuple[list[dict[str, Any]], Meta]:
    """Decode a successful body into ``(records, meta)``; ``records`` is always a list (one item when
    ``spec.one``). HTML sign-in pages raise :class:`TokenExpired`; bad bodies raise :class:`ParseError`.

    Example::

        >>> decode_body(b'{"@total":"1","User":{"Alias":"jkam"}}', RecordSpec(item="User"))[0]
        [{'Alias': 'jkam'}]
    """
    if len(body) > spec.max_bytes:
        raise ParseError(
            f"the response is too large to decode ({len(body):,} bytes)",
            url=url,
            hint="ask for less (limit=, filters)",
        )
    kind = sniff(body, content_type)
    if kind == "empty":
        if spec.one:
            raise ParseError(
                "the server sent an empty body where an object was expected",
                url=url,
                content_type=content_type,
                hint="check the id/path; try again",
            )
        return [], Meta(total=0, format="empty")
    if kind == "html":
        raise _html_error(
            body, url=url, service=service, sign_in_hint=sign_in_hint, content_type=content_type
        )
    if kind in ("xml", "json"):
        try:
            with _gc_paused():
                if kind == "xml":
                    records, meta = _xml_records(
                        parse_xml(body, url=url, content_type=content_type), spec, url, service
                    )
                else:
                    records, meta = _json_records(parse_json(body, url=url, content_type=content_type), spec)
        except RecursionError:
            raise ParseError(
                f"the {kind.upper()} body is nested too deeply to decode",
                excerpt=_excerpt(body, 80),
                url=url,
                content_type=content_type,
                hint=_MALFORMED_HINT if kind == "xml" else "check the URL, or report the excerpt",
            ) from None
    else:
        raise ParseError(
            "expected XML or JSON",
            excerpt=_excerpt(body),
            url=url,
            content_type=content_type,
            hint="check the URL and the Accept header of this endpoint",
        )
    if meta.total is None:
        meta.total = meta.total_from(spec.total)
    return records, meta


def decode_records(
    response: Any, spec: RecordSpec, *, service: str | None = None, sign_in_hint: str | None = None
) -> tuple[list[dict[str, Any]], Meta]:
    """Decode an ``httpx.Response``: :func:`decode_body`, plus the ``Link: rel="next"`` URL in
    ``meta.next_url``.

    Example::

        >>> import httpx
        >>> r = httpx.Response(200, json={"items": [{"id": "a"}]},
        ...                    headers={"Link": '<https://h/v1/people?cursor=x>; rel="next"'})
        >>> recs, meta = decode_records(r, RecordSpec(item="items"))
        >>> recs, meta.next_url
        ([{'id': 'a'}], 'https://h/v1/people?cursor=x')
    """
    try:
        url = str(response.request.url)
    except RuntimeError:
        url = None
    records, meta = decode_body(
        response.content,
        spec,
        content_type=response.headers.get("content-type"),
        url=url,
        service=service,
        sign_in_hint=sign_in_hint,
    )
    link = response.headers.get("link")
    if link:
        nxt = response.links.get("next")
        if nxt and nxt.get("url"):
            meta.next_url = urljoin(url, nxt["url"]) if url else nxt["url"]
    return records, meta


# ============================================================================================================
# error bodies → exceptions
# ============================================================================================================

_STATUS_TEXT = {
    400: "bad request",
    401: "not authorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    410: "gone (this API version is retired)",
    415: "unsupported or missing parameters",
    423: "temporarily unavailable",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

_STATUS_HINTS = {
    400: "check the parameters you passed (names, values, formats)",
    401: "the server refused the credentials: sign in again, or check the user name and password "
    "(end-user resources such as a UDS user's devices need that user's own sign-in)",
    403: "the signed-in account lacks the rights for this resource (an administrator role may be needed)",
    404: "check the id or path: the object does not exist, or the user id is wrong",
    405: "this endpoint does not support that method",
    409: "the request conflicts with the current state (a duplicate, or a state change that is not allowed)",
    410: "this API version has been retired: update ucexplore",
    415: "required URL parameters or body tags are missing or invalid",
    423: "the resource is temporarily unavailable: try again shortly",
    500: "the server failed: try again later, or check the server's logs",
    502: "a gateway between you and the server failed: try again",
    504: "a gateway between you and the server timed out: try again, or ask for less",
}

_QUASI_ERROR = re.compile(r'"error"\s*:\s*"?([A-Za-z0-9_.\-]+)"?')
_QUASI_DESC = re.compile(r'"error_description"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _text(e: ET.Element | None) -> str | None:
    if e is None or e.text is None:
        return None
    t = e.text.strip()
    return t or None


def _find_ci(elem: ET.Element, name: str) -> ET.Element | None:
    low = name.lower()
    for c in elem:
        if c.tag.__class__ is str and _local(c.tag).lower() == low:
            return c
    return None


def _xml_error_fields(body: bytes, url: str | None, service: str | None) -> dict[str, Any]:
    try:
        root = parse_xml(body, url=url)
    except ParseError:
        return {}
    rootname = _local(root.tag).lower()
    if rootname in ("apierrors", "apierror"):  # Finesse (and its lowercase asynchronous variant)
        errors = (
            [root] if rootname == "apierror" else [c for c in root if _local(c.tag).lower() == "apierror"]
        )
        if not errors:
            return {}
        first = errors[0]
        etype, emsg, edata = (_text(_find_ci(first, n)) for n in ("ErrorType", "ErrorMessage", "ErrorData"))
        details = [
            {
                "ErrorType": _text(_find_ci(e, "ErrorType")),
                "ErrorMessage": _text(_find_ci(e, "ErrorMessage")),
                "ErrorData": _text(_find_ci(e, "ErrorData")),
            }
            for e in errors
        ]
        message = emsg or etype
        if edata:
            message = f"{message} ({edata})"
        return {"error_type": etype, "code": emsg, "server_message": message, "details": details}
    if rootname == "errordetails":  # CUPI XML
        err = _find_ci(root, "errors")
        if err is None:
            return {}
        return {"code": _text(_find_ci(err, "code")), "server_message": _text(_find_ci(err, "message"))}
    if rootname == "message":  # Webex XML API
        failure = _webex_xml_failure(root, url=url, service=service)
        if isinstance(failure, ApiError):
            return {
                "error_type": failure.error_type,
                "code": failure.code,
                "server_message": failure.server_message,
            }
    return {}


def _json_error_fields(body: bytes) -> dict[str, Any]:
    text = body[:65536].decode("utf-8", "replace")
    try:
        obj = _json.loads(text)
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        # CUCM SSO's quasi-JSON: {"error":INVALID_REQUEST,"error_description":"…"}
        m, d = _QUASI_ERROR.search(text), _QUASI_DESC.search(text)
        if m or d:
            return {
                "error_type": m.group(1) if m else None,
                "code": m.group(1) if m else None,
                "server_message": d.group(1).replace('\\"', '"') if d else None,
            }
        return {}
    out: dict[str, Any] = {}
    errors = obj.get("errors")
    if isinstance(errors, dict):  # CUPI
        out["code"] = _str_or_none(errors.get("code"))
        out["server_message"] = _str_or_none(errors.get("message"))
    elif isinstance(errors, list) and errors:  # Webex
        descs = [str(e.get("description")) for e in errors if isinstance(e, dict) and e.get("description")]
        if descs:
            out["details"] = descs
    if obj.get("message") and not out.get("server_message"):
        out["server_message"] = str(obj["message"])
    if out.get("details") and not out.get("server_message"):
        out["server_message"] = "; ".join(out["details"])
    if obj.get("trackingId"):
        out["tracking_id"] = str(obj["trackingId"])
    if "error" in obj and not isinstance(obj["error"], (dict, list)):  # OAuth style
        out["error_type"] = _str_or_none(obj.get("error"))
        out.setdefault("code", out["error_type"])
        if obj.get("error_description"):
            out["server_message"] = str(obj["error_description"])
    elif isinstance(obj.get("error"), dict):
        e = obj["error"]
        out["code"] = _str_or_none(e.get("code"))
        out["server_message"] = _str_or_none(e.get("message"))
    return {k: v for k, v in out.items() if v is not None}


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def error_from_body(
    status: int,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    method: str | None = None,
    service: str | None = None,
    sign_in_hint: str | None = None,
    reason: str | None = None,
    hints: Mapping[int, str] | None = None,
    retry_after: float | None = None,
) -> UcError:
    """The exception for an error response: the product's own error fields when the body has them
    (Finesse ``ApiErrors``, CUPI ``errors``, Webex JSON/XML, CUCM SSO quasi-JSON), else the status.

    Example::

        >>> body = b'{"errors":{"code":"404","message":"User not found"}}'
        >>> err = error_from_body(404, body, service="Unity")
        >>> err.status, err.code, err.server_message
        (404, '404', 'User not found')
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    ct = headers.get("content-type")
    kind = sniff(body, ct)
    fields: dict[str, Any] = {}
    who = service or "the server"
    if kind == "html":
        if looks_like_login_page(body):
            return TokenExpired(
                f"{who} answered with a sign-in page (HTTP {status}): "
                "the session or token is no longer accepted",
                hint=sign_in_hint
                or "sign in again (ux.login(flow) or flow.complete(...)) and run the cell again",
            )
        title = _html_title(body.decode("utf-8", "replace"))
        if title:
            fields["server_message"] = title
    elif kind == "xml":
        fields = _xml_error_fields(body, url, service)
    elif kind in ("json", "text"):
        fields = _json_error_fields(body)
        if not fields and kind == "text":
            line = body[:300].decode("utf-8", "replace").strip().splitlines()
            if line and len(line[0]) < 200:
                fields["server_message"] = line[0]
    tracking = headers.get("trackingid") or fields.pop("tracking_id", None)
    if "tracking_id" in fields:
        fields.pop("tracking_id")
    text = fields.get("server_message") or reason or _STATUS_TEXT.get(status) or f"HTTP {status}"
    where = ""
    if method or url:
        path = urlsplit(url).path if url else ""
        where = f" {method or ''} {path}".rstrip()
    message = f"{who}{where}: {text}"
    hint = (hints or {}).get(status)
    if hint is None and status == 401 and sign_in_hint:
        hint = f"{sign_in_hint}; if that does not help, the account may not have access to this resource"
    if hint is None:
        hint = _STATUS_HINTS.get(status)
    common = dict(
        status=status,
        error_type=fields.get("error_type"),
        code=fields.get("code"),
        server_message=fields.get("server_message"),
        tracking_id=tracking,
        service=service,
        url=url,
        details=fields.get("details"),
    )
    if status == 429:
        if retry_after is None:
            try:
                retry_after = float(headers.get("retry-after", ""))
            except ValueError:
                retry_after = None  # an HTTP-date: the transport fills it in
        return RateLimited(message, retry_after=retry_after, **common)
    if status == 503:
        return ServerBusy(message, **({"hint": hint} if hint else {}), **common)
    return ApiError(message, hint=hint, **common)


def error_from_response(
    response: Any,
    *,
    service: str | None = None,
    sign_in_hint: str | None = None,
    hints: Mapping[int, str] | None = None,
) -> UcError:
    """:func:`error_from_body` for an ``httpx.Response`` (what services pass as ``error_decoder``).

    Example::

        >>> import httpx
        >>> r = httpx.Response(400, content=b'<ApiErrors><ApiError><ErrorType>Invalid Input</ErrorType>'
        ...     b'<ErrorMessage>INVALID_STATE</ErrorMessage></ApiError></ApiErrors>',
        ...     request=httpx.Request("PUT", "https://fin:8445/finesse/api/User/1001"))
        >>> e = error_from_response(r, service="Finesse")
        >>> e.error_type, e.code
        ('Invalid Input', 'INVALID_STATE')
    """
    try:
        req = response.request
        url, method = str(req.url), req.method
    except RuntimeError:
        url = method = None
    return error_from_body(
        response.status_code,
        response.content,
        headers=response.headers,
        url=url,
        method=method,
        service=service,
        sign_in_hint=sign_in_hint,
        reason=response.reason_phrase,
        hints=hints,
    )
