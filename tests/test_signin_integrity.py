"""Sign-in integrity (RFC 9700): what a pasted sign-in result must prove before it becomes a Token.

Findings of a hostile review, one section each, every test failing on the code before the fix:

* UC implicit grant (CucmSSO, UnitySSO): a missing ``state`` when one was sent, a URL from another page than
  the ``redirect_uri``, a pasted ``token_type=Basic``;
* Webex: a bare code (PKCE does not bind a code obtained without our ``code_challenge``);
* ``SSOError`` quoting secret-looking IdP error text;
* ``FinesseSSO.refresh_url`` handing out the refresh token as a plain string.

Lab tests run the lab in process on loopback (``lab`` fixture, tests/conftest.py) and sign in with the scripted
person of ``ucexplore.lab.person``.
"""

from __future__ import annotations

import copy
import inspect
import json
import pickle
from urllib.parse import parse_qs, urlsplit

import pytest

import ucexplore as ux
from ucexplore.auth import resolve_auth
from ucexplore.auth.flows import CucmSSO, FinesseSSO, SecretURL, UnitySSO, WebexOAuth
from ucexplore.auth.paste import parse_paste, quote_idp_text
from ucexplore.errors import SSOError
from ucexplore.lab.person import Person
from ucexplore.redact import register_secret
from ucexplore.transport import run_sync

CB = "https://app.example.com/cb"
CUCM = "https://cucm.example.com:8443"
TOKEN = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdHRhY2tlciIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXZhbHVlLWhlcmU"


def fragment(flow, *, state: str | None = "flow", token: str = TOKEN, token_type: str = "Bearer",
             base: str = CB) -> str:
    st = flow.state if state == "flow" else state
    tail = f"&state={st}" if st is not None else ""
    return f"{base}#access_token={token}&token_type={token_type}&expires_in=3600{tail}"


def _headers(flow) -> str:
    return run_sync(resolve_auth(flow).authorization())


# =============================================================================================================
# UC implicit grant: state
# =============================================================================================================


@pytest.mark.parametrize("cls", [CucmSSO, UnitySSO])
def test_an_address_without_the_state_that_was_sent_is_refused(cls):
    flow = cls(CUCM, redirect_uri=CB)
    assert "state=" in flow.authorize_url
    with pytest.raises(SSOError) as exc:
        flow.complete(fragment(flow, state=None))
    msg = str(exc.value)
    assert "no state" in msg and "Copy button" in msg and "start the sign-in again" in msg
    assert "require_state=False" in msg and TOKEN not in msg
    assert flow.token is None
    assert flow.complete(fragment(flow)).access_token == TOKEN


@pytest.mark.parametrize("paste", [
    f"#access_token={TOKEN}&token_type=Bearer&expires_in=3600",      # the fragment
    f"access_token={TOKEN}&token_type=Bearer&expires_in=3600",       # the fragment without #
    f"?access_token={TOKEN}&expires_in=3600",                        # the query
    json.dumps({"access_token": TOKEN, "expires_in": 3600}),         # JSON
], ids=["fragment", "fragment without #", "query", "json"])
def test_a_fragment_with_fields_but_without_state_is_refused(paste):
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError, match="no state"):
        flow.complete(paste)
    assert flow.token is None


@pytest.mark.parametrize("paste", [TOKEN, f"  '{TOKEN}'\n", f"Bearer {TOKEN}", f"Authorization: Bearer {TOKEN}"])
def test_a_bare_token_is_accepted_as_the_persons_explicit_choice(paste):
    flow = CucmSSO(CUCM, redirect_uri=CB)
    tok = flow.complete(paste)
    assert tok.access_token == TOKEN and tok.issuer == "cucm" and tok.token_type == "Bearer"


def test_a_foreign_state_is_refused_even_with_the_opt_out():
    for require in (True, False):
        flow = UnitySSO(CUCM, redirect_uri=CB, require_state=require)
        with pytest.raises(SSOError, match="different sign-in attempt"):
            flow.complete(fragment(flow, state="someone-elses-attempt"))
        with pytest.raises(SSOError, match="different sign-in attempt"):
            flow.complete(fragment(flow, state=flow.state[:-1] + ("A" if flow.state[-1] != "A" else "B")))


def test_require_state_false_is_an_explicit_keyword_only_opt_out():
    param = inspect.signature(CucmSSO.__init__).parameters["require_state"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is True
    strict = CucmSSO(CUCM, redirect_uri=CB)
    assert strict.require_state is True and "require_state" not in repr(strict)
    lax = CucmSSO(CUCM, redirect_uri=CB, require_state=False)
    assert lax.require_state is False and "require_state=False" in repr(lax)  # visible in the notebook
    assert lax.complete(fragment(lax, state=None)).access_token == TOKEN
    assert "require_state" in (CucmSSO.__doc__ or "") and "require_state=False" in inspect.getdoc(
        inspect.getmodule(CucmSSO))


def test_a_paste_cut_off_after_the_token_says_so():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError) as exc:
        flow.complete(f"{CB}#access_token={TOKEN[:30]}")
    msg = str(exc.value)
    assert "the address was cut off; copy it again with the Copy button" in msg and TOKEN[:30] not in msg


