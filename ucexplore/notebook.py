"""Helpers for the first cells of the ucexplore notebooks: where the servers are, sign-in, exercise checks.

Every notebook starts the same way::

    >>> from ucexplore.notebook import ux_env, sign_in
    >>> env = ux_env()          # servers from the UCX_* variables, or the lab started here   # doctest: +SKIP
    >>> flow = env.cucm_sso()   # = ux.CucmSSO(env.cucm_url, redirect_uri=…, verify=env.verify)   # doctest: +SKIP
    >>> sign_in(flow)           # the sign-in widget (scripted sign-in when headless on the lab)  # doctest: +SKIP

Where the servers are comes from environment variables (``ucexplore lab`` / ``Lab.env()`` export exactly
these): ``UCX_CUCM_URL``, ``UCX_UNITY_URL``, ``UCX_FINESSE_URL``, ``UCX_WEBEX_URL``, ``UCX_WEBEX_XML_URL``,
``UCX_REDIRECT_URI``, ``UCX_CA_PATH``, ``UCX_LAB``, ``UCX_DEMO_USER``, ``UCX_DEMO_PASSWORD``,
``UCX_DEMO_AGENT_ID``, ``UCX_WEBEX_CLIENT_ID`` (optional: ``UCX_ADMIN_USER``/``UCX_ADMIN_PASSWORD`` for the
CUPI administrator, ``UCX_WEBEX_SITE`` for the XML API, ``UCX_HEADLESS``). When no server URL is set at all, :func:`ux_env` starts the lab in this
kernel (``ux.lab.start()``) and uses its URLs.

Headless runs (``UCX_HEADLESS=1``, or plain Python without a Jupyter kernel) against the lab sign in through
the lab IdP's login form by script, exactly as a person would, and hand the landed address to the same
widget (``w.submit(...)``). Anywhere else :func:`sign_in` only shows the widget and returns at once: nothing
blocks, and data cells run before the sign-in is finished raise ``NotSignedIn`` pointing back at it.

The ``check_*`` functions grade the workshop exercises against the lab's ground truth, read straight from
the lab's HTTP API (plain httpx, independent of the ucexplore clients the learner uses). They print
``✔``/``✘`` with a hint, print "not done yet" while the answer is still ``...``, and never raise.

No token and no password is ever printed, shown in a widget or put in a repr.
"""

from __future__ import annotations

import os
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from .redact import MASK
from .redact import Unpicklable, redact, register_secret

__all__ = [
    "ENV_VARS",
    "NotebookEnv",
    "check_agent_state",
    "check_directory_count",
    "check_my_devices",
    "check_scheduled_meetings",
    "check_unread_voicemail",
    "is_headless",
    "sign_in",
    "signed_in_flows",
    "ux_env",
]

#: The variables :func:`ux_env` reads (``Lab.env()`` exports exactly these, plus ``UCX_IDP_URL``).
ENV_VARS = (
    "UCX_CUCM_URL", "UCX_UNITY_URL", "UCX_FINESSE_URL", "UCX_WEBEX_URL", "UCX_WEBEX_XML_URL",
    "UCX_REDIRECT_URI", "UCX_CA_PATH", "UCX_LAB", "UCX_DEMO_USER", "UCX_DEMO_PASSWORD", "UCX_DEMO_AGENT_ID",
    "UCX_WEBEX_CLIENT_ID",
)
_URL_VARS = ("UCX_CUCM_URL", "UCX_UNITY_URL", "UCX_FINESSE_URL", "UCX_WEBEX_URL", "UCX_WEBEX_XML_URL")
_TRUE = ("1", "true", "yes", "on")

_lock = threading.Lock()
_ENV: NotebookEnv | None = None
_PEOPLE: dict[tuple[str, str], Any] = {}  # (redirect_uri, user) → lab.person.Person (keeps the SSO cookie)
_FLOWS: dict[str, Any] = {}  # product → the last flow passed to sign_in()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def _webex_api(url: str | None) -> str | None:
    """``http://127.0.0.1:5004`` → ``…/v1``; a URL that already has a path (``…/v1``) is kept."""
    if not url:
        return None
    url = url.rstrip("/")
    return url if urlsplit(url).path not in ("", "/") else url + "/v1"


# ============================================================================================================
# where the servers are
# ============================================================================================================


