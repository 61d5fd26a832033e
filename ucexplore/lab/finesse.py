"""Finesse (UCCX deployment) in the lab: the Cisco IdS SSO token API and the ``/finesse/api`` REST resources.

What it serves (cisco-api-notes §4):

* ``GET /desktop/sso/token?cc_username=<loginName|loginId>&return_refresh_token=true`` — sends the browser
  through the IdP (sp ``finesse``); the ACS ``GET /desktop/sso/acs`` verifies the assertion and redirects back
  to the original URL plus a one-time ``ucx_sso_txn`` parameter, which then answers JSON
  ``{"token","refresh_token","expires_in","user_id","realm","user_principal"}``. ``cc_username`` must name the
  person who signed in (else 403), who must be an agent (else 401). The old ``cc_username`` cookie works too;
  without either, the token is for whoever signs in (the form ``?return_refresh_token=true`` alone).
* Refresh: ``POST /desktop/sso/token`` form ``token=<access>&refresh-token=<refresh>`` or
  ``GET /desktop/sso/token?cc_username=…&refresh-token=…`` → the same JSON with a new access token and a new
  refresh token: the old refresh token is dead from then on (rotation). ``GET /desktop/sso/test`` answers 200.
* ``/finesse/api/``: ``SystemInfo`` (anonymous), ``User/{id}`` (GET, PUT state → 202), ``User/{id}/Dialogs``,
  ``User/{id}/ReasonCodes``, ``User/{id}/Queues``, ``Dialog/{id}``, ``Team/{id}``, ``ReasonCodes``,
  ``ReasonCode/{id}``, ``Queue/{id}``, ``Users``. XML only. Auth: Basic ``loginId:password`` or
  ``loginName:password`` (and the lab administrator), or ``Bearer`` with a token of the ``finesse`` issuer
  (``systemAuthMode`` NON_SSO refuses bearer tokens, SSO refuses agents' Basic passwords, HYBRID takes both).
  Every error is ``<ApiErrors><ApiError><ErrorType/><ErrorMessage/><ErrorData/></ApiError></ApiErrors>``.

Agent state rules (UCCX, "User—Change Agent State"): users set READY, NOT_READY, LOGOUT or LOGIN.
LOGIN needs ``<extension>`` (the agent's own) and leads to NOT_READY; LOGIN while signed in keeps the state.
NOT_READY takes no reason code or a NOT_READY one; LOGOUT (from NOT_READY or READY) takes no reason code or a
LOGOUT one. During a call (TALKING, HOLD, RESERVED…) READY and LOGOUT are ``Invalid State`` and NOT_READY
becomes the ``pendingState``. A signed-out agent can only LOGIN. A supervisor may change the agents of its own
team (READY, NOT_READY without a reason code — the system code 33 is recorded — or LOGOUT).

Lab choices where the notes say [I]:

* Tokens are the lab issuer's opaque strings, not IdS JWTs. The refresh answer includes the new
  ``refresh_token`` (rotation). SSO errors are JSON ``{"error":…,"error_description":…}`` with 400/401/403.
* Reading: an agent reads itself; a supervisor reads the agents of its own team (its ``teamId``) and that
  ``Team``; the administrator reads everything but changes no agent state. Other agents' resources →
  401 ``Invalid Authorization User Specified`` (another team's, for a supervisor: ``Invalid Supervisor``);
  supervisor/admin-only resources → 401 ``Authorization Failure``. Unknown ids → 404 ``Not Found``.
  ``ReasonCodes`` / ``ReasonCode/{id}`` may be read by any signed-in user.
* Wrong ``Content-Type`` on PUT → 415 ``Invalid Input``; malformed XML → 400 ``Bad Request``.
* Queue statistics are computed from the agents' current states (a real UCCX reports -1); queues belong to
  teams.
* Lockout: 5 consecutive wrong Basic passwords for an agent (on any ``/finesse/api`` call that carries them,
  SystemInfo included) block that agent's Basic sign-in for ``LOCKOUT_SECONDS`` (5 minutes). The
  administrator is never locked out.
"""

from __future__ import annotations

import json
import secrets
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .asgi import XML_DECL, StripTrailingSlash, retry_after_value, xml_safe
from .asgi import xml_response as _xml
from .context import LabContext, basic_credentials, bearer_token, request_base_url, xml_escape
from .org import Agent

