"""The credential shapes ``ucexplore audit`` looks for, and the rules that tell a literal from code.

Three families, all linear-time regular expressions plus small checks on each match:

* **shapes** a secret has wherever it appears: Webex access/refresh tokens (``<base64>_<region>_<org uuid>``),
  CUCM/Unity tokens (base64 of ``<n>:<uuid>``), JWTs, ``Bearer``/``Basic`` and other auth headers, cookies;
* **key = literal** pairs in JSON, Python reprs and keyword arguments, XML, URLs, forms and headers
  (``"password": "…"``, ``{'access_token': '…'}``, ``auth="…"``, ``?access_token=…``). The value must be a
  literal: ``token=flow.token``, ``password=getpass()`` or ``auth=flow`` is code, not a secret;
* **entropy**: a bare random-looking string (the lab mints ``secrets.token_urlsafe(32)`` tokens).

:func:`normalise` first undoes the encodings a secret hides behind (HTML entities, ``%XX``, JavaScript and
JSON string escapes, terminal colours). :func:`detect` returns :class:`Hit` s with the secret's position.

Example::

    >>> from ucexplore.audit_patterns import detect, mask
    >>> [(h.kind, mask(h.secret)) for h in detect("{'password': 'hunter2!x'} then password=getpass()")]
    [('password field', 'hu…(9 chars)')]
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from bisect import bisect_left, bisect_right
from itertools import chain
from typing import Iterator, NamedTuple
from urllib.parse import unquote

__all__ = ["Hit", "normalise", "detect", "mask", "key_kind", "field_kind", "decoded_text"]


class Hit(NamedTuple):
    """One secret in a text: where it starts and ends, what kind it is, and the secret itself."""

    start: int
    end: int
    kind: str
    secret: str


def mask(secret: str) -> str:
    """``abcd…(43 chars)``: at most 4 leading characters (fewer for short secrets) and the length."""
    return f"{secret[:min(4, len(secret) // 4)]}…({len(secret)} chars)"


# -- normalising ------------------------------------------------------------------------------------------
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_JS_ESCAPE = re.compile(r"\\u00([0-9a-fA-F]{2})|\\([\"'\\]|/(?!script))")  # keeps <\/script> (script bounds)


def normalise(text: str) -> str:
    """Undo ANSI colours, ``\\"``/``\\u0026`` escapes, HTML entities and ``%XX`` (twice: double encoding)."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    for _ in range(2):
        before = text
        if "\\" in text:
            text = _JS_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), text)
        if "&" in text:
            text = html.unescape(text)
        if "%" in text:
            text = unquote(text)
        if text == before:
            break
    return text


# -- shapes (matched on an ASCII-lower-cased copy of the text; each rule starts with a literal: fast) ------
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TOKEN_CHARS = r"[a-z0-9._~+/=-]"
#: (kind, pattern, group holding the secret, a word the text must hold for the rule to run); earlier rules
#: win where two find the same text
_SHAPES: list[tuple[str, re.Pattern[str], int, str]] = [
    ("JWT", re.compile(r"eyj[\w-]{8,}\.eyj[\w-]{8,}\.[\w-]{8,}"), 0, "eyj"),
    ("bearer header", re.compile(rf"bearer[ \t]+({_TOKEN_CHARS}{{16,}})"), 1, "bearer"),
    ("basic credentials", re.compile(r"basic[ \t]+([a-z0-9+/]{8,}={0,2})"), 1, "basic"),
    ("auth header", re.compile(
        rf"(?m)^[ \t\"']*(?:(?:proxy-)?authorization|x-[\w-]*(?:token|api-?key|secret|auth)[\w-]*)"
        rf"[\"']?[ \t]*:[ \t]*[\"']?(?:(?:bearer|basic|token)[ \t]+)?({_TOKEN_CHARS}{{16,}})"), 1, ":"),
    ("authorization code in URL", re.compile(r"[?&#]code=([a-z0-9._~-]{16,})"), 1, "code="),
]
_WORD_START = ("JWT", "bearer header", "basic credentials")
#: the tail of a Webex token, ``_PF84_<org uuid>``; the head (40+ base64 characters) is found by walking back
_WEBEX_TAIL = re.compile(rf"_[a-z0-9]{{2,8}}_{_UUID}(?![\w-])")
_WEBEX_HEAD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_COOKIE = re.compile(r"(?m)^[ \t\"']*(?:set-)?cookie[\"']?[ \t]*:[ \t]*[\"']?([^\r\n\"']+)")
_COOKIE_ATTRS = {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority",
                 "partitioned"}
