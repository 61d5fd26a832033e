"""The lab's Cisco Unified CM: UC SSO (implicit grant), User Data Service (UDS) and WebDialer SOAP.

Routes (protocol facts: ``cisco-api-notes.md`` §1, §2, §7):

- ``GET /ssosp/oauth/authorize`` — the implicit grant with the fixed client_ids and the whitelisted
  redirect URIs; anything malformed gets the byte-exact quasi-JSON ``INVALID_REQUEST`` body (HTTP 400).
  A valid request hops through the lab IdP and comes back to the ACS
  ``/ssosp/saml/SSO/alias/cucm-pub.lab.local``, which redirects to
  ``redirect_uri#access_token=…&token_type=Bearer&expires_in=…[&state=…]`` (shared with Unity: ``ssosp.py``).
- ``GET /ssosp/ws/public/singleSignOn`` (anonymous), ``GET /ssosp/token/revoke?user_id=`` (admin Basic).
- ``/cucm-uds/…`` — XML only: ``version``, ``servers``, ``clusterUser``, ``users`` (anonymous unless
  contact-search authentication is on), and the authenticated ``user/{id}`` subtree (``devices``,
  ``device/{pkid}``, ``extensions`` (alias ``userExtensions``), ``speedDials``, ``subscribedServices``,
  ``remoteDestinations``, ``credentials``).
- ``POST /webdialer/services/WebdialerSoapService70`` (and ``…/WebdialerSoapservice``) — rpc/encoded SOAP
  (``urn:WD70``): ``makeCallSoap``, ``endCallSoap``, ``isClusterUserSoap``, ``getProfileSoap``,
  ``getProfileDetailSoap``, ``getPrimaryLine``.

A ``users`` page is cheap: every user's ``<user>`` fragment is rendered once per base URL, and search results
are cached per normalised filter tuple (LRU), so paging through 20,000 users is a slice and a join.

Example::

    >>> import ucexplore as ux
    >>> with ux.lab.start(users=20, products=("cucm",)) as lab:        # doctest: +SKIP
    ...     httpx.get(lab.urls["cucm"] + "/cucm-uds/users?last=ka").text
"""

from __future__ import annotations

import hmac
import random
import re
import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .asgi import retry_after_value
from .asgi import xml_response as _xml
from .context import LabContext, basic_credentials, bearer_token, request_base_url, xml_escape
from .org import Organisation, User
from .ssosp import INVALID_REQUEST_BODY, invalid_request, sso_routes

__all__ = ["create_app", "API_PREFIXES", "render_fault", "INVALID_REQUEST_BODY", "UserDirectory"]

#: Paths that fault injection applies to (never the sign-in pages under /ssosp).
API_PREFIXES = ("/cucm-uds/", "/webdialer/")

CLUSTER_FQDN = "cucm-pub.lab.local"
CLUSTER_SERVERS = (CLUSTER_FQDN, "cucm-sub1.lab.local")
UDS_SCHEMA_VERSION = "10.0.0"  #: the ``version`` attribute of ``versionInformation`` (schema, not CUCM)
CUCM_BUILD = "14.0.1.13900-155"
RESOURCE_VERSION = "14.0.1"
WD_NS = "urn:WD70"

_UDS_REALM = 'Basic realm="Cisco UDS"'
_MAX_SOAP_BYTES = 256 * 1024
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 415: "Unsupported Media Type", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
_DESCRIPTIONS = {
    400: "The server cannot process the request because it is malformed.",
    403: "The server understood the request but refuses to authorize it.",
    404: "The origin server did not find a current representation for the target resource.",
    405: "The method received in the request-line is not supported by the target resource.",
    415: "A required URL parameter or request element is missing or invalid.",
    429: "Too many requests have been sent in a given amount of time; retry after the given delay.",
    503: "The server is temporarily overloaded or down for maintenance; wait and try again later.",
}

#: UDS ``users`` filters: lower-cased query name → canonical name. All are case-insensitive prefix matches.
_FILTERS = {"last": "last", "first": "first", "name": "name", "number": "number", "numberlast": "numberLast",
            "email": "email", "uri": "uri", "displayname": "displayname"}

_SERVICES = [("Corporate Directory", "http://{host}:8080/ccmcip/xmldirectory.jsp"),
             ("Extension Mobility", "http://{host}:8080/emapp/EMAppServlet?device=#DEVICENAME#"),
             ("Sales & Marketing Dashboard", "http://dash.lab.local/phone?dept=sales&view=<today>"),
             ("Visual Voicemail", "http://cuc-pub.lab.local/vmws/vvm"),
             ("Weather — Zürich", "http://weather.lab.local/zrh")]


# ---------------------------------------------------------------------------------------------------------
# shared response helpers
# ---------------------------------------------------------------------------------------------------------
def _tomcat_page(status: int, description: str | None = None) -> bytes:
    reason = _REASONS.get(status, "Error")
    desc = xml_escape(description or _DESCRIPTIONS.get(status, reason))
    return (f"<!doctype html><html lang=\"en\"><head><title>HTTP Status {status} – {reason}</title></head>"
            f"<body><h1>HTTP Status {status} – {reason}</h1><hr class=\"line\" />"
            f"<p><b>Type</b> Status Report</p><p><b>Description</b> {desc}</p><hr class=\"line\" />"
            f"<h3>Apache Tomcat</h3></body></html>").encode()