__all__ = ["create_app", "API_PREFIXES", "render_fault", "LOCKOUT_SECONDS", "LOCKOUT_THRESHOLD", "QUEUES"]

API_PREFIXES = ("/finesse/api/",)

LOCKOUT_THRESHOLD = 5  #: consecutive wrong passwords before the lock
LOCKOUT_SECONDS = 300.0  #: how long the lock lasts (read at request time, so tests may shorten it)
TXN_PARAM = "ucx_sso_txn"
TXN_TTL = 600
HOST = "ccx-pub.lab.local"
#: Contact service queues (id, name, number); each team serves two of them.
QUEUES = [(1, "Billing", "7000"), (2, "Support", "7001"), (3, "Sales", "7002"),
          (4, "Retention & Loyalty", "7003"), (5, "VIP <Gold>", "7004")]
SUPERVISOR_NOT_READY = 33  #: UCCX system reason code recorded when a supervisor forces NOT_READY

ALL_STATES = {"LOGOUT", "LOGIN", "NOT_READY", "READY", "RESERVED", "RESERVED_OUTBOUND",
              "RESERVED_OUTBOUND_PREVIEW", "TALKING", "HOLD", "WORK", "WORK_READY", "UNKNOWN"}
SETTABLE = {"READY", "NOT_READY", "LOGOUT", "LOGIN"}
ON_CALL = {"TALKING", "HOLD", "RESERVED", "RESERVED_OUTBOUND", "RESERVED_OUTBOUND_PREVIEW"}


def _api_errors_xml(etype: str, message: str, data: str = "") -> str:
    message, data = xml_safe(message), xml_safe(data)
    return (f"{XML_DECL}<ApiErrors><ApiError><ErrorType>{xml_escape(etype)}</ErrorType>"
            f"<ErrorMessage>{xml_escape(message)}</ErrorMessage><ErrorData>{xml_escape(data)}</ErrorData>"
            f"</ApiError></ApiErrors>")


def _api_error(status: int, etype: str, message: str, data: str = "",
               headers: dict[str, str] | None = None) -> Response:
    return Response(_api_errors_xml(etype, message, data).encode(), status_code=status,
                    media_type="application/xml", headers=headers)


