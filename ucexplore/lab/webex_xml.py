"""The lab's Webex Meetings XML API (retired by Cisco in 2024; served for legacy notebooks and training).

``POST /WBXService/XMLService`` with a ``serv:message`` document (raw XML, or form-encoded ``XML=<doc>``).
Every answer to a posted document is **HTTP 200**: failures are ``serv:result`` FAILURE with ``serv:reason``,
``serv:gsbStatus`` and ``serv:exceptionID`` and an empty ``serv:bodyContent`` (cisco-api-notes §5).

Requests served:

* ``java:com.webex.service.binding.user.AuthenticateUser`` — ``<accessToken>`` (a Webex REST token of the
  same user; a token with scopes needs ``spark:all``, else FAILURE ``000001``) or, with an empty body, the
  ``password`` of the security context → ``use:sessionTicket``, ``use:createTime`` (epoch ms),
  ``use:timeToLive`` (seconds).
* ``java:com.webex.service.binding.meeting.LstsummaryMeeting`` — ``listControl`` (``startFrom`` 1-based,
  ``maximumNum`` default 10, clamped to ``LabConfig.xml_api_max_page``, ``listMethod`` AND|OR),
  ``order`` (``orderBy`` STARTTIME|HOSTWEBEXID|CONFNAME|MEETINGKEY, ``orderAD`` ASC|DESC, repeatable; default
  STARTTIME ASC), ``dateScope`` (``MM/DD/YYYY HH:MM:SS`` in ``timeZoneID``, default the site zone),
  ``meetingKey``, ``hostWebExID`` (others' only for the admin). Dates in answers are in the site time zone.

Security context: ``siteName`` (must be the org's site), ``webExID`` or ``email`` (user name or e-mail), and
one of ``sessionTicket``, ``password``, ``webExAccessToken`` (a Webex REST token of that user, with the same
scope rule as ``accessToken``: :meth:`~ucexplore.lab.tokens.Grant.allows` ``XML_API_SCOPES``). The admin
(``LabConfig.admin_user``) signs in with its password and may list any host's meetings.

Exception IDs: ``030002`` Incorrect user or password, ``000001`` Access denied, ``000015`` Sorry, no record
found, ``000045`` API Rate Limit Reach are from the notes; the rest are lab inventions ([I]): ``000006``
invalid site name, ``000010`` unsupported request type, ``999999`` malformed request / invalid value.
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .context import LabContext, xml_escape
from .org import SITE_DOMAIN, User

__all__ = ["create_app", "API_PREFIXES", "render_fault", "NS"]

API_PREFIXES = ("/WBXService/",)

NS = {
    "serv": "http://www.webex.com/schemas/2002/06/service",
    "com": "http://www.webex.com/schemas/2002/06/common",
    "meet": "http://www.webex.com/schemas/2002/06/service/meeting",
    "use": "http://www.webex.com/schemas/2002/06/service/user",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XML_TYPE = "text/xml;charset=UTF-8"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TICKET_TTL = 5400  #: seconds a session ticket lives [I]
MAX_BODY = 1_000_000
DEFAULT_MAXIMUM_NUM = 10  #: [I]
#: above this many users an admin must name hostWebExID (the real service: "very slow … error")
ADMIN_ALL_HOSTS_LIMIT = 5000
DATE_FORMAT = "%m/%d/%Y %H:%M:%S"

AUTH_FAILED = ("Incorrect user or password", "030002")
ACCESS_DENIED = ("Access denied, additional privileges are required", "000001")
NO_RECORD = ("Sorry, no record found", "000015")
RATE_LIMITED = ("API Rate Limit Reach", "000045")
BAD_SITE = ("Invalid site name", "000006")
UNSUPPORTED = ("Unsupported request type", "000010")
BAD_REQUEST_ID = "999999"
#: a Webex REST token used with the XML API needs one of these (cisco-api-notes §5: spark:all integrations)
XML_API_SCOPES = frozenset({"spark:all"})

#: XML API timeZoneID → (label, IANA zone); the site's own zone comes from the organisation.
_ZONES = {4: ("GMT-08:00, Pacific (San Jose)", "America/Los_Angeles"),
          11: ("GMT-05:00, Eastern (New York)", "America/New_York")}
_ORDER_FIELDS = ("STARTTIME", "HOSTWEBEXID", "CONFNAME", "MEETINGKEY")

_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<serv:message xmlns:serv="{NS["serv"]}" xmlns:com="{NS["com"]}" xmlns:meet="{NS["meet"]}" '
    f'xmlns:use="{NS["use"]}" xmlns:xsi="{NS["xsi"]}">'
)


def failure_xml(reason: str, exception_id: str) -> bytes:
    """A complete FAILURE envelope."""
    return (
        f"{_ENVELOPE_OPEN}<serv:header><serv:response><serv:result>FAILURE</serv:result>"
        f"<serv:reason>{xml_escape(reason)}</serv:reason><serv:gsbStatus>PRIMARY</serv:gsbStatus>"
        f"<serv:exceptionID>{xml_escape(exception_id)}</serv:exceptionID></serv:response></serv:header>"
        f"<serv:body><serv:bodyContent/></serv:body></serv:message>"
    ).encode()


def success_xml(body_type: str, content: str) -> bytes:
    """A complete SUCCESS envelope around ``content`` (already escaped XML)."""
    return (
        f"{_ENVELOPE_OPEN}<serv:header><serv:response><serv:result>SUCCESS</serv:result>"
        f"<serv:gsbStatus>PRIMARY</serv:gsbStatus></serv:response></serv:header>"
        f'<serv:body><serv:bodyContent xsi:type="{body_type}">{content}</serv:bodyContent></serv:body>'
        f"</serv:message>"
    ).encode()


def render_fault(status: int, retry_after: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """429 → HTTP 200 FAILURE ``000045`` (the XML API's throttling); 503 → HTTP 503 plain text."""
    seconds = str(max(1, int(retry_after + 0.999)) if retry_after > 0 else 0).encode()
    if status == 429:
        headers = [(b"content-type", XML_TYPE.encode()), (b"retry-after", seconds)]
        return 200, headers, failure_xml(*RATE_LIMITED)
    return status, [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", seconds)], \
        b"Service Unavailable"


class Failure(Exception):
    """Raised while handling a document; rendered as a FAILURE envelope."""

    def __init__(self, reason: str, exception_id: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exception_id = exception_id


def _bad(reason: str) -> Failure:
    return Failure(reason, BAD_REQUEST_ID)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ET.Element | None, name: str) -> str | None:
    child = _child(element, name)
    if child is None:
        return None
    return (child.text or "").strip()


def _int(element: ET.Element | None, name: str, default: int) -> int:
    raw = _text(element, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(f"Invalid value for {name}: {raw}") from None


def _zone(zone_id: int, site: tuple[str, int, int]) -> tuple[str, tzinfo]:
    name, site_id, offset = site
    if zone_id == site_id:
        return name, timezone(timedelta(minutes=offset), name)
    if zone_id in _ZONES:
        label, iana = _ZONES[zone_id]
        try:
            from zoneinfo import ZoneInfo

            return label, ZoneInfo(iana)
        except Exception:  # no tz database: fixed standard offset
            hours = int(label[3:6])
            return label, timezone(timedelta(hours=hours), label)
    raise _bad(f"Invalid value for timeZoneID: {zone_id}")


def create_app(ctx: LabContext) -> Starlette:
    """The Webex Meetings XML API as an ASGI app."""
    org = ctx.org
    cfg = ctx.config
    site_name, site_zone_id, site_offset = org.site_timezone
    site_tz = timezone(timedelta(minutes=site_offset), site_name)
    fragments: dict[str, str] = {}  # meeting id → rendered <meet:meeting>

    def webex_id_of(user: User) -> str:
        return user.email or f"{user.username}@{SITE_DOMAIN}"

    def find_user(webex_id: str) -> User | None:
        webex_id = webex_id.strip()
        if not webex_id:
            return None
        user = org.user_by_name(webex_id) or org.user_by_email(webex_id)
        if user is None and webex_id.lower().endswith("@" + SITE_DOMAIN):
            user = org.user_by_name(webex_id.rsplit("@", 1)[0])
            if user is not None and user.email is not None:  # derived address only for users without e-mail
                user = None
        return user

    def meeting_fragment(m: dict[str, Any]) -> str:
        cached = fragments.get(m["id"])
        if cached is None:
            host = xml_escape(m["hostEmail"])
            start = m["start"].astimezone(site_tz).strftime(DATE_FORMAT)
            in_progress = m["state"] == "inProgress"
            cached = (
                f"<meet:meeting><meet:meetingKey>{xml_escape(m['meetingNumber'])}</meet:meetingKey>"
                f"<meet:confName>{xml_escape(m['title'])}</meet:confName>"
                f"<meet:meetingType>3</meet:meetingType><meet:hostWebExID>{host}</meet:hostWebExID>"
                f"<meet:otherHostWebExID>{host}</meet:otherHostWebExID>"
                f"<meet:timeZoneID>{site_zone_id}</meet:timeZoneID><meet:timeZone>{xml_escape(site_name)}"
                f"</meet:timeZone><meet:status>{'INPROGRESS' if in_progress else 'NOT_INPROGRESS'}"
                f"</meet:status><meet:startDate>{start}</meet:startDate>"
                f"<meet:duration>{m['durationMinutes']}</meet:duration>"
                f"<meet:listStatus>PUBLIC</meet:listStatus>"
                f"<meet:hostJoined>{'true' if in_progress else 'false'}</meet:hostJoined>"
                f"<meet:participantsJoined>{'true' if in_progress else 'false'}</meet:participantsJoined>"
                f"</meet:meeting>"
            )
            fragments[m["id"]] = cached
        return cached

    # -- authentication ------------------------------------------------------------------------------
    def check_site(sc: ET.Element | None) -> None:
        site = _text(sc, "siteName")
        if not site or site.lower() != org.site_name.lower():
            raise Failure(*BAD_SITE)

    def rest_grant(token: str | None) -> Any:
        return ctx.issuers["webex"].validate(token) if token else None

    def check_scope(grant: Any) -> None:
        """The REST side's scope rule: a token with scopes needs ``spark:all`` for the XML API."""
        if not grant.allows(XML_API_SCOPES):
            raise Failure(*ACCESS_DENIED)

    def sign_in(sc: ET.Element | None) -> tuple[str, User | None]:
        """(subject, user) from the security context; the admin has no org user."""
        check_site(sc)
        webex_id = _text(sc, "webExID") or _text(sc, "email") or ""
        ticket, password = _text(sc, "sessionTicket"), _text(sc, "password")
        access_token = _text(sc, "webExAccessToken")
        if webex_id and webex_id == cfg.admin_user:
            admin_pw = cfg.admin_password.encode()
            if password is not None and secrets.compare_digest(password.encode(), admin_pw):
                return cfg.admin_user, None
            entry = ctx.xml_session_tickets.get(ticket or "")
            if entry is not None and entry[0] == cfg.admin_user and entry[1] >= time.time():
                return cfg.admin_user, None
            raise Failure(*AUTH_FAILED)
        user = find_user(webex_id)
        if user is None:
            raise Failure(*AUTH_FAILED)
        if ticket:
            entry = ctx.xml_session_tickets.get(ticket)
            if entry is None or entry[1] < time.time() or entry[0] != user.username:
                raise Failure(*AUTH_FAILED)
            return user.username, user
        if access_token:
            grant = rest_grant(access_token)
            if grant is None or grant.subject != user.username:
                raise Failure(*AUTH_FAILED)
            check_scope(grant)
            return user.username, user
        if password is not None and org.check_password(user.username, password) is not None:
            return user.username, user
        raise Failure(*AUTH_FAILED)

    def new_ticket(username: str) -> bytes:
        now = time.time()
        for key in [k for k, (_, exp) in ctx.xml_session_tickets.items() if exp < now]:
            ctx.xml_session_tickets.pop(key, None)
        ticket = "AAABm" + secrets.token_urlsafe(48)
        ctx.xml_session_tickets[ticket] = (username, now + TICKET_TTL)
        content = (f"<use:sessionTicket>{ticket}</use:sessionTicket>"
                   f"<use:createTime>{int(now * 1000)}</use:createTime>"
                   f"<use:timeToLive>{TICKET_TTL}</use:timeToLive>")
        return success_xml("use:authenticateUserResponse", content)

    def authenticate_user(sc: ET.Element | None, body: ET.Element) -> bytes:
        check_site(sc)
        token = _text(body, "accessToken")
        if token:
            grant = rest_grant(token)
            if grant is None:
                raise Failure(*AUTH_FAILED)
            user = org.user_by_name(grant.subject)
            webex_id = _text(sc, "webExID") or _text(sc, "email")
            if user is None or (webex_id and find_user(webex_id) is not user):
                raise Failure(*AUTH_FAILED)
            check_scope(grant)
            return new_ticket(user.username)
        if _child(body, "samlResponse") is not None:
            raise Failure("SAML authentication is not available in the lab; use accessToken", BAD_REQUEST_ID)
        subject, user = sign_in(sc)  # password (or ticket) in the security context, empty body
        return new_ticket(subject)

    # -- LstsummaryMeeting ----------------------------------------------------------------------------
    def parse_date(scope: ET.Element | None, name: str, tz: tzinfo) -> datetime | None:
        raw = _text(scope, name)
        if not raw:
            return None
        for fmt in (DATE_FORMAT, "%m/%d/%Y %H:%M", "%m/%d/%Y"):
            try:
                return datetime.strptime(raw, fmt).replace(tzinfo=tz)
            except ValueError:
                continue
        raise _bad(f"Invalid value for {name}: {raw} (expected MM/DD/YYYY HH:MM:SS)")

    def lst_summary_meeting(sc: ET.Element | None, body: ET.Element) -> bytes:
        subject, user = sign_in(sc)
        is_admin = subject == cfg.admin_user
        lc = _child(body, "listControl")
        start_from = _int(lc, "startFrom", 1)
        maximum = _int(lc, "maximumNum", DEFAULT_MAXIMUM_NUM)
        if start_from < 1:
            raise _bad(f"Invalid value for startFrom: {start_from} (1-based)")
        if maximum < 1:
            raise _bad(f"Invalid value for maximumNum: {maximum}")
        maximum = min(maximum, cfg.xml_api_max_page)
        method = (_text(lc, "listMethod") or "AND").upper()
        if method not in ("AND", "OR"):
            raise _bad(f"Invalid value for listMethod: {method}")

        # whose meetings
        host_id = _text(body, "hostWebExID")
        if host_id:
            host = find_user(host_id)
            if not is_admin and host is not user:
                raise Failure(*ACCESS_DENIED)
            if host is None:
                raise Failure(*NO_RECORD)
            meetings = list(org.meetings(host))
        elif is_admin:
            if org.size > ADMIN_ALL_HOSTS_LIMIT:
                raise Failure("Too many records; specify hostWebExID", BAD_REQUEST_ID)
            meetings = [m for u in org.users for m in org.meetings(u)]
        else:
            assert user is not None
            meetings = list(org.meetings(user))

        # criteria
        criteria = []
        ds = _child(body, "dateScope")
        if ds is not None:
            zone_raw = _text(ds, "timeZoneID")
            try:
                zone_id = int(zone_raw) if zone_raw else site_zone_id
            except ValueError:
                raise _bad(f"Invalid value for timeZoneID: {zone_raw}") from None
            _, tz = _zone(zone_id, org.site_timezone)
            bounds = {name: parse_date(ds, name, tz)
                      for name in ("startDateStart", "startDateEnd", "endDateStart", "endDateEnd")}
            if bounds["startDateStart"]:
                criteria.append(lambda m, v=bounds["startDateStart"]: m["start"] >= v)
            if bounds["startDateEnd"]:
                criteria.append(lambda m, v=bounds["startDateEnd"]: m["start"] <= v)
            if bounds["endDateStart"]:
                criteria.append(lambda m, v=bounds["endDateStart"]: m["end"] >= v)
            if bounds["endDateEnd"]:
                criteria.append(lambda m, v=bounds["endDateEnd"]: m["end"] <= v)
        key = _text(body, "meetingKey")
        if key:
            criteria.append(lambda m, v=key: m["meetingNumber"] == v)
        if criteria:
            combine = all if method == "AND" else any
            meetings = [m for m in meetings if combine(c(m) for c in criteria)]

        # order
        keys: list[list[Any]] = []
        order = _child(body, "order")
        for child in order if order is not None else []:
            name, value = _local(child.tag), (child.text or "").strip().upper()
            if name == "orderBy":
                if value not in _ORDER_FIELDS and not value.startswith("TRACKINGCODE"):
                    raise _bad(f"Invalid value for orderBy: {value}")
                keys.append([value, "ASC"])
            elif name == "orderAD":
                if value not in ("ASC", "DESC"):
                    raise _bad(f"Invalid value for orderAD: {value}")
                if keys:
                    keys[-1][1] = value
        meetings.sort(key=lambda m: (m["start"], m["meetingNumber"]))
        field = {"STARTTIME": lambda m: m["start"], "HOSTWEBEXID": lambda m: m["hostEmail"].lower(),
                 "CONFNAME": lambda m: m["title"].casefold(), "MEETINGKEY": lambda m: int(m["meetingNumber"])}
        for name, direction in reversed(keys):
            if name in field:
                meetings.sort(key=field[name], reverse=direction == "DESC")

        total = len(meetings)
        page = meetings[start_from - 1:start_from - 1 + maximum]
        if not page:
            raise Failure(*NO_RECORD)
        content = "".join(meeting_fragment(m) for m in page) + (
            f"<meet:matchingRecords><serv:total>{total}</serv:total>"
            f"<serv:returned>{len(page)}</serv:returned>"
            f"<serv:startFrom>{start_from}</serv:startFrom></meet:matchingRecords>")
        return success_xml("meet:lstsummaryMeetingResponse", content)

    handlers = {
        ("user", "authenticateuser"): authenticate_user,
        ("meeting", "lstsummarymeeting"): lst_summary_meeting,
    }

    # -- the endpoint ---------------------------------------------------------------------------------
    def handle(document: bytes) -> bytes:
        if not document.strip():
            raise _bad("Empty request document")
        head = document.upper()
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise _bad("DOCTYPE and ENTITY declarations are not allowed")
        try:
            root = ET.fromstring(document)
        except (ET.ParseError, ValueError):
            raise _bad("The request is not a well-formed XML document") from None
        if _local(root.tag) != "message":
            raise _bad("The root element must be serv:message")
        sc = _child(_child(root, "header"), "securityContext")
        if sc is None:
            raise Failure(*AUTH_FAILED)
        body = _child(_child(root, "body"), "bodyContent")
        if body is None:
            raise _bad("The request has no bodyContent")
        xsi_type = body.get(XSI_TYPE) or ""
        qualified = xsi_type.split(":", 1)[-1]  # java:com.webex.service.binding.meeting.LstsummaryMeeting
        parts = qualified.split(".")
        handler = handlers.get((parts[-2].lower() if len(parts) > 1 else "", parts[-1].lower()))
        if handler is None:
            raise Failure(f"{UNSUPPORTED[0]}: {xsi_type or '(none)'}", UNSUPPORTED[1])
        return handler(sc, body)

    async def xml_service(request: Request) -> Response:
        raw = await request.body()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        document = raw
        if ctype == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"<"):
            values = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).get("XML")
            document = values[0].encode() if values else b""
        try:
            if len(document) > MAX_BODY:
                raise _bad("The request document is too large")
            answer = handle(document)
        except Failure as exc:
            answer = failure_xml(exc.reason, exc.exception_id)
        except Exception as exc:  # never a traceback: the XML API answers FAILURE inside HTTP 200
            answer = failure_xml(f"Internal error (lab): {type(exc).__name__}", BAD_REQUEST_ID)
        return Response(answer, status_code=200, media_type=XML_TYPE)

    return Starlette(routes=[Route("/WBXService/XMLService", xml_service, methods=["POST"])])