_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,120}={0,2}(?![A-Za-z0-9+/=_-])")
#: what a CUCM/Unity token decodes to: ``2:c1034984-…`` (a key id, a colon, a uuid or long hex secret)
_TOKENISH = re.compile(rb"(?i)\d{1,8}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                       rb"|[\w.@-]{1,64}:[0-9a-f-]{24,}")

# -- key = literal ----------------------------------------------------------------------------------------
_KEYS = (r"(?:access|refresh|id|auth|session|bearer|oauth)?[_-]?token|password|passwd|passphrase|pwd"
         r"|(?:client|app)?[_-]?secret|session[_-]?ticket|saml[_-]?response|code[_-]?verifier|api[_-]?key"
         r"|credentials?|auth|authorization|jsessionid")
_VALUE_STOP = r"\s\"'<>&#,;:?!()\[\]{}\\|`"
_KEYWORD = re.compile(r"token|pass|pwd|secret|ticket|auth|saml|verifier|api.?key|credential|jsessionid")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_NON_KEY = re.compile(r"[^a-z0-9_-]")
_KV = re.compile(  # matched on the lower-cased text, at the start of a word _KEYWORD found
    rf"(?<![a-z0-9_-])(?P<q>[\"']?)(?P<key>(?:[a-z0-9]+[_-])*(?:{_KEYS}))(?![a-z0-9_-])(?P=q)"
    rf"(?:\s*(?::|=>?)\s*(?:\"(?P<dq>[^\"\r\n]{{1,4096}})\"|'(?P<sq>[^'\r\n]{{1,4096}})')"
    rf"|=(?P<bare>[^={_VALUE_STOP}][^{_VALUE_STOP}]{{0,4095}})(?P<call>[(\[]?))")
_FIELD = re.compile(rf"(?i)(?:[A-Za-z0-9]+[ _-])*(?:{_KEYS.replace('[_-]', '[ _-]')})")
_XML = re.compile(rf"<(?:\w+:)?(?P<key>(?:[a-z0-9]+[_-])*(?:{_KEYS}))>(?P<val>[^<\r\n]{{1,4096}})</")
_NOT_SECRET_KEYS = ("page", "cursor", "csrf", "next", "sync", "type", "count", "url", "uri", "endpoint",
                    "expir")
_PLACEHOLDER = re.compile(  # masked, templated, an environment variable's name, a word that means "nothing"
    r"[*…{}]|\.\.\.|^<.*>$|^\$\{?[\w.]+\}?$|%\(\w+\)[sd]|^%[sd]$|^[A-Z]+(?:_[A-Z0-9]+)*$"
    r"|(?i:your|^(?:none|null|nil|true|false|undefined|redacted|hidden|masked|x+|-+)$)")
_IDENT = r"[A-Za-z_$][\w$]*"
_EXPRESSION = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_WORDISH = re.compile(  # snake_case, camelCase, CamelCase, UPPER_CASE: how names in code look
    r"_*[a-z][a-z0-9_]*|_*[a-z]+(?:[A-Z][a-z0-9]+)+|[A-Z][A-Za-z]*[a-z][A-Za-z]*|[A-Z][A-Z0-9_]*")
_SECRET_WORDS = ("pass", "pwd", "token", "secret", "auth", "cred", "ticket", "key", "verifier")
_LABEL = re.compile(r"[A-Za-z_-]+|[a-z_]+(?:\.[a-z_]+)+")
_LABEL_WORDS = _SECRET_WORDS + ("login", "session", "saml")
#: a bare ``password=password`` or ``token=token`` passes a variable on
_BARE_NAMES = {"password", "passwd", "pwd", "token", "secret", "credentials", "ticket", "apikey", "auth"}

# -- entropy ----------------------------------------------------------------------------------------------
_DIGIT_OR_DASH = re.compile(r"[0-9_-]")
_CAMEL = re.compile(r"(?:[a-z]+|[A-Z][a-z]+)(?:[A-Z][a-z]+)*[0-9]*")
_HEX_ID = re.compile(r"(?:IPY_MODEL_)?[0-9a-fA-F_-]+")
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,128}(?![A-Za-z0-9_-])")
_SCRIPT_OPEN = re.compile(r"(?i)<script\b[^>]*>")
_SCRIPT_CLOSE = re.compile(r"(?i)</script")
#: random-looking values that are public by design: a PKCE challenge (a hash, RFC 7636 §4.2) and the OAuth
#: ``state`` or OpenID ``nonce`` of a sign-in link
_PUBLIC_CONTEXT = re.compile(r"(?i)(?:code_challenge|state|nonce)[\"']?\s*[=:]\s*[\"']?$")