# =============================================================================================================
# UC implicit grant: the address must be the redirect URI
# =============================================================================================================


@pytest.mark.parametrize("base", [
    "https://evil.example.net/cb",           # another host
    "http://app.example.com/cb",             # another scheme
    "https://app.example.com:8443/cb",       # another port
    "https://app.example.com/other",         # another path
    "https://app.example.com/cb/more",       # a longer path
    "https://app.example.com.evil.net/cb",   # a look-alike host
    "evil.example.net/cb",                   # no scheme, another host
    "/elsewhere",                            # a path alone
], ids=lambda b: b)
@pytest.mark.parametrize("cls", [CucmSSO, UnitySSO])
def test_an_address_from_another_page_is_refused_and_named_without_the_token(cls, base):
    flow = cls(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError) as exc:
        flow.complete(fragment(flow, base=base))
    msg = str(exc.value)
    assert "not this sign-in's redirect page" in msg
    assert "https://app.example.com/cb" in msg, "names the redirect URI"
    assert urlsplit(base if "://" in base else "//" + base).path in msg, "names what was pasted"
    assert TOKEN not in msg and flow.state not in msg and "#" not in msg.split("\n")[0]
    assert flow.token is None


@pytest.mark.parametrize("base", [
    CB, CB + "/", "https://APP.example.com/cb", "https://app.example.com:443/cb", "app.example.com/cb",
    CB + "?lang=en", "https://user@app.example.com/cb",
])
def test_the_redirect_uri_itself_in_any_spelling_is_accepted(base):
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert flow.complete(fragment(flow, base=base)).access_token == TOKEN


def test_an_address_from_another_page_is_refused_with_the_opt_out_too():
    flow = CucmSSO(CUCM, redirect_uri=CB, require_state=False)
    with pytest.raises(SSOError, match="not this sign-in's redirect page"):
        flow.complete(fragment(flow, base="https://evil.example.net/cb", state=None))


# =============================================================================================================
# UC implicit grant: Bearer only
# =============================================================================================================


@pytest.mark.parametrize("token_type", ["Basic", "basic", "MAC", "DPoP", "Digest", "N_A"])
def test_a_pasted_token_type_never_changes_the_authorization_scheme(token_type):
    flow = CucmSSO(CUCM, redirect_uri=CB)
    tok = flow.complete(fragment(flow, token_type=token_type))
    assert tok.token_type == "Bearer" and tok.authorization() == f"Bearer {TOKEN}"
    assert _headers(flow) == f"Bearer {TOKEN}"
    js = UnitySSO(CUCM, redirect_uri=CB)
    got = js.complete(json.dumps({"access_token": TOKEN, "token_type": token_type, "state": js.state}))
    assert got.authorization() == f"Bearer {TOKEN}"


def test_webex_and_finesse_tokens_are_bearer_whatever_the_response_says():
    wx = WebexOAuth("C1", redirect_uri=CB)
    tok = wx._token_from_response({"access_token": TOKEN, "token_type": "Basic", "expires_in": 60}, None)
    assert tok.authorization() == f"Bearer {TOKEN}"
    fin = FinesseSSO(CUCM, agent_id="1001001")
    tok = fin.complete(json.dumps({"token": TOKEN, "token_type": "Basic", "expires_in": 60}))
    assert tok.authorization() == f"Bearer {TOKEN}"


# =============================================================================================================
# Webex: a bare code is refused
# =============================================================================================================


def test_webex_refuses_a_bare_code_without_sending_it():
    flow = WebexOAuth("C1", redirect_uri=CB, base_url="http://127.0.0.1:9/v1")  # nothing listens there
    for paste in ("YjQ3ZTQ5NjUtNDRiOS00MGQ3LWE5OTAtZDE0ODkyNmMwZmU2", " 'YjQ3ZTQ5NjUtNDRiOS00MGQ3LWE5OTAtZDE0'\n"):
        with pytest.raises(SSOError) as exc:
            flow.complete(paste)
        msg = str(exc.value)
        assert "paste the whole address the browser landed on" in msg and "YjQ3ZTQ5" not in msg
    assert flow.token is None


