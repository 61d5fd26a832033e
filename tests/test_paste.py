"""The paste parser: every shape a person may paste, every refusal, and property tests.

Run the long property profile (10,000 inputs per property and flow) with ``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import random
import string
import time
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ucexplore.auth.paste import (_PARAM_KEYS, MAX_PASTE_CHARS, MIN_SECRET_LENGTH, Pasted, parse_paste,
                                  states_match)
from ucexplore.errors import SSOError, UcError

try:  # tests/ may or may not become a package
    from .hypothesis_profiles import PROFILE  # type: ignore[import-not-found]
except ImportError:
    from hypothesis_profiles import PROFILE  # type: ignore[no-redef]

TOKEN = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
ODD_TOKEN = "ab+cd/ef~gh.ij-kl_mn=="  # every b64token character class, with padding
REFRESH = "UmVmcmVzaC10b2tlbi1mb3ItdGVzdHMtb25seQ"
CODE = "YjQ3ZTQ5NjUtNDRiOS00MGQ3LWE5OTAtZDE0ODkyNmMwZmU2"
STATE = "S7ate-abc_123"
CB = "https://app.example.com/cb"
JWT_EXP = int(time.time()) + 600  # fixed when the module loads: compare with it, not with "now + 600"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
       + base64.urlsafe_b64encode(json.dumps({"exp": JWT_EXP, "user_id": "sjefferson"}).encode())
       .decode().rstrip("=")
       + ".c2lnbmF0dXJl")
FINESSE_JSON = json.dumps({"token": JWT, "refresh_token": REFRESH, "expires_in": 300, "user_id": "sjefferson",
                           "realm": "finesse.com", "user_principal": "sjefferson@finesse.com"})


def implicit(text: str, **kw) -> Pasted:
    return parse_paste(text, expect="implicit", **kw)


def finesse(text: str, **kw) -> Pasted:
    return parse_paste(text, expect="finesse", **kw)


def code(text: str, **kw) -> Pasted:
    return parse_paste(text, expect="code", **kw)


# =============================================================================================================
# implicit grant (CUCM, Unity): every shape
# =============================================================================================================

def implicit_shapes(sp: str) -> dict[str, str]:
    """Every implicit-grant shape; ``sp`` is the state parameter the structured ones carry (``&state=…`` or "")."""
    js = {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
    if sp:
        js["state"] = STATE
    return {
        "url, access_token first": f"{CB}#access_token={TOKEN}&token_type=Bearer&expires_in=3600{sp}",
        "url, access_token last": f"{CB}#expires_in=3600&token_type=Bearer{sp}&access_token={TOKEN}",
        "url, access_token middle": f"{CB}#token_type=Bearer&access_token={TOKEN}&expires_in=3600{sp}",
        "url with query and fragment": f"{CB}?lang=en#access_token={TOKEN}&expires_in=3600{sp}",
        "url, state in the middle": f"{CB}#access_token={TOKEN}{sp}&expires_in=3600",
        "url without scheme": f"app.example.com/cb#access_token={TOKEN}&expires_in=3600{sp}",
        "lab callback": f"http://127.0.0.1:9100/lab/callback#access_token={TOKEN}&expires_in=3600{sp}",
        "token in the query": f"{CB}?access_token={TOKEN}&expires_in=3600{sp}",
        "fragment with #": f"#access_token={TOKEN}&token_type=Bearer&expires_in=3600{sp}",
        "fragment without #": f"access_token={TOKEN}&token_type=Bearer&expires_in=3600{sp}",
        "fragment, other param first": f"token_type=Bearer&access_token={TOKEN}&expires_in=3600{sp}",
        "double quotes": f'"{CB}#access_token={TOKEN}&expires_in=3600{sp}"',
        "single quotes": f"'{CB}#access_token={TOKEN}&expires_in=3600{sp}'",
        "curly double quotes": f"“{CB}#access_token={TOKEN}&expires_in=3600{sp}”",
        "curly single quotes": f"‘{CB}#access_token={TOKEN}&expires_in=3600{sp}’",
        "backticks": f"`{CB}#access_token={TOKEN}&expires_in=3600{sp}`",
        "code fence": f"```\n{CB}#access_token={TOKEN}&expires_in=3600{sp}\n```",
        "angle brackets": f"<{CB}#access_token={TOKEN}&expires_in=3600{sp}>",
        "quotes and brackets": f"  \"<{CB}#access_token={TOKEN}&expires_in=3600{sp}>\"  ",
        "whitespace around": f" \n\t {CB}#access_token={TOKEN}&expires_in=3600{sp} \r\n ",
        "nbsp around": f"\u00a0{CB}#access_token={TOKEN}&expires_in=3600{sp}\u00a0",
        "wrapped by a terminal": f"{CB}#access_to\nken={TOKEN[:20]}\n{TOKEN[20:]}&expires_\r\nin=3600{sp}",
        "wrapped with indentation": f"{CB}#access_token={TOKEN[:17]}\n    {TOKEN[17:]}&expires_in=3600{sp}",
        "zero-width space inside": f"{CB}#access_token={TOKEN[:9]}\u200b{TOKEN[9:]}&expires_in=3600{sp}",
        "fully URL-encoded": quote(f"{CB}#access_token={TOKEN}&expires_in=3600{sp}", safe=""),
        "double URL-encoded": quote(quote(f"{CB}#access_token={TOKEN}&expires_in=3600{sp}", safe=""), safe=""),
        "encoded fragment": quote(f"#access_token={TOKEN}&expires_in=3600{sp}", safe=""),
        "JSON with access_token": json.dumps(js),
    }


#: shapes with no parameters at all: nothing to check, the person chose that token
BARE_IMPLICIT_SHAPES = {
    "bare token": TOKEN,
    "Bearer token": f"Bearer {TOKEN}",
    "Authorization header": f"Authorization: Bearer {TOKEN}",
    "bracketed bare token": f"<{TOKEN}>",
    "quoted bare token": f"'{TOKEN}'",
}
IMPLICIT_SHAPES = {**implicit_shapes(f"&state={STATE}"), **BARE_IMPLICIT_SHAPES}
STATELESS_SHAPES = implicit_shapes("")


@pytest.mark.parametrize("text", list(IMPLICIT_SHAPES.values()), ids=list(IMPLICIT_SHAPES))
def test_implicit_shapes_give_the_exact_token(text):
    got = implicit(text, state=STATE)
    assert got.kind == "token"
    assert got.access_token == TOKEN
    if "expires_in" in text or "expires_%" in text.lower():
        assert got.expires_in == 3600
    if got.shape != "bare":
        assert got.state == STATE


@pytest.mark.parametrize("text", list(STATELESS_SHAPES.values()), ids=list(STATELESS_SHAPES))
def test_implicit_shapes_without_the_sent_state_are_refused_unless_opted_out(text):
    with pytest.raises(SSOError, match="has no state") as exc:
        implicit(text, state=STATE)
    assert TOKEN not in str(exc.value) and "Copy button" in str(exc.value)
    assert "require_state=False" in str(exc.value), "the message names the opt-out"
    assert implicit(text, state=STATE, require_state=False).access_token == TOKEN
    assert implicit(text).access_token == TOKEN, "no state sent: nothing to check"


@pytest.mark.parametrize("wrap", [
    lambda t: f"{CB}#access_token={t}&expires_in=60",
    lambda t: f"{CB}#access_token={quote(t, safe='')}&expires_in=60",   # value URL-encoded, + / = included
    lambda t: quote(f"{CB}#access_token={quote(t, safe='')}&expires_in=60", safe=""),
    lambda t: t,
    lambda t: quote(t, safe=""),
])
def test_token_characters_survive_encoding(wrap):
    assert implicit(wrap(ODD_TOKEN)).access_token == ODD_TOKEN


def test_plus_in_a_token_is_not_a_space():
    assert implicit("#access_token=abc+def+ghi+jkl").access_token == "abc+def+ghi+jkl"


def test_fields_from_the_fragment():
    got = implicit(f"{CB}#access_token={TOKEN}&token_type=Bearer&expires_in=1800&state={STATE}&scope=x"
                   f"&id_token={REFRESH}")
    assert (got.shape, got.token_type, got.expires_in, got.state) == ("url", "Bearer", 1800.0, STATE)
    assert got.extra["scope"] == "x" and "access_token" not in got.extra
    assert REFRESH not in str(got.extra), "secrets never land in extra"
    fin = finesse(json.dumps({"token": TOKEN, "id_token": REFRESH, "realm": "r"}))
    assert fin.extra == {"realm": "r"}


@pytest.mark.parametrize("value", ["abc", "-5", "0", "nan", "inf", "1e400", "99999999999999"])
def test_implausible_expires_in_is_ignored(value):
    assert implicit(f"#access_token={TOKEN}&expires_in={value}").expires_in is None


def test_state_is_required_for_implicit_when_sent_and_checked_when_echoed():
    # changed: a stateless fragment used to be accepted when the flow had sent a state (RFC 9700 §4.7)
    with pytest.raises(SSOError, match="cut off"):
        implicit(f"#access_token={TOKEN}", state=STATE)
    with pytest.raises(SSOError, match="has no state"):
        implicit(f"#access_token={TOKEN}&expires_in=3600", state=STATE)
    assert implicit(f"#access_token={TOKEN}", state=STATE, require_state=False).access_token == TOKEN
    assert implicit(f"#access_token={TOKEN}&state={STATE}", state=STATE).state == STATE
    for opt_out in (True, False):  # a different state is refused even with the opt-out
        with pytest.raises(SSOError, match="different sign-in attempt") as exc:
            implicit(f"{CB}#access_token={TOKEN}&state=other-attempt", state=STATE, require_state=not opt_out)
        assert TOKEN not in str(exc.value)
    assert implicit(TOKEN, state=STATE).shape == "bare", "a bare token is the person's explicit choice"


# =============================================================================================================
# Finesse
# =============================================================================================================

FINESSE_SHAPES = {
    "compact JSON": FINESSE_JSON,
    "pretty JSON": json.dumps(json.loads(FINESSE_JSON), indent=2),
    "JSON in quotes": f"'{FINESSE_JSON}'",
    "JSON with whitespace": f"\n\n  {FINESSE_JSON}  \n",
    "JSON wrapped inside the token": FINESSE_JSON.replace(JWT, JWT[:30] + "\n" + JWT[30:]),
    "JSON wrapped inside a number": FINESSE_JSON.replace('"expires_in": 300', '"expires_in": 3\n00'),
    "JSON wrapped inside a key": FINESSE_JSON.replace('"token"', '"tok\nen"', 1),
    "JSON URL-encoded": quote(FINESSE_JSON, safe=""),
    "JSON in backticks": f"`{FINESSE_JSON}`",
}


@pytest.mark.parametrize("text", list(FINESSE_SHAPES.values()), ids=list(FINESSE_SHAPES))
def test_finesse_json_shapes(text):
    got = finesse(text)
    assert (got.access_token, got.refresh_token, got.expires_in) == (JWT, REFRESH, 300.0)
    assert (got.user, got.realm, got.user_principal, got.shape) == ("sjefferson", "finesse.com",
                                                                    "sjefferson@finesse.com", "json")


def test_finesse_json_with_escaped_slashes():
    tok = "abc/def/ghi/jkl/mno"
    got = finesse('{"token":"abc\\/def\\/ghi\\/jkl\\/mno","expires_in":60}')
    assert got.access_token == tok


def test_finesse_refresh_token_is_optional():
    got = finesse(json.dumps({"token": JWT, "expires_in": 300, "user_id": "x"}))
    assert got.refresh_token is None and got.access_token == JWT


def test_finesse_access_token_alias():
    assert finesse(json.dumps({"access_token": JWT})).access_token == JWT


def test_finesse_bare_jwt_reads_expiry_and_user_without_verifying():
    got = finesse(JWT)
    assert got.shape == "bare" and got.access_token == JWT
    assert got.user == "sjefferson"
    assert abs((time.time() + got.expires_in) - JWT_EXP) < 5  # the JWT's own exp, read without verifying


def test_finesse_bare_opaque_token():
    got = finesse(f'"{TOKEN}"')
    assert got.access_token == TOKEN and got.expires_in is None


def test_implicit_bare_jwt_keeps_no_user():
    assert implicit(JWT).user is None


# =============================================================================================================
# authorization code (Webex)
# =============================================================================================================

CODE_SHAPES = {
    "url": f"{CB}?code={CODE}&state={STATE}",
    "url, state first": f"{CB}?state={STATE}&code={CODE}",
    "url with extra params": f"{CB}?code={CODE}&state={STATE}&scope=spark%3Apeople_read",
    "url in quotes": f'"{CB}?code={CODE}&state={STATE}"',
    "url in brackets": f"<{CB}?code={CODE}&state={STATE}>",
    "url wrapped": f"{CB}?code={CODE[:10]}\n{CODE[10:]}&st\nate={STATE}",
    "url encoded": quote(f"{CB}?code={CODE}&state={STATE}", safe=""),
    "query with ?": f"?code={CODE}&state={STATE}",
    "query without ?": f"code={CODE}&state={STATE}",
    "code in the fragment": f"{CB}#code={CODE}&state={STATE}",
    "code#state": f"{CODE}#{STATE}",
    "code#state quoted": f"'{CODE}#{STATE}'",
    "code#state encoded": quote(f"{CODE}#{STATE}", safe=""),
    "url without scheme": f"localhost:8080/cb?code={CODE}&state={STATE}",
}


@pytest.mark.parametrize("text", list(CODE_SHAPES.values()), ids=list(CODE_SHAPES))
def test_code_shapes(text):
    got = code(text, state=STATE)
    assert (got.kind, got.code, got.state) == ("code", CODE, STATE)


def test_bare_code_is_refused_when_a_state_was_sent():
    # changed: a bare code used to be accepted "because PKCE binds it" — not a code issued without a challenge
    with pytest.raises(SSOError, match="cannot be matched to this sign-in attempt") as exc:
        code(f"  {CODE}\n", state=STATE)
    assert "whole address the browser landed on" in str(exc.value) and CODE not in str(exc.value)
    got = code(f"  {CODE}\n")  # no attempt to match (the double-paste check of a flow): read, not trusted
    assert (got.code, got.state, got.shape) == (CODE, None, "bare")


def test_code_url_needs_its_state():
    with pytest.raises(SSOError, match="no state"):
        code(f"{CB}?code={CODE}", state=STATE)


@pytest.mark.parametrize("text", [f"{CB}?code={CODE}&state=WRONG", f"{CODE}#WRONG", f"code={CODE}&state=S7ate-abc_12"])
def test_code_state_mismatch(text):
    with pytest.raises(SSOError, match="different sign-in attempt") as exc:
        code(text, state=STATE)
    assert CODE not in str(exc.value)


def test_states_match_is_exact():
    assert states_match("abc", "abc")
    assert not states_match("abc", "abd")
    assert not states_match("abc", "abcd")
    assert not states_match(None, "abc") and not states_match("abc", None)


# =============================================================================================================
# refusals
# =============================================================================================================

CUCM_ERROR = ('{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes '
              'an invalid parameter value, includes a parameter more than once, or is otherwise malformed."}')

REFUSALS = [
    # (expect, text, message pattern)
    ("implicit", "", "nothing was pasted"),
    ("implicit", "   \n\t  ", "nothing was pasted"),
    ("finesse", "", "nothing was pasted"),
    ("code", "\u200b", "nothing was pasted"),
    ("implicit", '""', "nothing but quotes"),
    ("implicit", "<>", "nothing but quotes"),
    ("implicit", "<!DOCTYPE html><html><body>Signed in</body></html>", "web page"),
    ("finesse", "<html><head><title>IdS</title></head><body><form method=post></form></body></html>", "web page"),
    ("code", "<p>Sign in</p>", "web page"),
    ("implicit", f"{CB}#error=access_denied&error_description=The+user+cancelled%20sign-in",
     "refused the sign-in: access_denied — The user cancelled sign-in"),
    ("implicit", "#error=server_error", "refused the sign-in: server_error"),
    ("code", f"{CB}?error=access_denied&error_description=User%20denied&state={STATE}",
     "refused the sign-in: access_denied — User denied"),
    ("code", f"{CB}?error=invalid_scope&error_description=bad+scope", "invalid_scope — bad scope"),
    ("implicit", CUCM_ERROR, "INVALID_REQUEST — The request is missing a required parameter"),
    ("finesse", CUCM_ERROR, "INVALID_REQUEST"),
    ("finesse", '{"error":"invalid_grant","error_description":"expired"}', "invalid_grant — expired"),
    ("implicit", "https://cucm.example.com:8443/ssosp/oauth/authorize?scope=UnifiedCommunications:readwrite"
                 "&response_type=token&redirect_uri=https%3A%2F%2Fapp%2Fcb&client_id=C6990&state=abc",
     "sign-in link itself"),
    ("code", "https://webexapis.com/v1/authorize?client_id=C1&response_type=code&redirect_uri=x&scope=s"
             "&state=abc&code_challenge=x&code_challenge_method=S256", "sign-in link itself"),
    ("finesse", "https://finesse.example.com:8445/desktop/sso/token?cc_username=1001001&return_refresh_token=true",
     "sign-in link itself"),
    ("finesse", f"https://finesse.example.com:8445/desktop/sso/token?cc_username=1&refresh-token={REFRESH}",
     "sign-in link itself"),
    ("implicit", CB, "no sign-in result"),
    ("implicit", f"{CB}#", "no sign-in result"),
    ("implicit", f"{CB}#token_type=Bearer&expires_in=3600", "no access_token"),
    ("implicit", f"{CB}?code={CODE}&state={STATE}", "authorization code"),
    ("implicit", f"{CODE}#{STATE}", "code#state"),
    ("implicit", FINESSE_JSON, "Finesse token"),
    ("implicit", '{"foo": 1}', "no access_token"),
    ("code", FINESSE_JSON, "is JSON"),
    ("code", json.dumps({"access_token": TOKEN}), "is JSON"),
    ("code", f"{CB}#access_token={TOKEN}&expires_in=3600", "access-token redirect"),
    ("code", f"{CB}?state={STATE}", "no code"),
    ("finesse", f"{CB}#access_token={TOKEN}&expires_in=3600", "JSON page"),
    ("finesse", f"{CB}?code={CODE}&state={STATE}", "JSON page"),
    ("finesse", '{"user_id": "x"}', "no token field"),
    ("finesse", '{"token": 12345678901234567}', "not text"),
    ("finesse", FINESSE_JSON[:-40], "cut off"),
    ("finesse", "[1, 2, 3]", "not the sign-in result"),
    ("finesse", "{nonsense", "cut off"),
    ("implicit", "short", "does not look like"),
    ("implicit", "null", "does not look like"),
    ("implicit", "this is not a token at all", "contains spaces"),
    ("implicit", f"my token is {TOKEN}", "contains spaces"),
    ("code", f"{CB}?code={CODE} &state={STATE}", "contains spaces"),
    ("implicit", "ab" * 5, "does not look like"),
    ("code", "abc", "does not look like"),
    ("implicit", f"#access_token={TOKEN}&access_token={TOKEN[::-1]}", "two different access_token"),
    ("implicit", "#access_token=", "empty"),
    ("implicit", "#access_token=a%20b%20c%20d%20e%20f%20g", "does not look like"),
]


@pytest.mark.parametrize("expect,text,pattern", REFUSALS, ids=[f"{e}:{p}" for e, _, p in REFUSALS])
def test_refusals(expect, text, pattern):
    with pytest.raises(SSOError) as exc:
        parse_paste(text, expect=expect, state=STATE)
    msg = str(exc.value)
    assert pattern in msg
    assert "\n→ " in msg, "every refusal says what to do next"
    for secret in (TOKEN, REFRESH, CODE, JWT):
        assert secret not in msg


def test_the_flows_own_sign_in_url_is_refused():
    url = f"https://cucm:8443/somewhere?x=1&state={STATE}"
    with pytest.raises(SSOError, match="sign-in link itself"):
        implicit(f"  '{url}' ", sign_in_url=url)


def test_non_text_input():
    with pytest.raises(SSOError, match="expected the pasted text"):
        implicit(12345)  # type: ignore[arg-type]
    assert implicit(TOKEN.encode()).access_token == TOKEN
    with pytest.raises(SSOError, match="nothing was pasted"):
        implicit(None)  # type: ignore[arg-type]


def test_bad_expect_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_paste(TOKEN, expect="token")  # type: ignore[arg-type]


def test_product_name_in_messages():
    with pytest.raises(SSOError, match="Unity Connection sign-in returns #access_token"):
        implicit(f"{CB}?code={CODE}&state=x", product="Unity Connection")


def test_idp_error_description_is_cleaned_and_capped():
    with pytest.raises(SSOError) as exc:
        implicit("#error=x&error_description=" + quote("line1\nline2\x00" + "y" * 1000))
    msg = str(exc.value)
    assert "line1 line2" in msg and "\x00" not in msg and len(msg) < 800


def test_repr_and_str_hide_secrets():
    for got in (implicit(f"#access_token={TOKEN}&expires_in=60&state={STATE}"), finesse(FINESSE_JSON),
                code(f"{CODE}#{STATE}", state=STATE)):
        for text in (repr(got), str(got)):
            for secret in (TOKEN, REFRESH, CODE, JWT):
                assert secret not in text
    assert "refreshable" in repr(finesse(FINESSE_JSON))


# =============================================================================================================
# property tests
# =============================================================================================================

EXPECTS = ["implicit", "finesse", "code"]
B64TOKEN = string.ascii_letters + string.digits + "-._~+/"


def _views(text: str) -> list[str]:
    """What a secret may be a substring of: the paste without whitespace, percent-decoded up to 3 times."""
    import re

    def squeeze(s: str) -> str:
        return re.sub(r"[\s\u00ad\u200b\u200c\u200d\u2060\ufeff]+", "", s)

    views = [squeeze(text), squeeze(text).replace("\\/", "/")]
    for _ in range(3):
        views.append(squeeze(unquote(views[-1])))
    return views


def _check_outcome(text: str, expect: str) -> None:
    try:
        got = parse_paste(text, expect=expect, state=STATE)
    except SSOError:
        return
    # anything else than SSOError propagates and fails the test
    secrets = [s for s in (got.access_token, got.refresh_token, got.code) if s]
    assert secrets, "a successful parse always yields a token or a code"
    for secret in secrets:
        assert any(secret in v for v in _views(text)), "never invented: the secret comes from the paste"
        assert len(secret) >= MIN_SECRET_LENGTH
    for secret in secrets:
        assert secret not in repr(got)


@pytest.mark.parametrize("expect", EXPECTS)
@PROFILE
@given(text=st.text())
def test_arbitrary_text_is_parsed_or_refused_with_ssoerror(expect, text):
    _check_outcome(text, expect)


# pieces that steer random input into every branch of the parser
_PIECES = st.sampled_from([
    "#", "?", "&", "=", ";", "%", "%23", "%3D", "%26", "%3F", "%7B", "%22", "%2", "{", "}", "[", "]", '"', "'",
    "“", "”", "`", "<", ">", ":", ",", "\\", "\\/", "/", " ", "\n", "\r\n", "\t", "\u00a0", "\u200b",
    "access_token", "code", "state", "token", "refresh_token", "expires_in", "token_type", "error",
    "error_description", "user_id", "Bearer ", "Authorization: ", "https://", "http://", "app.example.com/cb",
    "/ssosp/oauth/authorize", "/authorize", "response_type", "client_id", "/desktop/sso/token", "cc_username",
    "refresh-token", "return_refresh_token", "<html>", "</p>", "<!doctype html>", "INVALID_REQUEST", "null",
    "true", "3600", "-1", "1e999", "NaN", STATE, TOKEN, CODE, JWT, "eyJ", ".", "+", "~", "_",
])
_FUZZ = st.lists(st.one_of(_PIECES, st.text(alphabet=B64TOKEN, max_size=20), st.text(max_size=4)),
                 max_size=30).map("".join)


@pytest.mark.parametrize("expect", EXPECTS)
@PROFILE
@given(text=_FUZZ)
def test_structured_fuzz_is_parsed_or_refused_with_ssoerror(expect, text):
    _check_outcome(text, expect)


# -- real tokens in every decoration round-trip exactly ------------------------------------------------------

def _not_a_bare_parameter(tok: str) -> bool:
    # "refresh_token=" is a parameter with an empty value, not a token with padding: inherently ambiguous,
    # and no issuer hands out a token that spells a parameter name
    return not (tok.endswith("=") and tok.rstrip("=").lower() in _PARAM_KEYS)


tokens = st.builds(lambda body, pad: body + "=" * pad,
                   st.text(alphabet=B64TOKEN, min_size=MIN_SECRET_LENGTH, max_size=160),
                   st.integers(0, 2)).filter(_not_a_bare_parameter).filter(
    # a real token or code has digits in it; an all-letter one such as "authorize_ur" could be found inside the
    # fixed words of a message (flow.authorize_url) and make the "never quoted" checks fail for no leak
    lambda t: any(ch.isdigit() for ch in t))
states = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=32)
_QUOTE_PAIRS = [("'", "'"), ('"', '"'), ("“", "”"), ("‘", "’"), ("`", "`"), ("<", ">"), ("```\n", "\n```"),
                ("«", "»")]
_SPACES = ["", " ", "  ", "\n", "\r\n", "\t", "\u00a0", " \n "]
_BREAKS = ["\n", "\r\n", "\n    ", "\u200b"]


@st.composite
def decorated(draw, payload: str, *, breakable_from: int = 0):
    """``payload`` with line breaks inserted (after ``breakable_from``), maybe URL-encoded, then wrapped."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    text = payload
    if draw(st.booleans()) and draw(st.booleans()):
        text = quote(text, safe="")
        breakable_from = len(quote(payload[:breakable_from], safe=""))
    for _ in range(draw(st.integers(0, 4))):  # a browser or terminal wraps what it shows
        if len(text) > breakable_from:
            pos = rnd.randrange(breakable_from, len(text) + 1)
            text = text[:pos] + rnd.choice(_BREAKS) + text[pos:]
    for _ in range(draw(st.integers(0, 3))):
        left, right = draw(st.sampled_from(_QUOTE_PAIRS))
        text = f"{left}{text}{right}"
    return draw(st.sampled_from(_SPACES)) + text + draw(st.sampled_from(_SPACES))


