"""The ucexplore command: lab, login, report, check and audit.

Example::

    $ ucexplore lab --users 500 --latency-ms 20        # serve the lab until Ctrl-C
    $ ucexplore lab --jupyter                          # ... and open JupyterLab on the start-here notebook
    $ ucexplore report --lab directory --out report.html

No input ends in a traceback: a usage problem prints the usage and one ``ucexplore VERB: error: …`` line and
exits 2; a failure at run time (a server that does not answer, a bad paste) prints what failed and what to do
and exits 1; Ctrl-C exits 130. ``UCX_DEBUG=1`` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence
from urllib.parse import urlsplit

from .lab.config import PORT_OFFSETS, PRODUCTS

__all__ = ["main", "DEFAULT_PORT_BASE", "UsageError", "CommandError"]

DEFAULT_PORT_BASE = 9100
REPO_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "00-start-here.ipynb"
#: the organisation sizes the lab is built and measured for (README: 10 to 100,000 users)
LAB_USERS = (10, 100_000)
#: products ``ucexplore lab --products`` can serve (the IdP always runs)
LAB_PRODUCTS = tuple(p for p in PRODUCTS if p != "idp")
#: products whose token lifetime ``--token-ttl`` sets
TTL_PRODUCTS = ("cucm", "unity", "finesse", "webex")
MAX_TTL = 365 * 86400
#: the lab binds port_base … port_base + 5
LAB_PORTS = len(PORT_OFFSETS)


class UsageError(SystemExit):
    """A usage problem found after parsing (an argument another one needs, a value from the environment).

    ``main()`` prints the verb's usage and ``ucexplore VERB: error: <message>`` and exits 2, like argparse.
    It is a ``SystemExit`` with code 2 whose ``str()`` is the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CommandError(Exception):
    """A runtime failure the command explains itself: ``main()`` prints the message and exits 1."""


# -- argparse types: every value is checked at parse time (exit 2, one line) -------------------------------------
def _number(text: str, kind: Callable[[str], Any]) -> Any:
    try:
        value = kind(text.strip())
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_range(low: int | None = None, high: int | None = None, what: str = "", *,
              grouped: bool = True) -> Callable[[str], int]:
    """An argparse type: a whole number in ``low..high`` (either end open when None)."""
    f = "{:,}" if grouped else "{}"

    def parse(text: str) -> int:
        value = _number(text, int)
        if (low is not None and value < low) or (high is not None and value > high):
            span = (f"from {f.format(low)} to {f.format(high)}" if low is not None and high is not None
                    else f"{f.format(low)} or more" if low is not None else f"{f.format(high)} or less")
            raise argparse.ArgumentTypeError(f"{f.format(value)} is out of range: {what or 'it'} must be {span}")
        return value

    parse.__name__ = "whole number"
    return parse


def float_range(low: float = 0.0, high: float | None = None, *, positive: bool = False,
                what: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number ``>= low`` (``> low`` when ``positive``) and ``<= high``."""

    def parse(text: str) -> float:
        value = float(_number(text, float))
        if value < low or (positive and value == low) or (high is not None and value > high):
            if high is not None:
                span = f"more than {low:g} and at most {high:g}" if positive else f"between {low:g} and {high:g}"
            else:
                span = f"more than {low:g}" if positive else f"{low:g} or more"
            raise argparse.ArgumentTypeError(f"{text.strip()} is out of range: {what or 'it'} must be {span}")
        return value

    parse.__name__ = "number"
    return parse


rate = float_range(0.0, 1.0, what="a share of requests (0 = never, 1 = always)")
milliseconds = float_range(0.0, what="a time in milliseconds")
seconds = float_range(0.0, what="a time in seconds")


def _looks_like_a_host(text: str) -> bool:
    """True for ``host``, ``host:port`` or ``host:port/path`` (safe to echo); False for what may be a pasted
    token (no dot, over-long labels), which a message must not repeat."""
    import ipaddress

    host = text.split("/", 1)[0]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host, port = host.split(":")
        if not port.isdigit():
            return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return (len(text) <= 200 and (host == "localhost" or len(labels) > 1)
            and all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels))


def server_url(text: str) -> str:
    """An argparse type: an ``http://`` or ``https://`` base URL with a host (no credentials, query or fragment)."""
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError("empty: pass a URL such as https://cucm.example.com:8443")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise argparse.ArgumentTypeError("a URL cannot contain spaces or control characters")
    if "://" not in value:
        if _looks_like_a_host(value):
            raise argparse.ArgumentTypeError(f"needs a scheme: http://{value} or https://{value}")
        raise argparse.ArgumentTypeError("needs a server URL with its scheme, e.g. https://cucm.example.com:8443 "
                                         "(what was given does not look like a host name)")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise argparse.ArgumentTypeError(
            f"{parts.scheme[:20]}:// is not supported: use https:// (or http:// for the lab)")
    if "@" in parts.netloc:
        raise argparse.ArgumentTypeError(
            "do not put a user name or password in the URL (it shows in `ps` and the shell history)")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise argparse.ArgumentTypeError(
            "pass the server's base URL (e.g. https://cucm.example.com:8443), without ?query or #fragment: "
            "a sign-in result is pasted at the prompt, never put on the command line")
    try:
        port = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{parts.netloc!r} has a port that is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        raise argparse.ArgumentTypeError("the URL has no host: pass e.g. https://cucm.example.com:8443")
    return value


def ca_file(text: str) -> str:
    """An argparse type: the path of a readable PEM file with CA certificates."""
    import ssl

    path = os.path.expanduser(text.strip())
    if not path:
        raise argparse.ArgumentTypeError("empty: pass the path of a PEM file with the CA certificate(s)")
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"{text!r} does not exist: pass the path of a PEM file with the CA "
                                         "certificate(s)")
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder: pass the path of a PEM file with the CA "
                                         "certificate(s)")
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "no PEM certificate in it"
        raise argparse.ArgumentTypeError(f"cannot use {text!r} as a CA bundle ({reason}): it must be a PEM "
                                         "file (-----BEGIN CERTIFICATE-----)") from None
    return path


