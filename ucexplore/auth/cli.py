"""``ucexplore login cucm|unity|finesse|webex URL …``: sign in from a terminal and verify the token.

The paste is read without echo and the token is checked with one cheap authenticated call. It is not stored
(it ends with the command) unless ``--store`` puts it in the OS keyring (never a plaintext file).

Example::

    $ ucexplore login cucm https://cucm.example.com:8443 --redirect-uri https://app.example.com/cb --user jkam
    $ ucexplore login finesse https://finesse.example.com:8445 --agent-id jkam
    $ UCX_WEBEX_CLIENT_SECRET=… ucexplore login webex --client-id C123… --redirect-uri https://app.example.com/cb
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
from typing import Any

from ..errors import UcError
from ..redact import redact
from .flows import SignInFlowBase
from .interactive import build_flow, login_interactive

__all__ = ["add_parser", "run", "verify_token"]

#: an example server URL per product, for messages
EXAMPLE_URL = {"cucm": "https://cucm.example.com:8443", "unity": "https://cuc.example.com",
               "finesse": "https://finesse.example.com:8445", "webex": "https://webexapis.com/v1"}
#: where the redirect URI is registered, per product
REDIRECT_WHERE = {
    "cucm": "the redirect URI registered on CUCM: System › Enterprise Parameters › SSO Configuration › "
            "Redirect URIs for Third Party SSO Client",
    "unity": "the redirect URI registered for third-party SSO clients, as on CUCM: Enterprise Parameters › "
             "SSO Configuration › Redirect URIs for Third Party SSO Client",
    "webex": "one of your integration's redirect URIs: developer.webex.com › My Webex Apps",
}


class _RefuseSecretArgument(argparse.Action):
    """``--client-secret VALUE`` is refused at parse time (exit 2, one line): secrets stay off command lines."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error("do not put the client secret on the command line (it shows in `ps` and the shell "
                     "history): set UCX_WEBEX_CLIENT_SECRET, or pass --ask-client-secret to be prompted")


def client_secret(args: argparse.Namespace, ask: Any = getpass.getpass) -> str | None:
    """The Webex client secret: prompted for with ``--ask-client-secret``, else ``UCX_WEBEX_CLIENT_SECRET``."""
    if getattr(args, "ask_client_secret", False):
        return ask("Webex client secret (input hidden, Enter for none): ").strip() or None
    return os.environ.get("UCX_WEBEX_CLIENT_SECRET", "").strip() or None