def _fragment(tok: str, state: str | None, rnd: random.Random, encode_value: bool) -> str:
    params = [f"access_token={quote(tok, safe='') if encode_value else tok}", "token_type=Bearer",
              "expires_in=3600"]
    if state is not None:
        params.append(f"state={state}")
    if rnd.random() < 0.3:
        params.append("scope=UnifiedCommunications%3Areadwrite")
    first = params.pop(0)
    rnd.shuffle(params)
    if rnd.random() < 0.5:  # access_token first, as CUCM sends it; else anywhere
        params.insert(0, first)
    else:
        params.insert(rnd.randrange(len(params) + 1), first)
    return "&".join(params)


@st.composite
def implicit_pastes(draw, *, with_state: bool | None = None):
    tok = draw(tokens)
    state = {None: draw(st.one_of(st.none(), st.just(STATE))), True: STATE, False: None}[with_state]
    rnd = random.Random(draw(st.integers(0, 2**32)))
    frag = _fragment(tok, state, rnd, encode_value=draw(st.booleans()))
    base = draw(st.sampled_from([CB, "http://127.0.0.1:9100/lab/callback", f"{CB}?lang=en", "app.example.com/cb"]))
    shape = draw(st.sampled_from(["url", "fragment#", "fragment", "bare", "bearer", "json"]))
    prefix = 0
    if shape == "url":
        payload = f"{base}#{frag}"
    elif shape == "fragment#":
        payload = f"#{frag}"
    elif shape == "fragment":
        payload = frag
    elif shape == "bare":
        payload = tok
    elif shape == "bearer":
        payload, prefix = f"Bearer {tok}", len("Bearer ")
    else:
        body = {"access_token": tok, "expires_in": 3600, "token_type": "Bearer"}
        if state is not None:
            body["state"] = state
        payload = json.dumps(body)
    return tok, draw(decorated(payload, breakable_from=prefix))


