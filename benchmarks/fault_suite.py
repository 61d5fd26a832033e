"""The fault suite (issue 6), shared by ``benchmarks/faults.py`` (large, several seeds) and
``tests/test_faults.py`` (modest, in CI).

Against a lab that answers 429 with Retry-After, 503, latency spikes and truncated bodies, it pulls **every
list endpoint of every product** (every non-``one`` :class:`~ucexplore.services.base.Fetch` of UDS, Unity,
Finesse, Webex and WebexXML — WebDialer has none) and compares the rows with the lab's ground truth:

* ``org`` — computed from ``lab.org``, the synthetic organisation itself;
* ``raw`` — the lab's own complete answer, fetched once *without faults* by plain httpx in one page (or
  following ``Link`` for Webex) and read with ElementTree/json — nothing of ucexplore's decoding or paging;
* ``clean`` — for an endpoint this module does not know yet: the same client call with faults off.

A row is identified by the endpoint's key column (its ``id`` where it has one); ``lost`` counts truth keys the
pull missed, ``dup`` keys it returned more often than the truth has them, ``extra`` keys the truth lacks.
Failures are recorded, never hidden: the error's type and first line.

It also runs the mid-pull token-expiry cases: refreshable flows (Finesse, Webex) refresh and resume — both
when the token nears its end of life during a pull and when the server rejects it early; a CUCM
implicit-grant token that runs out mid-pull raises :class:`~ucexplore.errors.TokenExpired` that says how to
sign in again and keeps the rows already fetched in ``err.partial``.

Example::

    >>> from fault_suite import run_seed, FAULTS     # doctest: +SKIP
    >>> report = run_seed(users=300, seed=1, faults=FAULTS)   # doctest: +SKIP
    >>> report.ok                                             # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:
    from . import _common
except ImportError:  # imported as a top-level module
    import _common  # type: ignore[no-redef]  # noqa: F401

import httpx

import ucexplore as ux
from ucexplore.errors import TokenExpired, UcError
from ucexplore.lab.person import Person
from ucexplore.transport import RetryPolicy, run_sync

__all__ = [
    "FAULTS",
    "PRODUCTS",
    "SUITE_RETRY",
    "EndpointResult",
    "ExpiryResult",
    "SeedReport",
    "available_products",
    "expiry_cases",
    "format_table",
    "run_seed",
]

#: lab products whose API paths get the faults (the IdP and the sign-in pages are never faulted)
PRODUCTS = ("cucm", "unity", "finesse", "webex", "webex_xml")

#: issue 6: 10 % 429 with Retry-After, 10 % 503, latency spikes, truncated bodies
FAULTS = dict(
    rate_429=0.10, rate_503=0.10, retry_after=0.2, truncate_rate=0.05, spike_rate=0.05, spike_ms=250.0
)

#: the retry policy of the suite's clients: Retry-After honoured (capped at 2 s), quick backoff, and enough
#: attempts that ~25 % faulty answers essentially never exhaust them (0.25 ** 10 ≈ 1e-6 per request)
SUITE_RETRY = RetryPolicy(attempts=10, backoff=0.05, max_backoff=1.0, max_wait=2.0, max_total=120.0)


#: lab product → the client module it needs
SERVICE_MODULES = {
    "cucm": "uds",
    "unity": "unity",
    "finesse": "finesse",
    "webex": "webex",
    "webex_xml": "webex_xml",
}


def available_products() -> tuple[str, ...]:
    """The products whose client module exists (all of them once every client is written)."""
    import importlib.util

    return tuple(p for p in PRODUCTS if importlib.util.find_spec(f"ucexplore.services.{SERVICE_MODULES[p]}"))


# ============================================================================================================
# results
# ============================================================================================================


@dataclass
class EndpointResult:
    """One endpoint's pull under faults."""

    endpoint: str
    source: str  #: where the truth came from: org, raw or clean
    expected: int = 0
    got: int = 0
    lost: int = 0
    dup: int = 0
    extra: int = 0
    retries: int = 0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    error: str | None = None  #: "TypeName: first line" when the pull raised
    error_typed: bool = True  #: the error (if any) was a ucexplore.errors.UcError with a message
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No row lost, duplicated or invented, and no failure."""
        return self.error is None and self.lost == 0 and self.dup == 0 and self.extra == 0

    @property
    def faults_seen(self) -> int:
        """Injected faults this endpoint's requests met (429 + 503 + truncated + spikes)."""
        return sum(self.faults.values())


