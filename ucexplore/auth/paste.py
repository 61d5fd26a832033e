"""The paste parser: everything a person may paste back after signing in, turned into fields or ``SSOError``.

What people paste (with any surrounding whitespace, quotes ``' " “ ” ‘ ’ ` ``, angle brackets, line breaks
inserted by a browser or terminal, URL-encoded or not):

* the whole redirected URL — token in the fragment (``#access_token=…&token_type=Bearer&expires_in=3600
  &state=…``, parameters in any order) or a code in the query (``?code=…&state=…``);
* the fragment or query alone, with or without the leading ``#``/``?``;
* ``code#state`` (what some redirect pages show);
* Finesse's JSON body ``{"token":…,"refresh_token":…,"expires_in":…,"user_id":…,"realm":…}``;
* a bare token (also as ``Bearer …`` or ``Authorization: Bearer …``).

Sign-in integrity (RFC 9700 §4.5–§4.8; RFC 6749 §4.2.2, §10.12), when the flow passes its ``state``:

* a pasted result that carries parameters (a URL, a fragment, a query, JSON) must carry the **same**
  ``state``: a missing state is refused (unless the flow was created with ``require_state=False`` for a server
  that does not echo it — an explicit, documented opt-out, never a silent acceptance), a different one always;
* a **bare token** (the token text alone, no ``key=value``) carries no state to check: pasting one is the
  person's explicit choice to use that token, and it is accepted for the implicit grant and Finesse;
* a **bare authorization code** is refused (``expect="code"``): PKCE does not bind a code an attacker obtained
  without a ``code_challenge``, so the code must come with the ``state`` of this attempt;
* with ``redirect_uri=``, a pasted URL must come back to that redirect URI: same scheme, host, port and path
  (a result from another page is refused; the message names both addresses, without any token text);
* a paste longer than :data:`MAX_PASTE_CHARS` is refused before anything else is done with it, and every step
  after that is linear in the length of the paste (``str`` methods, ``urllib.parse`` and regular expressions
  without overlapping quantifiers), so a hostile paste cannot stall the kernel.

What is refused, always with :class:`~ucexplore.errors.SSOError` whose message says what to do next: an empty
or oversized paste, an HTML page, the sign-in (authorize) URL itself, an ``error=``/``error_description=`` sent
back by the identity provider (quoted, truncated, with secret-looking runs masked), CUCM's quasi-JSON
``{"error":INVALID_REQUEST,…}``, a missing or foreign state, an address cut off part-way, a URL from another
page than the redirect URI, and a credential of the wrong shape for the flow (a Webex ``code`` pasted into
CUCM, JSON into Webex…).

Two invariants (property-tested in ``tests/test_paste.py``):

* a parsed token or code is never invented: it is a substring of the paste once whitespace is removed (and,
  for URL-encoded pastes, once percent-decoded) — the parser checks this itself before returning;
* no error message contains the pasted secret (messages never quote the paste; they pass through redaction).

:class:`Pasted` holds a credential: its ``repr`` hides it and it refuses to be pickled.

Example::

    >>> p = parse_paste(' "https://app.example.com/cb#access_token=MjpkZTkxYjNmYS0w&expires_in=3600" ',
    ...                 expect="implicit")
    >>> p.access_token, p.expires_in, p.shape
    ('MjpkZTkxYjNmYS0w', 3600.0, 'url')
    >>> "MjpkZTkx" in repr(p)
    False
    >>> parse_paste("https://app.example.com/cb#access_token=MjpkZTkxYjNmYS0w&expires_in=3600",
    ...             expect="implicit", state="St4te-of-this-attempt")      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ucexplore.errors.SSOError: the pasted address has no state, so it cannot be matched to this sign-in attempt
    → copy the whole address again with the Copy button on the callback page (or start the sign-in again ...
"""

from __future__ import annotations

import hmac
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn
from urllib.parse import unquote, unquote_plus, urlsplit

from ..errors import SSOError
from ..redact import MASK, Unpicklable, redact

__all__ = ["Pasted", "parse_paste", "Expect", "MIN_SECRET_LENGTH", "MAX_PASTE_CHARS", "states_match",
           "quote_idp_text"]

#: What a flow expects back: an implicit-grant token (CUCM, Unity), Finesse's JSON/token, an auth code (Webex).
Expect = Literal["implicit", "finesse", "code"]

#: Tokens and codes shorter than this are refused (real ones are 30+ characters; "null" or "cancel" are not).
MIN_SECRET_LENGTH = 12
#: Lifetimes outside (0, MAX_LIFETIME] seconds are treated as absent (they could not be real, or overflow).
MAX_LIFETIME = 10 * 366 * 86400
#: The longest paste read at all (16 KiB). A real sign-in result is at most a few thousand characters: a CUCM
#: or Webex address is a few hundred, Finesse's JSON with two JWTs about three thousand.
MAX_PASTE_CHARS = 16 * 1024