def env_ca() -> str | None:
    """``$UCX_CA_PATH`` when it is set, checked like ``--ca`` (a CommandError, exit 1, when it is unusable)."""
    value = os.environ.get("UCX_CA_PATH", "").strip()
    if not value:
        return None
    try:
        return ca_file(value)
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"UCX_CA_PATH: {exc}; fix or unset it, or pass --ca ca.pem") from None


def _bind_host(text: str) -> str:
    """``--host``: an address or name to bind; empty (which would bind every interface) is refused."""
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value) or "/" in value:
        raise argparse.ArgumentTypeError("pass one address to bind, e.g. 127.0.0.1 (the default) or this "
                                         "machine's LAN address for a classroom")
    return value


def _lab_products(text: str) -> tuple[str, ...]:
    names = [p.strip().lower().replace("-", "_") for p in text.split(",") if p.strip()]
    if not names and text.strip() == "":
        return ()
    allowed = ("idp", *LAB_PRODUCTS)
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        what = f"unknown product {', '.join(map(repr, unknown))}" if unknown else "no product named"
        raise argparse.ArgumentTypeError(f"{what}: use a comma list of {','.join(LAB_PRODUCTS)}")
    return tuple(dict.fromkeys(n for n in names if n != "idp"))


def _token_ttl(text: str) -> tuple[str, int]:
    product, sep, value = text.partition("=")
    product = product.strip().lower()
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not PRODUCT=SECONDS: e.g. --token-ttl cucm=120")
    if product not in TTL_PRODUCTS:
        raise argparse.ArgumentTypeError(f"unknown product {product!r}: use one of {', '.join(TTL_PRODUCTS)} "
                                         "(e.g. cucm=120)")
    try:
        secs = int(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value.strip()!r} is not a whole number of seconds "
                                         f"(e.g. {product}=120)") from None
    if not 1 <= secs <= MAX_TTL:
        raise argparse.ArgumentTypeError(f"{secs:,} seconds is out of range: a token lifetime must be from 1 to "
                                         f"{MAX_TTL:,} seconds (a year)")
    return product, secs


lab_users = int_range(*LAB_USERS, what="the number of users")