@dataclass(repr=False)
class NotebookEnv(Unpicklable):
    """Where this notebook's servers are, and how to reach them. Build it with :func:`ux_env`.

    ``*_url`` are base URLs (``None`` when not configured); ``webex_url`` is the REST base with ``/v1``;
    ``verify`` is the CA bundle path or True; ``is_lab`` tells whether the target is the ucexplore lab;
    ``lab`` is the :class:`~ucexplore.lab.Lab` when it was started in this kernel. ``demo_user`` /
    ``demo_agent_id`` are whose data "my" cells read: the lab's demo user, or on real servers your own ids
    (``UCX_DEMO_USER``, ``UCX_DEMO_AGENT_ID``). The demo password is kept private and shown masked:
    :meth:`demo_password` gives it masked, ``demo_password(reveal=True)`` as text, for the person who types
    it into the sign-in page (use :meth:`demo_credentials` where a product takes HTTP Basic).

    Example::

        >>> env = NotebookEnv(cucm_url="https://cucm.example.com:8443",
        ...                   redirect_uri="https://app.example.com/cb")
        >>> env.cucm_sso().authorize_url.split("?")[0]
        'https://cucm.example.com:8443/ssosp/oauth/authorize'
        >>> env.unity_sso()
        Traceback (most recent call last):
        ...
        ValueError: Unity Connection is not configured: set UCX_UNITY_URL (e.g. https://cuc.example.com), or unset every UCX_*_URL to use the built-in lab
    """

    cucm_url: str | None = None
    unity_url: str | None = None
    finesse_url: str | None = None
    webex_url: str | None = None
    webex_xml_url: str | None = None
    idp_url: str | None = None
    redirect_uri: str | None = None
    ca_path: str | None = None
    is_lab: bool = False
    demo_user: str | None = None
    demo_agent_id: str | None = None
    webex_client_id: str | None = None
    webex_site: str | None = None
    lab: Any = None
    _demo_password: str | None = field(default=None)
    _admin: tuple[str, str] | None = field(default=None)
    _pickle_what = "the notebook environment (it keeps the demo and admin passwords)"

    def __post_init__(self) -> None:
        register_secret(self._demo_password)
        if self._admin:
            register_secret(self._admin[1])

    # -- facts ------------------------------------------------------------------------------------------
    @property
    def verify(self) -> bool | str:
        """What to pass as ``verify=``: the CA bundle (``UCX_CA_PATH``) or True. Never False."""
        return self.ca_path or True

    @property
    def started_lab(self) -> bool:
        """True when :func:`ux_env` started the lab in this kernel."""
        return self.lab is not None

    def demo_credentials(self) -> tuple[str, str]:
        """``(user, password)`` of the demo user, for products that take HTTP Basic (never printed)."""
        if not (self.demo_user and self._demo_password):
            raise ValueError("no demo user configured: set UCX_DEMO_USER and UCX_DEMO_PASSWORD")
        return self.demo_user, self._demo_password

    def demo_password(self, reveal: bool = False) -> Any:
        """The demo user's password, to type into the sign-in page: masked (a :class:`~ucexplore.redact.Secret`
        that shows as ``*****``; ``.reveal()`` gives the text) unless ``reveal=True``, which returns the text.

        In the lab every user has this password. The text shows in the cell's output, and a saved notebook
        keeps outputs: clear that output (or delete the cell) before you save or share the notebook.

        Example::

            >>> env = NotebookEnv(demo_user="jkam", _demo_password="lab-pass-1")
            >>> env.demo_password()
            Secret('*****')
            >>> env.demo_password(reveal=True)   # doctest: +SKIP
            'lab-pass-1'
        """
        from .redact import Secret

        if not self._demo_password:
            raise ValueError("no demo password configured: set UCX_DEMO_PASSWORD (the lab sets it for you)")
        return self._demo_password if reveal else Secret(self._demo_password)

    def admin_credentials(self) -> tuple[str, str] | None:
        """``(user, password)`` of an administrator (CUPI), or None when none is configured.

        From ``UCX_ADMIN_USER``/``UCX_ADMIN_PASSWORD``; for the lab, its administrator."""
        return self._admin

    # -- flows ------------------------------------------------------------------------------------------
    def _need(self, value: str | None, what: str, var: str, example: str) -> str:
        if not value:
            raise ValueError(f"{what} is not configured: set {var} (e.g. {example}), or unset every "
                             "UCX_*_URL to use the built-in lab")
        return value

    def _need_redirect(self) -> str:
        return self._need(self.redirect_uri, "The redirect URI", "UCX_REDIRECT_URI",
                          "https://app.example.com/cb, registered with the servers")

    def cucm_sso(self) -> Any:
        """``ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)``."""
        from .auth.flows import CucmSSO

        url = self._need(self.cucm_url, "CUCM", "UCX_CUCM_URL", "https://cucm.example.com:8443")
        return CucmSSO(url, redirect_uri=self._need_redirect(), verify=self.verify)

    def unity_sso(self) -> Any:
        """``ux.UnitySSO(env.unity_url, redirect_uri=env.redirect_uri, verify=env.verify)``."""
        from .auth.flows import UnitySSO

        url = self._need(self.unity_url, "Unity Connection", "UCX_UNITY_URL", "https://cuc.example.com")
        return UnitySSO(url, redirect_uri=self._need_redirect(), verify=self.verify)

    def finesse_sso(self, agent_id: str | None = None) -> Any:
        """``ux.FinesseSSO(env.finesse_url, agent_id=…, verify=env.verify)`` (default: the demo agent)."""
        from .auth.flows import FinesseSSO

        url = self._need(self.finesse_url, "Finesse", "UCX_FINESSE_URL", "https://finesse.example.com:8445")
        return FinesseSSO(url, agent_id=agent_id or self.demo_agent_id, verify=self.verify)

    def webex_oauth(self, scopes: Iterable[str] | str | None = None) -> Any:
        """``ux.WebexOAuth(env.webex_client_id, redirect_uri=…, scopes=…, base_url=env.webex_url)``
        (authorization code + PKCE; no client secret needed)."""
        from .auth.flows import WebexOAuth

        client_id = self._need(self.webex_client_id, "The Webex integration", "UCX_WEBEX_CLIENT_ID",
                               "the client id from developer.webex.com > My Webex Apps")
        return WebexOAuth(client_id, redirect_uri=self._need_redirect(), scopes=scopes,
                          base_url=self.webex_url or "https://webexapis.com/v1", verify=self.verify)

    # -- display ----------------------------------------------------------------------------------------
    def rows(self) -> list[tuple[str, str]]:
        """(what, where) pairs for display; no secrets."""
        out = [("target", ("the ucexplore lab, started in this kernel" if self.started_lab
                           else "the ucexplore lab" if self.is_lab else "your servers"))]
        for name, value in (("CUCM (UDS, WebDialer)", self.cucm_url), ("Unity Connection", self.unity_url),
                            ("Finesse", self.finesse_url), ("Webex REST", self.webex_url),
                            ("Webex XML API (retired)", self.webex_xml_url), ("identity provider", self.idp_url),
                            ("redirect URI", self.redirect_uri)):
            if value:
                out.append((name, value))
        out.append(("TLS verification", f"CA bundle {self.ca_path}" if self.ca_path else "system CAs"))
        if self.demo_user:
            agent = f" (Finesse agent {self.demo_agent_id})" if self.demo_agent_id else ""
            out.append(("demo user", f"{self.demo_user}{agent}"))
        if self._demo_password:
            how = "env.demo_password(reveal=True) shows it; clear that output before you save"
            out.append(("demo password", f"{MASK}  ({how})"))
        return out

    def __repr__(self) -> str:
        where = "lab (in this kernel)" if self.started_lab else "lab" if self.is_lab else "servers"
        return f"<NotebookEnv {where} cucm={self.cucm_url} demo_user={self.demo_user}>"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td style='text-align:left'>{html.escape(k)}</td>"
                       f"<td style='text-align:left'><code>{html.escape(v)}</code></td></tr>"
                       for k, v in self.rows())
        return f"<table class='ucx-env'>{rows}</table>"