def render_fault(status: int, retry_after: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Finesse's own 429/503: ``ApiErrors`` (``Service Unavailable`` for 503) with Retry-After."""
    if status == 503:
        body = _api_errors_xml("Service Unavailable", "Finesse is not IN_SERVICE; retry later",
                               "OUT_OF_SERVICE")
    else:
        body = _api_errors_xml("Too Many Requests", "Too many requests; retry later", str(status))
    headers = [(b"content-type", b"application/xml"), (b"retry-after", retry_after_value(retry_after))]
    return status, headers, body.encode()


def _ts(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _el(tag: str, value: Any) -> str:
    return f"<{tag}>{xml_escape(value)}</{tag}>"


class _Caller:
    """Who is calling: the administrator (agent None) or an agent."""

    __slots__ = ("admin", "agent")

    def __init__(self, admin: bool, agent: Agent | None) -> None:
        self.admin = admin
        self.agent = agent

    @property
    def supervised(self) -> set[str]:
        a = self.agent
        return {a.team_id} if a is not None and "Supervisor" in a.roles else set()

    @property
    def ident(self) -> str:
        return self.agent.login_id if self.agent is not None else "administrator"


def create_app(ctx: LabContext) -> Starlette:
    """The Finesse app."""
    org = ctx.org
    issuer = ctx.issuers["finesse"]
    realm = org.site_domain
    pending: dict[str, tuple[dict[str, str], float]] = {}  # RelayState → (original query, expiry)
    completed: dict[str, tuple[str, dict[str, str], float]] = {}  # ucx_sso_txn → (username, query, expiry)
    pending_state: dict[str, tuple[str, int]] = {}  # loginId → (pendingState, reasonCodeId)
    failures: dict[str, int] = {}
    locked_until: dict[str, float] = {}
    cache: dict[str, Any] = {}

    def auth_mode() -> str:
        return (ctx.config.finesse_auth_mode or "HYBRID").upper()

    def find_agent(key: str) -> Agent | None:
        return org.agent(key) or org.agent(key.lower())

    # -- authentication -----------------------------------------------------------------------------
    def unauthorized(message: str, data: str = "", basic: bool = True) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="Finesse"'} if basic else None
        return _api_error(401, "Authorization Failure", message, data, headers)

    def authenticate(request: Request, optional: bool = False) -> _Caller | Response | None:
        token = bearer_token(request)
        if token is not None:
            if auth_mode() == "NON_SSO":
                return unauthorized("UNAUTHORIZED",
                                    "Bearer tokens are not accepted: systemAuthMode is NON_SSO", basic=False)
            grant = issuer.validate(token)
            agent = find_agent(grant.subject) if grant else None
            if agent is None:
                return unauthorized("UNAUTHORIZED", "The access token is invalid or has expired", basic=False)
            return _Caller(False, agent)
        creds = basic_credentials(request)
        if creds is None:
            return None if optional else unauthorized("UNAUTHORIZED", "Authentication required")
        name, password = creds
        if name == ctx.config.admin_user and password == ctx.config.admin_password:
            return _Caller(True, None)
        agent = find_agent(name)
        if agent is None:
            return unauthorized("UNAUTHORIZED", name)
        key = agent.login_id
        now = time.monotonic()
        if locked_until.get(key, 0.0) > now:
            return unauthorized("UNAUTHORIZED", f"{name}: account locked after {LOCKOUT_THRESHOLD} failed "
                                                "sign-in attempts; try again later")
        if org.check_password(agent.user.username, password) is None:
            failures[key] = failures.get(key, 0) + 1
            if failures[key] >= LOCKOUT_THRESHOLD:
                failures.pop(key, None)
                locked_until[key] = now + LOCKOUT_SECONDS
            return unauthorized("UNAUTHORIZED", name)
        failures.pop(key, None)
        locked_until.pop(key, None)
        if auth_mode() == "SSO":
            return unauthorized("UNAUTHORIZED", f"{name}: systemAuthMode is SSO; use a bearer token")
        return _Caller(False, agent)

    def require(request: Request) -> _Caller | Response:
        who = authenticate(request)
        assert who is not None
        return who

    def read_denied(caller: _Caller, target: Agent) -> Response | None:
        """None when ``caller`` may read ``target``'s resources, else the 401."""
        if caller.admin or caller.agent is target or target.team_id in caller.supervised:
            return None
        if caller.supervised:
            return _api_error(401, "Invalid Supervisor", "UNAUTHORIZED", caller.ident)
        return _api_error(401, "Invalid Authorization User Specified", "UNAUTHORIZED", caller.ident)

    def target_agent(request: Request, caller: _Caller) -> Agent | Response:
        key = request.path_params["id"]
        target = find_agent(key)
        if target is None:
            return _api_error(404, "Not Found", f"User {key} not found", key)
        denied = read_denied(caller, target)
        return denied if denied is not None else target

    # -- XML fragments ------------------------------------------------------------------------------------
    def reason_code_fragment(code_id: int) -> str:
        if code_id == SUPERVISOR_NOT_READY:
            return ("<reasonCode><category>NOT_READY</category><code>33</code><label>Supervisor Initiated"
                    "</label><systemCode>true</systemCode><id>33</id></reasonCode>")
        rc = org.reason_code(code_id) if code_id >= 0 else None
        if rc is None:
            return ""
        return (f"<reasonCode>{_el('category', rc.category)}{_el('code', rc.code)}{_el('label', rc.label)}"
                f"{_el('forAll', 'true' if rc.for_all else 'false')}{_el('id', rc.id)}"
                f"{_el('uri', f'/finesse/api/ReasonCode/{rc.id}')}</reasonCode>")

    def user_xml(a: Agent) -> str:
        u = a.user
        team = org.teams.get(a.team_id)
        pend = pending_state.get(a.login_id, ("", -1))[0]
        parts = [
            "<User>", _el("uri", f"/finesse/api/User/{a.login_id}"), _el("loginId", a.login_id),
            _el("loginName", u.username), _el("firstName", u.first_name), _el("lastName", u.last_name),
            _el("extension", a.extension), _el("state", a.state),
            _el("stateChangeTime", _ts(a.state_change_time)), _el("pendingState", pend),
            _el("reasonCodeId", a.reason_code_id), reason_code_fragment(a.reason_code_id),
            "<roles>", *(_el("role", r) for r in a.roles), "</roles>",
            _el("teamId", a.team_id), _el("teamName", team.name if team else ""),
            "<settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings>",
            _el("mediaType", 1), _el("dialogs", f"/finesse/api/User/{a.login_id}/Dialogs"),
            _el("wrapUpTimer", 30),
        ]
        if "Supervisor" in a.roles and team is not None:
            parts += ["<teams><Team>", _el("id", team.id), _el("name", team.name),
                      _el("uri", f"/finesse/api/Team/{team.id}"), "</Team></teams>"]
        parts.append("</User>")
        return "".join(parts)

    def team_member_xml(a: Agent) -> str:
        u = a.user
        return "".join([
            "<User>", _el("uri", f"/finesse/api/User/{a.login_id}"), _el("loginId", a.login_id),
            _el("loginName", u.username), _el("firstName", u.first_name), _el("lastName", u.last_name),
            _el("dialogs", f"/finesse/api/User/{a.login_id}/Dialogs"), _el("extension", a.extension),
            _el("pendingState", pending_state.get(a.login_id, ("", -1))[0]), _el("state", a.state),
            _el("stateChangeTime", _ts(a.state_change_time)), reason_code_fragment(a.reason_code_id),
            "</User>",
        ])

    participant_actions = {"ACTIVE": ["HOLD", "DROP", "TRANSFER_SST", "CONSULT_CALL", "SEND_DTMF",
                                      "UPDATE_CALL_DATA"],
                           "HELD": ["RETRIEVE", "DROP"], "ALERTING": ["ANSWER"]}

    def dialog_xml(d: dict[str, Any], owner: Agent) -> str:
        start = _ts(d["startTime"])
        parts = ["<Dialog>", "<associatedDialogUri></associatedDialogUri>",
                 _el("fromAddress", d["fromAddress"]), _el("id", d["id"]), "<mediaProperties>",
                 _el("DNIS", d["toAddress"]), _el("callType", "ACD_IN"),
                 _el("dialedNumber", d.get("queueNumber", "")),
                 "<outboundClassification></outboundClassification>", "<callvariables>"]
        for name, value in d.get("callvariables", []):
            parts += ["<CallVariable>", _el("name", name), _el("value", value), "</CallVariable>"]
        parts += ["</callvariables>", _el("queueName", d.get("queueName", "")),
                  _el("queueNumber", d.get("queueNumber", "")), _el("callKeyCallId", d["id"]),
                  _el("callKeySequenceNum", 1), _el("callKeyPrefix", 152), "<wrapUpReason></wrapUpReason>",
                  "</mediaProperties>", _el("mediaType", d.get("mediaType", "Voice")), "<participants>"]
        for address, state, who in d.get("participants", []):
            is_agent = who not in ("", "UNKNOWN")
            actions = participant_actions.get(state, []) if is_agent else []
            parts += ["<Participant><actions>", *(_el("action", x) for x in actions), "</actions>",
                      _el("mediaAddress", address),
                      _el("mediaAddressType", "AGENT_DEVICE" if is_agent else ""),
                      _el("startTime", start), _el("state", state), "<stateCause></stateCause>",
                      _el("stateChangeTime", start), "</Participant>"]
        parts += ["</participants>", "<secondaryId></secondaryId>", _el("state", d["state"]),
                  _el("toAddress", d["toAddress"]), _el("uri", f"/finesse/api/Dialog/{d['id']}"), "</Dialog>"]
        return "".join(parts)

    def reason_xml(rc: Any) -> str:
        return (f"<ReasonCode>{_el('uri', f'/finesse/api/ReasonCode/{rc.id}')}{_el('category', rc.category)}"
                f"{_el('code', rc.code)}{_el('label', rc.label)}"
                f"{_el('forAll', 'true' if rc.for_all else 'false')}"
                f"<systemCode>false</systemCode></ReasonCode>")

    def team_queues(team_id: str) -> list[int]:
        t = int(team_id) - 5000
        return sorted({t % len(QUEUES) + 1, (t + 2) % len(QUEUES) + 1})

    def queue_xml(qid: int) -> str:
        name = next(q[1] for q in QUEUES if q[0] == qid)
        members = [a for a in org.agents.values() if qid in team_queues(a.team_id)]
        count = {s: sum(1 for a in members if a.state == s) for s in ALL_STATES}
        calls = (qid * 7 + org.seed) % 6
        longest = _ts(org.now - timedelta(seconds=20 + (qid * 37) % 300)) if calls else ""
        stats = [("callsInQueue", calls), ("startTimeOfLongestCallInQueue", longest),
                 ("agentsReady", count["READY"]), ("agentsNotReady", count["NOT_READY"]),
                 ("agentsBusyOther", count["RESERVED"] + count["RESERVED_OUTBOUND"]
                  + count["RESERVED_OUTBOUND_PREVIEW"]),
                 ("agentsLoggedOn", len(members) - count["LOGOUT"]),
                 ("agentsTalkingInbound", count["TALKING"] + count["HOLD"]), ("agentsTalkingOutbound", 0),
                 ("agentsTalkingInternal", 0), ("agentsWrapUpNotReady", count["WORK"]),
                 ("agentsWrapUpReady", count["WORK_READY"])]
        return (f"<Queue>{_el('uri', f'/finesse/api/Queue/{qid}')}{_el('name', name)}<statistics>"
                + "".join(_el(k, v) for k, v in stats) + "</statistics></Queue>")

    # -- SSO token API -----------------------------------------------------------------------------------
    def sso_error(status: int, code: str, description: str) -> Response:
        body = json.dumps({"error": code, "error_description": description}).encode()
        return Response(body, status_code=status, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    def token_json(grant: Any, agent: Agent) -> Response:
        body: dict[str, Any] = {"token": grant.access_token}
        if grant.refresh_token:
            body["refresh_token"] = grant.refresh_token
        body.update(expires_in=grant.expires_in, user_id=agent.user.username, realm=realm,
                    user_principal=f"{agent.user.username}@{realm}")
        return Response(json.dumps(body).encode(), media_type="application/json",
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def peek_refresh(refresh_token: str) -> Any:
        """The grant a refresh token belongs to, without consuming it (None when unknown)."""
        return getattr(issuer, "_refresh", {}).get(refresh_token)

    def do_refresh(refresh_token: str, *, access_token: str | None = None,
                   cc_username: str | None = None) -> Response:
        old = peek_refresh(refresh_token)
        if old is None:
            return sso_error(401, "invalid_grant", "The refresh token is invalid, expired or already used")
        if access_token is not None and old.access_token != access_token:
            return sso_error(401, "invalid_grant", "The access token does not belong to this refresh token")
        agent = find_agent(old.subject)
        if cc_username is not None and (agent is None or find_agent(cc_username) is not agent):
            return sso_error(401, "invalid_grant", "cc_username does not match the refresh token's user")
        new = issuer.refresh(refresh_token)
        if new is None or agent is None:
            return sso_error(401, "invalid_grant", "The refresh token is invalid, expired or already used")
        return token_json(new, agent)

    async def sso_token(request: Request) -> Response:
        if request.method == "POST":
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                return sso_error(400, "invalid_request",
                                 "Content-Type must be application/x-www-form-urlencoded")
            form = await request.form()
            token, refresh = str(form.get("token", "") or ""), str(form.get("refresh-token", "") or "")
            if not refresh or not token:
                return sso_error(400, "invalid_request", "Both token and refresh-token are required")
            return do_refresh(refresh, access_token=token)
        query = request.query_params
        cc = query.get("cc_username") or request.cookies.get("cc_username") or ""
        if "refresh-token" in query:
            if not cc:
                return sso_error(400, "invalid_request", "cc_username is required")
            if not query.get("refresh-token"):
                return sso_error(400, "invalid_request", "refresh-token is empty")
            return do_refresh(query["refresh-token"], cc_username=cc)
        now = time.time()
        txn = query.get(TXN_PARAM)
        if txn is not None:
            entry = completed.pop(txn, None)
            if entry is None or entry[2] < now:
                return sso_error(401, "invalid_request", "Unknown, used or expired sign-in transaction; "
                                                         "start the sign-in again")
            username, original, _ = entry
            if cc != original.get("cc_username", cc):
                return sso_error(401, "invalid_request", "cc_username changed during the sign-in")
            me = find_agent(username)
            if me is None:
                return sso_error(401, "unauthorized", f"{username} is not a Finesse agent")
            if cc and find_agent(cc) is not me:
                return sso_error(403, "access_denied",
                                 f"cc_username {cc!r} does not match the signed-in user {username!r}")
            want_refresh = query.get("return_refresh_token", "").lower() == "true"
            return token_json(issuer.issue(me.user.username, with_refresh=want_refresh), me)
        for stale in [k for k, (_, exp) in pending.items() if exp < now]:
            pending.pop(stale, None)
        for stale in [k for k, (_, _, exp) in completed.items() if exp < now]:
            completed.pop(stale, None)
        relay = secrets.token_urlsafe(16)
        original = {k: v for k, v in query.items() if k != TXN_PARAM}
        if cc:
            original.setdefault("cc_username", cc)
        pending[relay] = (original, now + TXN_TTL)
        return RedirectResponse(ctx.idp_login_url(sp="finesse", relay_state=relay), status_code=302,
                                headers={"Cache-Control": "no-store"})

    async def sso_acs(request: Request) -> Response:
        entry = pending.pop(request.query_params.get("RelayState", ""), None)
        if entry is None or entry[1] < time.time():
            return HTMLResponse("<!doctype html><h1>Sign-in failed</h1>"
                                "<p>Unknown or expired sign-in request.</p>", status_code=400)
        username = ctx.verify_assertion(request.query_params.get("SAMLResponse"), audience="finesse")
        if not username:
            return HTMLResponse("<!doctype html><h1>Sign-in failed</h1><p>The assertion is invalid for "
                                "Finesse.</p>", status_code=403)
        original = entry[0]
        done = secrets.token_urlsafe(16)
        completed[done] = (username, original, time.time() + TXN_TTL)
        target = f"{request_base_url(request)}/desktop/sso/token?{urlencode({**original, TXN_PARAM: done})}"
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    async def sso_test(request: Request) -> Response:
        return Response(json.dumps({"status": "OK", "systemAuthMode": auth_mode()}).encode(),
                        media_type="application/json")

    # -- /finesse/api -------------------------------------------------------------------------------------
    async def system_info(request: Request) -> Response:
        who = authenticate(request, optional=True)
        if isinstance(who, Response):
            return who
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        node = (f"{_el('host', HOST)}{_el('httpsPort', port)}{_el('xmppPort', 5222)}"
                f"{_el('xmppSecurePort', 5223)}")
        now = datetime.now(UTC)
        body = "".join([
            "<SystemInfo>", _el("currentTimestamp", _ts(now)), _el("deploymentType", "UCCX"),
            _el("lastCTIHeartbeatStatus", "true"),
            _el("lastSuccessCTIHeartbeatTime", _ts(now - timedelta(seconds=3))),
            _el("ctiVersion", "20"), _el("ctiHeartbeatInterval", "10"), _el("ctiMMode", "false"),
            _el("ctiTimeInMMode", "0"), _el("finesseMMode", "false"), _el("finesseTimeInMMode", "0"),
            _el("license", "Premium"), _el("peripheralId", "1"),
            f"<primaryNode>{node}</primaryNode>",
            f"<secondaryNode>{_el('host', 'ccx-sub.lab.local')}</secondaryNode>",
            _el("status", "IN_SERVICE"), "<statusReason></statusReason>", _el("systemAuthMode", auth_mode()),
            _el("timezoneOffset", org.site_timezone[2]), _el("uri", "/finesse/api/SystemInfo"),
            _el("xmppDomain", HOST), _el("xmppPubSubDomain", f"pubsub.{HOST}"),
            f"<ctiServers><ctiServer>{_el('host', HOST)}{_el('port', 12028)}</ctiServer></ctiServers>",
            "</SystemInfo>",
        ])
        return _xml(body)

    async def user(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        target = target_agent(request, caller)
        if isinstance(target, Response):
            return target
        if request.method == "GET":
            return _xml(user_xml(target))
        return await change_state(request, caller, target)

    async def change_state(request: Request, caller: _Caller, target: Agent) -> Response:
        forced = caller.agent is not target
        if caller.admin:
            return _api_error(401, "Authorization Failure", "UNAUTHORIZED",
                              "The administrator cannot change agent states")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/xml", "text/xml"):
            return _api_error(415, "Invalid Input", "Content-Type must be application/xml", ctype)
        body = await request.body()
        if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            return _api_error(400, "Bad Request", "DTDs are not allowed", "")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            return _api_error(400, "Bad Request", "The request body is not well-formed XML", str(exc))
        if root.tag != "User":
            return _api_error(400, "Bad Request", "Expected a <User> element", root.tag)
        state = (root.findtext("state") or "").strip()
        if not state:
            return _api_error(400, "Parameter Missing", "The state parameter is missing", "state")
        if state not in ALL_STATES:
            return _api_error(400, "Invalid Input", f"Unknown state {state}", state)
        if state not in SETTABLE:
            return _api_error(400, "Invalid Input", f"A user cannot set the state {state}", state)
        raw_reason = (root.findtext("reasonCodeId") or "").strip()
        reason_id: int | None = None
        if raw_reason:
            try:
                reason_id = int(raw_reason)
            except ValueError:
                return _api_error(400, "Invalid Input", "reasonCodeId must be a number", raw_reason)
        if reason_id is not None and state in ("NOT_READY", "LOGOUT"):
            if forced:
                return _api_error(400, "Invalid Input", "A supervisor cannot give a reason code", raw_reason)
            rc = org.reason_code(reason_id)
            if rc is None or rc.category != state:
                return _api_error(400, "Invalid Input", f"{raw_reason} is not a {state} reason code",
                                  raw_reason)
        current = target.state
        if forced and state == "LOGIN":
            return _api_error(400, "Invalid State", "A supervisor cannot sign an agent in", state)
        new_state: str | None = None
        new_reason = -1
        if current == "LOGOUT":
            if state != "LOGIN":
                return _api_error(400, "Invalid State",
                                  f"Cannot change from LOGOUT to {state}; sign in first (LOGIN)", state)
            extension = (root.findtext("extension") or "").strip()
            if not extension:
                return _api_error(400, "Parameter Missing", "The extension parameter is missing", "extension")
            if extension != target.extension:
                return _api_error(400, "Bad Request", f"Invalid extension {extension}", extension)
            new_state = "NOT_READY"
        elif current == "UNKNOWN":
            return _api_error(400, "Invalid State", "The agent state is UNKNOWN", state)
        elif state == "LOGIN":
            pass  # a forced sign-in while signed in keeps the current state
        elif state == "READY":
            if current in ON_CALL:
                return _api_error(400, "Invalid State", f"Cannot change from {current} to READY", state)
            new_state = "READY"
        elif state == "NOT_READY":
            reason = SUPERVISOR_NOT_READY if forced else (reason_id if reason_id is not None else -1)
            if current in ON_CALL:
                pending_state[target.login_id] = ("NOT_READY", reason)
            else:
                new_state, new_reason = "NOT_READY", reason
        else:  # LOGOUT
            if current not in ("NOT_READY", "READY"):
                return _api_error(400, "Invalid State", f"Cannot change from {current} to LOGOUT", state)
            new_state, new_reason = "LOGOUT", (reason_id if reason_id is not None else -1)
        if new_state is not None and (new_state, new_reason) != (target.state, target.reason_code_id):
            target.state = new_state
            target.reason_code_id = new_reason
            target.state_change_time = datetime.now(UTC)
            pending_state.pop(target.login_id, None)
        headers = {"requestId": request.headers["requestid"]} if "requestid" in request.headers else None
        return Response(status_code=202, headers=headers)

    async def user_dialogs(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        target = target_agent(request, caller)
        if isinstance(target, Response):
            return target
        if not target.dialogs:
            return _xml("<Dialogs/>")
        return _xml("<Dialogs>" + "".join(dialog_xml(d, target) for d in target.dialogs) + "</Dialogs>")

    async def dialog(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        if "dialogs" not in cache:
            cache["dialogs"] = {d["id"]: (d, a) for a in org.agents.values() for d in a.dialogs}
        did = request.path_params["id"]
        found = cache["dialogs"].get(did)
        if found is None:
            return _api_error(404, "Not Found", f"Dialog {did} not found", did)
        d, owner = found
        denied = read_denied(caller, owner)
        return denied if denied is not None else _xml(dialog_xml(d, owner))

    async def team(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        tid = request.path_params["id"]
        t = org.teams.get(tid)
        if t is None:
            return _api_error(404, "Not Found", f"Team {tid} not found", tid)
        if not (caller.admin or tid in caller.supervised):
            etype = "Invalid Supervisor" if caller.supervised else "Authorization Failure"
            return _api_error(401, etype, "UNAUTHORIZED", caller.ident)
        members = [org.agents[i] for i in t.agent_ids]
        users = "".join(team_member_xml(a) for a in members)
        return _xml(f"<Team>{_el('uri', f'/finesse/api/Team/{t.id}')}{_el('id', t.id)}{_el('name', t.name)}"
                    + (f"<users>{users}</users>" if users else "<users/>") + "</Team>")

    def category_param(request: Request, allowed: tuple[str, ...]) -> str | Response:
        category = request.query_params.get("category")
        if not category:
            return _api_error(400, "Parameter Missing", "The category parameter is missing", "category")
        if category.upper() not in allowed:
            return _api_error(400, "Invalid Input", f"category must be one of {', '.join(allowed)}", category)
        return category.upper()

    async def reason_codes(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        category = category_param(request, ("NOT_READY", "LOGOUT", "ALL"))
        if isinstance(category, Response):
            return category
        codes = [rc for rc in org.reason_codes if category == "ALL" or rc.category == category]
        return _xml("<ReasonCodes>" + "".join(reason_xml(rc) for rc in codes) + "</ReasonCodes>")

    async def user_reason_codes(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        target = target_agent(request, caller)
        if isinstance(target, Response):
            return target
        category = category_param(request, ("NOT_READY", "LOGOUT", "ALL"))
        if isinstance(category, Response):
            return category
        codes = [rc for rc in org.reason_codes if category == "ALL" or rc.category == category]
        return _xml(f'<ReasonCodes category="{category}">' + "".join(reason_xml(rc) for rc in codes)
                    + "</ReasonCodes>")

    async def reason_code(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        raw = request.path_params["id"]
        rc = org.reason_code(int(raw)) if raw.isdigit() else None
        if rc is None:
            return _api_error(404, "Not Found", f"ReasonCode {raw} not found", raw)
        return _xml(reason_xml(rc))

    async def user_queues(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        target = target_agent(request, caller)
        if isinstance(target, Response):
            return target
        return _xml("<Queues>" + "".join(queue_xml(q) for q in team_queues(target.team_id)) + "</Queues>")

    async def queue(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        raw = request.path_params["id"]
        qid = int(raw) if raw.isdigit() else -1
        if not any(q[0] == qid for q in QUEUES):
            return _api_error(404, "Not Found", f"Queue {raw} not found", raw)
        if not caller.admin:
            assert caller.agent is not None
            if qid not in team_queues(caller.agent.team_id):
                return _api_error(401, "Authorization Failure", "UNAUTHORIZED", caller.ident)
        return _xml(queue_xml(qid))

    async def users_all(request: Request) -> Response:
        caller = require(request)
        if isinstance(caller, Response):
            return caller
        if caller.admin:
            agents = list(org.agents.values())
        elif caller.supervised:
            agents = [a for a in org.agents.values() if a.team_id in caller.supervised]
        else:
            return _api_error(401, "Authorization Failure", "UNAUTHORIZED", caller.ident)
        return _xml("<Users>" + "".join(user_xml(a) for a in agents) + "</Users>")

    # -- errors -----------------------------------------------------------------------------------------
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _api_error(404, "Not Found", "The requested resource does not exist", request.url.path)
        if exc.status_code == 405:
            return _api_error(405, "Method Not Allowed", f"{request.method} is not supported here",
                              request.url.path, dict(exc.headers or {}))
        return _api_error(exc.status_code, "Finesse API Error", str(exc.detail), "", dict(exc.headers or {}))

    async def server_error(request: Request, exc: Exception) -> Response:
        return _api_error(500, "Internal Server Error", "An unexpected error occurred", "")

    routes = [
        Route("/desktop/sso/token", sso_token, methods=["GET", "POST"]),
        Route("/desktop/sso/acs", sso_acs, methods=["GET"]),
        Route("/desktop/sso/test", sso_test, methods=["GET"]),
        Route("/finesse/api/SystemInfo", system_info, methods=["GET"]),
        Route("/finesse/api/Users", users_all, methods=["GET"]),
        Route("/finesse/api/User/{id}", user, methods=["GET", "PUT"]),
        Route("/finesse/api/User/{id}/Dialogs", user_dialogs, methods=["GET"]),
        Route("/finesse/api/User/{id}/ReasonCodes", user_reason_codes, methods=["GET"]),
        Route("/finesse/api/User/{id}/Queues", user_queues, methods=["GET"]),
        Route("/finesse/api/Dialog/{id}", dialog, methods=["GET"]),
        Route("/finesse/api/Team/{id}", team, methods=["GET"]),
        Route("/finesse/api/ReasonCodes", reason_codes, methods=["GET"]),
        Route("/finesse/api/ReasonCode/{id}", reason_code, methods=["GET"]),
        Route("/finesse/api/Queue/{id}", queue, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(StripTrailingSlash)],
                     exception_handlers={HTTPException: http_error, Exception: server_error})
