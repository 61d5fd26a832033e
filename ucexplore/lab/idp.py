"""The lab's identity provider: a real login page, an SSO session cookie, logout, and the callback page.

Hops (as with a SAML IdP, redirect binding):
``product → GET /idp/sso?sp=…&RelayState=…`` → login form (or straight through when the SSO cookie is
valid) → ``302 <product ACS>?SAMLResponse=…&RelayState=…``. One sign-in serves every product until logout.

Login CSRF protection (as real IdPs do), so a page on another site cannot post the form and plant its own
session in the person's browser:

* the form carries a hidden ``csrf_token`` bound to the browser (the ``ucx_idp_csrf`` cookie: random,
  HttpOnly, SameSite=Lax, Path=/idp) and to this form's ``sp`` and ``RelayState``; it is an HMAC with a key
  made when the lab starts, valid for ``FORM_TTL`` seconds (double submit, nothing stored on the server);
* the POST is refused with 403 and a readable page when the token is missing, wrong, expired or minted for
  another browser, when ``Origin`` (or, without ``Origin``, the ``Referer``'s origin) is not the IdP's own
  origin, or when ``Sec-Fetch-Site`` says ``cross-site``. A POST with neither header but a valid token is
  accepted (old browsers, scripts: :mod:`ucexplore.lab.person` reads the hidden field like a browser).
"""

from __future__ import annotations

import base64
import hmac
import html
import re
import secrets
import time
from hashlib import sha256
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .context import LabContext, request_base_url

__all__ = ["create_app", "SESSION_COOKIE", "CSRF_COOKIE", "CSRF_FIELD"]