@st.composite
def finesse_pastes(draw):
    tok, refresh = draw(tokens), draw(tokens)
    body = {"token": tok, "refresh_token": refresh, "expires_in": draw(st.integers(1, 86400)),
            "user_id": draw(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)),
            "realm": "finesse.com"}
    keys = list(body)
    random.Random(draw(st.integers(0, 2**32))).shuffle(keys)
    text = json.dumps({k: body[k] for k in keys}, indent=draw(st.sampled_from([None, 2, 4])))
    if draw(st.booleans()):
        return tok, refresh, body, draw(decorated(text))
    return tok, None, None, draw(decorated(tok))


@st.composite
def code_pastes(draw):
    c, state = draw(tokens), draw(states)
    enc = quote(c, safe="") if draw(st.booleans()) else c
    shape = draw(st.sampled_from(["url", "query?", "query", "code#state", "bare", "fragment"]))
    pair = [f"code={enc}", f"state={state}"]
    if draw(st.booleans()):
        pair.reverse()
    q = "&".join(pair)
    payload = {"url": f"{CB}?{q}", "query?": f"?{q}", "query": q, "code#state": f"{c}#{state}", "bare": c,
               "fragment": f"{CB}#{q}"}[shape]
    return c, state, shape, draw(decorated(payload))