def test_webex_refuses_an_address_from_another_page():
    flow = WebexOAuth("C1", redirect_uri=CB, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(SSOError, match="not this sign-in's redirect page"):
        flow.complete(f"https://evil.example.net/cb?code=YjQ3ZTQ5NjUtNDRiOS00MGQ3&state={flow.state}")


# =============================================================================================================
# SSOError never quotes secret-looking IdP text
# =============================================================================================================


@pytest.mark.parametrize("secret", [
    JWT,
    "QmFzZTY0LXVucmVnaXN0ZXJlZC12YWx1ZTAx",             # base64 (never registered)
    "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7",                 # hex
    "ZXhhbXBsZS1zZWNyZXQtdmFsdWU+/extra==",             # base64 with + / =
    "x" * 60,                                           # anything very long
])
@pytest.mark.parametrize("where", ["error", "error_description"])
def test_idp_error_text_is_quoted_with_secret_looking_runs_masked(secret, where):
    other = "error_description=" + "The+user+cancelled" if where == "error" else "error=access_denied"
    for flow in (CucmSSO(CUCM, redirect_uri=CB), WebexOAuth("C1", redirect_uri=CB)):
        sep = "#" if isinstance(flow, CucmSSO) else "?"
        with pytest.raises(SSOError, match="refused the sign-in") as exc:
            flow.complete(f"{CB}{sep}{where}=bad+{secret}+here&{other}&state={flow.state}")
        msg = str(exc.value)
        assert secret not in msg and secret[:16] not in msg and "*****" in msg
        assert "bad" in msg and "here" in msg, "the ordinary words around it are kept"


def test_ordinary_idp_error_text_is_quoted_and_truncated():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError) as exc:
        flow.complete(f"{CB}#error=access_denied&error_description=The+user+cancelled&state={flow.state}")
    assert "access_denied — The user cancelled" in str(exc.value)
    long = "word " * 400
    with pytest.raises(SSOError) as exc:
        flow.complete(f"{CB}#error=server_error&error_description={long.replace(' ', '+')}&state={flow.state}")
    head = str(exc.value).split("\n")[0]
    assert "server_error — word word" in head and head.endswith("…") and len(head) < 300


def test_quote_idp_text_masks_registered_secrets_and_keeps_words():
    register_secret("short-reg-secret")
    assert quote_idp_text("token short-reg-secret refused", 80) == "token ***** refused"
    assert quote_idp_text("access_denied: The user cancelled", 80) == "access_denied: The user cancelled"
    assert quote_idp_text("INVALID_REQUEST", 80) == "INVALID_REQUEST"
    assert quote_idp_text("a\x00b\nc", 80) == "a b c"
    assert quote_idp_text("y" * 1000, 50) == "*****"
    assert len(quote_idp_text("word " * 100, 50)) == 50


# =============================================================================================================
# FinesseSSO.refresh_url: a SecretURL
# =============================================================================================================

REFRESH = "rt-UmVmcmVzaC10b2tlbi1mb3ItdGVzdHMtb25seQ+/=="


def _finesse():
    flow = FinesseSSO("https://finesse.example.com:8445", agent_id="1001001")
    flow.complete(json.dumps({"token": JWT, "refresh_token": REFRESH, "expires_in": 300}))
    return flow


def test_refresh_url_is_masked_wherever_it_is_shown():
    url = _finesse().refresh_url()
    assert isinstance(url, SecretURL) and not isinstance(url, str)
    shown = [repr(url), str(url), f"{url}", f"{url!r}", "{}".format(url), "%s" % url, "%r" % (url,),
             url.masked, json.dumps(str(url)), repr([url]), repr({"u": url})]
    for text in shown:
        assert "UmVmcmVzaC10" not in text and "*****" in text
    assert str(url) == "https://finesse.example.com:8445/desktop/sso/token?cc_username=1001001&refresh-token=*****"


def test_refresh_url_reveals_the_real_address_on_request():
    url = _finesse().refresh_url()
    real = url.reveal()
    assert isinstance(real, str)
    assert parse_qs(urlsplit(real).query)["refresh-token"] == [REFRESH]
    assert parse_qs(urlsplit(real).query)["cc_username"] == ["1001001"]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_refresh_url_refuses_pickling(protocol):
    url = _finesse().refresh_url()
    with pytest.raises(TypeError, match=r"cannot be pickled; call flow.refresh_url\(\) again") as exc:
        pickle.dumps(url, protocol=protocol)
    assert REFRESH not in str(exc.value)
    assert copy.copy(url) is url and copy.deepcopy(url) is url


def test_refresh_url_equality_compares_the_secret_and_is_not_hashable():
    flow = _finesse()
    assert flow.refresh_url() == flow.refresh_url()
    assert flow.refresh_url() != flow.refresh_url().reveal(), "never equal to a str (it would leak by ==)"
    with pytest.raises(TypeError):
        hash(flow.refresh_url())


# =============================================================================================================
# against the lab: the real paths still work, the attacks do not
# =============================================================================================================