_QUOTES = "'\"“”‘’`«»„‚‹›"
_EDGE = _QUOTES + "<>"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_EDGE_CHARS = frozenset(_EDGE + _INVISIBLE)
_BREAKS = "\r\n\u2028\u2029"
# Every pattern below is linear: a single character class repeated, a literal start, or alternatives that
# begin with different characters — no quantifier over characters another quantifier next to it also takes.
# whitespace plus invisible characters that copy/paste and wrapping insert
_WS_RE = re.compile(r"[\s\u00ad\u200b\u200c\u200d\u2060\ufeff]+")
_INVISIBLE_RE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]+")
_BREAK_RE = re.compile(r"[\r\n\u2028\u2029]")
_JSON_BREAK_RE = re.compile(r"[\r\n]")
# RFC 6750 b64token: what an OAuth token or code may contain
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_PCT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_TAGS = (r"(?:html|head|body|div|span|form|input|script|style|meta|title|pre|p|a|h[1-6]|table|br|img|link|"
         r"iframe|noscript|main|section|button|label|ul|li)")
_HTML_STRONG_RE = re.compile(rf"(?is)<!doctype\b|</\s*{_TAGS}\s*>")
_HTML_TAG_RE = re.compile(rf"(?is)<\s*{_TAGS}(?=[\s>/])")
_CODE_STATE_RE = re.compile(r"[A-Za-z0-9\-._~+/%]+=*#[^#=&?/]+")
# used with .match(s, pos, endpos): no "^" (which would only match at the real start of the string)
_BEARER_RE = re.compile(r"(?i)(?:authorization[ \t]*:[ \t]*)?bearer[ \t]+")
_SCHEME_RE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://")
_STRUCTURE_RE = re.compile(r"[#?={]")
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_RUN_RE = re.compile(r"[A-Za-z0-9+/=_.~\-]+")  # a run of token characters (for masking IdP error text)
_ADDR_RUN_RE = re.compile(r"[A-Za-z0-9+=_~\-]+")  # a host label or a path segment (for showing an address)

#: what the lab and CUCM always put next to access_token (a paste that has none of them was cut off)
_IMPLICIT_COMPANIONS = ("state", "token_type", "expires_in")


def _looks_like_html(s: str) -> bool:
    """A doctype, a closing tag, or two opening tags (one ``<a…>`` alone may be a bracketed token)."""
    if "<" not in s:
        return False
    return bool(_HTML_STRONG_RE.search(s)) or len(_HTML_TAG_RE.findall(s)) >= 2


def _unwrap(s: str, breaks: re.Pattern[str] = _BREAK_RE) -> str:
    """Remove every line break with the whitespace around it (what wrapping by a browser or terminal inserts).

    Same result as ``re.sub(r"[^\\S\\r\\n]*[\\r\\n]\\s*", "", s)`` but linear: that pattern rescans a long run
    of spaces from every position in it.
    """
    parts = breaks.split(s)
    if len(parts) == 1:
        return s
    last = len(parts) - 1
    return "".join(p.rstrip() if i == 0 else (p.lstrip() if i == last else p.strip())
                   for i, p in enumerate(parts))


def _has_inner_spaces(s: str) -> bool:
    """Spaces between words (not the line breaks and indentation that wrapping inserts)."""
    return len(_unwrap(_INVISIBLE_RE.sub("", s)).split(None, 1)) > 1


# Keys that make a paste "a list of parameters" rather than a bare token.
_PARAM_KEYS = {
    "access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in", "scope", "state",
    "code", "error", "error_description", "error_uri", "id_token", "session_state", "token", "user_id",
}
_TOKEN_KEYS = ("access_token",)
_FINESSE_TOKEN_KEYS = ("token", "access_token")



@dataclass(frozen=True, repr=False)
class Pasted(Unpicklable):
    """What a paste contained. ``repr`` never shows the token, refresh token or code, and it cannot be pickled.

    ``kind`` is ``"token"`` (an access token, perhaps with a refresh token) or ``"code"`` (an authorization
    code); ``shape`` says what was pasted: ``url``, ``fragment``, ``query``, ``code#state``, ``json``, ``bare``.
    ``token_type`` is what the paste said, for information only: flows send these tokens as ``Bearer``.
    """

    _pickle_what = "a pasted sign-in result (Pasted)"
    _pickle_hint = "sign in again in the new process"

    kind: Literal["token", "code"]
    shape: str
    access_token: str | None = None
    refresh_token: str | None = None
    code: str | None = None
    state: str | None = None
    token_type: str | None = None
    expires_in: float | None = None
    refresh_expires_in: float | None = None
    user: str | None = None
    realm: str | None = None
    user_principal: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        bits = [f"kind={self.kind!r}", f"shape={self.shape!r}"]
        if self.expires_in is not None:
            bits.append(f"expires_in={self.expires_in:g}")
        if self.refresh_token:
            bits.append("refreshable")
        if self.user:
            bits.append(f"user={self.user!r}")
        if self.state is not None:
            bits.append("state=present")
        return f"<Pasted {' '.join(bits)}>"

    __str__ = __repr__

    # frozen: a copy is the object itself (and copying never goes through pickling's protocol)
    def __copy__(self) -> "Pasted":
        return self

    def __deepcopy__(self, memo: Any) -> "Pasted":
        return self