@PROFILE
@given(case=implicit_pastes(with_state=True))
def test_implicit_round_trip(case):
    tok, text = case
    got = parse_paste(text, expect="implicit", state=STATE)
    assert got.access_token == tok


@PROFILE
@given(case=implicit_pastes(with_state=False))
def test_implicit_without_state_only_bare_tokens_pass_unless_opted_out(case):
    # changed (was part of test_implicit_round_trip): stateless structured pastes are refused by default
    tok, text = case
    try:
        got = parse_paste(text, expect="implicit", state=STATE)
    except SSOError as exc:
        assert tok not in str(exc) and "state" in str(exc)
    else:
        assert got.shape == "bare" and got.access_token == tok
    assert parse_paste(text, expect="implicit", state=STATE, require_state=False).access_token == tok


@PROFILE
@given(case=finesse_pastes())
def test_finesse_round_trip(case):
    tok, refresh, body, text = case
    got = parse_paste(text, expect="finesse")
    assert got.access_token == tok
    if body is not None:
        assert got.refresh_token == refresh
        assert got.expires_in == body["expires_in"]
        assert got.user == body["user_id"]


@PROFILE
@given(case=code_pastes())
def test_code_round_trip(case):
    c, state, shape, text = case
    if shape == "bare":  # changed: a bare code carries no state, so it is refused when one was sent
        with pytest.raises(SSOError, match="whole address") as exc:
            parse_paste(text, expect="code", state=state)
        assert c not in str(exc.value)
        return
    got = parse_paste(text, expect="code", state=state)
    assert got.code == c and got.state == state