def redirect_uri(text: str) -> str:
    """An argparse type: an absolute URI with a scheme (``https://app.example.com/cb``), no spaces."""
    value = text.strip()
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise argparse.ArgumentTypeError("pass the registered redirect URI, e.g. https://app.example.com/cb "
                                         "(no spaces)")
    if "://" not in value:
        raise argparse.ArgumentTypeError(f"needs a scheme: https://{value}"[:200])
    if "#" in value:
        raise argparse.ArgumentTypeError("a redirect URI has no #fragment (RFC 6749): pass the address as it is "
                                         "registered, e.g. https://app.example.com/cb")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore login``."""
    from ..cli import ca_file, server_url

    p = sub.add_parser("login", help="sign in to a product from the terminal and verify the token",
                       description="Print the sign-in URL, read the paste without echo, verify the token with "
                                   "one cheap call. The token is not stored unless --store keeps it in the OS "
                                   "keyring for later runs.")
    p.add_argument("product", choices=("cucm", "unity", "finesse", "webex"), help="the product to sign in to")
    p.add_argument("url", nargs="?", type=server_url,
                   help="server base URL, e.g. https://cucm.example.com:8443 (needed for cucm, unity and "
                        "finesse; webex: the REST base, default https://webexapis.com/v1)")
    p.add_argument("--redirect-uri", type=redirect_uri, default=None, metavar="URI",
                   help="CUCM/Unity/Webex: the redirect URI registered on the server (CUCM: Enterprise "
                        "Parameters › SSO Configuration › Redirect URIs for Third Party SSO Client); "
                        "default $UCX_REDIRECT_URI")
    p.add_argument("--agent-id", help="Finesse: the agent's login name or id")
    p.add_argument("--client-id", default=None,
                   help="Webex: the integration's client id (default $UCX_WEBEX_CLIENT_ID)")
    p.add_argument("--client-secret", action=_RefuseSecretArgument, metavar="-",
                   help="refused: a secret on the command line shows in `ps` and the shell history; set "
                        "UCX_WEBEX_CLIENT_SECRET or use --ask-client-secret")
    p.add_argument("--ask-client-secret", action="store_true",
                   help="Webex: prompt (without echo) for the integration secret; it is optional with PKCE. "
                        "Default: UCX_WEBEX_CLIENT_SECRET when set")
    p.add_argument("--scopes", help="Webex scopes, space separated (default: the toolkit's read scopes)")
    p.add_argument("--user", help="CUCM: your user id, so the token can be verified with /cucm-uds/user/<id>")
    p.add_argument("--ca", default=None, type=ca_file, metavar="PEM",
                   help="CA bundle (PEM) for TLS verification (default $UCX_CA_PATH)")
    p.add_argument("--store", action="store_true",
                   help="keep the token in the OS keyring for later runs (opt-in; default: not stored)")
    p.add_argument("--no-require-state", dest="require_state", action="store_false",
                   help="CUCM/Unity: accept a pasted address without the state this sign-in sent (only for a "
                        "server that does not echo it, as RFC 6749 says it must)")


def verify_token(flow: SignInFlowBase, *, user: str | None = None, verify: Any = True) -> str | None:
    """One cheap authenticated call with the new token; returns what it showed (no secret), or None when it
    cannot check (CUCM without ``user``)."""
    from .. import services

    base = flow.base_url if hasattr(flow, "base_url") else None
    if flow.product == "cucm":
        if not user:
            return None
        row = services.UDS(base, auth=flow, verify=verify, progress=False).user(user)
        return f"UDS knows you as {row.get('displayName', user)}"
    if flow.product == "unity":
        frame = services.Unity(base, auth=flow, verify=verify, progress=False).messages(limit=1)
        return f"your mailbox answered ({frame.attrs.get('ucexplore', {}).get('total', len(frame))} messages)"
    if flow.product == "finesse":
        tok = flow.token
        row = services.Finesse(base, auth=flow, verify=verify, progress=False).user(tok.user if tok else "")
        return f"Finesse agent {row.get('loginId')} is {row.get('state')}"
    row = services.Webex(auth=flow, base_url=base, verify=verify, progress=False).me()
    return f"Webex knows you as {row.get('displayName')}"


def _cli_hint(text: str) -> str:
    """A store error's hint in command-line words (the Python API's ``store=False`` is ``no --store`` here)."""
    return re.sub(r"keep tokens in memory \(store=False[^)]*\)",
                  "run without --store (the token then ends with the command)", text)


def _open_keyring() -> Any:
    """The OS keyring store, or a CommandError that says how to get one (or to run without --store)."""
    from ..cli import CommandError
    from .store import open_store

    try:
        return open_store(True)
    except UcError as exc:
        raise CommandError("cannot keep the token (--store): " + _cli_hint(exc.message)) from None


def _check_arguments(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The redirect URI and client id to use; a UsageError (exit 2) for what the product needs and lacks."""
    from ..cli import UsageError

    product = args.product
    if product != "webex" and not args.url:
        raise UsageError(f"{product} sign-in needs the server URL: ucexplore login {product} "
                         f"{EXAMPLE_URL[product]}" + (" --redirect-uri https://…" if product != "finesse" else ""))
    client_id = args.client_id or os.environ.get("UCX_WEBEX_CLIENT_ID", "").strip() or None
    if product == "webex" and not client_id:
        raise UsageError("webex sign-in needs the integration's client id: pass --client-id C… "
                         "(developer.webex.com › My Webex Apps) or set UCX_WEBEX_CLIENT_ID")
    redirect = args.redirect_uri
    if not redirect and product != "finesse":
        env = os.environ.get("UCX_REDIRECT_URI", "").strip()
        if env:
            try:
                redirect = redirect_uri(env)
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"UCX_REDIRECT_URI is not a redirect URI ({exc}): fix it, or pass "
                                 "--redirect-uri https://…") from None
    if product != "finesse" and not redirect:
        raise UsageError(f"{product} sign-in needs the redirect URI: pass --redirect-uri https://… "
                         f"({REDIRECT_WHERE[product]}) or set UCX_REDIRECT_URI")
    return redirect, client_id


def run(args: argparse.Namespace) -> int:
    """Run ``ucexplore login``."""
    from ..cli import UsageError, env_ca

    redirect, client_id = _check_arguments(args)
    verify: Any = args.ca or env_ca() or True
    store: Any = _open_keyring() if args.store else False
    try:
        flow = build_flow(args.product, args.url, agent_id=args.agent_id, client_id=client_id,
                          client_secret=client_secret(args), redirect_uri=redirect,
                          scopes=args.scopes, verify=verify, require_state=args.require_state)
    except UcError:
        raise
    except ValueError as exc:  # what the flow refuses that the checks above did not catch
        raise UsageError(redact(str(exc))) from None
    login_interactive(args.product, flow=flow, store=store,
                      input_fn=lambda prompt="": getpass.getpass(prompt))  # looked up now: tests can replace it
    try:
        shown = verify_token(flow, user=args.user, verify=verify)
    except UcError as exc:
        print(redact(f"Signed in, but the check call failed: {exc}"))
        return 1
    if shown is None:
        print("Signed in; not verified (pass --user <your user id> to check the token against UDS).")
    else:
        print("Verified: " + shown)
    if args.store:
        print("The token is kept in the OS keyring: the next `ucexplore login … --store` reuses it until it "
              "expires.")
    else:
        print("The token was not stored (it ends with this command); pass --store to keep it in the OS "
              "keyring for later runs.")
    return 0