def key_kind(key: str, *, url: bool = False) -> tuple[str, int] | None:
    """The kind of secret a field named ``key`` holds, and its shortest plausible length; None: no secret."""
    k = key.lower().replace("-", "").replace("_", "")
    if any(word in k for word in _NOT_SECRET_KEYS):
        return None
    for words, kind, shortest in ((("refresh",), "refresh token", 12), (("pass", "pwd"), "password field", 4),
                                  (("ticket",), "session ticket", 8), (("verifier",), "PKCE verifier", 16),
                                  (("saml",), "SAML response", 16), (("secret",), "client secret", 8),
                                  (("apikey",), "API key", 16), (("jsessionid",), "session cookie", 16)):
        if any(w in k for w in words):
            return kind, shortest
    if k.endswith(("auth", "authorization", "credential", "credentials")):
        return "auth credential", 16
    return ("access_token in URL", 8) if url else ("token field", 12)


def field_kind(name: str) -> tuple[str, int] | None:
    """:func:`key_kind` if ``name`` names a secret field (``password``, ``Access Token``), else None."""
    return key_kind(name) if _FIELD.fullmatch(name.strip()) else None


def _b64_bytes(s: str) -> bytes | None:
    try:
        padded = s.rstrip("=") + "=" * (-len(s.rstrip("=")) % 4)
        return base64.urlsafe_b64decode(padded) if ("-" in s or "_" in s) else base64.b64decode(padded)
    except (binascii.Error, ValueError):
        return None


