"""``ucexplore report``: build a built-in report from a shell.

``--lab`` starts an in-process lab, signs in by script through the lab IdP's login form (exactly the hops a
person's browser makes), writes the report and the workbook, prints their paths and row counts, and stops the
lab — the non-interactive main job (``make report``). Without ``--lab`` it talks to real servers (``--cucm``,
``--unity``, ``--finesse``, or ``UCX_CUCM_URL`` … in the environment): it prints each sign-in link and waits
for a person to paste back what the browser shows (input hidden).

Example::

    $ ucexplore report --lab directory --out report.html
    $ ucexplore report voicemail --unity https://cuc.example.com --redirect-uri https://app.example.com/cb
    $ ucexplore report contact-centre --finesse https://finesse.example.com:8445 --agent-id 1001001
"""

from __future__ import annotations

import argparse
import getpass
import os
from contextlib import ExitStack
from typing import Any

from .builtin import BUILTIN, DEFAULT_DEVICE_SAMPLE, builtin_name

__all__ = ["add_parser", "run"]

_ENV = {"cucm": "UCX_CUCM_URL", "unity": "UCX_UNITY_URL", "finesse": "UCX_FINESSE_URL"}
_LAB_PRODUCTS = {"cucm": "cucm", "unity": "unity", "finesse": "finesse"}


