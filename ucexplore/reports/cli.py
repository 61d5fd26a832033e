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

A missing server URL, redirect URI or agent id is a usage error (exit 2); a file that cannot be written or a
server that fails is explained in one or two lines (exit 1).
"""

from __future__ import annotations

import argparse
import getpass
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..auth.cli import redirect_uri
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


def _report_name(value: str) -> str:
    try:
        return builtin_name(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown report {value!r}: the built-in reports are "
                                         f"{', '.join(BUILTIN)}") from None


def _out_file(value: str) -> str:
    """``--out``: a file name (the folders leading to it are made), not an existing folder or a file's child."""
    text = value.strip()
    if not text:
        raise argparse.ArgumentTypeError("empty: pass a file name such as report.html")
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{value!r} is a folder: pass a file name such as "
                                         f"{(path / 'report.html').as_posix()}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{value!r} cannot be written: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise argparse.ArgumentTypeError(f"{value!r} cannot be written: no permission to write in "
                                                 f"{parent}")
            break
    return text


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore report``."""
    from ..cli import ca_file, lab_users, server_url

    p = sub.add_parser(
        "report",
        help="build a built-in report (HTML + XLSX), on the lab or on real servers",
        description="Build a self-contained HTML report and an XLSX workbook. Reports: "
        + ", ".join(BUILTIN)
        + ". With --lab everything runs in process on an emulated lab "
        "with a scripted sign-in; otherwise each sign-in link is printed and the paste is read "
        "without echo.",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT", type=_report_name,
                   help=f"one or more of: {', '.join(BUILTIN)}")
    p.add_argument("--out", default="report.html", type=_out_file, metavar="FILE",
                   help="the HTML file (the workbook is written next to it; default report.html)")
    p.add_argument("--no-xlsx", action="store_true", help="skip the XLSX workbook")
    p.add_argument("--title", default=None, help="the report's title (default: from the reports chosen)")
    p.add_argument("--lab", action="store_true", help="start an in-process lab and sign in by script")
    p.add_argument("--users", type=lab_users, default=200, metavar="N",
                   help="lab size, 10 to 100,000 (with --lab; default 200)")
    p.add_argument("--seed", type=int, default=7, metavar="N", help="lab seed (with --lab; default 7)")
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
        type=server_url,
        metavar="URL",
        help="CUCM base URL, e.g. https://cucm.example.com:8443 (default $UCX_CUCM_URL)",
    )
    p.add_argument("--unity", default=None, type=server_url, metavar="URL",
                   help="Unity Connection base URL (default $UCX_UNITY_URL)")
    p.add_argument("--finesse", default=None, type=server_url, metavar="URL",
                   help="Finesse base URL (default $UCX_FINESSE_URL)")
    p.add_argument(
        "--redirect-uri",
        default=None,
        type=redirect_uri,
        metavar="URI",
        help="the redirect URI registered for CUCM/Unity SSO (default $UCX_REDIRECT_URI)",
    )
    p.add_argument("--agent-id", default=None, help="Finesse agent (loginId or loginName) to sign in as")
    p.add_argument(
        "--admin-user",
        default=None,
        help="an administrator account for everyone's devices (UDS) and every agent (Finesse); "
        "its password is asked without echo",
    )
    p.add_argument("--ca", default=None, type=ca_file, metavar="PEM",
                   help="CA bundle (PEM) to verify the servers (default $UCX_CA_PATH)")


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
    from ucexplore.cli import UsageError, env_ca, server_url

    verify: Any = args.ca or env_ca() or True
    urls: dict[str, str | None] = {}
    for p in products:
        urls[p] = getattr(args, p)
        if not urls[p] and os.environ.get(_ENV[p], "").strip():
            try:
                urls[p] = server_url(os.environ[_ENV[p]])
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"${_ENV[p]} is not a server URL ({exc}): fix it, or pass --{p} URL") from None
    missing = [p for p in sorted(products) if not urls[p]]
    if missing:
        raise UsageError(
            "; ".join(f"--{p} URL (or ${_ENV[p]}) is needed" for p in missing)
            + " (or use --lab)"
        )
    redirect = args.redirect_uri
    if not redirect and os.environ.get("UCX_REDIRECT_URI", "").strip():
        try:
            redirect = redirect_uri(os.environ["UCX_REDIRECT_URI"])
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"$UCX_REDIRECT_URI is not a redirect URI ({exc}): fix it, or pass "
                             "--redirect-uri URI") from None
    if "finesse" in products and not args.agent_id:
        raise UsageError("--agent-id is needed for the contact-centre report (the agent's loginId or loginName)")
    for product in sorted(products - {"finesse"}):
        if not redirect:
            raise UsageError(
                "--redirect-uri (or $UCX_REDIRECT_URI) is needed for "
                f"{product} sign-in: the redirect URI registered for third-party SSO clients"
            )
    admin: tuple[str, str] | None = None
    if args.admin_user:
        admin = (args.admin_user, getpass.getpass(f"Password of {args.admin_user} (hidden): "))
    out: dict[str, Any] = {}
    for product in ("cucm", "unity", "finesse"):
        if product not in products:
            continue
        agent = args.agent_id if product == "finesse" else None
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
    from ucexplore.cli import CommandError

    from . import report

    names = list(dict.fromkeys(builtin_name(n) for n in args.reports))
    products = {BUILTIN[n][2] for n in names}
    devices = args.devices if args.devices is not None else ("all" if args.lab else DEFAULT_DEVICE_SAMPLE)
    with ExitStack() as stack:
        clients = _clients_on_lab(args, products, stack) if args.lab else _clients_on_servers(args, products)
        try:
            result = report(
                names, out=args.out, xlsx=not args.no_xlsx, title=args.title, devices=devices, **clients
            )
        except OSError as exc:
            if not exc.filename:
                raise
            raise CommandError(f"cannot write {exc.filename}: {exc.strerror or exc} — pass --out with a file "
                               "in a folder you can write to") from None
    print(result.summary(), flush=True)
    return 0