SESSION_COOKIE = "ucxlab_idp_session"
SESSION_TTL = 8 * 3600
CSRF_COOKIE = "ucx_idp_csrf"  #: the browser half of the login form's CSRF token
CSRF_FIELD = "csrf_token"  #: the hidden form field (the other half)
FORM_TTL = 3600  #: seconds a login form may be submitted after it was shown [I]
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_LOOPBACK = ("localhost", "::1")

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f3f5f7;margin:0}
main{max-width:440px;margin:8vh auto;background:#fff;border-radius:8px;padding:28px 32px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:20px;margin:0 0 4px} p.sub{color:#556;margin:0 0 20px;font-size:14px}
label{display:block;font-size:13px;color:#334;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px;border:1px solid #bcc5cf;
border-radius:4px;font-size:15px}
button{margin-top:18px;width:100%;padding:10px;border:0;border-radius:4px;background:#0d6ebd;color:#fff;
font-size:15px;cursor:pointer} .err{background:#fdecea;color:#8a1f11;padding:8px 10px;border-radius:4px;font-size:14px}
code,textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
textarea{width:100%;box-sizing:border-box;height:110px;padding:8px;border:1px solid #bcc5cf;border-radius:4px}
.ok{color:#1e7d32}
"""

_PRODUCT_NAMES = {"cucm": "Cisco Unified CM", "unity": "Cisco Unity Connection", "finesse": "Cisco Finesse",
                  "webex": "Webex"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _origin(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL or serialized origin; None for anything else."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def _refused(retry_url: str | None) -> HTMLResponse:
    """The 403 page of a login form that cannot be accepted (forged, expired or from another site)."""
    again = (f"<p><a id=ucx-idp-restart href='{html.escape(retry_url, quote=True)}'>Show the sign-in form "
             f"again</a></p>") if retry_url else ""
    body = (
        "<h1>Sign-in not accepted</h1>"
        "<p class=err role=alert>This sign-in form has expired or was sent from another site, so it was not "
        "accepted. You have not been signed in.</p>"
        "<p>Start the sign-in again from the application (for example the notebook's "
        "&ldquo;Open sign-in page&rdquo; link).</p>" + again
    )
    return _page("Sign-in not accepted", body, 403)


def create_app(ctx: LabContext) -> Starlette:
    """The IdP as an ASGI app."""
    sessions: dict[str, tuple[str, float]] = {}
    csrf_key = secrets.token_bytes(32)

    # -- login CSRF: a per-form token bound to the browser cookie, the form's sp/RelayState and a time ------
    def csrf_mac(browser: str, issued: int, sp: str, relay: str) -> str:
        msg = "\0".join((browser, str(issued), sp, relay)).encode()
        return base64.urlsafe_b64encode(hmac.new(csrf_key, msg, sha256).digest()).decode().rstrip("=")

    def csrf_token(browser: str, sp: str, relay: str) -> str:
        issued = int(time.time())
        return f"{issued}.{csrf_mac(browser, issued, sp, relay)}"

    def csrf_ok(request: Request, token: str, sp: str, relay: str) -> bool:
        browser = request.cookies.get(CSRF_COOKIE, "")
        if not _BROWSER_ID.match(browser) or not token:
            return False
        issued_raw, _, mac = token.partition(".")
        if not issued_raw.isdigit() or len(issued_raw) > 12:
            return False
        issued = int(issued_raw)
        if not hmac.compare_digest(mac.encode(), csrf_mac(browser, issued, sp, relay).encode()):
            return False
        return issued - 60 <= time.time() <= issued + FORM_TTL

    def own_origins(request: Request) -> set[tuple[str, str, int]]:
        mine = {o for o in (_origin(ctx.urls.get("idp")),) if o is not None}
        here = _origin(request_base_url(request))  # the same loopback IdP reached as localhost / 127.0.0.1
        if here is not None and _is_loopback(here[1]) and any(here[::2] == o[::2] for o in mine):
            mine.add(here)
        return mine

    def cross_site(request: Request) -> bool:
        """True when the POST visibly comes from a page that is not the IdP's own."""
        if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return True
        origin = request.headers.get("origin")
        if origin is None:
            origin = request.headers.get("referer")  # only its origin counts
            if origin is None:
                return False  # neither header (old browsers, scripts): the token alone decides
        return _origin(origin) not in own_origins(request)

    def current_user(request: Request) -> str | None:
        sid = request.cookies.get(SESSION_COOKIE)
        entry = sessions.get(sid or "")
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def to_acs(sp: str, relay: str, username: str) -> RedirectResponse:
        query = urlencode({"SAMLResponse": ctx.sign_assertion(username, sp), "RelayState": relay})
        return RedirectResponse(f"{ctx.acs_url(sp)}?{query}", status_code=302)

    def login_form(request: Request, sp: str, relay: str, error: str = "", username: str = "",
                   status: int = 200) -> HTMLResponse:
        product = _PRODUCT_NAMES.get(sp, sp)
        browser = request.cookies.get(CSRF_COOKIE, "")
        if not _BROWSER_ID.match(browser):
            browser = secrets.token_urlsafe(32)  # reused while the browser keeps it: other tabs stay valid
        err = f"<p class=err role=alert>{html.escape(error)}</p>" if error else ""
        body = (
            f"<h1>Sign in to Acme</h1><p class=sub>to continue to {html.escape(product)} (ucexplore lab IdP)</p>{err}"
            f"<form id=ucx-idp-login method=post action='/idp/sso' autocomplete=off>"
            f"<input type=hidden name=sp value='{html.escape(sp, quote=True)}'>"
            f"<input type=hidden name=RelayState value='{html.escape(relay, quote=True)}'>"
            f"<input type=hidden name={CSRF_FIELD} value='{csrf_token(browser, sp, relay)}'>"
            f"<label for=username>User name or e-mail</label>"
            f"<input type=text id=username name=username value='{html.escape(username, quote=True)}' autofocus>"
            f"<label for=password>Password</label><input type=password id=password name=password>"
            f"<button type=submit id=ucx-idp-submit>Sign in</button></form>"
        )
        response = _page("Sign in", body, status)
        response.set_cookie(CSRF_COOKIE, browser, httponly=True, samesite="lax", path="/idp",
                            secure=request.url.scheme == "https")
        return response

    def known_sp(sp: str) -> bool:
        return sp in _PRODUCT_NAMES and sp in ctx.urls

    async def sso(request: Request) -> Response:
        if request.method == "GET":
            sp = request.query_params.get("sp", "")
            relay = request.query_params.get("RelayState", "")
            if not known_sp(sp) or not relay:
                return _page("Bad request", "<h1>Bad sign-in request</h1><p>Unknown service provider or "
                             "missing RelayState. Start again from the application.</p>", 400)
            user = current_user(request)
            if user:
                return to_acs(sp, relay, user)
            return login_form(request, sp, relay)
        if cross_site(request):
            return _refused(None)  # no link back: the sp/RelayState came from the other site
        form = await request.form()
        sp, relay = str(form.get("sp", "")), str(form.get("RelayState", ""))
        username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        if not known_sp(sp) or not relay:
            return _page("Bad request", "<h1>Bad sign-in request</h1>", 400)
        if not csrf_ok(request, str(form.get(CSRF_FIELD, "")), sp, relay):
            return _refused(f"/idp/sso?{urlencode({'sp': sp, 'RelayState': relay})}")
        user = ctx.org.check_password(username, password)
        if user is None:
            return login_form(request, sp, relay, "Incorrect user name or password.", username)
        sid = secrets.token_urlsafe(24)
        sessions[sid] = (user.username, time.time() + SESSION_TTL)
        response = to_acs(sp, relay, user.username)
        response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_TTL, httponly=True, samesite="lax", path="/idp",
                            secure=request.url.scheme == "https")
        return response

    async def logout(request: Request) -> Response:
        sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = _page("Signed out", "<h1>Signed out</h1><p>Your single sign-on session has ended.</p>")
        response.delete_cookie(SESSION_COOKIE, path="/idp")
        return response

    async def callback(request: Request) -> Response:
        # The token arrives in the URL fragment, which never reaches a server: the page shows it to copy.
        body = (
            "<h1>Signed in — copy this address</h1>"
            "<p class=sub>Paste the whole address below into the ucexplore sign-in box in your notebook, "
            "then close this tab. Treat it like a password.</p>"
            "<textarea id=ucx-callback-url class=ucx-callback-url readonly></textarea>"
            "<button id=ucx-copy class=ucx-copy type=button>Copy to clipboard</button>"
            "<p id=ucx-copied class=ok></p>"
            "<script>const t=document.getElementById('ucx-callback-url');t.value=location.href;"
            "document.getElementById('ucx-copy').onclick=async()=>{t.select();"
            "try{await navigator.clipboard.writeText(t.value)}catch(e){document.execCommand('copy')}"
            "document.getElementById('ucx-copied').textContent='Copied. Paste it into the notebook.'};"
            "history.replaceState(null,'',location.pathname);</script>"
        )
        response = _page("ucexplore sign-in", body)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def index(request: Request) -> Response:
        rows = "".join(f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in ctx.urls.items())
        return _page("ucexplore lab", f"<h1>ucexplore lab</h1><ul>{rows}</ul>")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "users": ctx.org.size, "products": sorted(ctx.urls)})

    return Starlette(routes=[
        Route("/", index),
        Route("/health", health),
        Route("/idp/sso", sso, methods=["GET", "POST"]),
        Route("/idp/logout", logout, methods=["GET", "POST"]),
        Route("/callback", callback),
    ])