def _devices(value: str) -> int | str:
    if value.lower() == "all":
        return "all"
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of users, or 'all'") from None
    if n < 0:
        raise argparse.ArgumentTypeError("a number of users (0 or more), or 'all'")
    return n


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore report``."""
    p = sub.add_parser(
        "report",
        help="build a built-in report (HTML + XLSX), on the lab or on real servers",
        description="Build a self-contained HTML report and an XLSX workbook. Reports: "
        + ", ".join(BUILTIN)
        + ". With --lab everything runs in process on an emulated lab "
        "with a scripted sign-in; otherwise each sign-in link is printed and the paste is read "
        "without echo.",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT", help=f"one or more of: {', '.join(BUILTIN)}")
    p.add_argument("--out", default="report.html", help="the HTML file (the workbook is written next to it)")
    p.add_argument("--no-xlsx", action="store_true", help="skip the XLSX workbook")
    p.add_argument("--title", default=None)
    p.add_argument("--lab", action="store_true", help="start an in-process lab and sign in by script")
    p.add_argument("--users", type=int, default=200, help="lab size (with --lab)")
    p.add_argument("--seed", type=int, default=7, help="lab seed (with --lab)")
    p.add_argument(
        "--devices",
        type=_devices,
        default=None,
        help=f"users whose devices the directory report checks: a number or 'all' "
        f"(default: all on the lab, {DEFAULT_DEVICE_SAMPLE} otherwise)",
    )
    p.add_argument(
        "--cucm",
        default=None,
        help="CUCM base URL, e.g. https://cucm.example.com:8443 (default $UCX_CUCM_URL)",
    )
    p.add_argument("--unity", default=None, help="Unity Connection base URL (default $UCX_UNITY_URL)")
    p.add_argument("--finesse", default=None, help="Finesse base URL (default $UCX_FINESSE_URL)")
    p.add_argument(
        "--redirect-uri",
        default=None,
        help="the redirect URI registered for CUCM/Unity SSO (default $UCX_REDIRECT_URI)",
    )
    p.add_argument("--agent-id", default=None, help="Finesse agent (loginId or loginName) to sign in as")
    p.add_argument(
        "--admin-user",
        default=None,
        help="an administrator account for everyone's devices (UDS) and every agent (Finesse); "
        "its password is asked without echo",
    )
    p.add_argument("--ca", default=None, help="CA bundle (PEM) to verify the servers (default $UCX_CA_PATH)")


def _clients_on_lab(args: argparse.Namespace, products: set[str], stack: ExitStack) -> dict[str, Any]:
    """Start the lab, sign the demo user in by script through the IdP form, build the clients."""
    import ucexplore as ux
    from ucexplore.lab.person import Person

    lab = stack.enter_context(
        ux.lab.start(
            users=args.users, seed=args.seed, products=("idp", *sorted(_LAB_PRODUCTS[p] for p in products))
        )
    )
    user, password = lab.demo_user
    person = Person(user, password, verify=lab.ca_path or True)
    stack.callback(person.close)
    verify: Any = lab.ca_path or True
    out: dict[str, Any] = {}
    print(
        f"lab started ({args.users} users, seed {args.seed}); signing in as {user} through the lab IdP form",
        flush=True,
    )
    if "cucm" in products:
        flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri, verify=verify)
        flow.complete(person.sign_in(flow.authorize_url))
        out["uds"] = ux.UDS(lab.urls["cucm"], auth=flow, verify=verify, progress=False)
        out["uds_admin"] = ux.UDS(lab.urls["cucm"], auth=lab.admin, verify=verify, progress=False)
        print(
            f"  CUCM: signed in as {user}; other users' devices are read as the lab administrator", flush=True
        )
    if "unity" in products:
        flow = ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri, verify=verify)
        flow.complete(person.sign_in(flow.authorize_url))
        out["unity"] = ux.Unity(lab.urls["unity"], auth=flow, verify=verify, progress=False)
        print(f"  Unity Connection: signed in as {user}", flush=True)
    if "finesse" in products:
        flow = ux.FinesseSSO(lab.urls["finesse"], agent_id=args.agent_id or user, verify=verify)
        flow.complete(person.sign_in(flow.authorize_url))
        out["finesse"] = ux.Finesse(lab.urls["finesse"], auth=flow, verify=verify, progress=False)
        out["finesse_admin"] = ux.Finesse(lab.urls["finesse"], auth=lab.admin, verify=verify, progress=False)
        out["agent_id"] = args.agent_id or lab.demo_agent_id
        print(f"  Finesse: signed in as {user} (every team is read as the lab administrator)", flush=True)
    return out


def _clients_on_servers(args: argparse.Namespace, products: set[str]) -> dict[str, Any]:
    """Ask a person to sign in to each product needed (link printed, paste read without echo)."""
    import ucexplore as ux
    from ucexplore.auth.interactive import build_flow, login_interactive

    verify: Any = args.ca or os.environ.get("UCX_CA_PATH") or True
    redirect = args.redirect_uri or os.environ.get("UCX_REDIRECT_URI")
    urls = {p: getattr(args, p) or os.environ.get(_ENV[p]) for p in products}
    missing = [p for p in sorted(products) if not urls[p]]
    if missing:
        raise SystemExit(
            "ucexplore report: "
            + "; ".join(f"--{p} URL (or ${_ENV[p]}) is needed" for p in missing)
            + " (or use --lab)"
        )
    admin: tuple[str, str] | None = None
    if args.admin_user:
        admin = (args.admin_user, getpass.getpass(f"Password of {args.admin_user} (hidden): "))
    out: dict[str, Any] = {}
    for product in ("cucm", "unity", "finesse"):
        if product not in products:
            continue
        agent = args.agent_id if product == "finesse" else None
        if product == "finesse" and not agent:
            raise SystemExit("ucexplore report: --agent-id is needed for the contact-centre report")
        if product != "finesse" and not redirect:
            raise SystemExit(
                "ucexplore report: --redirect-uri (or $UCX_REDIRECT_URI) is needed for "
                f"{product} sign-in: the redirect URI registered for third-party SSO clients"
            )
        flow = build_flow(product, urls[product], agent_id=agent, redirect_uri=redirect, verify=verify)
        login_interactive(product, flow=flow, input_fn=getpass.getpass)  # looked up now: scripts may swap it
        if product == "cucm":
            out["uds"] = ux.UDS(urls[product], auth=flow, verify=verify, progress=False)
            if admin:
                out["uds_admin"] = ux.UDS(urls[product], auth=admin, verify=verify, progress=False)
        elif product == "unity":
            out["unity"] = ux.Unity(urls[product], auth=flow, verify=verify, progress=False)
        else:
            out["finesse"] = ux.Finesse(urls[product], auth=flow, verify=verify, progress=False)
            out["agent_id"] = agent
            if admin:
                out["finesse_admin"] = ux.Finesse(urls[product], auth=admin, verify=verify, progress=False)
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``ucexplore report``: build, write, print paths and row counts; 0 on success."""
    from . import report

    names = [builtin_name(n) for n in args.reports]
    products = {BUILTIN[n][2] for n in names}
    devices = args.devices if args.devices is not None else ("all" if args.lab else DEFAULT_DEVICE_SAMPLE)
    with ExitStack() as stack:
        clients = _clients_on_lab(args, products, stack) if args.lab else _clients_on_servers(args, products)
        result = report(
            names, out=args.out, xlsx=not args.no_xlsx, title=args.title, devices=devices, **clients
        )
    print(result.summary(), flush=True)
    return 0