def states_match(expected: str | None, received: str | None) -> bool:
    """Compare two OAuth ``state`` values in constant time (None never matches)."""
    if expected is None or received is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), received.encode("utf-8", "surrogatepass"))


# ------------------------------------------------------------------------------------------------------
# quoting what an identity provider (or a paste pretending to be one) says


def _secret_looking(run: str) -> bool:
    """A run of token characters that may be a credential: long, or long enough and random-looking."""
    n = len(run)
    if n >= 40:
        return True
    if n < 16:
        return False
    if run.startswith("eyJ"):  # a JWT (its header is base64url of '{"')
        return True
    digits = sum(c.isdigit() for c in run)
    letters = sum(c.isalpha() for c in run)
    if digits and all(c in "0123456789abcdefABCDEF" for c in run):  # hex
        return True
    if n >= 20 and digits and letters:
        return True
    upper = sum(c.isupper() for c in run)
    lower = letters - upper
    if n >= 20 and letters and upper >= letters / 4 and lower >= letters / 4:  # mixed case, base64-like
        return True
    return n >= 20 and any(c in "+/=" for c in run)


def quote_idp_text(text: Any, limit: int) -> str:
    """Error text from an identity provider, safe to show: control characters removed, registered secrets and
    secret fields masked (:func:`ucexplore.redact.redact`), secret-looking runs (long base64/hex/JWT-like)
    masked, at most ``limit`` characters.

    Example::

        >>> quote_idp_text("access_denied: The user cancelled", 80)
        'access_denied: The user cancelled'
        >>> quote_idp_text("bad token MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0x", 80)
        'bad token *****'
    """
    s = str(text or "")[: max(limit, 0) * 4 + 64]  # bounded before any work
    s = " ".join(_CTRL_RE.sub(" ", s).split())
    # whole runs first (masking a registered secret first could leave the rest of its run readable)
    s = _RUN_RE.sub(lambda m: MASK if _secret_looking(m.group(0)) else m.group(0), s)
    s = redact(s)
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


# ------------------------------------------------------------------------------------------------------
# redirect URIs


def _default_port(scheme: str | None) -> int | None:
    return {"https": 443, "http": 80}.get((scheme or "").lower())


def _norm_path(path: str) -> str:
    return unquote(path).rstrip("/")


def _show_address(scheme: str | None, host: str | None, port: int | None, path: str) -> str:
    """``scheme://host[:port]/path`` for a message: no query, no fragment, no user info; redacted, capped."""
    h = host or ""
    if ":" in h:
        h = f"[{h}]"
    shown_port = f":{port}" if port is not None and port != _default_port(scheme) else ""
    head = f"{scheme}://" if scheme else ("//" if h else "")
    text = _display(f"{head}{h}{shown_port}{path}", 120)
    # each host label and path segment on its own: a secret-looking one (a token in a path) is masked
    return redact(_ADDR_RUN_RE.sub(lambda m: MASK if _secret_looking(m.group(0)) else m.group(0), text))


# ------------------------------------------------------------------------------------------------------
# the parser


def parse_paste(
    text: Any,
    *,
    expect: Expect,
    state: str | None = None,
    product: str | None = None,
    sign_in_url: str | None = None,
    require_state: bool = True,
    redirect_uri: str | None = None,
) -> Pasted:
    """Read what a person pasted after signing in.

    ``expect`` is what the flow needs: ``"implicit"`` (CUCM/Unity ``#access_token=…``), ``"finesse"`` (the
    ``/desktop/sso/token`` JSON body or a bare token) or ``"code"`` (Webex ``?code=…&state=…`` or
    ``code#state``). ``state`` is the state the flow sent: a different echoed state is always refused; a
    paste with parameters but no state is refused unless ``require_state=False`` (a server that does not echo
    ``state``; RFC 6749 §4.2.2 says it must); a bare token is accepted (nothing to check: the person chose that
    token); a bare code is refused. With ``redirect_uri``, a pasted URL must have that URI's scheme, host, port
    and path. ``product`` names the service in messages; ``sign_in_url`` is the flow's own sign-in link
    (pasting it back is refused with an explanation). Pastes longer than :data:`MAX_PASTE_CHARS` are refused.

    Example::

        >>> parse_paste("abc123def456ghi#st4te", expect="code", state="st4te").code
        'abc123def456ghi'
        >>> parse_paste("#error=access_denied&error_description=User+cancelled", expect="implicit")
        Traceback (most recent call last):
        ...
        ucexplore.errors.SSOError: the identity provider refused the sign-in: access_denied — User cancelled
        → open the sign-in page again and complete the sign-in; ask your administrator if it keeps failing
    """
    return _Parser(text, expect=expect, state=state, product=product, sign_in_url=sign_in_url,
                   require_state=require_state, redirect_uri=redirect_uri).parse()