@pytest.fixture(scope="module")
def people(lab):
    victim = Person(*lab.demo_user, verify=lab.ca_path or True)
    attacker = Person(lab.org.users[1].username, lab.demo_user[1], verify=lab.ca_path or True)
    yield victim, attacker
    victim.close()
    attacker.close()


def _webex(lab, **kw):
    kw.setdefault("client_secret", lab.webex_client_secret)
    return WebexOAuth(lab.webex_client_id, redirect_uri=lab.redirect_uri, scopes=["spark:all"],
                      base_url=lab.urls["webex"] + "/v1", verify=lab.ca_path or True, **kw)


def test_lab_sign_ins_still_work_for_every_flow(lab, people):
    victim, _ = people
    flows = [CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri, verify=lab.ca_path or True),
             UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri, verify=lab.ca_path or True),
             FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0], verify=lab.ca_path or True),
             _webex(lab), _webex(lab, client_secret=None)]
    for flow in flows:
        landed = victim.sign_in(flow.authorize_url)
        tok = flow.complete(landed)
        assert tok.issuer == flow.product and tok.authorization().startswith("Bearer ")
        if flow.product in ("cucm", "unity"):
            assert "&state=" in landed, "the lab echoes state, as RFC 6749 §4.2.2 requires"


def test_lab_webex_query_string_alone_is_accepted(lab, people):
    victim, _ = people
    flow = _webex(lab)
    landed = victim.sign_in(flow.authorize_url)
    assert flow.complete("?" + urlsplit(landed).query).issuer == "webex"


def test_lab_unity_address_pasted_into_the_cucm_flow_is_refused(lab, people):
    victim, _ = people
    cucm = CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri, verify=lab.ca_path or True)
    unity = UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri, verify=lab.ca_path or True)
    landed = victim.sign_in(unity.authorize_url)  # a Unity token, landed on the same redirect page
    for flow in (cucm, CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri, require_state=False)):
        with pytest.raises(SSOError, match="different sign-in attempt"):
            flow.complete(landed)
        assert flow.token is None, "a Unity token is never labelled cucm from a pasted address"


def test_lab_webex_code_injection_without_pkce_is_refused(lab, people):
    """An attacker signs in as themselves with the victim app's client id but no code_challenge, and gets the
    victim to paste the code: the lab (like a server not enforcing PKCE) would exchange it with the victim
    flow's client_secret, signing the victim's notebook in as the attacker."""
    _, attacker = people
    victim_flow = _webex(lab)
    q = parse_qs(urlsplit(victim_flow.authorize_url).query)
    no_pkce = (f"{lab.urls['webex']}/v1/authorize?client_id={lab.webex_client_id}&response_type=code"
               f"&redirect_uri={q['redirect_uri'][0]}&scope=spark%3Aall&state=attackers-own-state")
    landed = attacker.sign_in(no_pkce)
    code = parse_qs(urlsplit(landed).query)["code"][0]
    for paste in (code, f"  {code}\n", landed, f"{code}#attackers-own-state"):
        with pytest.raises(SSOError) as exc:
            victim_flow.complete(paste)
        assert code not in str(exc.value)
    assert victim_flow.token is None


def test_lab_login_widget_and_notebook_sign_in_still_work(lab, people):
    from ucexplore import notebook
    from ucexplore.notebook import _env_from, _PEOPLE, sign_in

    victim, _ = people
    flow = CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri, verify=lab.ca_path or True)
    w = ux.login(flow)
    try:
        assert w.submit(fragment(flow, state=None, base=lab.redirect_uri)) is None
        assert w.error and "no state" in w.error
        assert w.submit(victim.sign_in(flow.authorize_url)) is not None and w.signed_in and w.error is None
    finally:
        w.close()
        flow.sign_out()  # the sessions bar lists signed-in flows: leave none behind for other tests
    env = _env_from(lab.env(), lab=lab)
    before, flows_before = set(_PEOPLE), dict(notebook._FLOWS)
    nb_flow = env.cucm_sso()
    w = sign_in(nb_flow, env=env, auto=True)  # the scripted path of the notebooks: w.submit(landed)
    try:
        assert w.signed_in and w.error is None
    finally:
        w.close()
        nb_flow.sign_out()
        notebook._FLOWS.clear()
        notebook._FLOWS.update(flows_before)
        for key in set(_PEOPLE) - before:
            _PEOPLE.pop(key).close()


def test_parse_paste_with_lab_addresses(lab, people):
    victim, _ = people
    flow = CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    landed = victim.sign_in(flow.authorize_url)
    got = parse_paste(landed, expect="implicit", state=flow.state, redirect_uri=lab.redirect_uri)
    assert got.state == flow.state and got.token_type == "Bearer" and got.expires_in
