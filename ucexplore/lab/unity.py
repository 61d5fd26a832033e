"""Unity Connection in the lab: UC SSO (its own ``/ssosp``), CUPI provisioning and CUMI messaging
under ``/vmrest``.

What it serves (cisco-api-notes §1.2–1.5, §3):

* ``GET /ssosp/oauth/authorize`` — the UC SSO implicit grant, the same shape as CUCM's: fixed client_ids,
  ``scope=UnifiedCommunications:readwrite``, ``response_type=token``, a registered ``redirect_uri``; anything
  else is HTTP 400 with the byte-exact quasi-JSON ``INVALID_REQUEST`` body. The IdP hop comes back to the ACS
  ``/ssosp/saml/SSO/alias/cuc-pub.lab.local`` (GET or POST), which redirects to
  ``redirect_uri#access_token=…&token_type=Bearer&expires_in=…[&state=…]``. Tokens come from the ``unity``
  issuer only: a CUCM-issued token is refused (tokens are per issuer). The implementation is shared with
  CUCM (``ssosp.py``).
* ``GET /ssosp/ws/public/singleSignOn`` — ``<Response><SingleSignOn><Status enabled="true"/>…``.
* ``GET /vmrest/version``.
* CUPI (administrator only, HTTP Basic ``config.admin_user``): ``users[/{id}]``,
  ``handlers/callhandlers[/{id}]``, ``distributionlists[/{id}[/distributionlistmembers]]``, ``coses[/{id}]``.
  ``query=(column is|startswith value)`` (also ``isnull``/``isnotnull``), ``sort=(column asc|desc)``,
  ``rowsPerPage``/``pageNumber``.
* CUMI (the signed-in user's own mailbox; an administrator adds ``?userobjectid=``): ``mailbox``,
  ``mailbox/folders[/{inbox|sent|deleted}[/messages]]``, ``GET/PUT/DELETE messages/{MsgId}``,
  ``messages/{MsgId}/attachments/0`` (a WAV), ``POST mailbox/folders/deleted/messages?method=empty``.

Formats: XML by default; JSON with ``Accept: application/json`` in CUPI's flat style —
``{"@total":"2","User":[…]}``, a lone object (not a list) for one result, ``{"@total":"0"}`` for none, every
scalar a string. Errors are ``{"errors":{"code":…,"message":…}}`` or
``<ErrorDetails><errors><code/><message/></errors></ErrorDetails>``.

Lab choices where the notes say [I]:

* Default ``rowsPerPage`` is 2001 (CUPI and CUMI) and there is no upper cap: a client asking 5000 gets 5000.
  Page numbers past the end give the total and no rows. Default order: CUPI users by alias, call handlers
  system handlers first then users by alias, distribution lists by alias; when ``sort`` and ``query`` are both
  given they must name the same column (CUPI's documented constraint), else 400. Any field of the object is
  queryable (real servers restrict to indexed columns); values compare case-insensitively.
* Query parameter names are case-insensitive everywhere (``rowsPerPage`` = ``rowsperpage``).
* Error codes are named after the status: ``INVALID_PARAMETER`` (400), ``UNAUTHORIZED`` (401),
  ``FORBIDDEN`` (403), ``NOT_FOUND`` (404), ``METHOD_NOT_ALLOWED`` (405), ``UNSUPPORTED_MEDIA_TYPE`` (415),
  ``TOO_MANY_REQUESTS`` (429), ``SERVICE_UNAVAILABLE`` (503). The error body follows the request's ``Accept``;
  injected faults (429/503) are XML.
* ``/vmrest/version`` needs any valid credentials. No ``JSESSIONID`` session cookies: every call
  authenticates.
* CUMI: PUT and DELETE answer 204; DELETE moves to ``deleted`` (a message already there, or
  ``harddelete=true``, is removed). The default message order is unread first, then newest first; ``sortkey``
  defaults to descending. An administrator without ``userobjectid`` gets 400. Sending messages (multipart
  POST) and CUTI are not served.
* The quasi-JSON SSO error is sent as ``application/json;charset=UTF-8``.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .asgi import XML_DECL, StripTrailingSlash, retry_after_value, xml_response, xml_safe
from .context import LabContext, basic_credentials, bearer_token, xml_escape
from .org import User
from .ssosp import INVALID_REQUEST_BODY, sso_routes

__all__ = ["create_app", "API_PREFIXES", "render_fault", "INVALID_REQUEST_BODY", "DEFAULT_ROWS_PER_PAGE"]

API_PREFIXES = ("/vmrest/",)

DEFAULT_ROWS_PER_PAGE = 2001
VERSION = "14.0.1.14900-12"
SMTP_DOMAIN = "cuc-pub.lab.local"

_CODES = {400: "INVALID_PARAMETER", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
          405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "TOO_MANY_REQUESTS",
          500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"}
_NS = uuid.UUID("6f1c3d0e-5a1b-4c55-9a57-3c1f3b0b6a11")

#: A record: ordered (name, value) pairs; a value is a string or a nested record. A name repeated in one
#: record becomes a list in JSON, a name that appears once stays a lone object (CUPI's JSON quirk).
Rec = list[tuple[str, Any]]


# -- rendering -----------------------------------------------------------------------------------------
def _xml_rec(tag: str, rec: Rec, out: list[str]) -> None:
    out.append(f"<{tag}>")
    for key, value in rec:
        if isinstance(value, list):
            _xml_rec(key, value, out)
        else:
            out.append(f"<{key}>{xml_escape(value)}</{key}>")
    out.append(f"</{tag}>")


def _json_obj(rec: Rec) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    multi: set[str] = set()
    for key, value in rec:
        val = _json_obj(value) if isinstance(value, list) else str(value)
        if key in obj:
            if key not in multi:
                obj[key] = [obj[key]]
                multi.add(key)
            obj[key].append(val)
        else:
            obj[key] = val
    return obj


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    j = accept.find("json")
    if j < 0:
        return False
    x = accept.find("xml")
    return x < 0 or j < x


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error_bodies(status: int, message: str) -> tuple[str, str]:
    code = _CODES.get(status, "ERROR")
    message = xml_safe(message)
    js = json.dumps({"errors": {"code": code, "message": message}}, ensure_ascii=False, separators=(",", ":"))
    xml = (f"{XML_DECL}<ErrorDetails><errors><code>{code}</code><message>{xml_escape(message)}</message>"
           f"</errors></ErrorDetails>")
    return js, xml


def _error(request: Request | None, status: int, message: str,
           headers: dict[str, str] | None = None) -> Response:
    js, xml = _error_bodies(status, message)
    if request is not None and _wants_json(request):
        return Response(js.encode(), status_code=status, media_type="application/json", headers=headers)
    return Response(xml.encode(), status_code=status, media_type="application/xml", headers=headers)


def render_fault(status: int, retry_after: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A CUPI-shaped 429/503 (XML, CUPI's default format) with Retry-After."""
    message = ("Too many requests; retry later" if status == 429
               else "Cisco Unity Connection is temporarily unavailable; retry later")
    _, xml = _error_bodies(status, message)
    headers = [(b"content-type", b"application/xml"), (b"retry-after", retry_after_value(retry_after))]
    return status, headers, xml.encode()