@dataclass
class ExpiryResult:
    """One mid-pull token-expiry case."""

    case: str
    expected: int
    got: int
    outcome: str  #: what happened, in words
    ok: bool
    refreshes: int = 0


@dataclass
class SeedReport:
    """Everything one seed produced."""

    seed: int
    users: int
    endpoints: list[EndpointResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every endpoint complete, none duplicated, no failure."""
        return all(r.ok for r in self.endpoints)


# ============================================================================================================
# the session: lab, sign-ins, clients
# ============================================================================================================


class Session:
    """A lab plus the demo user's sign-ins and one client per product (and the Unity administrator)."""

    def __init__(self, lab: Any, *, retry: RetryPolicy = SUITE_RETRY, timeout: float = 30.0) -> None:
        self.lab = lab
        self.org = lab.org
        self.demo = lab.org.demo
        self.person = Person(*lab.demo_user, verify=lab.ca_path or True)
        kw: dict[str, Any] = dict(progress=False, retry=retry, timeout=timeout)
        urls = lab.urls
        self.flows: dict[str, Any] = {}
        self.clients: dict[str, Any] = {}
        if "cucm" in urls:
            self.flows["cucm"] = self._sign_in(ux.CucmSSO(urls["cucm"], redirect_uri=lab.redirect_uri))
            self.clients["uds"] = ux.UDS(urls["cucm"], auth=self.flows["cucm"], **kw)
        if "unity" in urls:
            self.flows["unity"] = self._sign_in(ux.UnitySSO(urls["unity"], redirect_uri=lab.redirect_uri))
            self.clients["unity_admin"] = ux.Unity(urls["unity"], auth=lab.admin, **kw)
            self.clients["unity_user"] = ux.Unity(urls["unity"], auth=self.flows["unity"], **kw)
        if "finesse" in urls:
            self.flows["finesse"] = self._sign_in(ux.FinesseSSO(urls["finesse"], agent_id=self.demo.username))
            self.clients["finesse"] = ux.Finesse(urls["finesse"], auth=self.flows["finesse"], **kw)
        if "webex" in urls:
            self.flows["webex"] = self._sign_in(webex_flow(lab))
            self.clients["webex"] = ux.Webex(auth=self.flows["webex"], base_url=urls["webex"] + "/v1", **kw)
        if "webex_xml" in urls:
            self.clients["webex_xml"] = ux.WebexXML(
                urls["webex_xml"], site_name=self.org.site_name, auth=lab.admin, **kw
            )
        agent = lab.org.demo_agent
        self.agent = agent
        team = lab.org.teams[agent.team_id]
        busy = [lab.org.agents[i] for i in team.agent_ids if lab.org.agents[i].dialogs]
        self.dialog_agent = busy[0] if busy else agent  #: a team member on a call (the demo supervises them)

    def _sign_in(self, flow: Any) -> Any:
        flow.complete(self.person.sign_in(flow.authorize_url))
        return flow

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.person.close()


def webex_flow(lab: Any) -> Any:
    """A Webex integration flow for the lab (authorization code + PKCE, every scope)."""
    return ux.WebexOAuth(
        lab.webex_client_id,
        client_secret=lab.webex_client_secret,
        redirect_uri=lab.redirect_uri,
        scopes=["spark:all"],
        base_url=lab.urls["webex"] + "/v1",
    )


# ============================================================================================================
# endpoints and their truth
# ============================================================================================================


@dataclass
class Endpoint:
    """One list endpoint to pull: which client, which method, how to call it, how to know the truth."""

    client: str
    product: str  #: the lab product whose faults apply
    name: str
    key: str  #: the column identifying a row
    args: Callable[[Session], tuple[Any, ...]] = lambda s: ()
    kwargs: Callable[[Session], dict[str, Any]] = lambda s: {}
    truth: Callable[[Session], list[Any]] | None = None  #: from lab.org; None → the raw reference
    small: dict[str, Any] = field(default_factory=dict)  #: page-size arguments for many small pages

    def label(self, session: Session) -> str:
        cls = type(session.clients[self.client]).__name__
        who = " (admin)" if self.client == "unity_admin" else ""
        return f"{cls}.{self.name}{who}"


def _dl_id(s: Session) -> str:
    """A distribution list with members (from the lab's own unfaulted answer)."""
    if not hasattr(s, "_dl"):
        lists = _raw_records(s, _known("unity_admin", "distribution_lists"), extra={"rowsPerPage": 100_000})
        s._dl = lists[0]["ObjectId"] if lists else "none"  # type: ignore[attr-defined]
    return s._dl  # type: ignore[attr-defined]


def _meeting_id(s: Session) -> str:
    meetings = s.org.meetings(s.demo)
    return meetings[0]["id"] if meetings else "none"


def _org_xml_meetings(s: Session) -> list[str]:
    return [m["meetingNumber"] for u in s.org.users for m in s.org.meetings(u)]


def _cluster_servers(s: Session) -> list[str]:
    from ucexplore.lab.cucm import CLUSTER_SERVERS

    return list(CLUSTER_SERVERS)


ENDPOINTS: list[Endpoint] = [
    # --- CUCM UDS (the demo user's own CucmSSO sign-in) ---------------------------------------------------
    Endpoint("uds", "cucm", "servers", "server", truth=_cluster_servers),
    Endpoint("uds", "cucm", "users", "id", truth=lambda s: [u.id for u in s.org.users]),
    Endpoint(
        "uds",
        "cucm",
        "devices",
        "id",
        args=lambda s: (s.demo.username,),
        truth=lambda s: [d["id"] for d in s.org.devices(s.demo)],
    ),
    Endpoint("uds", "cucm", "extensions", "id", args=lambda s: (s.demo.username,)),
    Endpoint(
        "uds",
        "cucm",
        "speed_dials",
        "index",
        args=lambda s: (s.demo.username,),
        truth=lambda s: [str(d["index"]) for d in s.org.speed_dials(s.demo)],
    ),
    Endpoint("uds", "cucm", "subscribed_services", "id", args=lambda s: (s.demo.username,)),
    Endpoint("uds", "cucm", "remote_destinations", "id", args=lambda s: (s.demo.username,)),
    Endpoint(
        "uds",
        "cucm",
        "credential_status",
        "credentialType",
        args=lambda s: (s.demo.username,),
        truth=lambda s: ["password", "pin"],
    ),
    # --- Unity Connection: CUPI as the administrator, CUMI as the demo user ----------------------------------
    Endpoint("unity_admin", "unity", "users", "ObjectId"),
    Endpoint("unity_admin", "unity", "call_handlers", "ObjectId"),
    Endpoint("unity_admin", "unity", "distribution_lists", "ObjectId"),
    Endpoint("unity_admin", "unity", "distribution_list_members", "ObjectId", args=lambda s: (_dl_id(s),)),
    Endpoint("unity_user", "unity", "folders", "DisplayName", truth=lambda s: ["inbox", "sent", "deleted"]),
    Endpoint(
        "unity_user",
        "unity",
        "messages",
        "MsgId",
        args=lambda s: ("inbox",),
        truth=lambda s: [m["MsgId"] for m in s.org.mailbox(s.demo)["inbox"]],
    ),
    # --- Finesse (the demo agent, a supervisor of its team) -------------------------------------------------
    Endpoint(
        "finesse",
        "finesse",
        "users",
        "loginId",
        truth=lambda s: [a.login_id for a in s.org.agents.values() if a.team_id == s.agent.team_id],
    ),
    Endpoint(
        "finesse",
        "finesse",
        "team",
        "loginId",
        args=lambda s: (s.agent.team_id,),
        truth=lambda s: list(s.org.teams[s.agent.team_id].agent_ids),
    ),
    Endpoint(
        "finesse",
        "finesse",
        "dialogs",
        "id",
        args=lambda s: (s.dialog_agent.login_id,),
        truth=lambda s: [d["id"] for d in s.dialog_agent.dialogs],
    ),
    Endpoint(
        "finesse",
        "finesse",
        "reason_codes",
        "code",
        kwargs=lambda s: {"category": "NOT_READY"},
        truth=lambda s: [str(rc.code) for rc in s.org.reason_codes if rc.category == "NOT_READY"],
    ),
    Endpoint(
        "finesse",
        "finesse",
        "user_reason_codes",
        "code",
        args=lambda s: (s.agent.login_id,),
        kwargs=lambda s: {"category": "LOGOUT"},
    ),
    Endpoint("finesse", "finesse", "queues", "uri", args=lambda s: (s.agent.login_id,)),
    # --- Webex REST (the demo user's integration sign-in) ----------------------------------------------------
    Endpoint(
        "webex",
        "webex",
        "people",
        "id",
        truth=lambda s: [u.webex_id for u in s.org.sorted_users],
        small={"max": 20},
    ),
    Endpoint(
        "webex",
        "webex",
        "meetings",
        "id",
        truth=lambda s: [m["id"] for m in s.org.meetings(s.demo)],
        small={"max": 3},
    ),
    Endpoint(
        "webex", "webex", "meeting_participants", "id", args=lambda s: (_meeting_id(s),), small={"max": 3}
    ),
    Endpoint("webex", "webex", "rooms", "id", small={"max": 2}),
    # --- Webex XML API (the site administrator: every host's meetings) ---------------------------------------
    Endpoint(
        "webex_xml",
        "webex_xml",
        "meetings",
        "meetingKey",
        truth=_org_xml_meetings,
        small={"maximum_num": 100},
    ),
]

_CLIENT_CLASSES = {
    "uds": "UDS",
    "unity_admin": "Unity",
    "unity_user": "Unity",
    "finesse": "Finesse",
    "webex": "Webex",
    "webex_xml": "WebexXML",
}
_PRODUCT_OF = {
    "uds": "cucm",
    "unity_admin": "unity",
    "unity_user": "unity",
    "finesse": "finesse",
    "webex": "webex",
    "webex_xml": "webex_xml",
}


def _known(client: str, name: str) -> Endpoint:
    return next(e for e in ENDPOINTS if e.client == client and e.name == name)


def all_endpoints(session: Session) -> list[Endpoint]:
    """ENDPOINTS for the clients this session has, plus every other list endpoint the client classes
    declare (truth: a clean pull), so a list endpoint added later is never skipped."""
    out = [e for e in ENDPOINTS if e.client in session.clients]
    seen = {(type(session.clients[e.client]).__name__, e.name) for e in out}
    defaults: dict[str, Callable[[Session], Any]] = {
        "user_id": lambda s: s.demo.username,
        "agent_id": lambda s: s.agent.login_id,
        "team_id": lambda s: s.agent.team_id,
        "object_id": _dl_id,
        "folder": lambda s: "inbox",
        "meeting_id": _meeting_id,
        "meetingId": _meeting_id,
    }
    for client, cls_name in _CLIENT_CLASSES.items():
        if client not in session.clients or client == "unity_user":
            continue
        for name, fetch in type(session.clients[client]).endpoints().items():
            if fetch.one or (cls_name, name) in seen:
                continue
            seen.add((cls_name, name))
            names = list(fetch.placeholders) + list(getattr(fetch, "positional", ()) or ())
            key = fetch.id or (fetch.columns[0] if fetch.columns else "")
            out.append(
                Endpoint(
                    client,
                    _PRODUCT_OF[client],
                    name,
                    key,
                    args=lambda s, ns=tuple(names): tuple(defaults.get(n, lambda s: "x")(s) for n in ns),
                    truth=None,
                )
            )
            out[-1].source = "clean"  # type: ignore[attr-defined]
    return out


# -- the raw reference: the lab's own answer, without faults, read without ucexplore ----------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _raw_records(s: Session, ep: Endpoint, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    client = s.clients[ep.client]
    fetch = type(client).endpoints()[ep.name]
    path, query = fetch.bind(ep.args(s), ep.kwargs(s))
    headers = {"Accept": fetch.accept or type(client).accept or "*/*"}
    auth = run_sync(client.credentials.authorization())
    if auth:
        headers["Authorization"] = auth
    params = {**query, **(extra or {})}
    url: str | None = client.base_url + path
    out: list[dict[str, Any]] = []
    with httpx.Client(timeout=60, verify=s.lab.ca_path or True) as http:
        for _ in range(10_000):  # bounded: follows Link rel="next" (Webex) to the end
            if url is None:
                break
            r = http.get(url, params=params, headers=headers)
            r.raise_for_status()
            out.extend(_records_of(r.content, fetch.item))
            nxt = r.links.get("next", {}).get("url")
            url, params = (nxt, None) if nxt else (None, None)
    return out


def _records_of(body: bytes, item: str | None) -> list[dict[str, Any]]:
    body = body.strip()
    if not body:
        return []
    if body[:1] in (b"{", b"["):
        obj = json.loads(body)
        if isinstance(obj, list):
            return obj
        found = obj.get(item) if item else obj.get("items")
        if found is None:
            found = next((v[item] for v in obj.values() if isinstance(v, dict) and item in v), [])
        return found if isinstance(found, list) else [found]
    root = ET.fromstring(body)
    recs = []
    for el in root.iter():
        if _local(el.tag) == item and el is not root:
            recs.append({_local(c.tag): (c.text or "") for c in el} | {"#text": el.text or ""})
    if not recs and item is None:
        recs = [{_local(c.tag): (c.text or "") for c in el} | {"#text": el.text or ""} for el in root]
    return recs


def _raw_truth(s: Session, ep: Endpoint) -> list[Any]:
    extra = (
        {"rowsPerPage": 100_000} if ep.product == "unity" else {"max": 100} if ep.product == "webex" else {}
    )
    recs = _raw_records(s, ep, extra)
    return [str(r.get(ep.key) if ep.key in r else r.get("#text")) for r in recs]


def _keys(df: Any, key: str) -> list[str]:
    if key not in getattr(df, "columns", ()):
        return [] if len(df) == 0 else ["<no key column " + key + ">"] * len(df)
    out = []
    for v in df[key].tolist():
        out.append(str(v))
    return out


def expected_keys(s: Session, ep: Endpoint) -> tuple[list[str], str]:
    """(keys, source) — computed with faults off."""
    if getattr(ep, "source", None) == "clean":
        df = getattr(s.clients[ep.client], ep.name)(*ep.args(s), **ep.kwargs(s))
        return _keys(df, ep.key), "clean"
    if ep.truth is not None:
        return [str(k) for k in ep.truth(s)], "org"
    return _raw_truth(s, ep), "raw"


def compare(expected: list[str], got: list[str]) -> tuple[int, int, int]:
    """(lost, dup, extra) between two multisets of keys."""
    e, g = Counter(expected), Counter(got)
    lost = sum((e - g).values())
    dup = sum(max(0, g[k] - e[k]) for k in g if k in e)
    extra = sum(v for k, v in g.items() if k not in e)
    return lost, dup, extra


# ============================================================================================================
# one seed
# ============================================================================================================


def _counters(lab: Any, product: str) -> dict[str, int]:
    c = lab.fault_counters.get(product)
    return c.as_dict() if c is not None else {}


def run_seed(
    users: int,
    seed: int,
    faults: dict[str, Any],
    *,
    products: tuple[str, ...] = PRODUCTS,
    only: Callable[[Endpoint], bool] | None = None,
    retry: RetryPolicy = SUITE_RETRY,
    small_pages: bool = True,
    log: Callable[[str], None] | None = None,
) -> SeedReport:
    """Start a lab, sign in, take the truth of every list endpoint without faults, then pull each one under
    ``faults`` and compare. ``small_pages``: where the API lets the client choose the page size (Webex
    ``max``, the XML API's ``maximumNum``), ask for small pages: many more requests, so many more faults met."""
    t0 = time.perf_counter()
    report = SeedReport(seed=seed, users=users)
    with ux.lab.start(users=users, seed=seed, products=("idp", *products)) as lab:
        session = Session(lab, retry=retry)
        try:
            endpoints = [e for e in all_endpoints(session) if only is None or only(e)]
            truths = {id(e): expected_keys(session, e) for e in endpoints}
            lab.set_faults(tuple(p for p in products), **faults)
            for ep in endpoints:
                report.endpoints.append(pull_one(session, ep, truths[id(ep)], small_pages=small_pages))
                if log:
                    log(format_row(report.endpoints[-1]))
        finally:
            lab.set_faults(None)
            session.close()
    report.seconds = time.perf_counter() - t0
    return report


def pull_one(
    s: Session, ep: Endpoint, truth: tuple[list[str], str], *, small_pages: bool = False
) -> EndpointResult:
    """Pull one endpoint under the faults already set and compare with ``truth``."""
    expected, source = truth
    client = s.clients[ep.client]
    res = EndpointResult(endpoint=ep.label(s), source=source, expected=len(expected))
    client.transport.reset_stats()
    before = _counters(s.lab, ep.product)
    t = time.perf_counter()
    try:
        df = getattr(client, ep.name)(*ep.args(s), **{**ep.kwargs(s), **(ep.small if small_pages else {})})
        got = _keys(df, ep.key)
    except Exception as exc:  # recorded: the suite reports every failure and whether it was typed
        first = str(exc).splitlines()[0] if str(exc) else ""
        res.error = f"{type(exc).__name__}: {first}"
        res.error_typed = isinstance(exc, UcError) and bool(str(exc))
        partial = getattr(exc, "partial", None)
        got = _keys(partial, ep.key) if partial is not None else []
    res.seconds = time.perf_counter() - t
    after = _counters(s.lab, ep.product)
    res.faults = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    res.faults["spikes"] = res.faults.pop("delayed", 0)
    stats = client.transport.stats
    res.retries, res.requests = int(stats["retries"]), int(stats["requests"])
    res.got = len(got)
    res.lost, res.dup, res.extra = compare(expected, got)
    return res


# ============================================================================================================
# the mid-pull token-expiry cases
# ============================================================================================================


def _expire_server_side(lab: Any, issuer: str, token: str) -> bool:
    """Make the lab's issuer consider ``token`` expired now (a token the server rejects before the client
    expected: clock skew, an administrator's "log out everywhere", a shortened lifetime)."""
    grant = lab.ctx.issuers[issuer].validate(token)
    if grant is None:
        return False
    grant.expires_at = time.time() - 1
    return True


def _after_requests(
    client: Any, n: int, action: Callable[[], Any], timeout: float = 60.0
) -> threading.Thread:
    """Run ``action`` once ``client`` has sent ``n`` requests (a watcher thread; bounded by ``timeout``)."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while client.transport.stats["requests"] < n and time.monotonic() < deadline:
            time.sleep(0.002)
        action()

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def expiry_cases(
    users: int = 1000, seed: int = 3, *, log: Callable[[str], None] | None = None
) -> list[ExpiryResult]:
    """Every mid-pull expiry case; each returns what happened and whether it is what should happen."""
    out: list[ExpiryResult] = []
    have = available_products()
    for case in EXPIRY_CASES:
        if case.__name__.split("_")[1] not in have:
            continue
        try:
            result = case(users, seed)
        except Exception as exc:  # a case that crashes is a failed case, reported as such
            result = ExpiryResult(
                case.__name__.strip("_"), 0, 0, f"crashed: {type(exc).__name__}: {exc}", False
            )
        out.append(result)
        if log:
            log(format_expiry(result))
    return out


def _finesse_calls(fin: Any, s: Session, seconds: float = 0.0) -> tuple[int, int]:
    """A minute's worth of supervisor reading, compressed (4 rounds, or as many as fit in ``seconds``):
    (rows expected, rows got)."""
    team = s.org.teams[s.agent.team_id]
    want = got = 0
    until = time.monotonic() + seconds
    rounds = 0
    while rounds < 4 or time.monotonic() < until:
        rounds += 1
        df = fin.team(s.agent.team_id)
        want += len(team.agent_ids)
        got += len(set(df["loginId"]) & set(team.agent_ids))
        df = fin.users()
        want += len(team.agent_ids)
        got += len(set(df["loginId"]) & set(team.agent_ids))
        df = fin.dialogs(s.dialog_agent.login_id)
        want += len(s.dialog_agent.dialogs)
        got += len(set(df["id"]) & {d["id"] for d in s.dialog_agent.dialogs}) if len(df) else 0
    return want, got


def _finesse_short_lived(users: int, seed: int) -> ExpiryResult:
    """Finesse tokens that live 2 s, 120 ms per request: the flow refreshes before expiry, no call fails."""
    with ux.lab.start(users=users, seed=seed, products=("idp", "finesse"), token_ttl={"finesse": 2}) as lab:
        lab.set_faults("finesse", latency_ms=120)
        s = Session(lab)
        try:
            fin, flow = s.clients["finesse"], s.flows["finesse"]
            first = flow.token.access_token
            want, got = _finesse_calls(fin, s, seconds=3.0)  # past the first token's end of life
            refreshed = flow.token.access_token != first
            return ExpiryResult(
                "Finesse: token lifetime ends during the calls",
                want,
                got,
                f"refreshed {flow.refresh_count}x, every call answered",
                want == got and refreshed,
                flow.refresh_count,
            )
        finally:
            s.close()


def _finesse_rejected_early(users: int, seed: int) -> ExpiryResult:
    """The server rejects the Finesse token in the middle of the calls: one 401, a refresh, the call resumes."""
    with ux.lab.start(users=users, seed=seed, products=("idp", "finesse")) as lab:
        lab.set_faults("finesse", latency_ms=30)
        s = Session(lab)
        try:
            fin, flow = s.clients["finesse"], s.flows["finesse"]
            token = flow.token.access_token
            watcher = _after_requests(fin, 5, lambda: _expire_server_side(lab, "finesse", token))
            want, got = _finesse_calls(fin, s)
            watcher.join(5)
            ok = want == got and flow.refresh_count >= 1 and flow.token.access_token != token
            return ExpiryResult(
                "Finesse: server rejects the token mid-way (401)",
                want,
                got,
                f"401 → refreshed {flow.refresh_count}x → resumed",
                ok,
                flow.refresh_count,
            )
        finally:
            s.close()


def _webex_short_lived(users: int, seed: int) -> ExpiryResult:
    """A people pull of many pages with a Webex token that lives 2 s: refreshed mid-pull, nothing lost."""
    users = max(users, 300)
    page = max(10, users // 30)  # ~30 pages, one after another (Link paging) at 90 ms: ~2.7 s > 2 s
    with ux.lab.start(users=users, seed=seed, products=("idp", "webex"), token_ttl={"webex": 2}) as lab:
        lab.set_faults("webex", latency_ms=90)
        s = Session(lab)
        try:
            wx, flow = s.clients["webex"], s.flows["webex"]
            truth = [u.webex_id for u in lab.org.sorted_users]
            df = wx.people(max=page)
            got = list(df["id"])
            lost, dup, extra = compare(truth, got)
            ok = (lost, dup, extra) == (0, 0, 0) and flow.refresh_count >= 1
            return ExpiryResult(
                f"Webex: token lifetime ends during a {-(-len(truth) // page)}-page pull",
                len(truth),
                len(got),
                f"refreshed {flow.refresh_count}x mid-pull; lost {lost}, dup {dup}",
                ok,
                flow.refresh_count,
            )
        finally:
            s.close()


def _webex_rejected_early(users: int, seed: int) -> ExpiryResult:
    """The server rejects the Webex token after a few pages: 401 → refresh → the pull resumes where it was."""
    with ux.lab.start(users=users, seed=seed, products=("idp", "webex")) as lab:
        lab.set_faults("webex", latency_ms=20)
        s = Session(lab)
        try:
            wx, flow = s.clients["webex"], s.flows["webex"]
            token = flow.token.access_token
            truth = [u.webex_id for u in lab.org.sorted_users]
            wx.transport.reset_stats()
            watcher = _after_requests(wx, 4, lambda: _expire_server_side(lab, "webex", token))
            df = wx.people(max=20)
            watcher.join(5)
            got = list(df["id"])
            lost, dup, extra = compare(truth, got)
            ok = (
                (lost, dup, extra) == (0, 0, 0)
                and flow.refresh_count >= 1
                and wx.transport.stats["refreshes"] >= 1
            )
            return ExpiryResult(
                "Webex: server rejects the token mid-pull (401)",
                len(truth),
                len(got),
                f"401 → refreshed {flow.refresh_count}x → resumed; lost {lost}, dup {dup}",
                ok,
                flow.refresh_count,
            )
        finally:
            s.close()


def _cucm_pull_until_expiry(lab: Any, s: Session, expire: Callable[[], Any] | None) -> ExpiryResult | tuple:
    uds = s.clients["uds"]
    truth = [u.id for u in lab.org.users]
    uds.transport.reset_stats()
    if expire is not None:
        _after_requests(uds, 5, expire)
    try:
        df = uds.users()
    except TokenExpired as exc:
        return exc, truth
    except UcError as exc:
        return exc, truth
    return df, truth


def _cucm_check(
    name: str, lab: Any, s: Session, result: Any, truth: list[str], want_type: type
) -> ExpiryResult:
    err, _ = result
    if not isinstance(err, UcError):
        return ExpiryResult(name, len(truth), len(err), "no error: the token outlived the pull", False)
    partial = getattr(err, "partial", None)
    kept = list(partial["id"]) if partial is not None else []
    _, dup, extra = compare(truth, kept)
    msg = str(err)
    says_how = "sign in" in msg.lower() and "err.partial" in msg
    # and continue: sign in again, run the call again → every row (the lab's latency off, so that the new
    # short-lived token outlives the pull, as a real one-hour token does)
    lab.set_faults("cucm")
    flow = s.flows["cucm"]
    flow.complete(s.person.sign_in(flow.authorize_url))
    again = s.clients["uds"].users()
    l2, d2, e2 = compare(truth, list(again["id"]))
    ok = (
        isinstance(err, want_type)
        and says_how
        and len(kept) > 0
        and dup == 0
        and extra == 0
        and (l2, d2, e2) == (0, 0, 0)
    )
    return ExpiryResult(
        name,
        len(truth),
        len(kept),
        f"{type(err).__name__}, {len(kept)} rows kept in err.partial (0 dup); signed in again → "
        f"{len(again)} rows",
        ok,
    )


def _cucm_expires_mid_pull(users: int, seed: int) -> ExpiryResult:
    """A CUCM implicit-grant token (2 s) runs out during a UDS pull: TokenExpired, rows kept, how to go on."""
    # 2,000 users: 32 pages, 2 at a time, 150 ms each: ~2.4 s, so a 2 s token runs out two thirds of the way
    with ux.lab.start(
        users=max(users, 2000),
        seed=seed,
        products=("idp", "cucm"),
        uds_users_auth=True,
        token_ttl={"cucm": 2},
    ) as lab:
        lab.set_faults("cucm", latency_ms=150)
        s = Session(lab, retry=SUITE_RETRY)
        try:
            s.clients["uds"] = ux.UDS(
                lab.urls["cucm"], auth=s.flows["cucm"], progress=False, max_concurrency=2
            )
            return _cucm_check(
                "CUCM: implicit-grant token runs out mid-pull",
                lab,
                s,
                _cucm_pull_until_expiry(lab, s, None),
                [u.id for u in lab.org.users],
                TokenExpired,
            )
        finally:
            s.close()


def _cucm_rejected_early(users: int, seed: int) -> ExpiryResult:
    """CUCM rejects a token the client still thinks valid (revoked, clock skew): a typed 401 error that says
    to sign in again, rows kept."""
    with ux.lab.start(users=users, seed=seed, products=("idp", "cucm"), uds_users_auth=True) as lab:
        lab.set_faults("cucm", latency_ms=40)
        s = Session(lab, retry=SUITE_RETRY)
        try:
            s.clients["uds"] = ux.UDS(
                lab.urls["cucm"], auth=s.flows["cucm"], progress=False, max_concurrency=2
            )
            token = s.flows["cucm"].token.access_token
            result = _cucm_pull_until_expiry(lab, s, lambda: _expire_server_side(lab, "cucm", token))
            return _cucm_check(
                "CUCM: server rejects the token mid-pull (401)",
                lab,
                s,
                result,
                [u.id for u in lab.org.users],
                UcError,
            )
        finally:
            s.close()


#: every expiry case (the product is the second word of the name)
EXPIRY_CASES = (
    _finesse_short_lived,
    _finesse_rejected_early,
    _webex_short_lived,
    _webex_rejected_early,
    _cucm_expires_mid_pull,
    _cucm_rejected_early,
)


# ============================================================================================================
# printing
# ============================================================================================================

HEADER = (
    f"{'endpoint':<42} {'truth':<5} {'429':>4} {'503':>4} {'trunc':>5} {'spike':>5} {'retries':>7} "
    f"{'expected':>8} {'got':>6} {'lost':>4} {'dup':>4}  result"
)


def format_row(r: EndpointResult) -> str:
    f = r.faults
    result = "ok" if r.ok else (r.error or f"lost {r.lost} dup {r.dup} extra {r.extra}")
    return (
        f"{r.endpoint:<42} {r.source:<5} {f.get('429', 0):>4} {f.get('503', 0):>4} {f.get('truncated', 0):>5} "
        f"{f.get('spikes', 0):>5} {r.retries:>7} {r.expected:>8} {r.got:>6} {r.lost:>4} {r.dup:>4}  {result}"
    )


def format_table(results: list[EndpointResult]) -> str:
    return "\n".join([HEADER, *(format_row(r) for r in results)])


def format_expiry(r: ExpiryResult) -> str:
    return f"{r.case:<52} expected {r.expected:>6}  got {r.got:>6}  {'OK' if r.ok else 'FAILED'}  {r.outcome}"
