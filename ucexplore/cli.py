"""The ``ucexplore`` command: ``lab``, ``login``, ``report``, ``check`` and ``audit``.

Example::

    $ ucexplore lab --users 500 --latency-ms 20        # serve the lab until Ctrl-C
    $ ucexplore lab --jupyter                          # ... and open JupyterLab on the start-here notebook
    $ ucexplore report --lab directory --out report.html
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

__all__ = ["main", "DEFAULT_PORT_BASE"]

DEFAULT_PORT_BASE = 9100
REPO_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "00-start-here.ipynb"


def _lab_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="serve the embedded UC lab on loopback until Ctrl-C",
                       description="Serve the embedded UC lab (CUCM, Unity Connection, Finesse, Webex, Webex XML "
                                   "and the IdP), each on its own port, and print the URLs and demo accounts.")
    p.add_argument("--users", type=int, default=200, help="size of the synthetic organisation (10..100000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default loopback; a shared classroom lab may bind a LAN address)")
    p.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                   help=f"first port (idp); products follow (default {DEFAULT_PORT_BASE})")
    p.add_argument("--https", action="store_true", help="serve HTTPS with a generated CA (its path is printed)")
    p.add_argument("--products", default="", help="comma list to serve only some (cucm,unity,finesse,webex,webex_xml)")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--rate-429", type=float, default=0.0, help="share of API requests answered 429")
    p.add_argument("--rate-503", type=float, default=0.0, help="share of API requests answered 503")
    p.add_argument("--retry-after", type=float, default=1.0)
    p.add_argument("--truncate-rate", type=float, default=0.0, help="share of bodies cut short")
    p.add_argument("--token-ttl", action="append", default=[], metavar="PRODUCT=SECONDS",
                   help="token lifetime, e.g. cucm=120 (repeatable)")
    p.add_argument("--learners", type=int, default=0, metavar="N",
                   help="print N learner accounts (distinct users, Finesse agents first) for a workshop room")
    p.add_argument("--jupyter", action="store_true", help="also start JupyterLab on notebooks/00-start-here.ipynb")


def _run_lab(args: argparse.Namespace) -> int:
    from .lab import Faults, start

    ttl = {}
    for item in args.token_ttl:
        product, _, seconds = item.partition("=")
        ttl[product.strip()] = int(seconds)
    fault = Faults(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, rate_429=args.rate_429,
                   rate_503=args.rate_503, retry_after=args.retry_after, truncate_rate=args.truncate_rate)
    products = tuple(p.strip() for p in args.products.split(",") if p.strip())
    options = {"products": ("idp", *products)} if products else {}
    lab = start(users=args.users, seed=args.seed, https=args.https, host=args.host, port_base=args.port_base,
                faults={p: fault for p in ("cucm", "unity", "finesse", "webex", "webex_xml")} if fault.active
                else None, token_ttl=ttl or None, **options)
    print(lab.describe(), flush=True)
    if args.learners:
        print(learner_accounts(lab, args.learners), flush=True)
    stop = threading.Event()
    jupyter: subprocess.Popen[bytes] | None = None
    if args.jupyter:
        env = {**os.environ, **lab.env()}
        target = REPO_NOTEBOOK if REPO_NOTEBOOK.exists() else Path.cwd()
        cmd = [sys.executable, "-m", "jupyterlab", str(target)]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        print(f"\nstarting JupyterLab on {target.name} (Ctrl-C stops both)", flush=True)
        jupyter = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if jupyter is not None and jupyter.poll() is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if jupyter is not None and jupyter.poll() is None:
            jupyter.terminate()
            jupyter.wait(20)
        lab.stop()
        print("lab stopped", flush=True)
    return 0


def learner_accounts(lab: object, count: int) -> str:
    """A table of ``count`` learner accounts: user name, extension, Finesse agent id (agents first)."""
    org = lab.org  # type: ignore[attr-defined]
    agents = [a for a in org.agents.values() if a.user is not org.demo]
    rows = [(a.user, a.login_id) for a in agents[:count]]
    others = (u for u in org.users[1:] if not u.is_agent)
    rows += [(u, "") for u, _ in zip(others, range(count - len(rows)))]
    password = lab.demo_user[1]  # type: ignore[attr-defined]
    lines = [f"\nlearner accounts (password {password}):", f"  {'user':<14} {'extension':<10} agent id"]
    lines += [f"  {u.username:<14} {u.extension:<10} {agent}" for u, agent in rows]
    host = getattr(getattr(lab, "config", None), "host", "127.0.0.1")
    if not getattr(lab, "ca_path", None) and host not in ("127.0.0.1", "::1", "localhost"):
        lines.append("  learners: set UCX_ALLOW_INSECURE_HTTP=1 too (this lab speaks plain http; --https avoids it)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ucexplore`` console script."""
    parser = argparse.ArgumentParser(prog="ucexplore", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _lab_parser(sub)
    commands = {"lab": _run_lab}
    for name, module in (("login", "ucexplore.auth.cli"), ("report", "ucexplore.reports.cli"),
                         ("check", "ucexplore.check"), ("audit", "ucexplore.audit")):
        try:
            mod = __import__(module, fromlist=["add_parser", "run"])
        except ImportError:
            continue
        mod.add_parser(sub)
        commands[name] = mod.run
    args = parser.parse_args(argv)
    try:
        return int(commands[args.command](args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # every UcError message says what to do; print it without a traceback
        from .errors import UcError

        if isinstance(exc, UcError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