def _collection(request: Request, plural: str, singular: str, total: int, recs: list[Rec]) -> Response:
    if _wants_json(request):
        obj: dict[str, Any] = {"@total": str(total)}
        if len(recs) == 1:
            obj[singular] = _json_obj(recs[0])
        elif recs:
            obj[singular] = [_json_obj(r) for r in recs]
        return _json_response(obj)
    if not recs:
        return xml_response(f'<{plural} total="{total}"/>')
    out = [f'<{plural} total="{total}">']
    for rec in recs:
        _xml_rec(singular, rec, out)
    out.append(f"</{plural}>")
    return xml_response("".join(out))


def _single(request: Request, tag: str, rec: Rec, status: int = 200) -> Response:
    if _wants_json(request):
        return _json_response(_json_obj(rec), status)
    out: list[str] = []
    _xml_rec(tag, rec, out)
    return xml_response("".join(out), status)


def _b(value: bool) -> str:
    return "true" if value else "false"


def _iso(dt: Any) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: Any) -> str:
    return str(uuid.uuid5(_NS, ":".join(str(p) for p in parts)))


def _params(request: Request) -> dict[str, str]:
    """Query parameters with lower-case names (first occurrence wins)."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key.lower(), value)
    return out


# -- CUPI resources --------------------------------------------------------------------------------------
class _Resource:
    """One CUPI collection: its XML names and the fields of an object (name, getter → str or None)."""

    def __init__(self, plural: str, singular: str,
                 fields: list[tuple[str, Callable[[Any], str | None]]]) -> None:
        self.plural = plural
        self.singular = singular
        self.fields = fields
        self.columns = {name.lower(): getter for name, getter in fields}

    def record(self, item: Any) -> Rec:
        return [(name, v) for name, getter in self.fields if (v := getter(item)) is not None]


class _Concat(Sequence):
    """Two sequences seen as one (system call handlers followed by every user's handler)."""

    def __init__(self, first: Sequence, second: Sequence) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        n = len(self.first)
        return self.first[i] if i < n else self.second[i - n]


_QUERY = re.compile(r"^\(\s*([A-Za-z_][\w]*)\s+(is|startswith|isnull|isnotnull)\b\s*([^()]*?)\s*\)$",
                    re.IGNORECASE | re.DOTALL)
_SORT = re.compile(r"^\(\s*([A-Za-z_][\w]*)\s+(asc|desc)\s*\)$", re.IGNORECASE)


def create_app(ctx: LabContext) -> Starlette:
    """The Unity Connection app."""
    org = ctx.org
    issuer = ctx.issuers["unity"]
    usn: dict[int, int] = {}  # user index → mailbox update sequence number
    cache: dict[Any, Any] = {}  # sorted views and other derived, immutable lists

    # -- identities ---------------------------------------------------------------------------------
    cos_id = _uid("cos", org.seed, "voicemail")
    system_cos_id = _uid("cos", org.seed, "system")
    coses = [
        {"ObjectId": cos_id, "DisplayName": "Voice Mail User COS", "MaxMsgLength": "300",
         "Undeletable": "true"},
        {"ObjectId": system_cos_id, "DisplayName": "System", "MaxMsgLength": "1200", "Undeletable": "true"},
    ]

    def creation_time(index: int) -> str:
        return _iso(org.now - timedelta(days=30 + (index * 7919) % 1500, seconds=(index * 104729) % 86400))

    def by_alias() -> list[User]:
        if "users" not in cache:
            cache["users"] = sorted(org.users, key=lambda u: u.username)
        return cache["users"]

    user_resource = _Resource("Users", "User", [
        ("URI", lambda u: f"/vmrest/users/{u.cuc_object_id}"),
        ("ObjectId", lambda u: u.cuc_object_id),
        ("Alias", lambda u: u.username),
        ("FirstName", lambda u: u.first_name),
        ("LastName", lambda u: u.last_name),
        ("DisplayName", lambda u: u.display_name),
        ("EmailAddress", lambda u: u.email),
        ("SmtpAddress", lambda u: f"{u.username}@{SMTP_DOMAIN}"),
        ("DtmfAccessId", lambda u: u.extension),
        ("Department", lambda u: u.department),
        ("Title", lambda u: u.title),
        ("Language", lambda u: "1033"),
        ("TimeZone", lambda u: "215"),
        ("ListInDirectory", lambda u: "true"),
        ("IsVmEnrolled", lambda u: _b(u.index % 4 != 3)),
        ("Inactive", lambda u: "false"),
        ("IsTemplate", lambda u: "false"),
        ("LdapCcmUserId", lambda u: u.username),
        ("CreationTime", lambda u: creation_time(u.index)),
        ("CosURI", lambda u: f"/vmrest/coses/{cos_id}"),
        ("CallHandlerObjectId", lambda u: u.callhandler_id),
        ("CallhandlerURI", lambda u: f"/vmrest/handlers/callhandlers/{u.callhandler_id}"),
        ("UserMailboxURI", lambda u: f"/vmrest/users/{u.cuc_object_id}/mailboxattributes"),
        ("UserVoicePinURI", lambda u: f"/vmrest/users/{u.cuc_object_id}/credential/pin"),
        ("UserWebPasswordURI", lambda u: f"/vmrest/users/{u.cuc_object_id}/credential/password"),
        ("AlternateExtensionsURI", lambda u: f"/vmrest/users/{u.cuc_object_id}/alternateextensions"),
    ])

    system_handlers = [
        {"ObjectId": _uid("ch", org.seed, name), "DisplayName": name, "DtmfAccessId": dtmf, "index": k}
        for k, (name, dtmf) in enumerate([("Opening Greeting", None), ("Operator", "0"), ("Goodbye", None),
                                          ("Sales & Support", "7100")])
    ]

    def h(user_get: Callable[[User], str | None],
          sys_get: Callable[[dict], str | None]) -> Callable[[Any], str | None]:
        return lambda r: user_get(r) if isinstance(r, User) else sys_get(r)

    handler_resource = _Resource("Callhandlers", "Callhandler", [
        ("URI", h(lambda u: f"/vmrest/handlers/callhandlers/{u.callhandler_id}",
                  lambda s: f"/vmrest/handlers/callhandlers/{s['ObjectId']}")),
        ("ObjectId", h(lambda u: u.callhandler_id, lambda s: s["ObjectId"])),
        ("CreationTime", h(lambda u: creation_time(u.index),
                           lambda s: creation_time(10_000_000 + s["index"]))),
        ("DisplayName", h(lambda u: u.display_name, lambda s: s["DisplayName"])),
        ("DtmfAccessId", h(lambda u: u.extension, lambda s: s["DtmfAccessId"])),
        ("IsPrimary", h(lambda u: "true", lambda s: "false")),
        ("Language", lambda r: "1033"),
        ("TimeZone", lambda r: "215"),
        ("Undeletable", h(lambda u: "false", lambda s: "true")),
        ("RecipientSubscriberObjectId", h(lambda u: u.cuc_object_id, lambda s: None)),
        ("GreetingsURI", h(lambda u: f"/vmrest/handlers/callhandlers/{u.callhandler_id}/greetings",
                           lambda s: f"/vmrest/handlers/callhandlers/{s['ObjectId']}/greetings")),
    ])

    def handlers() -> Sequence:
        return _Concat(system_handlers, by_alias())

    def dist_lists() -> list[dict[str, Any]]:
        if "dls" not in cache:
            groups: dict[str, list[User]] = {}
            for u in by_alias():
                groups.setdefault(u.department, []).append(u)
            dls = [
                {"Alias": "allvoicemailusers", "DisplayName": "All Voice Mail Users", "members": by_alias(),
                 "Undeletable": "true"},
                {"Alias": "undeliverablemessages", "DisplayName": "Undeliverable Messages", "members": [],
                 "Undeletable": "true"},
            ]
            for k, dept in enumerate(sorted(groups)):
                slug = re.sub(r"[^a-z0-9]+", "-", dept.lower()).strip("-")
                dls.append({"Alias": f"dept-{slug}", "DisplayName": dept, "members": groups[dept],
                            "Undeletable": "false", "DtmfAccessId": str(7200 + k)})
            for k, dl in enumerate(dls):
                dl["ObjectId"] = _uid("dl", org.seed, dl["Alias"])
                dl["index"] = k
            dls.sort(key=lambda d: d["Alias"])
            cache["dls"] = dls
            cache["dl_by_id"] = {d["ObjectId"]: d for d in dls}
        return cache["dls"]

    dl_resource = _Resource("DistributionLists", "DistributionList", [
        ("URI", lambda d: f"/vmrest/distributionlists/{d['ObjectId']}"),
        ("ObjectId", lambda d: d["ObjectId"]),
        ("Alias", lambda d: d["Alias"]),
        ("DisplayName", lambda d: d["DisplayName"]),
        ("DtmfAccessId", lambda d: d.get("DtmfAccessId")),
        ("CreationTime", lambda d: creation_time(20_000_000 + d["index"])),
        ("IsPublic", lambda d: "true"),
        ("AllowContacts", lambda d: "false"),
        ("AllowForeignMessage", lambda d: "false"),
        ("Undeletable", lambda d: d["Undeletable"]),
        ("DistributionListMembersURI",
         lambda d: f"/vmrest/distributionlists/{d['ObjectId']}/distributionlistmembers"),
    ])

    def member_resource(dl: dict[str, Any]) -> _Resource:
        dl_id = dl["ObjectId"]
        return _Resource("DistributionListMembers", "DistributionListMember", [
            ("URI", lambda u: (f"/vmrest/distributionlists/{dl_id}/distributionlistmembers/"
                               f"{_uid(dl_id, u.cuc_object_id)}")),
            ("ObjectId", lambda u: _uid(dl_id, u.cuc_object_id)),
            ("DistributionListObjectId", lambda u: dl_id),
            ("MemberUserObjectId", lambda u: u.cuc_object_id),
            ("MemberUserURI", lambda u: f"/vmrest/users/{u.cuc_object_id}"),
            ("Alias", lambda u: u.username),
            ("DisplayName", lambda u: u.display_name),
            ("DtmfAccessId", lambda u: u.extension),
        ])

    cos_resource = _Resource("Coses", "Cos", [
        ("URI", lambda c: f"/vmrest/coses/{c['ObjectId']}"),
        ("ObjectId", lambda c: c["ObjectId"]),
        ("DisplayName", lambda c: c["DisplayName"]),
        ("MaxMsgLength", lambda c: c["MaxMsgLength"]),
        ("Undeletable", lambda c: c["Undeletable"]),
    ])

    # -- authentication -------------------------------------------------------------------------------
    def authenticate(request: Request) -> tuple[str, User | None] | Response:
        """("admin", None) or ("user", user), else the 401 response."""
        token = bearer_token(request)
        if token is not None:
            grant = issuer.validate(token)
            user = org.user_by_name(grant.subject) if grant else None
            if user is None:
                return _error(request, 401, "The access token is invalid or has expired")
            return "user", user
        creds = basic_credentials(request)
        if creds is None:
            return _error(request, 401, "Authentication required",
                          {"WWW-Authenticate": 'Basic realm="Cisco Unity Connection"'})
        name, password = creds
        if name == ctx.config.admin_user and password == ctx.config.admin_password:
            return "admin", None
        user = org.check_password(name, password)
        if user is None:
            return _error(request, 401, "The user name or password is incorrect",
                          {"WWW-Authenticate": 'Basic realm="Cisco Unity Connection"'})
        return "user", user

    def require_admin(request: Request) -> Response | None:
        who = authenticate(request)
        if isinstance(who, Response):
            return who
        if who[0] != "admin":
            return _error(request, 403, "This request requires an administrator role (CUPI)")
        return None

    def mailbox_owner(request: Request) -> User | Response:
        """The user whose mailbox a CUMI request addresses."""
        who = authenticate(request)
        if isinstance(who, Response):
            return who
        role, user = who
        target_id = _params(request).get("userobjectid")
        if role == "admin":
            if not target_id:
                return _error(request, 400,
                              "userobjectid is required when an administrator accesses a mailbox")
            target = org.user_by_cuc_id(target_id) or org.user_by_cuc_id(target_id.lower())
            if target is None:
                return _error(request, 404, f"No user found with ObjectId {target_id}")
            return target
        assert user is not None
        if target_id and target_id.lower() != user.cuc_object_id:
            return _error(request, 403, "A user may access only his or her own mailbox")
        return user

    # -- CUPI list mechanics ----------------------------------------------------------------------------
    def paging(request: Request, params: dict[str, str]) -> tuple[int, int] | Response:
        values = []
        for name, default in (("rowsperpage", DEFAULT_ROWS_PER_PAGE), ("pagenumber", 1)):
            raw = params.get(name)
            if raw is None or raw == "":
                values.append(default)
                continue
            try:
                n = int(raw)
            except ValueError:
                return _error(request, 400, f"Invalid value for {name}: {raw!r} (a whole number is expected)")
            if n < 0:
                return _error(request, 400, f"Invalid value for {name}: {raw!r} (must not be negative)")
            values.append(n)
        return values[0], values[1]

    def list_cupi(request: Request, res: _Resource, items: Sequence, cache_key: Any) -> Response:
        params = _params(request)
        query, sort = params.get("query"), params.get("sort")
        q_col = None
        view: Sequence = items
        if query:
            m = _QUERY.match(query.strip())
            if not m:
                return _error(request, 400, f"Invalid query {query!r}: expected "
                                            "(column is|startswith value), one criterion only")
            col, op, value = m.group(1).lower(), m.group(2).lower(), m.group(3)
            getter = res.columns.get(col)
            if getter is None:
                return _error(request, 400, f"Invalid query {query!r}: unknown column {m.group(1)!r}")
            if op in ("is", "startswith") and not value:
                return _error(request, 400, f"Invalid query {query!r}: the operator {op} needs a value")
            if op in ("isnull", "isnotnull") and value:
                return _error(request, 400, f"Invalid query {query!r}: the operator {op} takes no value")
            q_col = col
            needle = value.casefold()
            if op == "is":
                view = [r for r in items if (v := getter(r)) is not None and v.casefold() == needle]
            elif op == "startswith":
                view = [r for r in items if (v := getter(r)) is not None and v.casefold().startswith(needle)]
            elif op == "isnull":
                view = [r for r in items if not getter(r)]
            else:
                view = [r for r in items if getter(r)]
        if sort:
            m = _SORT.match(sort.strip())
            if not m:
                return _error(request, 400, f"Invalid sort {sort!r}: expected (column asc|desc)")
            col, desc = m.group(1).lower(), m.group(2).lower() == "desc"
            getter = res.columns.get(col)
            if getter is None:
                return _error(request, 400, f"Invalid sort {sort!r}: unknown column {m.group(1)!r}")
            if q_col is not None and q_col != col:
                return _error(request, 400, "The sort column must be the query column")

            def key(r: Any) -> tuple[int, str]:
                v = getter(r)
                return (0, "") if v is None else (1, v.casefold())

            if q_col is None:
                skey = (cache_key, col, desc)
                if skey not in cache:
                    cache[skey] = sorted(items, key=key, reverse=desc)
                view = cache[skey]
            else:
                view = sorted(view, key=key, reverse=desc)
        pg = paging(request, params)
        if isinstance(pg, Response):
            return pg
        rows, page = pg
        total = len(view)
        if rows == 0 or page == 0:
            recs: list[Rec] = []
        else:
            start = (page - 1) * rows
            recs = [res.record(r) for r in view[start:start + rows]] if start < total else []
        return _collection(request, res.plural, res.singular, total, recs)

    # -- /vmrest ----------------------------------------------------------------------------------------
    async def version(request: Request) -> Response:
        who = authenticate(request)
        if isinstance(who, Response):
            return who
        return _single(request, "VersionInformation", [("name", "vmrest"), ("version", VERSION)])

    async def users(request: Request) -> Response:
        return require_admin(request) or list_cupi(request, user_resource, by_alias(), "users")

    async def user_one(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        oid = request.path_params["objectid"]
        user = org.user_by_cuc_id(oid) or org.user_by_cuc_id(oid.lower())
        if user is None:
            return _error(request, 404, f"No User found with ObjectId {oid}")
        return _single(request, "User", user_resource.record(user))

    async def callhandlers(request: Request) -> Response:
        return require_admin(request) or list_cupi(request, handler_resource, handlers(), "handlers")

    async def callhandler_one(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        oid = request.path_params["objectid"].lower()
        if "handler_by_id" not in cache:
            cache["handler_by_id"] = {**{s["ObjectId"]: s for s in system_handlers},
                                      **{u.callhandler_id: u for u in org.users}}
        item = cache["handler_by_id"].get(oid)
        if item is None:
            return _error(request, 404, f"No Callhandler found with ObjectId {oid}")
        return _single(request, "Callhandler", handler_resource.record(item))

    def find_dl(request: Request) -> dict[str, Any] | Response:
        dist_lists()
        oid = request.path_params["objectid"].lower()
        dl = cache["dl_by_id"].get(oid)
        if dl is None:
            return _error(request, 404, f"No DistributionList found with ObjectId {oid}")
        return dl

    async def distribution_lists(request: Request) -> Response:
        return require_admin(request) or list_cupi(request, dl_resource, dist_lists(), "dls")

    async def distribution_list_one(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        dl = find_dl(request)
        if isinstance(dl, Response):
            return dl
        return _single(request, "DistributionList", dl_resource.record(dl))

    async def distribution_list_members(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        dl = find_dl(request)
        if isinstance(dl, Response):
            return dl
        return list_cupi(request, member_resource(dl), dl["members"], ("members", dl["ObjectId"]))

    async def cos_list(request: Request) -> Response:
        return require_admin(request) or list_cupi(request, cos_resource, coses, "coses")

    async def cos_one(request: Request) -> Response:
        if (denied := require_admin(request)) is not None:
            return denied
        oid = request.path_params["objectid"].lower()
        cos = next((c for c in coses if c["ObjectId"] == oid), None)
        if cos is None:
            return _error(request, 404, f"No Cos found with ObjectId {oid}")
        return _single(request, "Cos", cos_resource.record(cos))

    # -- CUMI -------------------------------------------------------------------------------------------
    folder_names = ("inbox", "sent", "deleted")

    def mailbox_usn(user: User) -> int:
        if user.index not in usn:
            usn[user.index] = 100 + len(org.mailbox(user)["inbox"])
        return usn[user.index]

    def bump(user: User) -> None:
        usn[user.index] = mailbox_usn(user) + 1

    def message_record(m: dict[str, Any], full: bool = False) -> Rec:
        rec: Rec = [
            ("Subject", m["Subject"]), ("Read", _b(m["Read"])), ("Dispatch", _b(m["Dispatch"])),
            ("Secure", _b(m["Secure"])), ("Priority", m["Priority"]), ("Sensitivity", m["Sensitivity"]),
            ("URI", f"/vmrest/messages/{m['MsgId']}"), ("MsgId", m["MsgId"]),
        ]
        if m.get("From"):
            rec.append(("From", [(k, str(v)) for k, v in m["From"].items() if v]))
        if m.get("CallerId"):
            rec.append(("CallerId", [(k, str(v)) for k, v in m["CallerId"].items() if v]))
        rec += [("ArrivalTime", str(m["ArrivalTime"])), ("Size", str(m["Size"])),
                ("Duration", str(m["Duration"])), ("IMAPUid", str(m.get("IMAPUid", 0))),
                ("FromSub", _b(m["FromSub"])), ("MsgType", m["MsgType"])]
        if full:
            rec.append(("Attachments", [("Attachment", [
                ("URI", f"/vmrest/messages/{m['MsgId']}/attachments/0"), ("contentType", "audio/wav"),
                ("size", str(wav_size(m))), ("duration", str(m["Duration"])),
            ])]))
        return rec

    def full_message_record(m: dict[str, Any], owner: User) -> Rec:
        rec = message_record(m, full=True)
        address: Rec = [("DisplayName", owner.display_name),
                        ("SmtpAddress", f"{owner.username}@{SMTP_DOMAIN}"), ("DtmfAccessId", owner.extension),
                        ("UserGuid", owner.cuc_object_id)]
        rec.append(("Recipients", [("Recipient", [("Type", "TO"), ("Address", address)])]))
        return rec

    def wav_size(m: dict[str, Any]) -> int:
        return 44 + int(m["Duration"]) * 8  # 8 kHz, 8-bit mono

    async def mailbox(request: Request) -> Response:
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        box = org.mailbox(owner)
        size = sum(int(m["Size"]) for msgs in box.values() for m in msgs)
        rec: Rec = [
            ("DisplayName", owner.display_name), ("CurrentSizeInBytes", str(size)), ("IsPrimary", "true"),
            ("IsStoreFull", "false"), ("IsStoreOverFullThreshold", "false"), ("IsMailboxMounted", "true"),
            ("IsWarningQuotaExceeded", "false"), ("IsReceiveQuotaExceeded", "false"),
            ("IsSendQuotaExceeded", "false"), ("ReceiveQuota", "209715200"), ("WarningQuota", "188743680"),
            ("SendQuota", "199229440"), ("FoldersURI", "/vmrest/mailbox/folders"),
        ]
        return _single(request, "Mailbox", rec)

    def folder_record(owner: User, name: str) -> Rec:
        return [("DisplayName", name), ("MessageCount", str(len(org.mailbox(owner)[name]))),
                ("URI", f"/vmrest/mailbox/folders/{name}"),
                ("MessagesURI", f"/vmrest/mailbox/folders/{name}/messages"),
                ("USN", str(mailbox_usn(owner))), ("UIDValidity", str(1_000_000 + owner.index))]

    async def folders(request: Request) -> Response:
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        return _collection(request, "Folders", "Folder", 3, [folder_record(owner, f) for f in folder_names])

    def folder_name(request: Request) -> str | Response:
        name = request.path_params["folder"].lower()
        if name not in folder_names:
            return _error(request, 404, f"No folder named {request.path_params['folder']!r} "
                                        "(inbox, sent or deleted)")
        return name

    async def folder_one(request: Request) -> Response:
        name = folder_name(request)
        if isinstance(name, Response):
            return name
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        return _single(request, "Folder", folder_record(owner, name))

    priority_rank = {"urgent": 2, "normal": 1, "low": 0}

    async def folder_messages(request: Request) -> Response:
        name = folder_name(request)
        if isinstance(name, Response):
            return name
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        if request.method == "POST":
            if name != "deleted" or _params(request).get("method", "").lower() != "empty":
                return _error(request, 405, "Only POST /vmrest/mailbox/folders/deleted/messages?method=empty "
                                            "is supported")
            if org.mailbox(owner)["deleted"]:
                org.mailbox(owner)["deleted"].clear()
                bump(owner)
            return Response(status_code=204)
        params = _params(request)
        msgs = list(org.mailbox(owner)[name])
        for flag in ("read", "dispatch"):
            if flag in params:
                val = params[flag].lower()
                if val not in ("true", "false"):
                    return _error(request, 400, f"Invalid value for {flag}: {params[flag]!r} (true or false)")
                msgs = [m for m in msgs if bool(m[flag.capitalize()]) == (val == "true")]
        if "priority" in params:
            val = params["priority"].lower()
            if val not in priority_rank:
                return _error(request, 400, f"Invalid value for priority: {params['priority']!r} "
                                            "(urgent, normal or low)")
            msgs = [m for m in msgs if m["Priority"].lower() == val]
        if "type" in params:
            val = params["type"].lower()
            if val not in ("voice", "fax", "email", "receipt"):
                return _error(request, 400, f"Invalid value for type: {params['type']!r} "
                                            "(voice, fax, email or receipt)")
            msgs = [m for m in msgs if m["MsgType"].lower() == val]
        sortkey, sortorder = params.get("sortkey", "").lower(), params.get("sortorder", "").lower()
        if sortorder and sortorder not in ("ascending", "descending"):
            return _error(request, 400, f"Invalid value for sortorder: {params['sortorder']!r} "
                                        "(ascending or descending)")
        descending = sortorder != "ascending"
        if sortkey == "arrivaltime":
            msgs.sort(key=lambda m: m["ArrivalTime"], reverse=descending)
        elif sortkey == "priority":
            msgs.sort(key=lambda m: (priority_rank[m["Priority"].lower()], m["ArrivalTime"]),
                      reverse=descending)
        elif sortkey:
            return _error(request, 400,
                          f"Invalid value for sortkey: {params['sortkey']!r} (arrivaltime or priority)")
        else:
            msgs.sort(key=lambda m: (m["Read"], -m["ArrivalTime"]))
        pg = paging(request, params)
        if isinstance(pg, Response):
            return pg
        rows, page = pg
        total = len(msgs)
        if rows == 0 or page == 0:
            recs: list[Rec] = []
        else:
            start = (page - 1) * rows
            recs = [message_record(m) for m in msgs[start:start + rows]]
        return _collection(request, "Messages", "Message", total, recs)

    def find_message(owner: User, msg_id: str) -> tuple[str, dict[str, Any]] | None:
        for name, msgs in org.mailbox(owner).items():
            for m in msgs:
                if m["MsgId"] == msg_id:
                    return name, m
        return None

    async def message(request: Request) -> Response:
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        msg_id = request.path_params["msgid"]
        found = find_message(owner, msg_id)
        if found is None:
            return _error(request, 404, f"No message with MsgId {msg_id} in this mailbox")
        folder, m = found
        if request.method == "GET":
            return _single(request, "Message", full_message_record(m, owner))
        if request.method == "DELETE":
            params = _params(request)
            hard = params.get("harddelete", "false").lower()
            if hard not in ("true", "false"):
                return _error(request, 400, f"Invalid value for harddelete: {params['harddelete']!r}")
            box = org.mailbox(owner)
            box[folder].remove(m)
            if hard == "false" and folder != "deleted":
                box["deleted"].insert(0, m)
            bump(owner)
            return Response(status_code=204)
        # PUT: only Subject and Read can change
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        changes: dict[str, Any] = {}
        if ctype == "application/json":
            try:
                data = json.loads(body or b"{}")
            except (ValueError, UnicodeDecodeError):
                return _error(request, 400, "The request body is not valid JSON")
            if not isinstance(data, dict):
                return _error(request, 400, "The request body must be a JSON object (a Message)")
            changes = {k.lower(): v for k, v in data.items() if k.lower() in ("read", "subject")}
        elif ctype in ("application/xml", "text/xml"):
            if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
                return _error(request, 400, "DTDs are not allowed in the request body")
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                return _error(request, 400, "The request body is not well-formed XML")
            if root.tag != "Message":
                return _error(request, 400, f"Expected a <Message> element, not <{root.tag}>")
            changes = {c.tag.lower(): (c.text or "") for c in root if c.tag.lower() in ("read", "subject")}
        else:
            return _error(request, 415, "Content-Type must be application/json or application/xml")
        if "read" in changes:
            value = changes["read"]
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                return _error(request, 400, f"Invalid value for Read: {changes['read']!r} (true or false)")
            changes["read"] = value
        if "subject" in changes and not isinstance(changes["subject"], str):
            return _error(request, 400, "Subject must be a string")
        if "read" in changes:
            m["Read"] = changes["read"]
        if "subject" in changes:
            m["Subject"] = xml_safe(changes["subject"])[:255]
        if changes:
            bump(owner)
        return Response(status_code=204)

    async def attachment(request: Request) -> Response:
        owner = mailbox_owner(request)
        if isinstance(owner, Response):
            return owner
        found = find_message(owner, request.path_params["msgid"])
        if found is None or request.path_params["n"] != "0":
            return _error(request, 404, "No such attachment")
        m = found[1]
        data_len = int(m["Duration"]) * 8
        header = (b"RIFF" + (36 + data_len).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                  + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
                  + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
                  + b"data" + data_len.to_bytes(4, "little"))
        return Response(header + b"\x80" * data_len, media_type="audio/wav")

    # -- errors -----------------------------------------------------------------------------------------
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(request, 404, f"No resource at {request.url.path}")
        if exc.status_code == 405:
            return _error(request, 405, f"Method {request.method} is not allowed on {request.url.path}",
                          dict(exc.headers or {}))
        return _error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def server_error(request: Request, exc: Exception) -> Response:
        return _error(request, 500, "Internal error")

    routes = [
        *sso_routes(ctx, "unity"),
        Route("/vmrest/version", version, methods=["GET"]),
        Route("/vmrest/users", users, methods=["GET"]),
        Route("/vmrest/users/{objectid}", user_one, methods=["GET"]),
        Route("/vmrest/handlers/callhandlers", callhandlers, methods=["GET"]),
        Route("/vmrest/handlers/callhandlers/{objectid}", callhandler_one, methods=["GET"]),
        Route("/vmrest/distributionlists", distribution_lists, methods=["GET"]),
        Route("/vmrest/distributionlists/{objectid}", distribution_list_one, methods=["GET"]),
        Route("/vmrest/distributionlists/{objectid}/distributionlistmembers", distribution_list_members,
              methods=["GET"]),
        Route("/vmrest/coses", cos_list, methods=["GET"]),
        Route("/vmrest/coses/{objectid}", cos_one, methods=["GET"]),
        Route("/vmrest/mailbox", mailbox, methods=["GET"]),
        Route("/vmrest/mailbox/folders", folders, methods=["GET"]),
        Route("/vmrest/mailbox/folders/{folder}", folder_one, methods=["GET"]),
        Route("/vmrest/mailbox/folders/{folder}/messages", folder_messages, methods=["GET", "POST"]),
        Route("/vmrest/messages/{msgid}", message, methods=["GET", "PUT", "DELETE"]),
        Route("/vmrest/messages/{msgid}/attachments/{n}", attachment, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(StripTrailingSlash)],
                     exception_handlers={HTTPException: http_error, Exception: server_error})
