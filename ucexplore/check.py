"""``ucexplore check``: is this machine ready for the workshop, and can it reach each server?

For the room: Python and package versions. For each server (``--url`` or the ``UCX_*_URL`` environment
variables): DNS, TCP reachability, the TLS certificate (issuer, expiry, SHA-256 fingerprint, whether it
verifies), the SSO status endpoint, and the clock skew against the server's ``Date`` header. Every problem
is printed with its fix.

Example::

    $ ucexplore check --url https://cucm.example.com:8443 --ca corp-ca.pem
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Sequence
from urllib.parse import urlsplit

__all__ = ["Check", "check_environment", "check_server", "add_parser", "run"]

PACKAGES = ("httpx", "pandas", "xmltodict", "ipywidgets", "jupyterlab", "tqdm", "itables", "matplotlib",
            "openpyxl", "starlette", "uvicorn", "trustme")


@dataclass
class Check:
    """One line of the report: what was checked, whether it is fine, and the fix when it is not."""

    target: str
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f"\n        → {self.fix}" if (self.fix and not self.ok) else ""
        return f"[{mark}] {self.target:<28} {self.name:<12} {self.detail}{fix}"


def check_environment() -> list[Check]:
    """Python version and the installed version of each package ucexplore uses."""
    out = [Check("python", "version", sys.version_info >= (3, 11), sys.version.split()[0],
                 "install Python 3.11 or newer")]
    for pkg in PACKAGES:
        try:
            out.append(Check("package", pkg, True, importlib.metadata.version(pkg)))
        except importlib.metadata.PackageNotFoundError:
            out.append(Check("package", pkg, False, "not installed",
                             "pip install 'ucexplore[all]' (or run `make run` in the repository)"))
    return out


def _tls_details(host: str, port: int, ca: str | None, timeout: float) -> tuple[list[Check], ssl.SSLContext | None]:
    target = f"{host}:{port}"
    checks: list[Check] = []
    raw = ssl.create_default_context()
    raw.check_hostname, raw.verify_mode = False, ssl.CERT_NONE  # only to read the certificate for the report
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                raw.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        plain = "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc)
        return [Check(target, "tls", False, f"the TLS handshake failed ({reason})",
                      "this port speaks plain HTTP: use http:// for it, or the server's HTTPS port"
                      if plain else "check that this port speaks HTTPS (http:// vs https://) and the proxy/VPN")], None
    fingerprint = hashlib.sha256(der).hexdigest()
    checks.append(Check(target, "fingerprint", True, "SHA-256 " + ":".join(
        fingerprint[i:i + 2] for i in range(0, 16, 2)) + "…"))
    try:
        ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        checks.append(Check(target, "tls", False, f"cannot load the CA bundle {ca!r} ({type(exc).__name__})",
                            "--ca takes the path of a PEM file with the CA certificate(s)"))
        return checks, None
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, ctx.wrap_socket(sock, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
        issuer = dict(x[0] for x in cert.get("issuer", ())).get("organizationName") or \
            dict(x[0] for x in cert.get("issuer", ())).get("commonName", "?")
        expires = ssl.cert_time_to_seconds(cert["notAfter"]) if "notAfter" in cert else None
        days = (expires - time.time()) / 86400 if expires else None
        checks.append(Check(target, "tls", True, f"verifies; issuer {issuer}"))
        if days is not None:
            checks.append(Check(target, "cert expiry", days > 14, f"{days:.0f} days left",
                                "ask the administrator to renew the tomcat certificate"))
        return checks, ctx
    except ssl.SSLCertVerificationError as exc:
        checks.append(Check(target, "tls", False, f"does not verify: {exc.verify_message}",
                            "get the server's CA certificate (PEM) and pass verify='ca.pem' "
                            "(CLI: --ca ca.pem); never turn verification off"))
        return checks, None
    except (ssl.SSLError, OSError) as exc:
        checks.append(Check(target, "tls", False, f"the TLS handshake failed ({type(exc).__name__})",
                            "check that this port speaks HTTPS and that nothing in between rewrites TLS"))
        return checks, None


def check_server(url: str, *, ca: str | None = None, timeout: float = 5.0) -> list[Check]:
    """DNS, reachability, TLS, SSO status and clock skew for one server base URL."""
    import httpx

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = f"{host}:{port}"
    out: list[Check] = []
    try:
        addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
        out.append(Check(target, "dns", True, ", ".join(addrs)))
    except (socket.gaierror, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode (a label too long)
        return out + [Check(target, "dns", False, str(exc) or type(exc).__name__,
                            "check the host name and the VPN / DNS settings")]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            out.append(Check(target, "reachable", True, "TCP connect ok"))
    except OSError as exc:
        return out + [Check(target, "reachable", False, str(exc),
                            "check the port (UDS/SSO 8443, Finesse 8445, Unity 443) and firewalls")]
    verify: ssl.SSLContext | bool = True
    if parts.scheme == "https":
        tls_checks, ctx = _tls_details(host, port, ca, timeout)
        out += tls_checks
        if ctx is None:
            return out
        verify = ctx
    try:
        with httpx.Client(verify=verify, timeout=timeout) as client:
            resp = client.get(f"{parts.scheme}://{parts.netloc}/ssosp/ws/public/singleSignOn")
            if resp.status_code == 200 and "enabled" in resp.text:
                enabled = 'enabled="true"' in resp.text
                out.append(Check(target, "sso", True, "SSO enabled" if enabled else "SSO disabled (use Basic auth)"))
            else:
                out.append(Check(target, "sso", True, f"no UC SSO status endpoint (HTTP {resp.status_code}); "
                                 "fine for Finesse and Webex"))
            date = resp.headers.get("date")
            try:
                when = parsedate_to_datetime(date).timestamp() if date else None
            except (TypeError, ValueError, OverflowError):
                when = None
                out.append(Check(target, "clock", False, "the server's Date header is not a date",
                                 "the clock skew cannot be checked against this server"))
            if when is not None:
                skew = time.time() - when
                out.append(Check(target, "clock", abs(skew) < 60, f"skew {skew:+.0f} s",
                                 "fix this machine's clock (NTP): tokens and SAML fail with large skew"))
    except httpx.HTTPError as exc:
        out.append(Check(target, "http", False, type(exc).__name__, "the server answered TCP but not HTTP(S)"))
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``ucexplore check``."""
    from .cli import ca_file, float_range, server_url

    p = sub.add_parser("check", help="check Python, packages and each server (DNS, TLS, SSO, clock)",
                       description="Check this machine (Python and package versions) and each server: DNS, TCP "
                                   "reachability, the TLS certificate, the SSO status endpoint and the clock "
                                   "skew. Every problem is printed with its fix; exit 1 when any check fails.")
    p.add_argument("--url", action="append", default=[], type=server_url, metavar="URL",
                   help="server base URL with its scheme, e.g. https://cucm.example.com:8443 (repeatable); "
                        "default: every UCX_*_URL variable set in the environment")
    p.add_argument("--ca", default=None, type=ca_file, metavar="PEM",
                   help="CA bundle (PEM) to verify TLS with (default $UCX_CA_PATH)")
    p.add_argument("--timeout", type=float_range(0.0, 300.0, positive=True, what="the timeout"), default=5.0,
                   metavar="SECONDS", help="seconds to wait for each connection and answer (default 5)")