def decoded_text(s: str, shortest: int = 16) -> str | None:
    """``s`` base64-decoded (standard or URL-safe, padding optional) when that reads as text, else None."""
    raw = _b64_bytes(s)
    if raw is None or len(raw) < shortest:
        return None
    for cut in ((0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (3, 0), (0, 3), (2, 2)):  # cut mid-character
        try:
            text = raw[cut[0]:len(raw) - cut[1]].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            return text
        printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
        return text if printable / max(1, len(text)) > 0.95 else None
    return None


def _looks_like_token(s: str) -> bool:
    """Random-looking: mixed case, a digit or dash, many distinct characters; not hex, a name or base64 text."""
    if s.lower() == s or s.upper() == s or not _DIGIT_OR_DASH.search(s) or _HEX_ID.fullmatch(s):
        return False  # hex ids, uuids, client ids, widget model refs
    if not 20 <= len(set(s)) < len(s) or all(_CAMEL.fullmatch(w) for w in re.split(r"[_-]+", s.strip("_-"))):
        return False  # few distinct characters, an alphabet ("ABC…xyz-_"), or a name (camelCase_words1)
    return decoded_text(s) is None  # base64 of text (Webex ids, cursors, widget HTML) is not a secret


def _is_expression(value: str, *, code: bool) -> bool:
    """``old.refresh_token``, ``flow``, ``access_token``: a name or attribute chain, code, not a value."""
    if not _EXPRESSION.fullmatch(value):
        return False
    parts = value.split(".")
    if len(parts) > 1:
        return all(_WORDISH.fullmatch(p) for p in parts)
    return code or value in _BARE_NAMES or ("_" in value and value.islower()
                                            and any(w in value for w in _SECRET_WORDS))


def _literal(value: str, *, quoted: bool, code: bool = False, url: bool = False,
             call: str | None = "") -> bool:
    """True when ``value`` (of a secret field) is a literal secret, not code, a label or a placeholder."""
    if _PLACEHOLDER.search(value) or any(ch.isspace() for ch in value):
        return False
    if _LABEL.fullmatch(value) and (any(w in value.lower() for w in _LABEL_WORDS) or "." in value):
        return False  # "Password", "Passwort", "token_value", "ucexplore.auth.token": a label or a name
    if quoted or url:
        return True
    return not call and not _is_expression(value, code=code)


def _script_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of each inline ``<script>`` body, in order."""
    ranges, pos = [], 0
    while (m := _SCRIPT_OPEN.search(text, pos)) is not None:
        close = _SCRIPT_CLOSE.search(text, m.end())
        pos = close.start() if close else len(text)
        ranges.append((m.end(), pos))
    return ranges


def _data_literal(text: str, start: int, end: int, *, anywhere: bool = False) -> bool:
    """True when text[start:end] is a whole quoted string in an array or object (``["jkam", "…"]``): data.
    ``anywhere``: any whole quoted string (``tok = "…"`` in a code cell)."""
    quote = text[start - 1:start]
    if quote not in ("'", '"') or text[end:end + 1] != quote:
        return False
    return anywhere or text[max(0, start - 40):start - 1].rstrip()[-1:] in ("[", ",", ":")


class _Spans:
    """Disjoint spans already reported, so two rules never report the same secret twice."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, start)
        if (i and self.ends[i - 1] > start) or (i < len(self.starts) and self.starts[i] < end):
            return False
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        return True


def _key_matches(low: str) -> Iterator[re.Match[str]]:
    """:data:`_KV` matches, tried once per word that holds a secret word (a regex tried everywhere is slow)."""
    end = tried = run_start = prev = -1
    for k in _KEYWORD.finditer(low):
        pos = k.start()
        if prev < 0 or _NON_KEY.search(low, prev, pos):  # a new run of word characters: find where it starts
            j, stop = pos, max(0, pos - 80)
            while j > stop and low[j - 1] in _KEY_CHARS:
                j -= 1
            run_start = -1 if j == stop and stop else j  # -1: too long to be a field name
        prev = pos
        if run_start < 0 or run_start == tried or pos < end:
            continue
        tried = j = run_start
        m = (_KV.match(low, j - 1) if j and low[j - 1] in "\"'" else None) or _KV.match(low, j)
        if m:
            end = m.end()
            yield m


Span = tuple[str, int, int]  #: (kind, start, end)


def _shape_spans(text: str, low: str) -> Iterator[Span]:
    for m in _WEBEX_TAIL.finditer(low):
        head = m.start()
        while head > m.start() - 160 and head and low[head - 1] in _WEBEX_HEAD:
            head -= 1
        if m.start() - head >= 40 and not (head and low[head - 1] in _KEY_CHARS):
            yield "webex access token", head, m.end()
    for kind, rule, group, needle in _SHAPES:
        for m in rule.finditer(low) if needle in low else ():
            value = text[m.start(group):m.end(group)]
            if kind in _WORD_START and m.start() and low[m.start() - 1] in _KEY_CHARS:
                continue  # "xbearer": not a word of its own
            if kind == "basic credentials" and ":" not in (decoded_text(value, 3) or ""):
                continue  # "Basic authentication" is prose; real Basic credentials decode to user:password
            if kind in ("bearer header", "auth header") and _is_expression(value, code=False):
                continue  # "Bearer self.access_token"
            yield kind, m.start(group), m.end(group)
    for m in _B64.finditer(text):
        raw = _b64_bytes(m.group(0))
        if raw and _TOKENISH.fullmatch(raw.strip()):
            yield "cucm/unity token", m.start(), m.end()
    for m in _COOKIE.finditer(low) if "cookie" in low else ():
        pos = m.start(1)
        for pair in text[m.start(1):m.end(1)].split(";"):
            name, _, value = pair.partition("=")
            start = pos + len(name) + 1 + len(value) - len(value.lstrip())
            value = value.strip()
            attribute = name.strip().lower() in _COOKIE_ATTRS  # Path=/, Max-Age=…
            if len(value) >= 16 and not attribute and not _PLACEHOLDER.search(value):
                yield "session cookie", start, start + len(value)
            pos += len(pair) + 1


def _key_spans(text: str, low: str, code: bool) -> Iterator[Span]:
    for m in _key_matches(low):
        before = text[m.start() - 1] if m.start() else ""
        url = before in ("?", "&", "#", ";") and m.group("bare") is not None
        found = key_kind(m.group("key"), url=url)
        group = next(g for g in ("dq", "sq", "bare") if m.group(g) is not None)
        value = text[m.start(group):m.end(group)]
        in_string = before in ("'", '"') and not m.group("q")  # "password=…" inside a string literal
        if found and len(value) >= found[1] and _literal(value, quoted=group != "bare", url=url,
                                                         code=code and not in_string, call=m.group("call")):
            yield found[0], m.start(group), m.end(group)
    for m in _XML.finditer(low) if "<" in low else ():
        found, value = key_kind(m.group("key")), text[m.start("val"):m.end("val")]
        if found and len(value) >= found[1] and _literal(value, quoted=True):
            yield found[0], m.start("val"), m.end("val")


def _entropy_spans(text: str, code: bool) -> Iterator[Span]:
    scripts = _script_ranges(text)
    for m in _CANDIDATE.finditer(text):
        start, end = m.span()
        if not _looks_like_token(m.group(0)) or _PUBLIC_CONTEXT.search(text, max(0, start - 40), start):
            continue
        i = bisect_right(scripts, (start, len(text))) - 1
        if i >= 0 and scripts[i][1] > start and not _data_literal(text, start, end):
            continue  # a random-looking constant in JavaScript (a library), not table data
        if code and not _data_literal(text, start, end, anywhere=True):
            continue  # a name in source code; a pasted token is a string literal
        yield "token-like string", start, end


def detect(text: str, *, code: bool = False, entropy: bool = True) -> list[Hit]:
    """Secrets in (already :func:`normalise` d) ``text``, in order of position; where two rules find the same
    text, the more specific one (a shape before a key = value pair before entropy) names it.

    ``code``: the text is source code (a notebook cell, a ``.py`` file), where a bare ``key=value`` is a
    keyword argument unless it sits in a URL or string. ``entropy``: also report bare random-looking strings.
    """
    low = text.encode("ascii", "replace").lower().decode("ascii")  # same length and offsets as text
    spans, hits = _Spans(), []
    for kind, start, end in chain(_shape_spans(text, low), _key_spans(text, low, code),
                                  _entropy_spans(text, code) if entropy else ()):
        if spans.add(start, end):
            hits.append(Hit(start, end, kind, text[start:end]))
    return sorted(hits)