def _lab_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="serve the embedded UC lab on loopback until Ctrl-C",
                       description="Serve the embedded UC lab (CUCM, Unity Connection, Finesse, Webex, Webex XML "
                                   "and the IdP), each on its own port, and print the URLs and demo accounts.")
    p.add_argument("--users", type=lab_users, default=200, metavar="N",
                   help=f"size of the synthetic organisation, {LAB_USERS[0]} to {LAB_USERS[1]:,} (default 200)")
    p.add_argument("--seed", type=int_range(what="the seed"), default=7, metavar="N",
                   help="seed of the synthetic organisation: the same seed gives the same people (default 7)")
    p.add_argument("--host", default="127.0.0.1", type=_bind_host, metavar="ADDRESS",
                   help="address to bind (default loopback; a shared classroom lab may bind a LAN address)")
    p.add_argument("--port-base", type=int_range(1, 65535 - LAB_PORTS + 1, what="the first port", grouped=False),
                   default=DEFAULT_PORT_BASE, metavar="PORT",
                   help=f"first of {LAB_PORTS} consecutive ports: the IdP, then cucm, unity, finesse, webex, "
                        f"webex_xml (default {DEFAULT_PORT_BASE})")
    p.add_argument("--https", action="store_true", help="serve HTTPS with a generated CA (its path is printed)")
    p.add_argument("--products", type=_lab_products, default=(), metavar="LIST",
                   help=f"serve only these, comma separated: {','.join(LAB_PRODUCTS)} (the IdP always runs; "
                        "default all)")
    p.add_argument("--latency-ms", type=milliseconds, default=0.0, metavar="MS",
                   help="delay added to every API response, in milliseconds (default 0)")
    p.add_argument("--jitter-ms", type=milliseconds, default=0.0, metavar="MS",
                   help="plus a random 0..MS milliseconds on each response (default 0)")
    p.add_argument("--rate-429", type=rate, default=0.0, metavar="SHARE",
                   help="share of API requests answered 429 Too Many Requests, 0 to 1 (default 0)")
    p.add_argument("--rate-503", type=rate, default=0.0, metavar="SHARE",
                   help="share of API requests answered 503 Service Unavailable, 0 to 1 (default 0)")
    p.add_argument("--retry-after", type=seconds, default=1.0, metavar="SECONDS",
                   help="the Retry-After sent with those 429/503 answers, in seconds (default 1)")
    p.add_argument("--truncate-rate", type=rate, default=0.0, metavar="SHARE",
                   help="share of response bodies cut short, 0 to 1 (default 0)")
    p.add_argument("--token-ttl", type=_token_ttl, action="append", default=[], metavar="PRODUCT=SECONDS",
                   help=f"token lifetime of one product ({', '.join(TTL_PRODUCTS)}), e.g. cucm=120 (repeatable)")
    p.add_argument("--learners", type=int_range(0, LAB_USERS[1], what="the number of learners"), default=0,
                   metavar="N",
                   help="print N learner accounts (distinct users, Finesse agents first) for a workshop room")
    p.add_argument("--jupyter", action="store_true", help="also start JupyterLab on notebooks/00-start-here.ipynb")


def _lab_port_busy(exc: Any, host: str, base: int) -> str:
    """One line for a busy port, with a free --port-base to try when one is found."""
    from .lab.server import free_port_base

    free = free_port_base(LAB_PORTS, host, range(base + 100, min(base + 2100, 65535 - LAB_PORTS), 100))
    suggestion = "N" if free is None else f"{free} (those ports are free now)"
    return (f"port {exc.port} ({exc.product}) is already in use — is another `ucexplore lab` running? "
            f"pass --port-base {suggestion}")


def _lab_bind_failed(exc: OSError, host: str) -> str:
    """One line for a port the lab cannot bind for another reason than being busy."""
    import errno

    what = exc.strerror or str(exc)
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        fix = f"--host {host} is not an address of this machine: pass 127.0.0.1 or one of its LAN addresses"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"ports below 1024 need administrator rights: pass --port-base {DEFAULT_PORT_BASE} or above"
    else:
        fix = "check --host and --port-base"
    return f"{what} — {fix}"


def _run_lab(args: argparse.Namespace) -> int:
    import importlib.util

    from .lab import Faults, start
    from .lab.server import PortInUse

    if args.learners and args.learners >= args.users:
        raise UsageError(f"--learners {args.learners} needs more users than that: pass --users "
                         f"{max(args.learners + 1, LAB_USERS[0])} or more")
    if args.https and importlib.util.find_spec("trustme") is None:
        raise CommandError("--https needs the trustme package: pip install 'ucexplore[all]' (or run `make run`)")
    if args.jupyter and importlib.util.find_spec("jupyterlab") is None:
        raise CommandError("--jupyter needs JupyterLab: pip install 'ucexplore[all]' (or run `make run`)")
    ttl = dict(args.token_ttl)
    fault = Faults(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, rate_429=args.rate_429,
                   rate_503=args.rate_503, retry_after=args.retry_after, truncate_rate=args.truncate_rate)
    options = {"products": ("idp", *args.products)} if args.products else {}

    def _interrupt(*_: Any) -> NoReturn:
        raise KeyboardInterrupt

    # SIGTERM (and SIGHUP, a closed terminal) stop the lab like Ctrl-C: servers stopped, temporary files removed
    stop_signals = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, _interrupt) for s in stop_signals}
    lab: Any = None
    jupyter: subprocess.Popen[bytes] | None = None
    try:
        try:
            lab = start(users=args.users, seed=args.seed, https=args.https, host=args.host,
                        port_base=args.port_base,
                        faults={p: fault for p in LAB_PRODUCTS} if fault.active else None,
                        token_ttl=ttl or None, **options)
        except PortInUse as exc:
            raise CommandError(_lab_port_busy(exc, args.host, args.port_base)) from None
        except OSError as exc:  # an address this machine does not have, a port below 1024 without rights …
            raise CommandError(_lab_bind_failed(exc, args.host)) from None
        print(lab.describe(), flush=True)
        if args.learners:
            print(learner_accounts(lab, args.learners), flush=True)
        if args.jupyter:
            env = {**os.environ, **lab.env()}
            if REPO_NOTEBOOK.exists():  # the printed URL opens the start-here notebook itself
                shown = REPO_NOTEBOOK.name
                cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={REPO_NOTEBOOK.parent}",
                       f"--LabApp.default_url=/lab/tree/{REPO_NOTEBOOK.name}"]
            else:
                shown = str(Path.cwd())
                cmd = [sys.executable, "-m", "jupyterlab", shown]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.append("--allow-root")
            print(f"\nstarting JupyterLab on {shown} (Ctrl-C stops both)", flush=True)
            jupyter = subprocess.Popen(cmd, env=env)
        idle = threading.Event()
        while not idle.wait(0.5):
            if jupyter is not None and jupyter.poll() is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        for s in stop_signals:  # a second SIGTERM while stopping must not leave the files behind
            signal.signal(s, signal.SIG_IGN)
        try:
            if jupyter is not None and jupyter.poll() is None:
                jupyter.terminate()
                try:
                    jupyter.wait(20)
                except subprocess.TimeoutExpired:
                    jupyter.kill()
            if lab is not None:
                lab.stop()
                print("lab stopped", flush=True)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
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
    if "UCX_ALLOW_INSECURE_HTTP" in lab.env():  # type: ignore[attr-defined]  # plain http beyond loopback
        lines.append("  learners: set UCX_ALLOW_INSECURE_HTTP=1 too (this lab speaks plain http; --https avoids it)")
    return "\n".join(lines)


