"""Webex Meetings XML API (``/WBXService/XMLService``): LstsummaryMeeting as a DataFrame, and the
AuthenticateUser exchange of a Webex REST token for a session ticket.

**Retired by Cisco**: the meeting XML APIs reached end of life on 31 March 2024. The client stays for
legacy sites, old notebooks and training with the lab; new work should use :class:`ucexplore.Webex`.

Every request is a ``serv:message`` POSTed to one URL, with the credentials inside its ``securityContext``
(site name, Webex ID, and a session ticket or password). The server answers **HTTP 200 even on failure**:
``serv:result`` FAILURE with ``serv:reason`` and ``serv:exceptionID`` becomes an
:class:`~ucexplore.errors.ApiError` (``code`` = the exception ID); ``000015`` "no record found" is an empty
DataFrame; ``000045`` "API Rate Limit Reach" is retried like a 429 and raises
:class:`~ucexplore.errors.RateLimited` when the retries run out.

Example::

    >>> import ucexplore as ux
    >>> wxml = ux.WebexXML("https://acme.webex.com", webex_id="jkam@acme.example", auth="AAABm-ticket-text")
    >>> wxml
    <WebexXML https://acme.webex.com as session ticket for jkam@acme.example on site acme>
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from ..auth.credentials import BasicCredentials, Credentials, resolve_auth
from ..decode import RecordSpec, decode_records
from ..errors import ApiError, InvalidArgument, RateLimited
from ..frames import parse_tz
from ..redact import Secret, SecretBody, register_secret
from ..transport import check_plain_http, parse_retry_after
from .base import Fetch, Offset, Page, ProgressFactory, Service, sync_twin
from .webex import iso_utc

__all__ = ["WebexXML", "site_zone"]

log = logging.getLogger("ucexplore.services")

XML_SERVICE = "/WBXService/XMLService"
NS_SERV = "http://www.webex.com/schemas/2002/06/service"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
AUTHENTICATE_USER = "java:com.webex.service.binding.user.AuthenticateUser"
LST_SUMMARY_MEETING = "java:com.webex.service.binding.meeting.LstsummaryMeeting"
MDY = "%m/%d/%Y %H:%M:%S"
_MDY_TEXT = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*$")
_LABEL = re.compile(r"^\s*(?:GMT|UTC)\s*([+-])(\d{1,2}):?(\d{2})?")
#: renew a token-exchanged ticket this many seconds before its timeToLive runs out
TICKET_MARGIN = 120.0


def _esc(value: Any) -> str:
    """XML-escape text for an element or attribute value."""
    return escape(str(value), {'"': "&quot;", "'": "&apos;"})


def _element(name: str, value: Any) -> Any:
    """``<name>value</name>``, escaped; a :class:`~ucexplore.redact.Secret` value gives a ``SecretBody``."""
    if isinstance(value, Secret):
        return SecretBody(f"<{name}>", Secret(_esc(value.reveal())), f"</{name}>")
    return f"<{name}>{_esc(value)}</{name}>"


def envelope(security: Any, body_type: str, content: Any) -> SecretBody:
    """A complete ``serv:message`` request document (``security`` and ``content`` are escaped XML, plain or
    :class:`~ucexplore.redact.SecretBody`); the transport reveals it only while it sends it."""
    return SecretBody(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<serv:message xmlns:serv="{NS_SERV}" xmlns:xsi="{NS_XSI}"><header>',
        security,
        f'</header><body><bodyContent xsi:type="{body_type}">',
        content,
        "</bodyContent></body></serv:message>",
    )


@functools.lru_cache(maxsize=64)
def site_zone(label: str | None) -> tzinfo | None:
    """The zone of an XML API ``timeZone`` label: the IANA zone of the city in parentheses when its standard
    offset matches the label (so daylight saving is right), else the label's fixed offset; None if unreadable.

    Example::

        >>> str(site_zone("GMT+08:00, Singapore (Singapore)"))
        'Asia/Singapore'
        >>> site_zone("GMT+05:30, somewhere") == timezone(timedelta(hours=5, minutes=30))
        True
    """
    if not label:
        return None
    m = _LABEL.match(label)
    if not m:
        try:
            return parse_tz(label)
        except ValueError:
            return None
    sign = -1 if m.group(1) == "-" else 1
    offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    city = re.search(r"\(([^()]+)\)\s*$", label)
    if city:
        try:
            from zoneinfo import ZoneInfo, available_timezones

            wanted = "/" + city.group(1).strip().replace(" ", "_").lower()
            for name in sorted(available_timezones()):
                if name.lower().endswith(wanted) and not name.startswith(("posix/", "right/")):
                    zone = ZoneInfo(name)
                    offsets = [zone.utcoffset(datetime(2026, month, 15)) for month in (1, 7)]
                    if min(o for o in offsets if o is not None) == offset:
                        return zone
        except (ImportError, OSError, KeyError, ValueError):  # no tz database: the fixed offset below
            log.debug("no IANA zone for %r; using its fixed offset", label)
    return timezone(offset)


@dataclass(frozen=True)
class XmlOffset(Offset):
    """:class:`Offset` paging (``listControl/startFrom`` from 1, ``maximumNum``) where a caller's own
    ``maximum_num=`` sets the page size; pages after the first are fetched concurrently.

    Example::

        >>> XmlOffset().values(0, 500)
        {'startFrom': 1, 'maximumNum': 500}
    """

    start: str = "startFrom"
    size: str = "maximumNum"
    first: int = 1
    page: int = 500
    total: Any = ("matchingRecords.total",)

    async def collect(
        self, fetch_page: Any, *, params: Mapping[str, Any], limit: int | None, progress: ProgressFactory
    ) -> Page:
        asked = params.get(self.size)
        if asked not in (None, ""):
            try:
                size = int(asked)
            except (TypeError, ValueError):
                raise InvalidArgument(f"maximum_num= is the page size, a whole number; got {asked!r}") from None
            if size < 1:
                raise InvalidArgument(
                    "maximum_num= is the page size and must be at least 1 (limit= caps the rows)"
                )
            if size != self.page:
                return await replace(self, page=size).collect(
                    fetch_page, params=params, limit=limit, progress=progress
                )
        return await super().collect(fetch_page, params=params, limit=limit, progress=progress)


async def _lst_summary_body(service: WebexXML, query: dict[str, Any], paging: dict[str, Any]) -> bytes:
    """The LstsummaryMeeting document for one page (the :class:`Fetch` body builder)."""
    return await service._lst_summary_document(query, paging)


# fmt: off
MEETING_COLUMNS = (
    "meetingKey", "confName", "meetingType", "hostWebExID", "otherHostWebExID", "timeZoneID", "timeZone",
    "status", "startDate", "duration", "listStatus", "hostJoined", "participantsJoined",
)
# fmt: on
MEETING_DTYPES = {
    "meetingType": "int",
    "timeZoneID": "int",
    "status": "category",
    "startDate": "mdy",
    "duration": "int",
    "listStatus": "category",
    "hostJoined": "bool",
    "participantsJoined": "bool",
}

#: exceptionID → what to do (030002 depends on the kind of credentials: see WebexXML._failure_hint)
FAILURE_HINTS = {
    "000001": "the account lacks the privileges for this call: other hosts' meetings (host_webex_id=) need a "
    "site administrator, and a token exchanged for a ticket needs the spark:all scope",
    "000006": "check site_name= (the 'acme' of acme.webex.com)",
    "000010": "this site does not offer that request (the XML API is retired; try ux.Webex instead)",
    "000035": "the Webex service is not responding: try again later",
    "010106": "classic Events are disabled on this site",
    "999999": "the XML API refused a value: check the parameters (dates as datetimes, order_by, meeting_key)",
}


class WebexXML(Service):
    """Webex Meetings XML API client (legacy). **Retired by Cisco on 31 March 2024** — kept for legacy sites,
    old notebooks and the lab; use :class:`ucexplore.Webex` (REST) for new work.

    ``base_url`` is the site, ``https://<site>.webex.com`` (a full ``…/WBXService/XMLService`` URL is fine
    too); ``site_name`` defaults to the ``<site>`` of that host; ``webex_id`` is the user's Webex ID (usually
    the e-mail address). ``auth`` is one of:

    * a session ticket (str), sent as ``<sessionTicket>``;
    * ``(webex_id, password)``, sent as ``<password>`` (until :meth:`authenticate` swaps it for a ticket);
    * a Webex REST :class:`~ucexplore.Token` or :class:`~ucexplore.auth.flows.WebexOAuth` flow (scope
      ``spark:all``): exchanged for a session ticket with ``AuthenticateUser`` ``<accessToken>`` on first use,
      cached, and renewed before it expires or when the site refuses it. With a flow, ``webex_id`` may be left
      out: it is read from the person's REST profile.

    ``timezone=`` (IANA name or offset) is the site's zone; by default it is read from the ``timeZone`` of
    the answers. ``startDate`` is parsed in it and shown in UTC. No ticket, token or password ever appears in
    a message, log line, repr or ``df.attrs``.

    Example::

        >>> wxml = ux.WebexXML(lab.urls["webex_xml"], site_name="acme", webex_id="jkam@acme.example",
        ...                    auth=flow)                                                # doctest: +SKIP
        >>> wxml.meetings(start_from=datetime(2026, 11, 1, tzinfo=UTC))                # doctest: +SKIP
    """

    product = "webex_xml"
    accept = "application/xml"
    error_hints: ClassVar[Mapping[int, str]] = {
        503: "the Webex site is overloaded or in maintenance: try again in a few minutes",
        404: "check base_url: the XML API lives at https://<site>.webex.com/WBXService/XMLService",
    }

    def __init__(
        self,
        base_url: str,
        *,
        site_name: str | None = None,
        webex_id: str | None = None,
        auth: Any = None,
        timezone: Any = None,
        **kw: Any,
    ) -> None:
        base = str(base_url or "").strip().rstrip("/")
        for suffix in (XML_SERVICE, "/WBXService"):
            if base.lower().endswith(suffix.lower()):
                base = base[: -len(suffix)]
        super().__init__(base, None, **kw)  # credentials travel in the document, never in a header
        check_plain_http(self.base_url, True, kw.get("allow_insecure_http", False))
        host = (urlsplit(base).hostname or "").lower()
        if not site_name and host.endswith(".webex.com"):
            site_name = host.split(".", 1)[0]
        if not site_name:
            raise InvalidArgument("WebexXML() needs site_name=, the 'acme' of acme.webex.com")
        self.site_name = str(site_name)
        self._tz_given = parse_tz(timezone) if timezone is not None else None
        self._tz_seen: tzinfo | None = None
        self._ticket: str | None = None
        self._ticket_expires: float | None = None
        self._ticket_made = 0.0
        self._creds: Credentials | None = None
        self._flow: Any = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        if auth is None:
            raise InvalidArgument(
                "WebexXML() needs auth=: a session ticket, (webex_id, password), or a Webex token or "
                "WebexOAuth flow (scope spark:all) to exchange for a ticket"
            )
        if isinstance(auth, str):
            if not auth.strip():
                raise InvalidArgument("auth= is an empty session ticket")
            self._kind = "ticket"
            self._ticket = auth.strip()
            register_secret(self._ticket)
        elif isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(x, str) for x in auth):
            self._kind = "password"
            self._creds = BasicCredentials(*auth)
            if webex_id and webex_id.strip().lower() != auth[0].strip().lower():
                raise InvalidArgument("webex_id= and the user of auth=(webex_id, password) differ")
            webex_id = webex_id or auth[0]
        else:
            self._kind = "token"
            self._creds = resolve_auth(auth)
            if self._creds.kind != "bearer":
                raise InvalidArgument(
                    "auth= takes a session ticket (str), (webex_id, password), or a Webex Token/WebexOAuth flow"
                )
            self._flow = getattr(self._creds, "flow", None)
            if not webex_id and self._flow is None:
                raise InvalidArgument(
                    "WebexXML() needs webex_id= (the user's Webex ID, usually the e-mail address)"
                )
        if self._kind == "ticket" and not webex_id:
            raise InvalidArgument("WebexXML() needs webex_id= (the user's Webex ID, usually the e-mail address)")
        self.webex_id: str | None = webex_id.strip() if webex_id else None

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def timezone(self) -> tzinfo | None:  # type: ignore[override]
        """The site's zone: ``timezone=`` when given, else learned from the answers' ``timeZone`` (None: UTC)."""
        return self._tz_given or self._tz_seen

    @property
    def auth_description(self) -> str:
        """Who is signed in and how, without any secret."""
        who = f"{self.webex_id or 'the signed-in user'} on site {self.site_name}"
        if self._kind == "ticket":
            return f"session ticket for {who}"
        if self._kind == "password":
            return f"password of {who}" + (" (ticket in use)" if self._ticket else "")
        assert self._creds is not None
        return f"{self._creds.describe()} → session ticket for {who}"

    def sign_in_hint(self) -> str:
        """How to fix refused credentials, for the kind of ``auth=`` this client holds."""
        if self._kind == "ticket":
            return (
                "the session ticket is expired or belongs to another user or site: pass a new one, or pass "
                "the WebexOAuth flow as auth= so ucexplore gets and renews tickets itself"
            )
        if self._kind == "password":
            return "check site_name=, webex_id= and the password in auth=(webex_id, password)"
        hint = "the Webex token was refused: sign in again (scopes must include spark:all)"
        if self._flow is not None and hasattr(self._flow, "sign_in_hint"):
            hint += " — " + str(self._flow.sign_in_hint())
        return hint + f"; webex_id= ({self.webex_id}) must be the signed-in person"

    def _failure_hint(self, code: str | None) -> str | None:
        if code == "030002":
            return (
                f"check site_name= ({self.site_name}) and webex_id= ({self.webex_id}); {self.sign_in_hint()}"
            )
        return FAILURE_HINTS.get(code or "")

    # -- decoding: FAILURE envelopes, the site's zone ----------------------------------------------------
    def _decode_spec(self, response: Any, spec: RecordSpec, sign_in_hint: str | None = None) -> Page:
        try:
            records, meta = decode_records(response, spec, service=self.label, sign_in_hint=sign_in_hint)
        except RateLimited as exc:
            # 000045: the transport retries after Retry-After when sent, else after the 60 s Cisco advises
            # (capped by RetryPolicy.max_wait)
            wait = parse_retry_after(response.headers.get("Retry-After"))
            exc.retry_wait = exc.retry_after if wait is None else wait  # type: ignore[attr-defined]
            raise
        except ApiError as exc:
            if exc.status != 200 or not exc.code:
                raise
            raise ApiError(
                f"{self.label}: {exc.server_message or 'FAILURE'} (exception {exc.code})",
                status=200,
                error_type=exc.error_type,
                code=exc.code,
                server_message=exc.server_message,
                service=self.label,
                url=exc.url,
                hint=self._failure_hint(exc.code) or exc.hint,
            ) from None
        if self._tz_seen is None:
            for rec in records:
                zone = site_zone(rec.get("timeZone"))
                if zone is not None:
                    self._tz_seen = zone
                    break
        return records, meta

    def _decode(self, response: Any, fetch: Fetch, sign_in_hint: str | None = None) -> Page:
        return self._decode_spec(response, fetch.spec, sign_in_hint)

    async def _post(self, document: SecretBody, spec: RecordSpec) -> Page:
        _, page = await self._transport.fetch(
            "POST",
            XML_SERVICE,
            lambda r: self._decode_spec(r, spec, self.sign_in_hint()),
            content=document,
            headers={"Content-Type": "application/xml; charset=utf-8"},
            error_decoder=self.error_decoder,
            idempotent=True,
        )
        assert page is not None
        return page

    # -- credentials -------------------------------------------------------------------------------------
    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _ticket_fresh(self) -> bool:
        if not self._ticket:
            return False
        return self._ticket_expires is None or time.time() < self._ticket_expires - TICKET_MARGIN

    async def _webex_id_async(self) -> str:
        if self.webex_id:
            return self.webex_id
        from .webex import Webex  # a flow knows the REST base: read the person's e-mail there

        base = getattr(self._flow, "base_url", None)
        async with Webex(
            auth=self._flow, base_url=base, verify=getattr(self._flow, "verify", True), progress=False
        ) as wx:
            me = await wx.me_async(raw=True)
        emails = me.get("emails") or []
        if not emails:
            raise InvalidArgument("WebexXML() needs webex_id=: the signed-in person has no e-mail address")
        self.webex_id = str(emails[0])
        return self.webex_id

    async def _security_context(self) -> SecretBody:
        fields = [_element("siteName", self.site_name), _element("webExID", await self._webex_id_async())]
        if self._kind == "password" and not self._ticket_fresh():
            assert self._creds is not None
            fields.append(_element("password", (await self._creds.body_credential())["password"]))
        else:
            fields.append(_element("sessionTicket", Secret(await self._session_ticket())))
        return SecretBody("<securityContext>", *fields, "</securityContext>")

    async def _session_ticket(self) -> str:
        if self._kind == "ticket" or self._ticket_fresh():
            assert self._ticket is not None
            return self._ticket
        async with self._lock():
            if not self._ticket_fresh():
                await self._exchange_async()
        assert self._ticket is not None
        return self._ticket

    async def _exchange_async(self) -> dict[str, Any]:
        """AuthenticateUser: the token (or password) → a session ticket, kept privately."""
        webex_id = await self._webex_id_async()
        security = [_element("siteName", self.site_name), _element("webExID", webex_id)]
        content: Any = ""
        if self._kind == "ticket":
            return {"siteName": self.site_name, "webExID": webex_id, "expires_at": None}
        assert self._creds is not None
        cred = await self._creds.body_credential()
        if self._kind == "password":
            security.append(_element("password", cred["password"]))
        else:
            content = _element("accessToken", cred["token"])
        document = envelope(SecretBody("<securityContext>", *security, "</securityContext>"), AUTHENTICATE_USER,
                            content)
        records, _ = await self._post(document, RecordSpec(one=True))
        rec = records[0] if records else {}
        ticket = str(rec.get("sessionTicket") or "").strip()
        if not ticket:
            raise ApiError(
                f"{self.label}: AuthenticateUser answered without a sessionTicket",
                status=200,
                service=self.label,
                hint=self.sign_in_hint(),
            )
        register_secret(ticket)
        try:
            ttl = float(rec.get("timeToLive") or 0)
        except ValueError:
            ttl = 0.0
        self._ticket = ticket
        self._ticket_made = time.time()
        self._ticket_expires = self._ticket_made + ttl if ttl > 0 else None
        expires = datetime.fromtimestamp(self._ticket_expires, UTC) if self._ticket_expires else None
        log.debug(
            "%s: session ticket for %s on %s, valid until %s", self.label, webex_id, self.site_name, expires
        )
        return {"siteName": self.site_name, "webExID": webex_id, "expires_at": expires}

    async def authenticate_async(self) -> dict[str, Any]:
        """Get a session ticket now (``AuthenticateUser``) and keep it for the next calls.

        With a Webex token or flow, the token is exchanged (``<accessToken>``); with ``(webex_id, password)``
        the password is exchanged, so later requests carry the ticket instead; a ticket passed as ``auth=`` is
        kept as is. Returns who and until when — never the ticket itself. ``authenticate()`` is the sync twin.

        Example::

            >>> wxml.authenticate()                                   # doctest: +SKIP
            {'siteName': 'acme', 'webExID': 'jkam@acme.example', 'expires_at': datetime(...)}
        """
        async with self._lock():
            return await self._exchange_async()

    authenticate = sync_twin(authenticate_async)

    # -- LstsummaryMeeting ------------------------------------------------------------------------------
    async def _zone_for_scope(self, host: Any) -> tzinfo:
        """The site's zone for a dateScope; when not known yet, one tiny LstsummaryMeeting reads it."""
        if self.timezone is None:
            content = "<listControl><startFrom>1</startFrom><maximumNum>1</maximumNum></listControl>"
            if host:
                content += _element("hostWebExID", host)
            spec = RecordSpec(item="meeting", total=("matchingRecords.total",))
            await self._post(envelope(await self._security_context(), LST_SUMMARY_MEETING, content), spec)
        return self.timezone or UTC

    async def _scope_text(self, name: str, value: Any, host: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise InvalidArgument(
                f"{name} takes a datetime (the earliest/latest meeting start or end), got the number "
                f"{value!r}; paging is automatic (use limit= to cap the rows)"
            )
        if isinstance(value, str) and _MDY_TEXT.match(value):
            return value.strip()  # already MM/DD/YYYY HH:MM:SS in the site's zone
        utc = datetime.fromisoformat(iso_utc(value, name))
        return utc.astimezone(await self._zone_for_scope(host)).strftime(MDY)

    async def _lst_summary_document(self, query: dict[str, Any], paging: dict[str, Any]) -> bytes:
        host = query.get("hostWebExID")
        scope_names = ("startDateStart", "startDateEnd", "endDateStart", "endDateEnd")
        bounds = {k: query.get(k) for k in scope_names}
        for first, last in (("startDateStart", "startDateEnd"), ("endDateStart", "endDateEnd")):
            pair = bounds[first]
            if isinstance(pair, (list, tuple)):  # start_from=(since, until)
                if len(pair) != 2:
                    raise InvalidArgument("a date range is (earliest, latest)")
                bounds[first] = pair[0]
                if bounds[last] is None:
                    bounds[last] = pair[1]
        parts = [
            "<listControl>",
            _element("startFrom", paging.get("startFrom", 1)),
            _element("maximumNum", paging.get("maximumNum", XmlOffset.page)),
            _element("listMethod", str(query.get("listMethod") or "AND").upper()),
            "</listControl>",
        ]
        order_by = query.get("orderBy")
        order_ad = query.get("orderAD")
        if order_by:
            keys = order_by if isinstance(order_by, list) else [order_by]
            dirs = order_ad if isinstance(order_ad, list) else [order_ad or "ASC"] * len(keys)
            parts.append("<order>")
            for key, direction in zip(keys, dirs + ["ASC"] * (len(keys) - len(dirs))):
                parts += [_element("orderBy", str(key).upper()), _element("orderAD", str(direction).upper())]
            parts.append("</order>")
        scope = [
            _element(k, await self._scope_text(k, v, host)) for k, v in bounds.items() if v not in (None, "")
        ]
        if scope:
            parts += ["<dateScope>", *scope, "</dateScope>"]
        if query.get("meetingKey") not in (None, ""):
            parts.append(_element("meetingKey", query["meetingKey"]))
        if host:
            parts.append(_element("hostWebExID", host))
        security = await self._security_context()
        return envelope(security, LST_SUMMARY_MEETING, "".join(parts))

    meetings = Fetch(
        XML_SERVICE,
        method="POST",
        body=_lst_summary_body,
        item="meeting",
        paging=XmlOffset(id="meetingKey"),
        params={
            "host_webex_id": "hostWebExID",
            "start_from": "startDateStart",
            "start_to": "startDateEnd",
            "end_from": "endDateStart",
            "end_to": "endDateEnd",
            "meeting_key": "meetingKey",
            "order_by": "orderBy",
            "order_ad": "orderAD",
            "list_method": "listMethod",
            "maximum_num": "maximumNum",
        },
        defaults={"order_by": "STARTTIME"},
        headers={"Content-Type": "application/xml; charset=utf-8"},
        idempotent=True,
        columns=MEETING_COLUMNS,
        dtypes=MEETING_DTYPES,
        id="meetingKey",
        doc="Meetings (LstsummaryMeeting, every page): host_webex_id= (others' need a site administrator), "
        "start_from=/start_to= and end_from=/end_to= (datetimes; naive = UTC; or a (from, to) pair; or "
        "'MM/DD/YYYY HH:MM:SS' text in the site's zone) → dateScope, meeting_key=, order_by= (STARTTIME, "
        "HOSTWEBEXID, CONFNAME, MEETINGKEY; a list for several) with order_ad= ASC|DESC, maximum_num= the page "
        "size (default 500). startDate is a UTC timestamp. Example: wxml.meetings(order_by='CONFNAME')",
    )

    # -- a refused exchanged ticket is renewed once ------------------------------------------------------
    async def _call(self, fetch: Fetch, args: Any, kwargs: Mapping[str, Any]) -> Any:
        made = self._ticket_made if self._kind != "ticket" and self._ticket_fresh() else None
        try:
            return await super()._call(fetch, args, kwargs)
        except ApiError as exc:
            if exc.code != "030002" or made is None or self._ticket_made != made:
                raise
            log.info("%s: the session ticket was refused; getting a new one", self.label)
            self._ticket = None
            self._ticket_expires = None
            return await super()._call(fetch, args, kwargs)