def ux_env(*, start_lab: bool | None = None, users: int = 200, seed: int = 7, refresh: bool = False) -> NotebookEnv:
    """Where the servers are: from the ``UCX_*`` environment variables, or a lab started in this kernel.

    The result is cached for the kernel, so re-running the first cell does not start a second lab.
    ``start_lab=None`` (default) starts the lab only when no ``UCX_*_URL`` variable is set; ``True`` always
    starts one; ``False`` never does. ``users``/``seed`` shape a lab started here.

    Example::

        >>> env = ux_env()                      # doctest: +SKIP
        >>> env.cucm_url, env.is_lab            # doctest: +SKIP
        ('http://127.0.0.1:41861', True)
    """
    global _ENV
    with _lock:
        if _ENV is not None and not refresh:
            return _ENV
        configured = any(os.environ.get(v) for v in _URL_VARS)
        if start_lab or (start_lab is None and not configured):
            _ENV = _env_from_lab(users=users, seed=seed)
        else:
            _ENV = _env_from(os.environ)
        return _ENV


def _env_from(vars: Any, lab: Any = None) -> NotebookEnv:
    g = vars.get
    is_lab = lab is not None or _truthy(g("UCX_LAB"))
    admin = None
    if g("UCX_ADMIN_USER") and g("UCX_ADMIN_PASSWORD"):
        admin = (g("UCX_ADMIN_USER"), g("UCX_ADMIN_PASSWORD"))
    elif lab is not None:
        admin = tuple(lab.admin)
    elif is_lab:
        from .lab.config import LabConfig  # the lab's stock administrator

        defaults = LabConfig()
        admin = (defaults.admin_user, defaults.admin_password)
    return NotebookEnv(
        cucm_url=g("UCX_CUCM_URL") or None,
        unity_url=g("UCX_UNITY_URL") or None,
        finesse_url=g("UCX_FINESSE_URL") or None,
        webex_url=_webex_api(g("UCX_WEBEX_URL")),
        webex_xml_url=g("UCX_WEBEX_XML_URL") or None,
        idp_url=g("UCX_IDP_URL") or None,
        redirect_uri=g("UCX_REDIRECT_URI") or None,
        ca_path=g("UCX_CA_PATH") or None,
        is_lab=is_lab,
        demo_user=g("UCX_DEMO_USER") or None,
        demo_agent_id=g("UCX_DEMO_AGENT_ID") or None,
        webex_client_id=g("UCX_WEBEX_CLIENT_ID") or None,
        webex_site=g("UCX_WEBEX_SITE") or _site_name(g("UCX_WEBEX_XML_URL"), is_lab),
        lab=lab,
        _demo_password=g("UCX_DEMO_PASSWORD") or None,
        _admin=admin,  # type: ignore[arg-type]
    )