def _error(status: int, description: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response(_tomcat_page(status, description), status_code=status, headers=headers,
                    media_type="text/html;charset=utf-8")


def _unauthorized() -> Response:
    return Response(b"", status_code=401, headers={"WWW-Authenticate": _UDS_REALM})


def render_fault(status: int, retry_after: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """CUCM's 429/503: a small Tomcat-style HTML page with ``Retry-After`` (503: UDS's documented signal)."""
    status = 429 if status == 429 else 503
    body = _tomcat_page(status)
    headers = [(b"content-type", b"text/html;charset=utf-8"),
               (b"retry-after", retry_after_value(retry_after)),
               (b"content-length", str(len(body)).encode())]
    return status, headers, body


# ---------------------------------------------------------------------------------------------------------
# the directory search behind /cucm-uds/users
# ---------------------------------------------------------------------------------------------------------
# row layout: casefolded first, last, display, email, uri, phone, phone without "+", extension
_F, _L, _D, _E, _U, _P, _P2, _X = range(8)


def _number_match(row: tuple[str, ...], q: str) -> bool:
    return row[_P].startswith(q) or row[_P2].startswith(q) or row[_X].startswith(q)


def _predicate(key: str, q: str) -> Callable[[tuple[str, ...]], bool]:
    """One filter as a predicate over a row; ``q`` is already casefolded."""
    if key == "last":
        return lambda r: r[_L].startswith(q)
    if key == "first":
        return lambda r: r[_F].startswith(q)
    if key == "displayname":
        return lambda r: r[_D].startswith(q)
    if key == "email":
        return lambda r: r[_E].startswith(q)
    if key == "uri":
        bare = q[4:] if q.startswith("sip:") else q
        return lambda r: r[_U].startswith(bare)
    if key == "number":
        return lambda r: _number_match(r, q)
    if key == "numberLast":  # [I] one search box: a number prefix or a last-name prefix
        return lambda r: _number_match(r, q) or r[_L].startswith(q)
    if key == "name":
        if q.count(" ") == 1:
            # cisco-api-notes §2.4: (first^x AND last^y) OR (last^x AND first^y) OR last^"x y" OR first^"x y"
            # OR displayName^"x y"
            x, y = q.split(" ")
            return lambda r: ((r[_F].startswith(x) and r[_L].startswith(y))
                              or (r[_L].startswith(x) and r[_F].startswith(y))
                              or r[_L].startswith(q) or r[_F].startswith(q) or r[_D].startswith(q))
        return lambda r: r[_D].startswith(q)
    raise KeyError(key)


class UserDirectory:
    """UDS directory search over ``org.sorted_users`` with a bounded result cache and cached fragments.

    Example::

        >>> d = UserDirectory(Organisation(users=30, seed=1))
        >>> all(u.last_name.casefold().startswith("k") for u in d.search((("last", "k"),)))
        True
    """

    def __init__(self, org: Organisation, cache_size: int = 64) -> None:
        self.org = org
        self.users: list[User] = org.sorted_users
        self.cache_size = cache_size
        self._rows: list[tuple[str, ...]] | None = None
        self._results: OrderedDict[tuple[tuple[str, str], ...], list[User]] = OrderedDict()
        self._fragments: dict[str, list[str | None]] = {}

    @staticmethod
    def normalise(params: Any) -> tuple[tuple[str, str], ...]:
        """The filter tuple of a query: known filters, non-empty, casefolded, sorted by name."""
        seen: dict[str, str] = {}
        for raw_key, value in params:
            key = _FILTERS.get(raw_key.lower())
            if key is not None and value != "":
                seen[key] = value.casefold()
        return tuple(sorted(seen.items()))

    def _build_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for u in self.users:
            phone = u.phone.casefold()
            rows.append((u.first_name.casefold(), u.last_name.casefold(), u.display_name.casefold(),
                         (u.email or "").casefold(), u.directory_uri.casefold(), phone, phone.lstrip("+"),
                         u.extension))
        return rows

    def search(self, filters: tuple[tuple[str, str], ...]) -> list[User]:
        """Users matching every filter, in ``org.sorted_users`` order (cached per filter tuple)."""
        if not filters:
            return self.users
        hit = self._results.get(filters)
        if hit is not None:
            self._results.move_to_end(filters)
            return hit
        if self._rows is None:
            self._rows = self._build_rows()
        preds = [_predicate(k, v) for k, v in filters]
        users = self.users
        if len(preds) == 1:
            p = preds[0]
            found = [users[i] for i, row in enumerate(self._rows) if p(row)]
        else:
            found = [users[i] for i, row in enumerate(self._rows) if all(p(row) for p in preds)]
        self._results[filters] = found
        if len(self._results) > self.cache_size:
            self._results.popitem(last=False)
        return found

    def fragment(self, base: str, user: User) -> str:
        """The user's ``<user …>…</user>`` element of a ``users`` page (rendered once per base URL)."""
        cache = self._fragments.get(base)
        if cache is None:
            cache = self._fragments[base] = [None] * self.org.size
        frag = cache[user.index]
        if frag is None:
            frag = cache[user.index] = (
                f'<user uri="{base}/cucm-uds/user/{xml_escape(quote(user.username))}">'
                f"<id>{user.id}</id><userName>{xml_escape(user.username)}</userName>"
                f"<firstName>{xml_escape(user.first_name)}</firstName>"
                f"<lastName>{xml_escape(user.last_name)}</lastName>"
                f"<displayName>{xml_escape(user.display_name)}</displayName>"
                f"<phoneNumber>{xml_escape(user.phone)}</phoneNumber>"
                f"<mobileNumber>{xml_escape(user.mobile)}</mobileNumber>"
                f"<email>{xml_escape(user.email)}</email>"
                f"<directoryUri>{xml_escape(user.directory_uri)}</directoryUri></user>"
            )
        return frag


# ---------------------------------------------------------------------------------------------------------
# deterministic per-user extras (services, remote destinations, credential history)
# ---------------------------------------------------------------------------------------------------------
def _sub_id(user: User, kind: str, n: int = 0) -> str:
    return str(uuid.uuid5(uuid.UUID(user.id), f"{kind}:{n}"))


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Principal:
    """Who a request authenticated as."""

    name: str
    user: User | None  #: None for the administrator
    admin: bool = False


@dataclass
class _Credential:
    """A WebDialer ``<in0>`` credential resolved."""

    name: str
    user: User | None
    admin: bool


class _SoapFault(Exception):
    def __init__(self, message: str, code: str = "soapenv:Server.userException") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ---------------------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------------------
def create_app(ctx: LabContext) -> Starlette:
    """CUCM (SSO, UDS, WebDialer) as an ASGI app."""
    org = ctx.org
    issuer = ctx.issuers["cucm"]
    directory = UserDirectory(org)
    logins: dict[int, dict[str, Any]] = {}  #: user index → Basic logins seen by UDS (for ``credentials``)
    calls: dict[str, list[dict[str, Any]]] = {}  #: user name → active WebDialer calls

    # -- authentication ---------------------------------------------------------------------------------
    def is_admin(user: str, password: str) -> bool:
        return (hmac.compare_digest(user.encode(), ctx.config.admin_user.encode())
                and hmac.compare_digest(password.encode(), ctx.config.admin_password.encode()))

    def authenticate(request: Request) -> _Principal | None:
        creds = basic_credentials(request)
        if creds is not None:
            name, password = creds
            if is_admin(name, password):
                return _Principal(name=ctx.config.admin_user, user=None, admin=True)
            user = org.check_password(name, password)
            client = request.client.host if request.client else ""
            if user is None:
                known = org.user_by_name(name)
                if known is not None:
                    rec = logins.setdefault(known.index, {})
                    rec["failed"] = rec.get("failed", 0) + 1
                    rec["last_failed"] = datetime.now(timezone.utc)
                return None
            rec = logins.setdefault(user.index, {})
            rec.update(last_ok=datetime.now(timezone.utc), last_ip=client, failed=0)
            return _Principal(name=user.username, user=user)
        token = bearer_token(request)
        if token:
            grant = issuer.validate(token)
            if grant is not None:
                user = org.user_by_name(grant.subject)
                if user is not None:
                    return _Principal(name=user.username, user=user)
        return None

    # -- SSO (authorize, ACS and singleSignOn are in ssosp.py) -----------------------------------------
    async def revoke(request: Request) -> Response:
        creds = basic_credentials(request)
        if creds is None or not is_admin(*creds):
            return Response(b"", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Cisco SSO"'})
        user_id = request.query_params.get("user_id", "")
        if not user_id:
            return invalid_request()
        user = org.user_by_name(user_id)
        if user is None:
            return _error(404, "No such end user.")
        issuer.revoke_user(user.username)  # [I] client_id narrowing is not modelled: every token is revoked
        return Response(b"", status_code=204)

    # -- UDS ----------------------------------------------------------------------------------------------
    def uds_version(base: str) -> Response:
        auth = "true" if ctx.config.uds_users_auth else "false"
        return _xml(f'<versionInformation uri="{base}/cucm-uds/version" version="{UDS_SCHEMA_VERSION}">'
                    f"<version>{CUCM_BUILD}</version><capabilities><usersResourceAuthEnabled>{auth}"
                    f"</usersResourceAuthEnabled></capabilities><upgradeInProgress>false</upgradeInProgress>"
                    f"</versionInformation>")

    def uds_servers(base: str) -> Response:
        servers = "".join(f"<server>{s}</server>" for s in CLUSTER_SERVERS)
        return _xml(f'<servers uri="{base}/cucm-uds/servers" version="{RESOURCE_VERSION}">{servers}'
                    f"</servers>")

    def uds_cluster_user(request: Request, base: str) -> Response:
        qp = request.query_params
        username, email, ident = qp.get("username"), qp.get("email"), qp.get("useridentifier")
        if not (username or email or ident):
            return _error(415, "One of username, email or useridentifier is required.")
        user: User | None = None
        if username:
            user = org.user_by_name(username)
        elif email:
            user = org.user_by_email(email)
        elif ident:
            user = org.user_by_name(ident) or org.user_by_email(ident)
        uri = xml_escape(f"{base}/cucm-uds/clusterUser?{request.url.query}")
        head = f'<clusterUser version="{UDS_SCHEMA_VERSION}" uri="{uri}">'
        if user is None:
            return _xml(head + '<result found="false"/></clusterUser>')
        return _xml(
            head + f'<result found="true" uri="{base}/cucm-uds/user/{quote(user.username)}" '
            f'version="{UDS_SCHEMA_VERSION}"/><homeCluster serversUri="{base}/cucm-uds/servers">'
            f"{CLUSTER_FQDN}"
            f"</homeCluster><homeClusterDetails><selfProvisioningSecureMode>true</selfProvisioningSecureMode>"
            f"<adminProvisionMode>false</adminProvisionMode></homeClusterDetails></clusterUser>")

    def parse_count(value: str | None, default: int) -> int | None:
        if value is None or value == "":
            return default
        if not re.fullmatch(r"\+?\d{1,9}", value.strip()):
            return None
        return int(value.strip())

    def uds_users(request: Request, base: str) -> Response:
        if ctx.config.uds_users_auth and authenticate(request) is None:
            return _unauthorized()
        cap = max(1, int(ctx.config.uds_page_cap))
        start = parse_count(request.query_params.get("start"), 0)
        asked = parse_count(request.query_params.get("max"), min(64, cap))
        if start is None or asked is None:
            return _error(415, "start and max must be non-negative integers.")
        found = directory.search(directory.normalise(request.query_params.multi_items()))
        page = found[start:start + min(asked, cap)] if asked else []
        body = "".join(directory.fragment(base, u) for u in page)
        return _xml(f'<users uri="{base}/cucm-uds/users" version="{RESOURCE_VERSION}" start="{start}" '
                    f'requestedCount="{asked}" returnedCount="{len(page)}" totalCount="{len(found)}">'
                    f"{body}</users>")

    def user_uri(base: str, user: User) -> str:
        return f"{base}/cucm-uds/user/{quote(user.username)}"

    def cfa_block() -> str:
        return ("<callForwardAllDestination><sendToVoiceMailPilotNumber>false</sendToVoiceMailPilotNumber>"
                "<destination></destination></callForwardAllDestination>")

    def uds_user(base: str, user: User) -> Response:
        u = user_uri(base, user)
        e = xml_escape
        links = "".join(f'<{name} uri="{u}/{name}"/>' for name in
                        ("devices", "credentials", "extensions", "subscribedServices", "speedDials",
                         "remoteDestinations"))
        return _xml(
            f'<user uri="{u}" version="{RESOURCE_VERSION}"><id>{user.id}</id>'
            f"<userName>{e(user.username)}</userName>"
            f"<firstName>{e(user.first_name)}</firstName><lastName>{e(user.last_name)}</lastName>"
            f"<displayName>{e(user.display_name)}</displayName><phoneNumber>{e(user.phone)}</phoneNumber>"
            f"<mobileNumber>{e(user.mobile)}</mobileNumber><email>{e(user.email)}</email>"
            f'<directoryUri exist="true">{e(user.directory_uri)}</directoryUri>'
            f"<department>{e(user.department)}</department><title>{e(user.title)}</title>"
            f'<accountType useLdapAuth="true">ldap</accountType>'
            f'<homeCluster enableImAndPresence="true" enableCalendarPresence="false">true</homeCluster>'
            f"<userLocale>English United States</userLocale>"
            f'<primaryExtension uri="{u}/extension/{_sub_id(user, "dn")}">'
            f"<directoryNumber>{e(user.extension)}"
            f"</directoryNumber><routePartition>PT_Internal</routePartition>{cfa_block()}</primaryExtension>"
            f'<callForwardAllDestination appliesToAllExtensions="true"><sendToVoiceMailPilotNumber>false'
            f"</sendToVoiceMailPilotNumber><destination></destination></callForwardAllDestination>"
            f'<enableDoNotDisturb appliesToAllDevices="true">false</enableDoNotDisturb>{links}'
            f"<serviceProfile><uri>http://{CLUSTER_FQDN}:6970/SPDefault.cnf.xml</uri></serviceProfile>"
            f"</user>")

    def device_xml(base: str, user: User, d: dict[str, Any]) -> str:
        e = xml_escape
        return (f'<device uri="{user_uri(base, user)}/device/{d["id"]}"><id>{d["id"]}</id>'
                f"<name>{e(d['name'])}</name>"
                f"<description>{e(d['description'])}</description><model>{e(d['model'])}</model>"
                f"<type>{e(d['type'])}</type><protocol>{e(d['protocol'])}</protocol>"
                f"<provision>{e(d['provision'])}</provision><lineNumber>{e(d['lineNumber'])}</lineNumber>"
                f"<deviceProfile>false</deviceProfile></device>")

    def uds_devices(base: str, user: User) -> Response:
        body = "".join(device_xml(base, user, d) for d in org.devices(user))
        return _xml(f'<devices uri="{user_uri(base, user)}/devices" version="{RESOURCE_VERSION}">{body}'
                    f"</devices>")

    def uds_device(base: str, user: User, pkid: str) -> Response:
        for d in org.devices(user):
            if d["id"].lower() == pkid.lower() or d["name"].lower() == pkid.lower():
                one = device_xml(base, user, d)
                return _xml(one.replace("<device ", f'<device version="{RESOURCE_VERSION}" ', 1))
        return _error(404, "No such device for this user.")

    def uds_extensions(base: str, user: User) -> Response:
        u = user_uri(base, user)
        devices = "".join(f'<device name="{xml_escape(d["name"])}"/>' for d in org.devices(user))
        ext = (f'<extension uri="{u}/extension/{_sub_id(user, "dn")}"><id>{_sub_id(user, "dn")}</id>'
               f"<directoryNumber>{xml_escape(user.extension)}</directoryNumber><routePartition>PT_Internal"
               f"</routePartition><description>{xml_escape(user.display_name)}</description>"
               f"<lineText>{xml_escape(user.display_name)}</lineText>{cfa_block()}"
               f"<associatedDevices>{devices}</associatedDevices></extension>")
        return _xml(f'<extensions uri="{u}/extensions" version="{RESOURCE_VERSION}">{ext}</extensions>')

    def uds_speed_dials(base: str, user: User) -> Response:
        u = user_uri(base, user)
        body = "".join(f'<speedDial uri="{u}/speedDial/{sd["index"]}"><index>{sd["index"]}</index>'
                       f"<number>{xml_escape(sd['number'])}</number><label>{xml_escape(sd['label'])}</label>"
                       f"</speedDial>" for sd in org.speed_dials(user))
        return _xml(f'<speedDials uri="{u}/speedDials" version="{RESOURCE_VERSION}">{body}</speedDials>')

    def subscribed_services(user: User) -> list[dict[str, str]]:
        rng = random.Random(f"svc:{org.seed}:{user.index}")
        picks = sorted(rng.sample(range(len(_SERVICES)), rng.choice([0, 1, 1, 2, 3])))
        if user.index == 0:
            picks = [0, 2]
        return [{"id": _sub_id(user, "svc", k),
                 "serviceId": str(uuid.uuid5(uuid.NAMESPACE_URL, _SERVICES[k][0])),
                 "name": _SERVICES[k][0], "url": _SERVICES[k][1].format(host=CLUSTER_FQDN)} for k in picks]

    def uds_subscribed_services(base: str, user: User) -> Response:
        u = user_uri(base, user)
        e = xml_escape
        body = "".join(f'<subscribedService uri="{u}/subscribedService/{s["id"]}"><id>{s["id"]}</id>'
                       f"<serviceId>{s['serviceId']}</serviceId><name>{e(s['name'])}</name>"
                       f"<serviceName>{e(s['name'])}</serviceName><url>{e(s['url'])}</url>"
                       f"</subscribedService>" for s in subscribed_services(user))
        return _xml(f'<subscribedServices uri="{u}/subscribedServices" version="{RESOURCE_VERSION}">{body}'
                    f"</subscribedServices>")

    def remote_destinations(user: User) -> list[dict[str, str]]:
        if not user.mobile:
            return []
        rng = random.Random(f"rd:{org.seed}:{user.index}")
        if user.index != 0 and rng.random() < 0.5:
            return []
        return [{"id": _sub_id(user, "rd"), "name": f"{user.display_name} mobile",
                 "destination": user.mobile}]

    def uds_remote_destinations(base: str, user: User) -> Response:
        u = user_uri(base, user)
        e = xml_escape
        body = "".join(
            f'<remoteDestination uri="{u}/remoteDestination/{r["id"]}"><id>{r["id"]}</id>'
            f"<name>{e(r['name'])}</name>"
            f"<destination>{e(r['destination'])}</destination><isMobilePhone>true</isMobilePhone>"
            f"<enableMobileConnect>true</enableMobileConnect><answerTooSoonTimer>1500</answerTooSoonTimer>"
            f"<answerTooLateTimer>19000</answerTooLateTimer>"
            f"<delayBeforeRingingCell>4000</delayBeforeRingingCell>"
            f"</remoteDestination>" for r in remote_destinations(user))
        return _xml(f'<remoteDestinations uri="{u}/remoteDestinations" version="{RESOURCE_VERSION}">{body}'
                    f"</remoteDestinations>")

    def uds_credentials(base: str, user: User) -> Response:
        u = user_uri(base, user)
        rng = random.Random(f"cred:{org.seed}:{user.index}")
        seen = logins.get(user.index, {})
        last_ok = seen.get("last_ok") or (org.now - timedelta(seconds=rng.randrange(30 * 86400)))
        last_ip = (seen.get("last_ip")
                   or f"10.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        failed = seen.get("failed", 0)
        last_failed = seen.get("last_failed")
        changed = org.now - timedelta(days=rng.randrange(1, 180))
        parts = []
        for kind in ("password", "pin"):
            is_pw = kind == "password"
            parts.append(
                f'<credential uri="{u}/credentials/{kind}"><credentialType>{kind}</credentialType>'
                f"<lastSuccessfulLoginTime>{_iso(last_ok) if is_pw else ''}</lastSuccessfulLoginTime>"
                f"<lastSuccessfulLoginIpAddress>{xml_escape(last_ip) if is_pw else ''}"
                f"</lastSuccessfulLoginIpAddress>"
                f"<failedLoginAttempts>{failed if is_pw else 0}</failedLoginAttempts>"
                f"<lastFailedLoginTime>{_iso(last_failed) if (is_pw and last_failed) else ''}"
                f"</lastFailedLoginTime>"
                f"<timeChanged>{_iso(changed)}</timeChanged><locked>false</locked>"
                f"<userMustChange>false</userMustChange><doesNotExpire>{'true' if is_pw else 'false'}"
                f"</doesNotExpire></credential>")
        return _xml(f'<credentials uri="{u}/credentials" version="{RESOURCE_VERSION}">{"".join(parts)}'
                    f"</credentials>")

    _USER_SUBRESOURCES: dict[str, Callable[[str, User], Response]] = {
        "devices": uds_devices, "extensions": uds_extensions, "userExtensions": uds_extensions,
        "speedDials": uds_speed_dials, "subscribedServices": uds_subscribed_services,
        "remoteDestinations": uds_remote_destinations, "credentials": uds_credentials,
    }

    def method_not_allowed(allow: str = "GET") -> Response:
        return _error(405, headers={"Allow": allow})

    async def uds(request: Request) -> Response:
        path = request.path_params.get("path", "").strip("/")
        parts = path.split("/") if path else []
        base = request_base_url(request)
        if not parts:
            return _error(404)
        head = parts[0]
        anonymous = {"version": lambda: uds_version(base), "servers": lambda: uds_servers(base),
                     "clusterUser": lambda: uds_cluster_user(request, base),
                     "users": lambda: uds_users(request, base)}
        if head in anonymous and len(parts) == 1:
            if request.method not in ("GET", "HEAD"):
                return method_not_allowed()
            return anonymous[head]()
        if head != "user" or len(parts) < 2:
            return _error(404)
        rest = parts[2:]
        if not (not rest or (len(rest) == 1 and rest[0] in _USER_SUBRESOURCES)
                or (len(rest) == 2 and rest[0] == "device")):
            return _error(404)
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed()
        principal = authenticate(request)
        if principal is None:
            return _unauthorized()
        target = org.user_by_name(parts[1])
        if not principal.admin and (target is None or target is not principal.user):
            return _unauthorized()  # an end user may read only their own subtree (cisco-api-notes §9)
        if target is None:
            return _error(404, "No such user.")
        if not rest:
            return uds_user(base, target)
        if rest[0] == "device":
            return uds_device(base, target, rest[1])
        return _USER_SUBRESOURCES[rest[0]](base, target)

    # -- WebDialer ---------------------------------------------------------------------------------------
    def soap_envelope(body: str) -> str:
        return ('<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{body}</soapenv:Body>'
                "</soapenv:Envelope>")

    def soap_response(body: str, status: int = 200) -> Response:
        return Response(soap_envelope(body).encode("utf-8"), status_code=status,
                        media_type="text/xml;charset=utf-8")

    def soap_fault(message: str, code: str = "soapenv:Server.userException") -> Response:
        return soap_response(
            f"<soapenv:Fault><faultcode>{xml_escape(code)}</faultcode><faultstring>{xml_escape(message)}"
            f'</faultstring><detail><ns1:hostname xmlns:ns1="http://xml.apache.org/axis/">{CLUSTER_FQDN}'
            f"</ns1:hostname></detail></soapenv:Fault>", status=500)

    _ENC = 'soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"'

    def call_response(op: str, code: int, description: str) -> Response:
        return soap_response(
            f'<ns1:{op}Response {_ENC} xmlns:ns1="{WD_NS}"><{op}Return href="#id0"/></ns1:{op}Response>'
            f'<multiRef id="id0" soapenc:root="0" {_ENC} xsi:type="ns2:CallResponse" '
            f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns2="{WD_NS}">'
            f'<responseCode xsi:type="xsd:int">{code}</responseCode>'
            f'<responseDescription xsi:type="xsd:string">{xml_escape(description)}</responseDescription>'
            f"</multiRef>")

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def parse_soap(raw: bytes) -> tuple[str, dict[str, ET.Element]]:
        """(operation, parameter name → element); multiRef ``href`` parameters are resolved."""
        if len(raw) > _MAX_SOAP_BYTES:
            raise _SoapFault("The request is too large.", "soapenv:Client")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _SoapFault("The request is not UTF-8 encoded XML.", "soapenv:Client") from None
        upper = text.upper()
        if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
            raise _SoapFault("DOCTYPE and ENTITY declarations are not allowed in SOAP messages.",
                             "soapenv:Client")
        if not text.strip():
            raise _SoapFault("Premature end of file: the request body is empty.", "soapenv:Client")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise _SoapFault(f"org.xml.sax.SAXParseException: {exc}", "soapenv:Client") from None
        if local(root.tag) != "Envelope":
            raise _SoapFault("The request is not a SOAP envelope.", "soapenv:Client")
        body = next((c for c in root if local(c.tag) == "Body"), None)
        if body is None or len(body) == 0:
            raise _SoapFault("The SOAP envelope has no Body.", "soapenv:Client")
        refs = {c.get("id"): c for c in body if c.get("id")}
        op_el = next((c for c in body if c.get("id") is None), body[0])
        ns, _, name = op_el.tag[1:].partition("}") if op_el.tag.startswith("{") else ("", "", op_el.tag)
        if ns != WD_NS:
            raise _SoapFault(f"No such operation '{local(op_el.tag)}'", "soapenv:Client")
        params: dict[str, ET.Element] = {}
        for child in op_el:  # positional parameters in0, in1 … (rpc/encoded)
            href = child.get("href", "")
            params[local(child.tag)] = refs.get(href[1:], child) if href.startswith("#") else child
        return name, params

    def field(el: ET.Element | None, name: str) -> str:
        if el is None:
            return ""
        for child in el:
            if local(child.tag) == name:
                return (child.text or "").strip()
        return ""

    def text_of(el: ET.Element | None) -> str:
        return "" if el is None else (el.text or "").strip()

    def credential(el: ET.Element | None) -> _Credential | None:
        if el is None:
            return None
        token = field(el, "token")
        if token:
            grant = issuer.validate(token)
            user = org.user_by_name(grant.subject) if grant else None
            return _Credential(user.username, user, False) if user else None
        user_id, password = field(el, "userID"), field(el, "password")
        if not user_id:
            return None
        if is_admin(user_id, password):
            return _Credential(ctx.config.admin_user, None, True)
        user = org.check_password(user_id, password)
        return _Credential(user.username, user, False) if user else None

    def profile_target(cred: _Credential, profile: ET.Element | None) -> tuple[User | None, int, str]:
        """(the profile's user, 0, "") or (None, code, description)."""
        wanted = field(profile, "user") or (cred.user.username if cred.user else "")
        if not wanted:
            return None, 5, "Missing user profile"
        target = org.user_by_name(wanted)
        if not cred.admin and (cred.user is None or target is not cred.user):
            # the credential must be the profile's user unless it has proxy rights
            return None, 3, "No authentication proxy rights"
        if target is None:
            return None, 4, "Directory error: no such user"
        return target, 0, ""

    def pick_device(user: User, profile: ET.Element | None) -> tuple[dict[str, Any] | None, str]:
        devices = org.devices(user)
        name = field(profile, "deviceName")
        line = field(profile, "lineNumber")
        if not devices:
            return None, "No device is configured for the user"
        device = (devices[0] if not name
                  else next((d for d in devices if d["name"].lower() == name.lower()), None))
        if device is None:
            return None, "The device is not associated with the user"
        if line and line != device["lineNumber"]:
            return None, "The line is not configured on the device"
        return device, ""

    def op_make_call(params: dict[str, ET.Element]) -> Response:
        cred = credential(params.get("in0"))
        if cred is None:
            return call_response("makeCallSoap", 2, "User authentication error")
        target, code, desc = profile_target(cred, params.get("in2"))
        if target is None:
            return call_response("makeCallSoap", code, desc)
        device, problem = pick_device(target, params.get("in2"))
        if device is None:
            return call_response("makeCallSoap", 5, problem)
        destination = text_of(params.get("in1"))
        if not destination:
            return call_response("makeCallSoap", 1, "Call failure: no destination")
        calls.setdefault(target.username, []).append({
            "id": secrets.token_hex(8), "device": device["name"], "line": device["lineNumber"],
            "destination": destination, "started": time.time(), "by": cred.name})
        return call_response("makeCallSoap", 0, "Success")

    def op_end_call(params: dict[str, ET.Element]) -> Response:
        cred = credential(params.get("in0"))
        if cred is None:
            return call_response("endCallSoap", 2, "User authentication error")
        profile = params.get("in1")
        target, code, desc = profile_target(cred, profile)
        if target is None:
            return call_response("endCallSoap", code, desc)
        active = calls.get(target.username, [])
        name = field(profile, "deviceName").lower()
        for i in range(len(active) - 1, -1, -1):
            if not name or active[i]["device"].lower() == name:
                del active[i]
                return call_response("endCallSoap", 0, "Success")
        return call_response("endCallSoap", 1, "Call failure: no active call to end")

    def op_is_cluster_user(params: dict[str, ET.Element]) -> Response:
        user_id = text_of(params.get("in0"))
        found = "true" if user_id and org.user_by_name(user_id) is not None else "false"
        return soap_response(
            f'<ns1:isClusterUserSoapResponse {_ENC} xmlns:ns1="{WD_NS}">'
            f'<isClusterUserSoapReturn xsi:type="xsd:boolean">{found}</isClusterUserSoapReturn>'
            f"</ns1:isClusterUserSoapResponse>")

    def profile_response(op: str, kind: str, list_name: str, item_type: str, devices: list[dict[str, Any]],
                         code: int, desc: str, detail: bool) -> Response:
        e = xml_escape
        items = "".join(f'<item href="#id{i + 1}"/>' for i in range(len(devices)))
        refs = []
        for i, d in enumerate(devices):
            extra = (f'<phoneDesc xsi:type="xsd:string">{e(d["description"])}</phoneDesc>'
                     f'<phoneType xsi:type="xsd:string">{e(d["model"])}</phoneType>') if detail else ""
            refs.append(
                f'<multiRef id="id{i + 1}" soapenc:root="0" {_ENC} xsi:type="ns{i + 3}:{item_type}" '
                f'xmlns:ns{i + 3}="{WD_NS}" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">'
                f'<deviceName xsi:type="xsd:string">{e(d["name"])}</deviceName>'
                f'<lines soapenc:arrayType="xsd:string[1]" xsi:type="soapenc:Array">'
                f'<item xsi:type="xsd:string">{e(d["lineNumber"])}</item></lines>{extra}</multiRef>')
        return soap_response(
            f'<ns1:{op}Response {_ENC} xmlns:ns1="{WD_NS}"><{op}Return href="#id0"/></ns1:{op}Response>'
            f'<multiRef id="id0" soapenc:root="0" {_ENC} xsi:type="ns2:{kind}" xmlns:ns2="{WD_NS}" '
            f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">'
            f'<description xsi:type="xsd:string">{e(desc)}</description>'
            f'<{list_name} soapenc:arrayType="ns2:{item_type}[{len(devices)}]" xsi:type="soapenc:Array">'
            f"{items}</{list_name}>"
            f'<responseCode xsi:type="xsd:int">{code}</responseCode>'
            f'<responseDescription xsi:type="xsd:string">{e(desc)}</responseDescription></multiRef>'
            + "".join(refs))

    def op_profile(params: dict[str, ET.Element], detail: bool) -> Response:
        op = "getProfileDetailSoap" if detail else "getProfileSoap"
        kind, list_name, item = (("GetConfigResponseDetail", "deviceInfoListDetail", "WDDeviceInfoDetail")
                                 if detail else ("GetConfigResponse", "deviceInfoList", "WDDeviceInfo"))
        cred = credential(params.get("in0"))
        if cred is None:
            return profile_response(op, kind, list_name, item, [], 2, "User authentication error", detail)
        wanted = text_of(params.get("in1")) if not detail else ""
        target: User | None
        if wanted:
            target = org.user_by_name(wanted)
            if not cred.admin and target is not cred.user:
                return profile_response(op, kind, list_name, item, [], 3, "No authentication proxy rights",
                                        detail)
        else:
            target = cred.user
        if target is None:
            return profile_response(op, kind, list_name, item, [], 4, "Directory error: no such user", detail)
        devices = org.devices(target)
        if not devices:
            return profile_response(op, kind, list_name, item, [], 5, "No device is configured for the user",
                                    detail)
        return profile_response(op, kind, list_name, item, devices, 0, "Success", detail)

    def op_primary_line(params: dict[str, ET.Element]) -> Response:
        cred = credential(params.get("in0"))
        if cred is None:
            raise _SoapFault("User authentication error")
        if cred.user is None:
            raise _SoapFault("The administrator has no primary line")
        return soap_response(
            f'<ns1:getPrimaryLineResponse {_ENC} xmlns:ns1="{WD_NS}">'
            f'<getPrimaryLineReturn xsi:type="xsd:string">{xml_escape(cred.user.extension)}'
            f"</getPrimaryLineReturn>"
            f"</ns1:getPrimaryLineResponse>")

    operations: dict[str, Callable[[dict[str, ET.Element]], Response]] = {
        "makeCallSoap": op_make_call,
        "endCallSoap": op_end_call,
        "isClusterUserSoap": op_is_cluster_user,
        "getProfileSoap": lambda p: op_profile(p, detail=False),
        "getProfileDetailSoap": lambda p: op_profile(p, detail=True),
        "getPrimaryLine": op_primary_line,
    }

    async def webdialer(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return HTMLResponse("<h1>WebdialerSoapService70</h1><p>Hi there, this is an AXIS service!</p>"
                                "<i>Perhaps there will be a form for invoking the service here...</i>")
        if request.method != "POST":
            return method_not_allowed("GET, POST")
        try:
            raw = await request.body()
            name, params = parse_soap(raw)
            handler = operations.get(name)
            if handler is None:
                raise _SoapFault(f"No such operation '{name}'", "soapenv:Client")
            return handler(params)
        except _SoapFault as fault:
            return soap_fault(fault.message, fault.code)
        except Exception:  # never a traceback on the wire
            return soap_fault("The request could not be processed.")

    async def webdialer_other(request: Request) -> Response:
        return _error(404)

    async def not_found(request: Request) -> Response:
        return _error(404)

    def get_only(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def guarded(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                return method_not_allowed()
            return await handler(request)
        return guarded

    app = Starlette(routes=[
        *sso_routes(ctx, "cucm", methods=_ALL_METHODS, wrap=get_only),
        Route("/ssosp/token/revoke", get_only(revoke), methods=_ALL_METHODS),
        Route("/cucm-uds/{path:path}", uds, methods=_ALL_METHODS),
        Route("/webdialer/services/WebdialerSoapService70", webdialer, methods=_ALL_METHODS),
        Route("/webdialer/services/WebdialerSoapservice", webdialer, methods=_ALL_METHODS),
        Route("/webdialer/{path:path}", webdialer_other, methods=_ALL_METHODS),
        Route("/{path:path}", not_found, methods=_ALL_METHODS),
    ])
    app.state.directory = directory
    app.state.webdialer_calls = calls
    return app