def _urls_from_environment() -> tuple[list[str], list[Check]]:
    """The ``UCX_*_URL`` variables that hold a usable URL, and a failed check for each one that does not."""
    from .cli import server_url

    urls: list[str] = []
    bad: list[Check] = []
    for key, value in sorted(os.environ.items()):
        if not (key.startswith("UCX_") and key.endswith("_URL")) or not value.strip():
            continue
        try:
            urls.append(server_url(value))
        except argparse.ArgumentTypeError as exc:
            bad.append(Check(key, "url", False, f"not a server URL: {exc}",
                             f"set {key} to the server's base URL, e.g. https://cucm.example.com:8443, "
                             "or unset it"))
    return urls, bad


def run(args: argparse.Namespace) -> int:
    """Print every check; return 1 when any failed."""
    bad: list[Check] = []
    if args.url:
        urls = list(args.url)
    else:
        urls, bad = _urls_from_environment()
    ca = args.ca or os.environ.get("UCX_CA_PATH") or None
    results = check_environment() + bad
    for url in urls:
        results += check_server(url, ca=ca, timeout=args.timeout)
    for r in results:
        print(r)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} problem(s)")
    elif urls:
        print(f"\nall checks passed (Python, packages and {len(urls)} server(s))")
    else:
        print("\nPython and packages: all checks passed.")
    if not urls:
        print("No server was checked: pass --url https://cucm.example.com:8443 (repeatable), or set "
              "UCX_CUCM_URL, UCX_UNITY_URL, UCX_FINESSE_URL …")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry."""
    from .cli import main as cli_main

    return cli_main(["check", *(argv or [])])
