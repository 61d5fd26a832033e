"""The lab's Webex REST API (``/v1``): OAuth integration (authorization code, PKCE, rotating refresh tokens)
and the read endpoints ucexplore uses: people, meetings, meeting participants and rooms.

Quirks reproduced on purpose (cisco-api-notes §6):

* every response carries a ``trackingid`` header (``ROUTER_…``); errors are JSON
  ``{"message", "errors": [{"description"}], "trackingId"}``;
* lists are ``{"items": [...]}`` paged with ``max`` and an RFC 5988 ``Link: <absolute URL>; rel="next"``
  header whose URL carries an opaque ``cursor`` (offset + a hash of the filters, so a cursor replayed with
  other filters is refused with 400); the data are fixed for a seed, so paging is consistent under
  concurrency;
* timestamps are ISO-8601 UTC with milliseconds (``2026-11-02T09:00:00.000Z``);
* 429/503 faults answer with ``Retry-After`` and the error JSON.

Lab choices where the notes are inferences ([I]):

* ``max`` defaults: 100 for people and rooms, 10 for meetings and meeting participants; larger values are
  clamped to ``LabConfig.webex_max_page``; ``max`` that is not a positive integer → 400.
* ``GET /v1/meetings`` without ``from``/``to`` lists every meeting of the signed-in user (no default window:
  the lab's calendar is anchored at ``org.now``, 09:00 UTC on the anchor day, not at the wall clock). ``from``
  is inclusive, ``to`` exclusive, both compared with the meeting start. ``meetingType`` filters when given
  (lab meetings are all ``meeting`` instances). ``hostEmail`` other than one's own → 403 unless the token
  belongs to the admin.
* ``GET /v1/people`` without filters lists the whole organisation (real Webex asks non-admins for a filter).
* Scopes: a token that carries scopes needs one matching the endpoint (``spark:all`` covers everything in
  the lab) or gets 403; tokens issued without a scope (tests, personal tokens) pass.
* The client secret may be left out of ``/v1/access_token`` only when the authorization used PKCE; the
  refresh of such a grant then needs no secret either. A code redeemed twice revokes the tokens it issued
  (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import random
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .context import LabContext, basic_credentials, bearer_token, request_base_url
from .org import SITE_DOMAIN, User
from .tokens import Grant

__all__ = ["create_app", "API_PREFIXES", "render_fault", "tracking_id"]

#: Fault injection applies here (never to /v1/authorize, /v1/access_token or the ACS).
API_PREFIXES = ("/v1/people", "/v1/meetings", "/v1/meetingParticipants", "/v1/rooms")

JSON_TYPE = "application/json;charset=UTF-8"
DEFAULT_MAX = {"people": 100, "rooms": 100, "meetings": 10, "participants": 10}
MAX_IDS = 85  #: Webex accepts up to 85 ids in ``/people?id=``
TXN_TTL = 600  #: seconds a sign-in transaction (authorize → ACS) stays valid
MEETING_TYPES = ("meetingSeries", "scheduledMeeting", "meeting")
MEETING_STATES = ("active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired")
PERSON_STATUSES = ["active", "inactive", "DoNotDisturb", "meeting", "OutOfOffice", "presenting", "call"]
PERSON_STATUS_WEIGHTS = [40, 30, 5, 10, 5, 3, 7]
ROOM_TITLES = ["Ops war room", "Billing & Payments", "Q&A: <roadmap>", "Design crit", "Release train",
               "Coffee ☕", "Incident bridge", "Sales <Inbound> leads", "Team Müller", "Onboarding buddies"]

#: Scope families the lab's authorize endpoint knows; anything else is ``invalid_scope``.
_SCOPE_FAMILIES = ("spark:", "spark-admin:", "spark-compliance:", "meeting:", "identity:", "Identity:",
                   "analytics:", "audit:", "cjp:", "telephony:", "application:")
_OIDC_SCOPES = {"openid", "email", "profile"}
#: endpoint family → scopes that allow it (``spark:all`` allows everything in the lab)
_NEEDS = {
    "people": {"spark:people_read", "spark:people_write", "spark-admin:people_read",
               "spark-admin:people_write", "spark:all"},
    "meetings": {"meeting:schedules_read", "meeting:schedules_write", "meeting:admin_schedule_read",
                 "spark:all"},
    "participants": {"meeting:participants_read", "meeting:participants_write",
                     "meeting:admin_participants_read", "spark:all"},
    "rooms": {"spark:rooms_read", "spark:rooms_write", "spark:all"},
}
_PKCE_CHARS = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def tracking_id() -> str:
    """A Webex-style tracking id, e.g. ``ROUTER_665D9A1B-2C4D-01BB-0A3F-AC12B5E20A3F``."""
    return "ROUTER_" + str(uuid.uuid4()).upper()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _error_body(message: str, tid: str) -> bytes:
    return _dumps({"message": message, "errors": [{"description": message}], "trackingId": tid}).encode()


def render_fault(status: int, retry_after: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """429/503 in Webex's shape: ``Retry-After`` header, error JSON with ``trackingId``."""
    tid = tracking_id()
    message = ("Too many requests have been sent in a given amount of time." if status == 429
               else "Service Unavailable: the service is temporarily unable to handle the request.")
    seconds = max(1, int(retry_after + 0.999)) if retry_after > 0 else 0
    headers = [(b"content-type", JSON_TYPE.encode()), (b"retry-after", str(seconds).encode()),
               (b"trackingid", tid.encode())]
    return status, headers, _error_body(message, tid)