@PROFILE
@given(case=code_pastes(), other=states)
def test_code_state_mismatch_is_always_refused_without_the_code(case, other):
    c, state, shape, text = case
    assume(shape != "bare" and other != state)
    with pytest.raises(SSOError) as exc:
        parse_paste(text, expect="code", state=other)
    assert c not in str(exc.value) and "different sign-in attempt" in str(exc.value)


@PROFILE
@given(case=implicit_pastes())
def test_implicit_paste_in_the_wrong_flow_is_refused_without_the_token(case):
    tok, text = case
    # a bare token is indistinguishable from a bare code, and a bare code is refused: nothing passes
    with pytest.raises(SSOError) as exc:
        parse_paste(text, expect="code", state=STATE)
    assert tok not in str(exc.value)


@PROFILE
@given(case=finesse_pastes())
def test_finesse_json_in_other_flows_is_refused_without_secrets(case):
    tok, refresh, body, text = case
    assume(body is not None)
    for expect in ("implicit", "code"):
        with pytest.raises(SSOError) as exc:
            parse_paste(text, expect=expect, state=STATE)
        assert tok not in str(exc.value) and refresh not in str(exc.value)


def test_every_failure_is_a_ucerror_subclass():
    assert issubclass(SSOError, UcError)


# =============================================================================================================
# hostile pastes: bounded, linear, never anything but a result or SSOError
# =============================================================================================================