def _site_name(xml_url: str | None, is_lab: bool) -> str | None:
    """The Webex site name: the lab's own, else the first label of ``acme.webex.com``."""
    if is_lab:
        from .lab.org import SITE_NAME

        return SITE_NAME
    host = urlsplit(xml_url).hostname if xml_url else None
    return host.split(".", 1)[0] if host and host.endswith(".webex.com") else None


def _env_from_lab(users: int, seed: int) -> NotebookEnv:
    from . import lab as lab_module

    lab = lab_module.start(users=users, seed=seed)
    return _env_from(lab.env(), lab=lab)


# ============================================================================================================
# sign-in
# ============================================================================================================


def is_headless() -> bool:
    """True when nobody is there to click: ``UCX_HEADLESS=1``, or plain Python outside a Jupyter kernel.

    ``UCX_HEADLESS=0`` forces the interactive path (show the widget and wait for a person).

    Example::

        >>> os.environ["UCX_HEADLESS"] = "1"; is_headless()
        True
        >>> del os.environ["UCX_HEADLESS"]
    """
    flag = os.environ.get("UCX_HEADLESS")
    if flag is not None and flag.strip():
        return _truthy(flag)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is None or type(shell).__name__ != "ZMQInteractiveShell"


def _person(env: NotebookEnv) -> Any:
    from .lab.person import Person

    user, password = env.demo_credentials()
    key = (env.redirect_uri or "", user)
    person = _PEOPLE.get(key)
    if person is None:
        person = _PEOPLE[key] = Person(user, password, verify=env.verify)
    return person