class _Parser:
    def __init__(self, text: Any, *, expect: Expect, state: str | None, product: str | None,
                 sign_in_url: str | None, require_state: bool = True, redirect_uri: str | None = None) -> None:
        if expect not in ("implicit", "finesse", "code"):
            raise ValueError(f"expect must be 'implicit', 'finesse' or 'code', not {expect!r}")
        self.expect = expect
        self.state = state
        self.require_state = bool(require_state)
        self.redirect_uri = redirect_uri
        self.product = product or {"implicit": "CUCM/Unity", "finesse": "Finesse", "code": "Webex"}[expect]
        self.sign_in_url = sign_in_url
        if isinstance(text, (bytes, bytearray)):
            if len(text) > 4 * MAX_PASTE_CHARS:  # never decode megabytes to find out
                self._too_long(len(text))
            text = bytes(text).decode("utf-8", "replace")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise SSOError(
                f"expected the pasted text (a str), got {type(text).__name__}",
                hint="paste the address you landed on after signing in, as text",
            )
        if len(text) > MAX_PASTE_CHARS:
            self._too_long(len(text))
        self.raw = text
        # Every view of the paste a secret may legitimately come from (see _secret).
        squeezed = _WS_RE.sub("", text)
        self.views = [squeezed, squeezed.replace("\\/", "/")]
        for _ in range(3):
            nxt = _WS_RE.sub("", unquote(self.views[-1]))
            if nxt == self.views[-1]:
                break
            self.views.append(nxt)

    # -- messages -----------------------------------------------------------------------------------
    def _what(self) -> str:
        return {
            "implicit": "the address the Copy button of the page you land on gives you (it contains #access_token)",
            "finesse": "the text of the page the sign-in link opened (JSON starting with {\"token\":…)",
            "code": "the whole address your browser landed on after signing in (it contains ?code and state)",
        }[self.expect]

    def _fail(self, message: str, hint: str | None = None) -> SSOError:
        return SSOError(message, hint=hint or f"copy {self._what()} and paste it again")

    def _too_long(self, n: int) -> NoReturn:
        what = "the Finesse sign-in result" if self.expect == "finesse" else "a sign-in address"
        raise SSOError(
            f"that is not {what}: it is {n:,} characters long, and a real one is at most a few thousand "
            f"(the limit is {MAX_PASTE_CHARS:,})",
            hint=f"copy only {self._what()}, and paste it again",
        )

    # -- entry ------------------------------------------------------------------------------------------
    def parse(self) -> Pasted:
        s = self.raw.strip()
        if not _WS_RE.sub("", s):
            raise self._fail("nothing was pasted", hint=f"sign in with the sign-in link, then paste {self._what()}")
        if _looks_like_html(s):
            raise self._fail(
                "that is a web page (HTML), not the sign-in result",
                hint=(f"finish signing in in the browser, then copy {self._what()} — not the page source"),
            )
        s = self._strip_edges(s)
        flat = _WS_RE.sub("", s)
        if "%" in flat and not _STRUCTURE_RE.search(flat):
            # a URL-encoded paste (copied out of another URL): decode until its structure shows (at most 3 times)
            decoded = flat
            for _ in range(3):
                nxt = unquote(decoded)
                if nxt == decoded:
                    break
                decoded = nxt
                if _STRUCTURE_RE.search(decoded):
                    s = self._strip_edges(decoded)
                    break
        if not _WS_RE.sub("", s):
            raise self._fail("nothing but quotes or brackets was pasted")
        if s.startswith(("{", "[")):
            return self._from_json(s)
        if _has_inner_spaces(s):
            # line breaks (and the indentation next to them) come from wrapping; spaces between words do not
            raise self._fail("the pasted text contains spaces, so it is neither a token nor an address",
                             hint=f"copy only {self._what()}, without any surrounding words")
        s = _WS_RE.sub("", s)
        if self.expect == "code" and _CODE_STATE_RE.fullmatch(s):
            return self._from_code_and_state(s)
        if _SCHEME_RE.match(s) or (s.startswith("/") and ("?" in s or "#" in s)):
            return self._from_url(s)
        if s[0] in "#?":
            return self._from_params(s, shape="fragment" if s[0] == "#" else "query")
        if self._looks_like_params(s):
            return self._from_params(s, shape="fragment")
        if "?" in s or ("#" in s and "=" in s):
            # an address without a scheme (app.example.com/cb#access_token=…)
            return self._from_url(s)
        if "#" in s:
            return self._from_code_and_state(s)
        return self._from_bare(s)

    @staticmethod
    def _strip_edges(s: str) -> str:
        """Strip whitespace, quotes, brackets, invisible characters and ``Bearer``/``Authorization: Bearer``
        prefixes from the edges, in any nesting — in one pass over each edge (linear, however many layers)."""
        i, j = 0, len(s)
        while j > i and (s[j - 1].isspace() or s[j - 1] in _EDGE_CHARS):
            j -= 1
        while True:
            while i < j and (s[i].isspace() or s[i] in _EDGE_CHARS):
                i += 1
            m = _BEARER_RE.match(s, i, j)
            if m is None or m.end() >= j:  # "Bearer " with nothing after it is not a prefix
                break
            i = m.end()
        return s[i:j]

    @staticmethod
    def _looks_like_params(s: str) -> bool:
        if "/" in s.split("=", 1)[0]:
            return False
        return any(k.lower() in _PARAM_KEYS for k, _ in _parse_params(s))

    # -- shapes -------------------------------------------------------------------------------------------
    def _from_url(self, s: str) -> Pasted:
        has_scheme = "://" in s
        try:
            parts = urlsplit(s if has_scheme or s.startswith("/") else "//" + s)
        except ValueError:
            raise self._fail("that address could not be read") from None
        path = parts.path.lower().rstrip("/")
        query = _parse_params(parts.query)
        fragment = _parse_params(parts.fragment)
        merged_keys = {k.lower() for k, _ in query + fragment}
        has_result = bool(merged_keys & {"access_token", "code", "error", "token"})
        # the sign-in link itself, pasted back by mistake
        if self._is_sign_in_url(s, path, merged_keys, has_result):
            raise self._fail(
                "that is the sign-in link itself, not the address you land on after signing in",
                hint=(f"open that link in your browser, sign in, then copy {self._what()}"),
            )
        self._check_redirect(parts, has_scheme=has_scheme)
        if not query and not fragment:
            raise self._fail(
                "that address carries no sign-in result (nothing after ? or #)",
                hint=("click Copy on the page you landed on, then paste again (that page removes the token from its "
                      "address bar once it has read it)" if self.expect != "finesse" else f"copy {self._what()}"),
            )
        return self._from_pairs(query + fragment, shape="url")

    def _is_sign_in_url(self, s: str, path: str, keys: set[str], has_result: bool) -> bool:
        if self.sign_in_url and _WS_RE.sub("", self.sign_in_url).rstrip("/") == s.rstrip("/"):
            return True
        if has_result and "refresh-token" not in keys:
            return False
        if path.endswith("/authorize") and ("response_type" in keys or "client_id" in keys):
            return True
        if path.endswith("/desktop/sso/token") and keys & {"cc_username", "return_refresh_token", "refresh-token"}:
            return True
        return False

    def _check_redirect(self, parts: Any, *, has_scheme: bool) -> None:
        """A pasted URL must come back to the flow's redirect URI: same scheme, host, port and path.

        A URL without a scheme (``app.example.com/cb#…``) is compared on host, port and path; one that starts
        with ``/`` on its path only (that is all it says).
        """
        if not self.redirect_uri:
            return
        try:
            want = urlsplit(self.redirect_uri.strip())
            want_port = want.port or _default_port(want.scheme)
        except ValueError:
            return  # the flow's own redirect URI is not a URL: nothing to compare with
        scheme = parts.scheme if has_scheme else None
        host, path = parts.hostname, parts.path
        try:
            port = parts.port
        except ValueError:  # a port that is not a number
            port, same = None, False
        else:
            same = True
        want_scheme, want_host = want.scheme.lower(), (want.hostname or "").lower()
        same = same and _norm_path(path) == _norm_path(want.path)
        if host is not None:
            got_scheme = scheme.lower() if scheme else want_scheme
            got_port = port or _default_port(got_scheme)
            same = same and got_scheme == want_scheme and host.lower() == want_host and got_port == want_port
        elif scheme:  # "https:///cb": a scheme without a host
            same = False
        if same:
            return
        got = _show_address(scheme, host, port, path)
        expected = _show_address(want.scheme, want.hostname, want.port, want.path)
        raise SSOError(
            f"that address is not this sign-in's redirect page: it is {got}, but {self.product} sends the browser "
            f"back to {expected}",
            hint=("paste the address of the page the sign-in link (flow.authorize_url) brought you back to — the "
                  "callback page, copied with its Copy button — not an address from another page or site"),
        )

    def _from_params(self, s: str, *, shape: str) -> Pasted:
        body = s[1:] if s[0] in "#?" else s
        # "?code=…&state=…#" or "#access_token=…" — take both halves if both are present
        pairs: list[tuple[str, str]] = []
        for chunk in re.split(r"[#?]", body):
            pairs += _parse_params(chunk)
        if not pairs:
            raise self._fail("nothing after the # or ? could be read")
        return self._from_pairs(pairs, shape=shape)

    def _from_pairs(self, pairs: list[tuple[str, str]], *, shape: str) -> Pasted:
        params: dict[str, str] = {}
        for key, value in pairs:
            k = key.lower()
            if k in params and params[k] != value and k in {"access_token", "code", "state", "token"}:
                raise self._fail(f"the pasted text carries two different {k} values",
                                 hint=f"copy {self._what()} from a single sign-in, once")
            params.setdefault(k, value)
        self._raise_idp_error(params.get("error"), params.get("error_description"), params.get("error_uri"))
        if self.expect == "implicit":
            if "access_token" not in params:
                if "code" in params:
                    raise self._fail(
                        f"that is an authorization code (?code, as Webex sends), not an access token; "
                        f"{self.product} sign-in returns #access_token in the address",
                        hint="open this flow's own sign-in link (flow.authorize_url), sign in, and paste the address",
                    )
                if "token" in params:
                    raise self._fail(
                        "that looks like a Finesse token, not a CUCM/Unity access token",
                        hint="use ux.FinesseSSO for Finesse, or paste the address from this flow's sign-in link",
                    )
                raise self._fail(
                    "no access_token was found in the pasted address",
                    hint=(f"copy {self._what()}; the address must still contain the part after #"),
                )
            tok = self._secret(params["access_token"], "access token")
            if not params.get("state") and not any(params.get(k) for k in _IMPLICIT_COMPANIONS):
                self._check_state(None, truncated=True)
            self._check_state(params.get("state"))
            return Pasted(
                kind="token", shape=shape, access_token=tok,
                refresh_token=self._maybe_secret(params.get("refresh_token")),
                state=params.get("state"), token_type=params.get("token_type") or None,
                expires_in=_seconds(params.get("expires_in")),
                user=_display(params.get("user_id") or params.get("username") or "", 200) or None,
                refresh_expires_in=_seconds(params.get("refresh_token_expires_in")),
                extra=_extra(params),
            )
        if self.expect == "code":
            if "code" not in params:
                if "access_token" in params or "token" in params:
                    raise self._fail(
                        "that is an access-token redirect, but Webex sign-in needs the authorization code "
                        "(?code and state in the address)",
                        hint="open this flow's own sign-in link (flow.authorize_url), sign in, and paste the address",
                    )
                raise self._fail("no code was found in the pasted address")
            code = self._secret(params["code"], "authorization code")
            self._check_state(params.get("state"))
            return Pasted(kind="code", shape=shape, code=code, state=params.get("state"), extra=_extra(params))
        # finesse
        raise self._fail(
            "Finesse sign-in returns a JSON page, not an address with parameters",
            hint=("open the Finesse sign-in link (flow.authorize_url), sign in, and copy the whole text of the "
                  "page it shows ({\"token\":…}); CUCM/Unity addresses belong to ux.CucmSSO / ux.UnitySSO"),
        )

    def _from_code_and_state(self, s: str) -> Pasted:
        if self.expect != "code":
            raise self._fail(
                "that looks like code#state (an authorization code), not an access token",
                hint=f"copy {self._what()}",
            )
        code, _, st = s.partition("#")
        if not code or not st or "#" in st:
            raise self._fail("that could not be read as code#state")
        secret = self._secret(code, "authorization code")
        self._check_state(unquote(st))
        return Pasted(kind="code", shape="code#state", code=secret, state=unquote(st))

    def _from_bare(self, s: str) -> Pasted:
        if _PCT_RE.search(s):
            s = self._strip_edges(unquote(s))
            if _has_inner_spaces(s):
                raise self._fail("the pasted text contains spaces, so it is neither a token nor an address",
                                 hint=f"copy only {self._what()}, without any surrounding words")
            s = _WS_RE.sub("", s)
            if self.expect == "code" and _CODE_STATE_RE.fullmatch(s):
                return self._from_code_and_state(s)
        if self.expect == "code":
            code = self._secret(s, "authorization code")
            if self.state is not None and self.require_state:
                # PKCE binds a code to this attempt only if the attacker's code was issued for our challenge:
                # one obtained without a code_challenge is exchanged all the same. The state is the binding.
                raise self._fail(
                    "a code on its own cannot be matched to this sign-in attempt (it has no state)",
                    hint=("paste the whole address the browser landed on after signing in (it contains ?code=… "
                          "and state=…), not just the code"),
                )
            return Pasted(kind="code", shape="bare", code=code)
        # A bare token carries no state to check: pasting the token text alone is the person's explicit choice
        # to use that token (as with flow.use_token), so it is accepted.
        tok = self._secret(s, "access token")
        exp, user = _jwt_hints(tok)
        default_user = user if self.expect == "finesse" else None
        return Pasted(kind="token", shape="bare", access_token=tok, expires_in=exp, user=default_user)

    def _from_json(self, s: str) -> Pasted:
        data = _load_json(s)
        if data is None:
            err = _quasi_json_error(s)
            if err:
                self._raise_idp_error(*err)
            if s.startswith("{") and not s.rstrip().endswith("}"):
                raise self._fail("the pasted JSON is cut off (it does not end with })",
                                 hint="select the whole page text (Ctrl+A), copy it and paste it again")
            raise self._fail("the pasted text starts like JSON but could not be read")
        if not isinstance(data, dict):
            raise self._fail("the pasted JSON is not the sign-in result (expected an object {…})")
        obj = {_WS_RE.sub("", str(k)).lower(): v for k, v in data.items()}
        self._raise_idp_error(_str(obj.get("error")), _str(obj.get("error_description")), None)
        if self.expect == "code":
            raise self._fail(
                "that is JSON, but Webex sign-in needs the address your browser landed on (with ?code and state)",
                hint="open this flow's sign-in link (flow.authorize_url), sign in, and paste the address bar",
            )
        if self.expect == "implicit":
            if "access_token" not in obj:
                if "token" in obj:
                    raise self._fail(
                        "that is a Finesse token (JSON), not a CUCM/Unity access token",
                        hint="use ux.FinesseSSO for Finesse; for this flow paste the address you land on",
                    )
                raise self._fail("the pasted JSON has no access_token")
            keys = _TOKEN_KEYS
        else:
            keys = _FINESSE_TOKEN_KEYS
            if not any(k in obj for k in keys):
                raise self._fail("the pasted JSON has no token field",
                                 hint="paste the whole text of the page the Finesse sign-in link opened")
        raw_tok = next(obj[k] for k in keys if k in obj)
        if not isinstance(raw_tok, str):
            raise self._fail("the token in the pasted JSON is not text")
        tok = self._secret(raw_tok, "access token")
        echoed = _WS_RE.sub("", obj["state"]) if isinstance(obj.get("state"), str) else None  # wrapping, as tokens
        self._check_state(echoed)
        refresh = obj.get("refresh_token")
        refresh_s = self._maybe_secret(refresh) if isinstance(refresh, str) else None
        user = _WS_RE.sub("", _str(obj.get("user_id")) or _str(obj.get("username"))) or None
        exp = _seconds(obj.get("expires_in"))
        if exp is None:
            exp, jwt_user = _jwt_hints(tok)
            user = user or (jwt_user if self.expect == "finesse" else None)
        extra = {k: str(v) for k, v in obj.items() if k not in _SECRET_FIELDS and isinstance(v, (str, int, float))}
        return Pasted(
            kind="token", shape="json", access_token=tok, refresh_token=refresh_s,
            token_type=_str(obj.get("token_type")) or None, expires_in=exp,
            refresh_expires_in=_seconds(obj.get("refresh_token_expires_in") or obj.get("refresh_expires_in")),
            user=user, realm=_str(obj.get("realm")) or None,
            user_principal=_str(obj.get("user_principal")) or None,
            state=echoed, extra=extra,
        )

    # -- checks ---------------------------------------------------------------------------------------------
    def _raise_idp_error(self, error: str | None, description: str | None, uri: str | None) -> None:
        if not error:
            return
        err = quote_idp_text(error, 80)
        desc = quote_idp_text(description, 200) if description else ""
        text = f"the identity provider refused the sign-in: {err}" + (f" — {desc}" if desc else "")
        if err.upper() in ("INVALID_REQUEST", "INVALID_CLIENT", "UNAUTHORIZED_CLIENT") and self.expect == "implicit":
            hint = ("the redirect_uri must be listed in CUCM/Unity under System > Enterprise Parameters > SSO "
                    "Configuration > 'Redirect URIs for Third Party SSO Client', and client_id must be the fixed "
                    "DevNet value; fix that and open the sign-in link again")
        elif err.lower() in ("invalid_request", "invalid_client", "unauthorized_client", "invalid_scope",
                             "unsupported_response_type"):
            hint = "check the client id, redirect URI and scopes of this flow, then open the sign-in link again"
        else:
            hint = "open the sign-in page again and complete the sign-in; ask your administrator if it keeps failing"
        raise SSOError(text, hint=hint)

    def _check_state(self, received: str | None, *, truncated: bool = False) -> None:
        """The state this flow sent must come back (RFC 9700 §4.7); ``truncated``: the paste looks cut off."""
        if self.state is None:
            return
        again = ("copy the whole address again with the Copy button on the callback page (or start the sign-in "
                 "again from flow.authorize_url)")
        if received is None or received == "":
            if not self.require_state:
                return  # the flow's documented opt-out for a server that does not echo state
            if truncated:
                raise SSOError(
                    "the address was cut off; copy it again with the Copy button (the pasted result ends after "
                    "the token: no state, token_type or expires_in, which the server always sends)",
                    hint=again,
                )
            if self.expect == "code":
                raise SSOError(
                    "the pasted address has no state, so it cannot be matched to this sign-in attempt (was it "
                    "cut off?)",
                    hint=("copy the whole address the browser landed on (it contains ?code=… and state=…) and "
                          "paste it again, or start the sign-in again from flow.authorize_url"),
                )
            raise SSOError(
                "the pasted address has no state, so it cannot be matched to this sign-in attempt",
                hint=(f"{again}; if your {self.product} never sends state back, create the flow with "
                      f"require_state=False"),
            )
        if not states_match(self.state, received):
            cut = len(received) < len(self.state) and self.state.startswith(received)
            raise SSOError(
                "the pasted result belongs to a different sign-in attempt (state does not match)"
                + ("; the address looks cut off" if cut else ""),
                hint=("open the sign-in link shown now (flow.authorize_url), sign in, and paste the address you land "
                      "on; do not reuse an address from an earlier attempt, another tab or another notebook"),
            )

    def _secret(self, value: str, what: str) -> str:
        v = _WS_RE.sub("", value)
        if _PCT_RE.search(v) and not _TOKEN_RE.fullmatch(v):
            v = unquote(v)
        v = v.strip(_EDGE)
        if not v:
            raise self._fail(f"the {what} in the pasted text is empty")
        if not _TOKEN_RE.fullmatch(v) or len(v) < MIN_SECRET_LENGTH:
            raise self._fail(
                f"that does not look like {'an' if what[0] in 'aeiou' else 'a'} {what} "
                f"(unexpected characters or too short)",
            )
        if not any(v in view for view in self.views):
            # never return anything that is not literally in what was pasted
            raise self._fail(f"the {what} could not be read from the pasted text")
        return v

    def _maybe_secret(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return self._secret(value, "refresh token")
        except SSOError:
            return None


# ------------------------------------------------------------------------------------------------------
# helpers


def _parse_params(chunk: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs. Keys are form-decoded; values percent-decoded later (a ``+`` in a token stays)."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"[&;]", chunk):
        if not part or "=" not in part:
            continue
        key, _, value = part.partition("=")
        key = unquote_plus(key).strip()
        if not key:
            continue
        if key.lower() in ("error_description", "error", "error_uri"):
            value = unquote_plus(value)
        elif key.lower() not in ("access_token", "code", "refresh_token", "token"):
            value = unquote(value)
        out.append((key, value))
    return out


#: never copied into ``Pasted.extra``
_SECRET_FIELDS = {"access_token", "refresh_token", "code", "token", "id_token", "client_secret", "code_verifier",
                  "password", "refresh-token"}


def _extra(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in _SECRET_FIELDS}


def _seconds(value: Any) -> float | None:
    """A positive, finite, plausible number of seconds, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        num = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(num) or num <= 0 or num > MAX_LIFETIME:
        return None
    return num


def _str(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _display(text: str | None, limit: int) -> str:
    s = _CTRL_RE.sub(" ", str(text or "")).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _load_json(s: str) -> Any:
    for candidate in (s, _unwrap(s, _JSON_BREAK_RE), _WS_RE.sub("", s)):
        try:
            return json.loads(candidate, strict=False)
        except (ValueError, RecursionError):
            continue
    return None


_QUASI_ERR = re.compile(r'(?is)"error"\s*:\s*"?([A-Za-z0-9_.\-]+)"?')
# a literal start, then alternatives that begin with different characters: linear
_QUASI_DESC = re.compile(r'(?is)"error_description"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _quasi_json_error(s: str) -> tuple[str, str | None, None] | None:
    """CUCM's not-quite-JSON ``{"error":INVALID_REQUEST,"error_description":"…"}``."""
    m = _QUASI_ERR.search(s)
    if not m:
        return None
    d = _QUASI_DESC.search(s)
    return m.group(1), (d.group(1).replace('\\"', '"') if d else None), None


def _jwt_hints(token: str) -> tuple[float | None, str | None]:
    """Lifetime left and user of a JWT, read without verifying (display and scheduling only)."""
    import base64
    import time

    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None, None
    try:
        pad = "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + pad))
    except Exception:  # noqa: BLE001 - not a JWT after all; it is still a valid opaque token
        return None, None
    if not isinstance(payload, dict):
        return None, None
    exp = payload.get("exp")
    remaining = None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        remaining = _seconds(float(exp) - time.time())
    user = payload.get("user_id") or payload.get("preferred_username") or payload.get("upn")
    return remaining, (str(user) if isinstance(user, (str, int)) and user != "" else None)