def _iso(dt: datetime) -> str:
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _b64id(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"ciscospark://us/{kind}/{value}".encode()).decode().rstrip("=")


def _add_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


class ApiError(Exception):
    """Raised inside handlers; rendered as Webex error JSON."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class _TrackingIdMiddleware:
    """Gives every request a tracking id (``request.state.trackingid``) and every response the header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tid = tracking_id()
        scope.setdefault("state", {})["trackingid"] = tid

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"trackingid" for k, _ in headers):
                    headers.append((b"trackingid", tid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _tid(request: Request) -> str:
    return request.scope.get("state", {}).get("trackingid") or tracking_id()


def _json(request: Request, payload: Any, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    body = payload if isinstance(payload, (bytes, str)) else _dumps(payload)
    return Response(body, status_code=status, media_type=JSON_TYPE,
                    headers={"trackingid": _tid(request), **(headers or {})})


def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    tid = _tid(request)
    return Response(_error_body(message, tid), status_code=status, media_type=JSON_TYPE,
                    headers={"trackingid": tid, **(headers or {})})


_HTTP_MESSAGES = {
    400: "The request was invalid or cannot be otherwise served.",
    401: "The request requires a valid access token set in the Authorization request header.",
    403: "The server understood the request, but refused to fulfill it.",
    404: "The requested resource could not be found.",
    405: "The request was made to a resource using an HTTP request method that is not supported.",
}


def create_app(ctx: LabContext) -> Starlette:
    """The Webex REST API as an ASGI app."""
    org = ctx.org
    cfg = ctx.config
    issuer = ctx.issuers["webex"]
    seed = org.seed
    org_uuid = str(uuid.UUID(int=random.Random(f"wxorg:{seed}").getrandbits(128), version=4))
    org_id = _b64id("ORGANIZATION", org_uuid)
    site_url = f"{org.site_name}.webex.com"

    # -- OAuth state --------------------------------------------------------------------------------
    txns: dict[str, tuple[float, dict[str, Any]]] = {}  # txn → (expiry, authorize request)
    codes: dict[str, dict[str, Any]] = {}  # code → {"pkce": bool, "grant": Grant | None, "t": issued at}
    public_refresh: set[str] = set()  # refresh tokens of PKCE grants (no client secret needed)

    # -- caches of rendered data ----------------------------------------------------------------------
    person_json: dict[int, str] = {}
    rooms_cache: dict[int, list[dict[str, Any]]] = {}
    participants_cache: dict[str, list[dict[str, Any]]] = {}
    search_cache: dict[tuple, list[User]] = {}
    folded_names: list[str] = []

    def email_of(user: User) -> str:
        return user.email or f"{user.username}@{SITE_DOMAIN}"

    def person(user: User) -> str:
        cached = person_json.get(user.index)
        if cached is None:
            rng = random.Random(f"wxperson:{seed}:{user.index}")
            created = org.now - timedelta(days=rng.randrange(30, 2500), seconds=rng.randrange(86400))
            last = org.now - timedelta(seconds=rng.randrange(0, 21 * 86400))
            phones = [{"type": "work", "value": user.phone}]
            if user.mobile:
                phones.append({"type": "mobile", "value": user.mobile})
            data: dict[str, Any] = {
                "id": user.webex_id, "emails": [email_of(user)], "phoneNumbers": phones,
                "displayName": user.display_name, "nickName": user.first_name.split()[0],
                "firstName": user.first_name, "lastName": user.last_name,
            }
            if rng.random() < 0.85:  # people without a picture have no avatar field at all
                digest = hashlib.sha256(f"{seed}:{user.webex_id}".encode()).hexdigest()
                data["avatar"] = (f"https://avatar-prod-us-east-2.webexcontent.com/Avtr~V1~{org_uuid}"
                                  f"/V1~{digest}~1600")
            data.update({
                "orgId": org_id, "created": _iso(created), "lastActivity": _iso(last),
                "status": rng.choices(PERSON_STATUSES, PERSON_STATUS_WEIGHTS)[0], "type": "person",
            })
            cached = _dumps(data)
            person_json[user.index] = cached
        return cached

    def meeting_json(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": m["id"], "meetingNumber": m["meetingNumber"], "title": m["title"],
            "meetingType": m["meetingType"], "state": m["state"], "timezone": "UTC",
            "start": _iso(m["start"]), "end": _iso(m["end"]),
            "hostUserId": m["hostUserId"], "hostDisplayName": m["hostDisplayName"],
            "hostEmail": m["hostEmail"],
            "siteUrl": site_url, "webLink": m["webLink"],
            "sipAddress": f"{m['meetingNumber']}@{site_url}", "scheduledType": "meeting",
        }

    def rooms_of(user: User) -> list[dict[str, Any]]:
        cached = rooms_cache.get(user.index)
        if cached is None:
            rng = random.Random(f"wxroom:{seed}:{user.index}")
            cached = []
            for _ in range(rng.randrange(2, 7) if user.index else 5):
                created = org.now - timedelta(days=rng.randrange(1, 700), seconds=rng.randrange(86400))
                last = created + timedelta(seconds=rng.randrange(0, max(1, int((org.now - created)
                                                                                .total_seconds()))))
                direct = rng.random() < 0.3 and org.size > 1
                room_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                room: dict[str, Any] = {"id": _b64id("ROOM", room_uuid)}
                if direct:
                    other = org.users[rng.randrange(org.size)]
                    if other is user:
                        other = org.users[(user.index + 1) % org.size]
                    room.update(title=other.display_name, type="direct", isLocked=False)
                else:
                    room.update(title=ROOM_TITLES[rng.randrange(len(ROOM_TITLES))], type="group",
                                isLocked=rng.random() < 0.2)
                room.update(lastActivity=_iso(last), creatorId=user.webex_id, created=_iso(created),
                            ownerId=org_id, isPublic=False)
                cached.append(room)
            cached.sort(key=lambda r: r["lastActivity"], reverse=True)
            rooms_cache[user.index] = cached
        return cached

    def participants_of(m: dict[str, Any], host: User) -> list[dict[str, Any]]:
        cached = participants_cache.get(m["id"])
        if cached is None:
            cached = []
            if m["state"] in ("ended", "inProgress"):
                rng = random.Random(f"wxpart:{seed}:{m['id']}")
                count = min(m["participants"], org.size)
                chosen = [host]
                seen = {host.index}
                while len(chosen) < count:
                    other = org.users[rng.randrange(org.size)]
                    if other.index not in seen:
                        seen.add(other.index)
                        chosen.append(other)
                ended = m["state"] == "ended"
                for k, u in enumerate(chosen):
                    joined = m["start"] + timedelta(seconds=0 if k == 0 else rng.randrange(0, 600))
                    left = m["end"] - timedelta(seconds=0 if k == 0 else rng.randrange(0, 600))
                    pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    device: dict[str, Any] = {
                        "correlationId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "deviceType": rng.choice(["webex_meeting_center_mac", "webex_meeting_center_windows",
                                                  "webex_mobile_iphone", "tp_endpoint", "pstn"]),
                        "audioType": rng.choice(["voip", "voip", "pstn"]),
                        "joinedTime": _iso(joined),
                    }
                    entry: dict[str, Any] = {
                        "id": f"{m['id']}_{pid}", "orgId": org_id, "host": k == 0, "coHost": False,
                        "email": email_of(u), "displayName": u.display_name,
                        "invitee": k == 0 or rng.random() < 0.7,
                        "muted": rng.random() < 0.4, "video": rng.choice(["on", "off"]),
                        "state": "end" if ended else "joined",
                        "joinedTime": _iso(joined), "siteUrl": site_url,
                        "meetingId": m["id"], "hostEmail": m["hostEmail"],
                        "meetingStartTime": _iso(m["start"]), "devices": [device],
                    }
                    if ended:
                        entry["leftTime"] = _iso(left)
                        device["leftTime"] = _iso(left)
                        device["durationSecond"] = int((left - joined).total_seconds())
                    cached.append(entry)
            participants_cache[m["id"]] = cached
        return cached

    # -- helpers ------------------------------------------------------------------------------------
    def authenticate(request: Request, family: str) -> tuple[Grant, User | None]:
        grant = issuer.validate(bearer_token(request))
        if grant is None:
            raise ApiError(401, _HTTP_MESSAGES[401])
        user = org.user_by_name(grant.subject)
        if user is None and grant.subject != cfg.admin_user:
            raise ApiError(401, _HTTP_MESSAGES[401])
        if not grant.allows(_NEEDS[family]):
            raise ApiError(403, "The access token does not have the scope this request needs "
                                f"({' or '.join(sorted(_NEEDS[family]))}).")
        return grant, user

    def parse_max(request: Request, family: str) -> int:
        raw = request.query_params.get("max")
        if raw is None or raw == "":
            return min(DEFAULT_MAX[family], cfg.webex_max_page)
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid value for max: {raw!r} is not an integer.") from None
        if value < 1:
            raise ApiError(400, "max must be a positive integer.")
        return min(value, cfg.webex_max_page)

    def filter_hash(request: Request, scope_key: str) -> str:
        items = sorted((k, v) for k, v in request.query_params.multi_items() if k not in ("max", "cursor"))
        raw = json.dumps([request.url.path, scope_key, items], ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def decode_cursor(cursor: str, fhash: str) -> int:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            offset, stored = int(data["o"]), str(data["f"])
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
            raise ApiError(400, "Invalid cursor.") from None
        if stored != fhash or offset < 0:
            raise ApiError(400, "Invalid cursor: it does not belong to this query.")
        return offset

    def paged(request: Request, items: Sequence[Any], render: Callable[[Any], str], family: str,
              scope_key: str = "") -> Response:
        size = parse_max(request, family)
        fhash = filter_hash(request, scope_key)
        cursor = request.query_params.get("cursor")
        offset = decode_cursor(cursor, fhash) if cursor is not None else 0
        page = items[offset:offset + size]
        body = '{"items":[' + ",".join(render(x) for x in page) + "]}"
        headers: dict[str, str] = {}
        if offset + size < len(items):
            token = base64.urlsafe_b64encode(json.dumps({"o": offset + size, "f": fhash},
                                                        separators=(",", ":")).encode()).decode().rstrip("=")
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            params.append(("cursor", token))
            next_url = f"{request_base_url(request)}{request.url.path}?{urlencode(params)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return _json(request, body, headers=headers)

    def parse_time(name: str, raw: str | None) -> datetime | None:
        if raw is None or raw == "":
            return None
        try:
            value = datetime.fromisoformat(raw.strip().replace(" ", "+") if "T" in raw else raw.strip())
        except ValueError:
            raise ApiError(400, f"Invalid {name}: {raw!r} is not an ISO-8601 date-time.") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    def own_meeting(user: User | None, meeting_id: str) -> tuple[dict[str, Any], User]:
        if user is not None:
            for m in org.meetings(user):
                if m["id"] == meeting_id:
                    return m, user
        raise ApiError(404, _HTTP_MESSAGES[404])

    # -- OAuth ----------------------------------------------------------------------------------------
    def error_page(request: Request, title: str, text: str, status: int = 400) -> Response:
        body = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
                f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
                f"<p>Tracking ID: {html.escape(_tid(request))}</p></body></html>")
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store",
                                                              "trackingid": _tid(request)})

    async def authorize(request: Request) -> Response:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id != ctx.webex_client_id:
            return error_page(request, "Invalid client", "The client_id is missing or not registered.")
        if redirect_uri not in ctx.registered_redirect_uris():
            return error_page(request, "Invalid redirect URI",
                              "The redirect_uri is missing or not registered for this integration.")
        state = q.get("state")

        def fail(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description}
            if state is not None:
                params["state"] = state
            return RedirectResponse(_add_query(redirect_uri, params), status_code=302,
                                    headers={"trackingid": _tid(request)})

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "Only response_type=code is supported.")
        scopes = (q.get("scope") or "").split()
        if not scopes:
            return fail("invalid_scope", "The scope parameter is required.")
        unknown = [s for s in scopes if s not in _OIDC_SCOPES and not s.startswith(_SCOPE_FAMILIES)]
        if unknown:
            return fail("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if method is not None and not challenge:
            return fail("invalid_request", "code_challenge_method without code_challenge.")
        if challenge:
            method = method or "plain"
            if method not in ("S256", "plain"):
                return fail("invalid_request", "Transform algorithm not supported (use S256).")
            if not _PKCE_CHARS.match(challenge):
                return fail("invalid_request", "Malformed code_challenge.")
        now = time.time()
        for key in [k for k, (exp, _) in txns.items() if exp < now]:
            txns.pop(key, None)
        txn = secrets.token_urlsafe(16)
        txns[txn] = (now + TXN_TTL, {"client_id": client_id, "redirect_uri": redirect_uri,
                                     "scope": " ".join(scopes), "state": state,
                                     "challenge": challenge or None, "method": method if challenge else None})
        return RedirectResponse(ctx.idp_login_url(sp="webex", relay_state=txn), status_code=302)

    async def acs(request: Request) -> Response:
        if request.method == "POST":
            body = (await request.body()).decode("utf-8", "replace")
            fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        else:
            fields = dict(request.query_params)
        entry = txns.pop(fields.get("RelayState", ""), None)
        if entry is None or entry[0] < time.time():
            return error_page(request, "Sign-in expired",
                              "This sign-in is unknown or has expired. Start again from the application.")
        username = ctx.verify_assertion(fields.get("SAMLResponse"), audience="webex")
        if username is None:
            return error_page(request, "Sign-in failed", "The identity provider's assertion is not valid.",
                              403)
        req = entry[1]
        code = issuer.new_code(username, req["client_id"], req["redirect_uri"], req["scope"],
                               req["challenge"], req["method"])
        now = time.time()
        if len(codes) > 10_000:  # keep replay detection for an hour, then forget old codes
            for key in [k for k, v in codes.items() if v["t"] < now - 3600]:
                codes.pop(key, None)
        codes[code] = {"pkce": bool(req["challenge"]), "grant": None, "t": now}
        params = {"code": code}
        if req["state"] is not None:
            params["state"] = req["state"]
        return RedirectResponse(_add_query(req["redirect_uri"], params), status_code=302,
                                headers={"Cache-Control": "no-store"})

    def oauth_error(request: Request, status: int, error: str, description: str) -> Response:
        tid = _tid(request)
        body = {"error": error, "error_description": description, "message": description,
                "errors": [{"description": description}], "trackingId": tid}
        headers = {"trackingid": tid, "Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="webex"'
        return Response(_dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)

    def token_response(request: Request, grant: Grant) -> Response:
        refresh_in = max(0, int(round((grant.refresh_expires_at or 0) - time.time())))
        body = {"access_token": grant.access_token, "expires_in": grant.expires_in,
                "refresh_token": grant.refresh_token, "refresh_token_expires_in": refresh_in,
                "token_type": "Bearer"}
        return _json(request, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def access_token(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return oauth_error(request, 400, "invalid_request",
                               "The body must be application/x-www-form-urlencoded.")
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        client_id, secret = form.get("client_id") or None, form.get("client_secret") or None
        basic = basic_credentials(request)
        if basic is not None:
            if client_id is not None and client_id != basic[0]:
                return oauth_error(request, 400, "invalid_request", "Two different client_id values.")
            client_id, secret = basic[0], basic[1] or None
        if client_id != ctx.webex_client_id:
            return oauth_error(request, 401, "invalid_client", "Unknown or missing client_id.")
        if secret is not None and not hmac.compare_digest(secret.encode(), ctx.webex_client_secret.encode()):
            return oauth_error(request, 401, "invalid_client", "The client_secret is wrong.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code, redirect_uri = form.get("code"), form.get("redirect_uri")
            if not code or not redirect_uri:
                return oauth_error(request, 400, "invalid_request", "code and redirect_uri are required.")
            info = codes.get(code)
            if info is None:
                return oauth_error(request, 400, "invalid_grant", "The authorization code is invalid")
            if secret is None and not info["pkce"]:
                return oauth_error(request, 401, "invalid_client",
                                   "client_secret is required (the authorization did not use PKCE).")
            entry, reason = issuer.redeem_code(code, client_id=client_id, redirect_uri=redirect_uri,
                                               code_verifier=form.get("code_verifier") or None)
            if entry is None:
                if info["grant"] is not None and "already been used" in reason:
                    info["grant"].revoked = True  # RFC 6749 §4.1.2: replayed code → revoke what it gave
                return oauth_error(request, 400, "invalid_grant", reason)
            grant = issuer.issue(entry.subject, with_refresh=True, client_id=client_id, scope=entry.scope)
            info["grant"] = grant
            if info["pkce"] and grant.refresh_token:
                public_refresh.add(grant.refresh_token)
            return token_response(request, grant)
        if grant_type == "refresh_token":
            refresh_token = form.get("refresh_token")
            if not refresh_token:
                return oauth_error(request, 400, "invalid_request", "refresh_token is required.")
            public = refresh_token in public_refresh
            if secret is None and not public:
                return oauth_error(request, 401, "invalid_client", "client_secret is required.")
            grant = issuer.refresh(refresh_token, client_id=client_id)
            public_refresh.discard(refresh_token)
            if grant is None:
                return oauth_error(request, 400, "invalid_grant",
                                   "The refresh token is invalid, expired, revoked or already used.")
            if public and grant.refresh_token:
                public_refresh.add(grant.refresh_token)
            return token_response(request, grant)
        if not grant_type:
            return oauth_error(request, 400, "invalid_request", "grant_type is required.")
        return oauth_error(request, 400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type}")

    # -- people ---------------------------------------------------------------------------------------
    async def people_me(request: Request) -> Response:
        _, user = authenticate(request, "people")
        if user is None:
            raise ApiError(404, "Person not found.")
        return _json(request, person(user))

    def people_search(email: str | None, prefix: str | None, ids: tuple[str, ...] | None) -> list[User]:
        key = (email, prefix, ids)
        found = search_cache.get(key)
        if found is not None:
            return found
        if ids is not None:
            seen: set[str] = set()
            found = []
            for pid in ids:
                u = org.user_by_webex_id(pid)
                if u is not None and pid not in seen:
                    seen.add(pid)
                    found.append(u)
        else:
            found = org.sorted_users
        if email is not None:
            wanted = email.strip().lower()
            found = [u for u in found if email_of(u).lower() == wanted]
        if prefix is not None:
            if not folded_names:
                folded_names.extend(u.display_name.casefold() for u in org.sorted_users)
            p = prefix.casefold()
            if found is org.sorted_users:
                found = [u for u, name in zip(org.sorted_users, folded_names) if name.startswith(p)]
            else:
                found = [u for u in found if u.display_name.casefold().startswith(p)]
        if len(search_cache) > 512:
            search_cache.clear()
        search_cache[key] = found
        return found

    async def people_list(request: Request) -> Response:
        authenticate(request, "people")
        q = request.query_params
        email, prefix, raw_ids = q.get("email"), q.get("displayName"), q.get("id")
        if email is not None and not email.strip():
            raise ApiError(400, "email must not be empty.")
        if prefix is not None and not prefix.strip():
            raise ApiError(400, "displayName must not be empty.")
        ids = None
        if raw_ids is not None:
            ids = tuple(p.strip() for p in raw_ids.split(",") if p.strip())
            if not ids:
                raise ApiError(400, "id must list at least one person id.")
            if len(ids) > MAX_IDS:
                raise ApiError(400, f"At most {MAX_IDS} ids may be given.")
        found = people_search(email, prefix, ids)
        return paged(request, found, person, "people")

    async def people_get(request: Request) -> Response:
        authenticate(request, "people")
        user = org.user_by_webex_id(request.path_params["person_id"])
        if user is None:
            raise ApiError(404, _HTTP_MESSAGES[404])
        return _json(request, person(user))

    # -- meetings -------------------------------------------------------------------------------------
    async def meetings_list(request: Request) -> Response:
        grant, user = authenticate(request, "meetings")
        q = request.query_params
        host = user
        host_email = q.get("hostEmail")
        if host_email:
            if user is not None and host_email.strip().lower() == email_of(user).lower():
                host = user
            elif grant.subject == cfg.admin_user:
                host = org.user_by_email(host_email.strip()) or next(
                    (u for u in org.users if email_of(u).lower() == host_email.strip().lower()), None)
                if host is None:
                    raise ApiError(404, "No host with that email address.")
            else:
                raise ApiError(403, "Only an administrator may list other hosts' meetings (hostEmail).")
        mtype, state = q.get("meetingType"), q.get("state")
        if mtype is not None and mtype not in MEETING_TYPES:
            raise ApiError(400, f"Invalid meetingType: {mtype!r} (one of {', '.join(MEETING_TYPES)}).")
        if state is not None and state not in MEETING_STATES:
            raise ApiError(400, f"Invalid state: {state!r} (one of {', '.join(MEETING_STATES)}).")
        start, end = parse_time("from", q.get("from")), parse_time("to", q.get("to"))
        if start is not None and end is not None and start >= end:
            raise ApiError(400, "from must be earlier than to.")
        items = org.meetings(host) if host is not None else []
        selected = [m for m in items
                    if (mtype is None or m["meetingType"] == mtype) and (state is None or m["state"] == state)
                    and (start is None or m["start"] >= start) and (end is None or m["start"] < end)]
        return paged(request, selected, lambda m: _dumps(meeting_json(m)), "meetings",
                     scope_key=grant.subject)

    async def meeting_get(request: Request) -> Response:
        _, user = authenticate(request, "meetings")
        m, _ = own_meeting(user, request.path_params["meeting_id"])
        return _json(request, meeting_json(m))

    async def participants_list(request: Request) -> Response:
        grant, user = authenticate(request, "participants")
        meeting_id = request.query_params.get("meetingId")
        if not meeting_id:
            raise ApiError(400, "meetingId is required.")
        m, host = own_meeting(user, meeting_id)
        return paged(request, participants_of(m, host), lambda p: _dumps(p),
                     "participants", scope_key=grant.subject)

    # -- rooms ----------------------------------------------------------------------------------------
    async def rooms_list(request: Request) -> Response:
        grant, user = authenticate(request, "rooms")
        q = request.query_params
        rtype, sort_by = q.get("type"), q.get("sortBy")
        if rtype is not None and rtype not in ("direct", "group"):
            raise ApiError(400, "type must be direct or group.")
        if sort_by is not None and sort_by not in ("id", "lastactivity", "created"):
            raise ApiError(400, "sortBy must be id, lastactivity or created.")
        items = rooms_of(user) if user is not None else []
        if rtype is not None:
            items = [r for r in items if r["type"] == rtype]
        if sort_by == "id":
            items = sorted(items, key=lambda r: r["id"])
        elif sort_by == "created":
            items = sorted(items, key=lambda r: r["created"], reverse=True)
        return paged(request, items, lambda r: _dumps(r), "rooms", scope_key=grant.subject)

    async def room_get(request: Request) -> Response:
        _, user = authenticate(request, "rooms")
        for room in rooms_of(user) if user is not None else []:
            if room["id"] == request.path_params["room_id"]:
                return _json(request, room)
        raise ApiError(404, _HTTP_MESSAGES[404])

    # -- errors ---------------------------------------------------------------------------------------
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(request, exc.status, exc.message, exc.headers)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
        return _error(request, exc.status_code, message, dict(exc.headers or {}))

    async def on_crash(request: Request, exc: Exception) -> Response:
        return _error(request, 500, "Internal server error (lab).")

    return Starlette(
        routes=[
            Route("/v1/authorize", authorize, methods=["GET"]),
            Route("/v1/sso/acs", acs, methods=["GET", "POST"]),
            Route("/v1/access_token", access_token, methods=["POST"]),
            Route("/v1/people/me", people_me, methods=["GET"]),
            Route("/v1/people", people_list, methods=["GET"]),
            Route("/v1/people/{person_id}", people_get, methods=["GET"]),
            Route("/v1/meetings", meetings_list, methods=["GET"]),
            Route("/v1/meetings/{meeting_id}", meeting_get, methods=["GET"]),
            Route("/v1/meetingParticipants", participants_list, methods=["GET"]),
            Route("/v1/rooms", rooms_list, methods=["GET"]),
            Route("/v1/rooms/{room_id}", room_get, methods=["GET"]),
        ],
        middleware=[Middleware(_TrackingIdMiddleware)],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash},
    )