def sign_in(flow: Any, *, env: NotebookEnv | None = None, auto: bool | None = None) -> Any:
    """Show the sign-in widget for ``flow`` and return it (``ux.login(flow)``, a LoginWidget).

    When the target is the lab and nobody is there to click (:func:`is_headless`), a scripted person signs
    in through the lab IdP's login form — the same pages a person sees — and the address the browser lands on
    goes through ``w.submit(...)``, the Sign-in button's own code path. ``auto=True``/``False`` forces or
    skips that. Otherwise this returns at once and a person signs in with the widget; data calls made before
    then raise ``NotSignedIn`` pointing back at it.

    Example::

        >>> flow = env.cucm_sso()      # doctest: +SKIP
        >>> sign_in(flow)              # the last line of a cell: shows the widget   # doctest: +SKIP
        <LoginWidget CucmSSO Signed in as jkam · issuer cucm at 127.0.0.1:40311 · …>
    """
    from .widgets import login

    env = env or ux_env()
    w = login(flow)
    _FLOWS[str(getattr(flow, "product", "") or type(flow).__name__).lower()] = flow
    if auto is None:
        auto = env.is_lab and is_headless()
    if auto:
        if not env.is_lab:
            raise ValueError("scripted sign-in only works against the ucexplore lab (its IdP form)")
        try:
            landed = _person(env).sign_in(flow.authorize_url)
        except Exception as exc:  # noqa: BLE001 - shown, not raised: the widget stays usable by hand
            print(f"Scripted sign-in through the lab IdP failed: {redact(exc)}")
        else:
            w.submit(landed)
            if w.error:
                print(f"Scripted sign-in failed: {w.error}")
    elif is_headless():
        print(f"Nobody can sign in to {getattr(flow, 'display_name', 'this server')} in a headless run "
              "against real servers: data cells below will raise NotSignedIn.")
    return w


def signed_in_flows() -> dict[str, Any]:
    """product → the last flow passed to :func:`sign_in` in this kernel (checks use it for Webex)."""
    return dict(_FLOWS)


# ============================================================================================================
# exercise checks: the lab's ground truth over plain HTTP
# ============================================================================================================

_NOT_DONE = "… not done yet: replace the `...` above with your answer, run that cell, then run this one again."


def _ok(message: str) -> None:
    print(f"✔ {message}")


def _wrong(message: str, hint: str) -> None:
    print(f"✘ {message}\n  hint: {hint}")


def _not_done(answer: Any) -> bool:
    if answer is Ellipsis or answer is None:
        print(_NOT_DONE)
        return True
    return False


def _grade(check: Callable[[], None]) -> None:
    """Run a check; a failure to reach the ground truth is reported, never raised."""
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - a check must never stop "Run All"
        print(f"? could not check the answer: {redact(f'{type(exc).__name__}: {exc}')}\n"
              "  hint: is the lab running and are the UCX_* variables set? (run the first cell again)")


def _http(env: NotebookEnv) -> Any:
    import httpx

    return httpx.Client(verify=env.verify, timeout=30.0)


def _text(el: ET.Element | None, name: str) -> str | None:
    found = el.find(name) if el is not None else None
    return found.text if found is not None else None


def _truth_users_total(env: NotebookEnv, filters: dict[str, str]) -> int:
    with _http(env) as http:
        r = http.get(f"{env.cucm_url}/cucm-uds/users", params={**filters, "max": "1"})
        r.raise_for_status()
        return int(ET.fromstring(r.content).attrib["totalCount"])


def _truth_my_devices(env: NotebookEnv) -> list[dict[str, str | None]]:
    user, password = env.demo_credentials()
    with _http(env) as http:
        r = http.get(f"{env.cucm_url}/cucm-uds/user/{quote(user)}/devices", auth=(user, password))
        r.raise_for_status()
        return [{"name": _text(d, "name"), "model": _text(d, "model")} for d in ET.fromstring(r.content)
                if d.tag == "device"]


def _truth_inbox(env: NotebookEnv) -> list[dict[str, Any]]:
    with _http(env) as http:
        r = http.get(f"{env.unity_url}/vmrest/mailbox/folders/inbox/messages",
                     params={"rowsPerPage": "5000", "pageNumber": "1"}, auth=env.demo_credentials(),
                     headers={"Accept": "application/json"})
        r.raise_for_status()
        body = r.json()
        msgs = body.get("Message", [])
        return [msgs] if isinstance(msgs, dict) else list(msgs)


def _truth_agent(env: NotebookEnv) -> dict[str, str | None]:
    agent = env.demo_agent_id or env.demo_credentials()[0]
    with _http(env) as http:
        r = http.get(f"{env.finesse_url}/finesse/api/User/{quote(agent)}", auth=env.demo_credentials())
        r.raise_for_status()
        root = ET.fromstring(r.content)
        return {"state": _text(root, "state"), "reasonCodeId": _text(root, "reasonCodeId")}


