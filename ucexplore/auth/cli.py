"""``ucexplore login cucm|unity|finesse|webex URL …``: sign in from a terminal and verify the token.

The paste is read without echo, the token is checked with one cheap authenticated call, and it is kept
for this process only — unless ``--store`` puts it in the OS keyring (never a plaintext file).

Example::

    $ ucexplore login finesse https://finesse.example.com:8445 --agent-id jkam
    $ UCX_WEBEX_CLIENT_SECRET=… ucexplore login webex --client-id C123… --redirect-uri https://app.example.com/cb
"""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from ..errors import UcError
from .flows import SignInFlowBase
from .interactive import build_flow, login_interactive

__all__ = ["add_parser", "run", "verify_token"]


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


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore login``."""
    p = sub.add_parser("login", help="sign in to a product from the terminal and verify the token",
                       description="Print the sign-in URL, read the paste without echo, verify the token with "
                                   "one cheap call. --store keeps it in the OS keyring for later runs.")
    p.add_argument("product", choices=("cucm", "unity", "finesse", "webex"))
    p.add_argument("url", nargs="?", help="server base URL (webex: REST base, default https://webexapis.com/v1)")
    p.add_argument("--redirect-uri", default=os.environ.get("UCX_REDIRECT_URI"),
                   help="redirect URI registered on the server (CUCM/Unity/Webex)")
    p.add_argument("--agent-id", help="Finesse: the agent's login name or id")
    p.add_argument("--client-id", default=os.environ.get("UCX_WEBEX_CLIENT_ID"), help="Webex integration id")
    p.add_argument("--client-secret", action=_RefuseSecretArgument, metavar="-",
                   help="refused: a secret on the command line shows in `ps` and the shell history; set "
                        "UCX_WEBEX_CLIENT_SECRET or use --ask-client-secret")
    p.add_argument("--ask-client-secret", action="store_true",
                   help="Webex: prompt (without echo) for the integration secret; it is optional with PKCE. "
                        "Default: UCX_WEBEX_CLIENT_SECRET when set")
    p.add_argument("--scopes", help="Webex scopes, space separated")
    p.add_argument("--user", help="CUCM: your user id, so the token can be verified with /cucm-uds/user/<id>")
    p.add_argument("--ca", default=os.environ.get("UCX_CA_PATH"), help="CA bundle (PEM) for TLS verification")
    p.add_argument("--store", action="store_true", help="keep the token in the OS keyring (opt-in)")
    p.add_argument("--no-require-state", dest="require_state", action="store_false",
                   help="CUCM/Unity: accept a pasted address without the state this sign-in sent (only for a "
                        "server that does not echo it, as RFC 6749 says it must)")


def verify_token(flow: SignInFlowBase, *, user: str | None = None, verify: Any = True) -> str:
    """One cheap authenticated call with the new token; returns what it showed (no secret)."""
    from .. import services

    base = flow.base_url if hasattr(flow, "base_url") else None
    if flow.product == "cucm":
        if not user:
            return "not verified: pass --user <your user id> to check the token against UDS"
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


def run(args: argparse.Namespace) -> int:
    """Run ``ucexplore login``."""
    verify: Any = args.ca or True
    flow = build_flow(args.product, args.url, agent_id=args.agent_id, client_id=args.client_id,
                      client_secret=client_secret(args), redirect_uri=args.redirect_uri,
                      scopes=args.scopes, verify=verify, require_state=args.require_state)
    login_interactive(args.product, flow=flow, store=args.store,
                      input_fn=lambda prompt="": getpass.getpass(prompt))  # looked up now: tests can replace it
    try:
        print("Verified: " + verify_token(flow, user=args.user, verify=verify))
    except UcError as exc:
        print(f"The sign-in worked but the check call failed: {exc}")
        return 1
    if not args.store:
        print("The token is kept for this process only (use --store to keep it in the OS keyring).")
    return 0