@pytest.mark.parametrize("expect", EXPECTS)
def test_an_oversized_paste_is_refused_before_it_is_read(expect):
    for text in (" " * (MAX_PASTE_CHARS + 1), "a" * 100_000, (TOKEN * 1000).encode()):
        with pytest.raises(SSOError, match=r"that is not (a sign-in address|the Finesse sign-in result): it is "
                                           r"[\d,]+ characters long") as exc:
            parse_paste(text, expect=expect, state=STATE)
        assert TOKEN not in str(exc.value)
    # a real result right under the limit is still read
    padded = " " * (MAX_PASTE_CHARS - 200) + f"#access_token={TOKEN}&expires_in=60&state={STATE}"
    if expect == "implicit":
        assert implicit(padded, state=STATE).access_token == TOKEN


def _cost(text: str, expect: str = "implicit", repeats: int = 5) -> float:
    """The least time of a few parses (the least is the cost; the rest is the machine's noise)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            parse_paste(text, expect=expect, state=STATE, redirect_uri=CB)
        except SSOError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def test_40000_spaces_cost_no_more_than_20_times_400():
    # relative, not a wall-clock limit: a quadratic pattern made 40,000 spaces take seconds
    for body in (" ", "a "):
        small, big = "x" + body * 400 + "x", "x" + body * 40_000 + "x"
        for expect in EXPECTS:
            assert _cost(big, expect) <= 20 * _cost(small, expect), (body, expect)


#: what hostile pastes are made of: each repeated to fill a paste at the size limit
HOSTILE_UNITS = [" ", "\t", "\n", " \n ", "\u00a0", "\u200b", "a ", "a\n", "=", "&", "#", "?", "=&", "#?=&", "%",
                 "%2", "%25", "'", '"', "“”", "<", "< ", "<p", "{", "[", '"error":', '"error_description":"',
                 "\\", "Bearer ", "Authorization: Bearer ", "access_token=", "a=b&", "state=", "é𝔘", "\x00",
                 "https://", "/", TOKEN]


@pytest.mark.parametrize("unit", HOSTILE_UNITS, ids=[repr(u)[:24] for u in HOSTILE_UNITS])
def test_parsing_cost_grows_linearly_with_the_paste(unit):
    """100 times the paste costs at most ~linear time (quadratic would be 10,000 times)."""
    n_big = MAX_PASTE_CHARS - 400
    shapes = [lambda body: body, lambda body: "x" + body + "x", lambda body: f"{CB}#access_token={body}",
              lambda body: "{" + body]
    for shape in shapes:
        small = shape((unit * (n_big // 100 // len(unit) + 1))[: n_big // 100])
        big = shape((unit * (n_big // len(unit) + 1))[:n_big])
        for expect in ("implicit", "code"):
            assert _cost(big, expect) <= 400 * _cost(small, expect), (unit, expect)


_HOSTILE_PIECES = st.one_of(
    st.text(alphabet=" \t\n\r\u00a0\u2028\u200b\ufeff", min_size=1, max_size=8),   # whitespace runs
    st.text(alphabet="=&#?%;", min_size=1, max_size=8),                            # structure characters
    st.text(alphabet="'\"“”‘’`«»<>", min_size=1, max_size=4),                        # quotes and brackets
    st.text(alphabet=B64TOKEN + "=", min_size=1, max_size=40),                     # token text
    st.text(min_size=1, max_size=4),                                               # any unicode
    _PIECES,
)
_HOSTILE = st.lists(st.tuples(_HOSTILE_PIECES, st.integers(1, 3000)), min_size=1, max_size=6).map(
    lambda parts: "".join(piece * count for piece, count in parts)[: MAX_PASTE_CHARS + 2000])


@pytest.mark.parametrize("expect", EXPECTS)
@PROFILE
@given(text=_HOSTILE)
def test_hostile_pastes_are_parsed_or_refused_with_ssoerror(expect, text):
    _check_outcome(text, expect)
    try:
        parse_paste(text, expect=expect, state=STATE, redirect_uri=CB, require_state=False)
    except SSOError:
        pass


# -- a paste cut off part-way ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    f"{CB}#access_token={TOKEN[:30]}",
    f"#access_token={TOKEN[:30]}",
    f"access_token={TOKEN[:30]}",
    f"{CB}?lang=en#access_token={TOKEN}",
])
def test_a_paste_cut_off_after_the_token_says_so(text):
    with pytest.raises(SSOError) as exc:
        implicit(text, state=STATE)
    msg = str(exc.value)
    assert "the address was cut off; copy it again with the Copy button" in msg
    assert TOKEN[:30] not in msg


def test_a_paste_cut_off_inside_the_state_says_so():
    with pytest.raises(SSOError, match="different sign-in attempt.*looks cut off"):
        implicit(f"{CB}#access_token={TOKEN}&expires_in=3600&state={STATE[:5]}", state=STATE)


# -- the result object holds a credential ---------------------------------------------------------------------

@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pasted_refuses_pickling(protocol):
    for got in (implicit(f"#access_token={TOKEN}&state={STATE}", state=STATE), finesse(FINESSE_JSON),
                code(f"{CODE}#{STATE}", state=STATE)):
        with pytest.raises(TypeError, match="holds a credential and cannot be pickled; sign in again in the new "
                                            "process") as exc:
            pickle.dumps(got, protocol=protocol)
        for secret in (TOKEN, REFRESH, CODE, JWT):
            assert secret not in str(exc.value)
        assert copy.copy(got) is got and copy.deepcopy(got) is got


# -- identity-provider error text -------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", [JWT, "QmFzZTY0LXBhc3RlZC1zZWNyZXQtdmFsdWUx", "0123456789abcdef0123456789abcdef",
                                    "dGhpcy1pcy1hLXNlY3JldA+/dmFsdWU=", "z" * 50])
def test_idp_error_text_masks_secret_looking_runs(secret):
    enc = quote(secret, safe="")
    for text in (f"#error=invalid_grant&error_description=token+{enc}+was+rejected",
                 f"#error={enc}",
                 '{"error":INVALID_REQUEST,"error_description":"token ' + secret + ' was rejected"}'):
        with pytest.raises(SSOError, match="refused the sign-in") as exc:
            implicit(text, state=STATE)
        assert secret not in str(exc.value) and secret[:16] not in str(exc.value)
    with pytest.raises(SSOError) as exc:
        implicit(f"#error=invalid_grant&error_description=token+{enc}+was+rejected")
    assert "invalid_grant — token ***** was rejected" in str(exc.value)


def test_idp_error_text_is_truncated():
    with pytest.raises(SSOError) as exc:
        implicit("#error=server_error&error_description=" + "word+" * 500)
    head = str(exc.value).split("\n")[0]
    assert head.endswith("…") and len(head) < 300