def _truth_reason_codes(env: NotebookEnv, category: str) -> dict[str, str]:
    """reason code id → label."""
    with _http(env) as http:
        r = http.get(f"{env.finesse_url}/finesse/api/ReasonCodes", params={"category": category},
                     auth=env.demo_credentials())
        r.raise_for_status()
        out = {}
        for rc in ET.fromstring(r.content):
            uri = _text(rc, "uri") or ""
            out[uri.rstrip("/").rsplit("/", 1)[-1]] = _text(rc, "label") or ""
        return out


def _truth_meetings(env: NotebookEnv, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url: str | None = f"{env.webex_url}/meetings?max=100"
    with _http(env) as http:
        while url:
            r = http.get(url, headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            items += r.json().get("items", [])
            url = r.links.get("next", {}).get("url")
    return items


def _as_int(answer: Any) -> int | None:
    """A whole number (int, numpy integer, 5.0), else None."""
    if isinstance(answer, (bool, str, bytes)):
        return None
    try:
        value = int(answer)
        return value if value == answer else None
    except (TypeError, ValueError, OverflowError):
        return None


#: UDS sends at most this many users per page (its documented cap, and the lab's).
UDS_PAGE = 64
#: Exercise 1's search: users whose number starts with "20" (the 20xx extension block). At the notebooks'
#: lab size (200 users) that is 99 users: two UDS pages, so the paging lesson really pages.
DIRECTORY_QUESTION = {"number": "20"}
_FILTER_WORDS = {"number": "a number", "last": "a last name", "first": "a first name", "email": "an e-mail address",
                 "name": "a name", "displayname": "a display name", "uri": "a directory URI"}


def _describe(filters: dict[str, str]) -> str:
    return " and ".join(f"{_FILTER_WORDS.get(k, k)} starting with {v!r}" for k, v in filters.items())


def check_directory_count(answer: Any, **filters: str) -> None:
    """Exercise 1: how many users does the directory search ``filters`` find (default
    :data:`DIRECTORY_QUESTION`: a number that starts with "20")? Pass another search as keywords, e.g.
    ``check_directory_count(n, last="K")``.

    A wrong answer gets the hint for the usual mistake: one page only (a multiple of 64), a ``limit=`` pull,
    an exact or case-sensitive filter on the DataFrame (0), the last index label (one short), the whole
    directory.

    Example::

        >>> check_directory_count(len(uds.users(number="20")))        # doctest: +SKIP
        ✔ 99 users have a number starting with '20' (UDS sent them in 2 pages of at most 64).
    """
    if _not_done(answer):
        return
    filters = {k: str(v) for k, v in (filters or DIRECTORY_QUESTION).items()}
    call = f"uds.users({', '.join(f'{k}={v!r}' for k, v in filters.items())})"

    def check() -> None:
        env = ux_env()
        truth = _truth_users_total(env, filters)
        got = _as_int(answer)
        if got is None:
            _wrong(f"the answer should be a whole number, got {type(answer).__name__}",
                   f"len(df) is the number of rows of a DataFrame: len({call})")
            return
        if got == truth:
            pages = max(1, -(-truth // UDS_PAGE))
            how = "one page" if pages == 1 else f"{pages} pages of at most {UDS_PAGE}"
            _ok(f"{truth} users have {_describe(filters)} (UDS sent them in {how}).")
            return
        if got == 0:
            _wrong("0 is not right: there are users like that",
                   "UDS searches are case-insensitive 'starts with' matches done by the server; an exact match "
                   f"(df[col] == ...) or a case-sensitive test on the DataFrame finds nothing. Use {call}, "
                   "then len() of the result")
        elif got == truth - 1:
            _wrong(f"{got} is one short",
                   "did you take the last index label (df.index.max() or df.index[-1])? The index starts at 0, "
                   "so it is one less than the number of rows: count with len(df)")
        elif got == truth + 1:
            _wrong(f"{got} is one too many",
                   "len(df) already counts every row: did you add 1, or count the numbers of a range (such as "
                   "2000-2099) instead of the users the server found?")
        elif got < truth and got % UDS_PAGE == 0:
            n = got // UDS_PAGE
            _wrong(f"{got} is {'one page' if n == 1 else f'{n} pages'} of {UDS_PAGE}: too few",
                   f"UDS sends at most {UDS_PAGE} users a page and you counted only the first {n}: a raw request "
                   f"(or max={UDS_PAGE}, or limit={got}) gets that much. {call} fetches every page by itself")
        elif got < truth:
            _wrong(f"{got} is too few",
                   f"did you pass limit=? limit= caps the total number of rows (it is not the page size); leave "
                   f"it out and {call} returns every match")
        elif got == _truth_users_total(env, {}):
            _wrong(f"{got} is the whole directory",
                   f"put the filter in the search, {call}, instead of counting every user")
        else:
            _wrong(f"{got} is too many",
                   "the search matches the start of the value ('starts with'); str.contains, or a filter on "
                   f"another column, matches more. Use {call}")

    _grade(check)


def check_my_devices(answer: Any) -> None:
    """Exercise 2: the names of your own (the demo user's) devices, as a list or set.

    Example::

        >>> check_my_devices(uds.devices(env.demo_user)["name"].tolist())     # doctest: +SKIP
        ✔ you have 3 devices: BOTJKAM, CSFJKAM1, SEP4C2A7E3F1B09.
    """
    if _not_done(answer):
        return

    def check() -> None:
        truth = {d["name"] for d in _truth_my_devices(ux_env())}
        if isinstance(answer, str) or not hasattr(answer, "__iter__"):
            _wrong("the answer should be a list of device names", 'df["name"].tolist() turns a column into a list')
            return
        got = {str(x) for x in answer}
        if got == truth:
            _ok(f"you have {len(truth)} device(s): {', '.join(sorted(truth))}.")
        elif got & truth:
            missing, extra = truth - got, got - truth
            _wrong(f"{len(got & truth)} of {len(truth)} right"
                   + (f"; missing {len(missing)}" if missing else "") + (f"; {len(extra)} not yours" if extra else ""),
                   "take the 'name' column of uds.devices(your_user_id), every row")
        else:
            _wrong("none of these are your devices",
                   "uds.devices() wants your CUCM user id (env.demo_user); use the 'name' column")

    _grade(check)


def check_unread_voicemail(unread: Any, oldest: Any = Ellipsis) -> None:
    """Exercise 3: how many unread messages are in your inbox, and when did the oldest unread one arrive?

    ``oldest`` is a timestamp (pandas Timestamp, datetime or ISO text); the minute must match (UTC).

    Example::

        >>> check_unread_voicemail(5, msgs.loc[~msgs["Read"], "ArrivalTime"].min())     # doctest: +SKIP
        ✔ 5 unread messages; the oldest arrived 2026-08-14 10:31 UTC.
    """
    if _not_done(unread):
        return

    def check() -> None:
        inbox = _truth_inbox(ux_env())
        unread_msgs = [m for m in inbox if str(m.get("Read", "")).lower() != "true"]
        truth = len(unread_msgs)
        got = _as_int(unread)
        if got is None:
            _wrong(f"the unread count should be a whole number, got {type(unread).__name__}",
                   "(~df['Read']).sum() counts the unread rows")
            return
        if got != truth:
            if got == len(inbox) and got > truth:
                hint = "that is every message in the inbox: keep only the unread rows, msgs[~msgs['Read']]"
            elif got == len(inbox) - truth:
                hint = "that counts the read messages: ~msgs['Read'] (with the ~) is True for the unread ones"
            elif got == truth - 1:
                hint = ("one short: the last index label is one less than the number of rows (the index "
                        "starts at 0); count with len(...) or (~msgs['Read']).sum()")
            elif got > truth:
                hint = "count the rows whose 'Read' column is False (there are read messages in the inbox too)"
            else:
                hint = "cuc.messages() fetches every page; did you pass limit=?"
            _wrong(f"{got} unread is not right", hint)
            return
        if oldest is Ellipsis or oldest is None:
            _ok(f"{truth} unread messages. Now find when the oldest unread one arrived.")
            return
        first = min(int(m["ArrivalTime"]) for m in unread_msgs) if unread_msgs else None
        want = datetime.fromtimestamp(first / 1000, tz=UTC) if first is not None else None
        try:
            import pandas as pd

            ts = pd.Timestamp(oldest)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            got_ts = ts.to_pydatetime()
        except Exception:  # noqa: BLE001
            _wrong(f"{oldest!r} is not a timestamp", "the 'ArrivalTime' column holds UTC timestamps; use .min()")
            return
        if want is not None and abs((got_ts - want).total_seconds()) < 60:
            _ok(f"{truth} unread messages; the oldest arrived {want:%Y-%m-%d %H:%M} UTC.")
        else:
            _wrong(f"{got_ts:%Y-%m-%d %H:%M} UTC is not when the oldest unread message arrived",
                   "keep only the unread rows first, then take the smallest 'ArrivalTime' (.min())")

    _grade(check)


def check_agent_state(reason_code_id: Any, *, state: str = "NOT_READY", label: str = "Break") -> None:
    """Exercise 4: find the id of the ``label`` reason code and put yourself in ``state`` with it.

    Reads your agent state back from Finesse (the server, not your DataFrame).

    Example::

        >>> check_agent_state(rc_id)            # doctest: +SKIP
        ✔ you are NOT_READY with reason 'Break' (id 2).
    """
    if _not_done(reason_code_id):
        return

    def check() -> None:
        env = ux_env()
        codes = _truth_reason_codes(env, state)
        right = [k for k, v in codes.items() if v == label]
        if str(reason_code_id).strip() not in right:
            _wrong(f"{reason_code_id!r} is not the id of the {label!r} reason code",
                   f"fin.reason_codes(category={state!r}) lists them; look up the row whose label is {label!r}")
            return
        now = _truth_agent(env)
        if now["state"] == state and now["reasonCodeId"] in right:
            _ok(f"you are {state} with reason {label!r} (id {now['reasonCodeId']}).")
        elif now["state"] == state:
            _wrong(f"you are {state}, but with reason code {now['reasonCodeId']}",
                   f"fin.set_state(agent_id, {state!r}, reason_code_id=...) with the id you found")
        else:
            _wrong(f"Finesse says your state is {now['state']}",
                   f"fin.set_state(agent_id, {state!r}, reason_code_id=...) changes it; read it back with fin.user()")

    _grade(check)


#: Webex sends this many meetings per page when ``max`` is not given.
WEBEX_MEETINGS_PAGE = 10


def check_scheduled_meetings(answer: Any) -> None:
    """Exercise 5: how many of the meetings you host are still ``scheduled``? Needs the Webex sign-in.

    Example::

        >>> check_scheduled_meetings((mtg["state"] == "scheduled").sum())     # doctest: +SKIP
        ✔ 6 of your 15 meetings are still scheduled.
    """
    if _not_done(answer):
        return

    def check() -> None:
        flow = _FLOWS.get("webex")
        tok = getattr(flow, "token", None)
        if tok is None:
            print("? sign in to Webex first (run the sign-in cell above), then run this check again.")
            return
        items = _truth_meetings(ux_env(), tok.access_token)
        truth = sum(1 for m in items if m.get("state") == "scheduled")
        first_page = sum(1 for m in items[:WEBEX_MEETINGS_PAGE] if m.get("state") == "scheduled")
        got = _as_int(answer)
        if got == truth:
            _ok(f"{truth} of your {len(items)} meetings are still scheduled.")
        elif got is None:
            _wrong(f"the answer should be a whole number, got {type(answer).__name__}",
                   "(df['state'] == 'scheduled').sum() counts matching rows")
        elif got == len(items):
            _wrong(f"{got} is every meeting you host", "keep only the rows whose 'state' is 'scheduled'")
        elif got in (WEBEX_MEETINGS_PAGE, first_page) and len(items) > WEBEX_MEETINGS_PAGE:
            _wrong(f"{got} is not right: that is the first page only",
                   f"Webex sends {WEBEX_MEETINGS_PAGE} meetings per page by default; wx.meetings() follows the "
                   "Link pages by itself (no max=, no limit=), then count the rows whose 'state' is 'scheduled'")
        elif got == truth - 1:
            _wrong(f"{got} is one short", "the last index label is one less than the number of rows (the index "
                   "starts at 0): count with (df['state'] == 'scheduled').sum()")
        else:
            _wrong(f"{got} is not right", "wx.meetings() fetches every page (the API sends 10 per page by "
                   "default); count the rows whose 'state' is 'scheduled' (not 'inProgress' or 'ended')")

    _grade(check)