def _say(text: str) -> None:
    from .redact import redact

    print(redact(text), file=sys.stderr, flush=True)


def _short(text: str, limit: int = 400) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Parser(argparse.ArgumentParser):
    """argparse, with its one-line errors passed through :func:`ucexplore.redact.redact`."""

    def error(self, message: str) -> NoReturn:
        from .redact import redact

        super().error(redact(message))


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], Any]],
                             argparse._SubParsersAction]:
    parser = _Parser(
        prog="ucexplore", description=__doc__.split("\n\n")[0],
        epilog="Run ucexplore VERB --help for the options of one verb.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="VERB",
                                help="what to do (lab, login, report, check or audit)")
    _lab_parser(sub)
    commands: dict[str, Callable[[argparse.Namespace], Any]] = {"lab": _run_lab}
    for name, module in (("login", "ucexplore.auth.cli"), ("report", "ucexplore.reports.cli"),
                         ("check", "ucexplore.check"), ("audit", "ucexplore.audit")):
        try:
            mod = __import__(module, fromlist=["add_parser", "run"])
        except ImportError:
            continue
        mod.add_parser(sub)
        commands[name] = mod.run
    return parser, commands, sub


def _readable_streams() -> None:
    """A console that cannot show a character (→, …) prints a replacement instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (AttributeError, ValueError, OSError):  # pragma: no cover - a stream that cannot change
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ucexplore`` console script.

    Returns the exit code: 0 fine, 1 a failure at run time (what failed and what to do are printed), 130 after
    Ctrl-C. A usage error exits 2 (``SystemExit``) after one ``ucexplore VERB: error: …`` line.
    """
    verb = "ucexplore"
    try:
        _readable_streams()
        parser, commands, sub = _build_parser()
        args = parser.parse_args(argv)
        verb = f"ucexplore {args.command}"
        try:
            with warnings.catch_warnings():
                # getpass without a terminal already prints "Warning: Password input may be echoed."
                warnings.simplefilter("ignore", getpass.GetPassWarning)
                return int(commands[args.command](args) or 0)
        except UsageError as exc:
            sub.choices[args.command].print_usage(sys.stderr)
            _say(f"{verb}: error: {exc.message}")
            raise
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except EOFError:  # a prompt (a password, a client secret) met the end of the input
        _say(f"\n{verb}: the input ended before an answer was typed: run it in a terminal, or pipe the answer in")
        return 1
    except BrokenPipeError:  # `ucexplore audit . | head`: the reader left; say nothing more
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except Exception as exc:  # noqa: BLE001 - the one place every unexpected error becomes one line
        from .errors import UcError

        if os.environ.get("UCX_DEBUG", "").strip() not in ("", "0"):
            import traceback

            _say(traceback.format_exc().rstrip())
        if isinstance(exc, CommandError):
            _say(f"{verb}: {exc}")
        elif isinstance(exc, UcError):
            lines = [line for line in exc.message.splitlines() if line.strip()]
            _say(f"{verb}: " + "\n".join(lines[:4]))
        else:
            _say(f"ucexplore: internal error: {type(exc).__name__}: {_short(exc)} "
                 "(run with UCX_DEBUG=1 for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
