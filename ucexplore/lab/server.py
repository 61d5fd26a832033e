"""Run the lab: one uvicorn server per product on its own loopback port, all on one background event loop."""

from __future__ import annotations

import asyncio
import errno
import importlib
import importlib.util
import os
import random
import socket
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import uvicorn

from .config import PORT_OFFSETS, PRODUCTS, Faults, LabConfig
from .context import LabContext
from .faults import FaultCounters, FaultMiddleware

__all__ = ["Lab", "PortInUse", "start"]

#: product → module under ucexplore.lab that has ``create_app(ctx)``, ``API_PREFIXES`` and ``render_fault``
_MODULES = {"idp": "idp", "cucm": "cucm", "unity": "unity", "finesse": "finesse", "webex": "webex",
            "webex_xml": "webex_xml"}


class PortInUse(OSError):
    """A port the lab must bind is taken (another lab, or another program). ``port``, ``product``, ``host``."""

    def __init__(self, host: str, port: int, product: str) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} ({product}) on {host} is already in use; choose another "
                                           "port_base (command line: --port-base)")
        self.host, self.port, self.product = host, port, product


def free_port_base(n: int = len(PORT_OFFSETS), host: str = "127.0.0.1",
                   candidates: Iterable[int] | None = None) -> int | None:
    """The first base ``p`` of ``candidates`` (default: 200 random ones in 20000-60000) with ports ``p`` …
    ``p + n - 1`` all free on ``host`` right now, or None.

    Example::

        >>> base = free_port_base(3)
        >>> base is not None and 20000 <= base < 60000
        True
    """
    if candidates is None:
        rng = random.Random()
        candidates = (rng.randrange(20000, 60000 - n) for _ in range(200))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for base in candidates:
        socks: list[socket.socket] = []
        try:
            for off in range(n):
                s = socket.socket(family)
                socks.append(s)
                s.bind((host, base + off))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    return None


def _bind(host: str, port: int, product: str = "") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY (else Nagle + delayed ACK add ~40 ms per response)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port, product or "lab") from None
        raise OSError(exc.errno, f"cannot bind {host}:{port} ({exc.strerror})") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Lab:
    """A running lab. Use as a context manager, or call :meth:`stop`.

    Example::

        >>> import ucexplore as ux
        >>> with ux.lab.start(users=20) as lab:          # doctest: +SKIP
        ...     sorted(lab.urls)
        ['cucm', 'finesse', 'idp', 'unity', 'webex', 'webex_xml']
    """

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.ctx = LabContext(config)
        self.ca_path: str | None = None
        #: made only when there are files to keep (the HTTPS certificates), removed by :meth:`stop`
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._faults: dict[str, Faults] = dict(config.faults)
        self.fault_counters: dict[str, FaultCounters] = {}
        self._error: BaseException | None = None

    # -- the contract of design.md ------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        """Product → base URL (the Webex REST base is ``urls["webex"] + "/v1"``)."""
        return dict(self.ctx.urls)

    @property
    def demo_user(self) -> tuple[str, str]:
        """(username, password) of an ordinary user who is also a Finesse agent."""
        return self.ctx.org.demo.username, self.config.user_password

    @property
    def demo_agent_id(self) -> str:
        """The demo user's Finesse loginId."""
        return self.ctx.org.demo_agent.login_id

    @property
    def admin(self) -> tuple[str, str]:
        """(username, password) of the administrator (CUPI, Basic auth where products allow it)."""
        return self.config.admin_user, self.config.admin_password

    @property
    def redirect_uri(self) -> str:
        """The lab's own callback page, registered with every product."""
        return self.ctx.redirect_uri

    @property
    def webex_client_id(self) -> str:
        """The client_id of the lab's registered Webex integration."""
        return self.ctx.webex_client_id

    @property
    def webex_client_secret(self) -> str:
        """The client secret of that integration."""
        return self.ctx.webex_client_secret

    @property
    def org(self) -> Any:
        """The synthetic organisation (ground truth for tests)."""
        return self.ctx.org

    def env(self) -> dict[str, str]:
        """Environment variables that point notebooks at this lab (no secrets but the lab's demo password)."""
        env = {f"UCX_{k.upper()}_URL": v for k, v in self.ctx.urls.items()}
        env.update({
            "UCX_LAB": "1", "UCX_REDIRECT_URI": self.redirect_uri, "UCX_DEMO_USER": self.demo_user[0],
            "UCX_DEMO_PASSWORD": self.demo_user[1],
            "UCX_DEMO_AGENT_ID": self.demo_agent_id, "UCX_WEBEX_CLIENT_ID": self.webex_client_id,
        })
        if self.ca_path:
            env["UCX_CA_PATH"] = self.ca_path
        elif self.config.host not in ("127.0.0.1", "::1", "localhost"):
            # a room's lab over plain http: the clients refuse credentials to such a host without this opt-in
            env["UCX_ALLOW_INSECURE_HTTP"] = "1"
        return env

    # -- faults -----------------------------------------------------------------------------------
    def set_faults(self, products: str | tuple[str, ...] | None = None, **kw: Any) -> None:
        """Change fault injection while running, e.g. ``lab.set_faults("webex", rate_429=0.1)``;
        ``lab.set_faults(None)`` with no keywords clears every fault."""
        targets = (products,) if isinstance(products, str) else (products or tuple(p for p in PRODUCTS if p != "idp"))
        for p in targets:
            self._faults[p] = replace(self._faults.get(p, Faults()), **kw) if kw else Faults()

    # -- life cycle -------------------------------------------------------------------------------
    def _start(self) -> "Lab":
        try:
            return self._start_servers()
        except BaseException:  # a busy port, a failed start, Ctrl-C while starting: leave nothing behind
            self.stop()
            raise

    def _start_servers(self) -> "Lab":
        cfg = self.config
        socks: dict[str, socket.socket] = {}
        products = ("idp", *(p for p in PRODUCTS if p in cfg.products and p != "idp"))
        try:
            for product in products:
                port = 0 if cfg.port_base is None else cfg.port_base + PORT_OFFSETS[product]
                socks[product] = _bind(cfg.host, port, product)
        except OSError:
            for s in socks.values():
                s.close()
            raise
        scheme = "https" if cfg.https else "http"
        shown_host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        for product, sock in socks.items():
            self.ctx.urls[product] = f"{scheme}://{shown_host}:{sock.getsockname()[1]}"
        ssl_kw = self._tls_files() if cfg.https else {}
        http_impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
        for product in products:
            module = importlib.import_module(f"{__package__}.{_MODULES[product]}")
            app = module.create_app(self.ctx)
            if product != "idp":
                app = FaultMiddleware(app, get_faults=lambda p=product: self._faults.get(p, Faults()),
                                      api_prefixes=module.API_PREFIXES, render=module.render_fault,
                                      seed=cfg.seed)
                self.fault_counters[product] = app.counters
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http=http_impl,
                                    loop="asyncio", timeout_keep_alive=30, **ssl_kw)
            self._servers.append(uvicorn.Server(config))
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def main() -> None:
                tasks = [asyncio.ensure_future(srv.serve(sockets=[socks[p]]))
                         for srv, p in zip(self._servers, products)]
                while not all(s.started for s in self._servers):
                    if any(t.done() for t in tasks):
                        break
                    await asyncio.sleep(0.01)
                ready.set()
                await asyncio.gather(*tasks)

            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # surfaced to the starting thread
                self._error = exc
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="ucexplore-lab", daemon=True)
        self._thread.start()
        ready.wait(60)
        if self._error or not all(s.started for s in self._servers):
            raise RuntimeError(f"the lab failed to start: {self._error!r}")
        return self

    def _tls_files(self) -> dict[str, str]:
        import trustme

        ca = trustme.CA(organization_name="ucexplore lab CA")
        names = ["127.0.0.1", "localhost", "::1"]
        if self.config.host not in names:
            names.append(self.config.host)
        cert = ca.issue_cert(*names)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ucexplore-lab-")
        d = self._tmp.name
        self.ca_path = os.path.join(d, "lab-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        cert_path, key_path = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
        cert.cert_chain_pems[0].write_to_path(cert_path)
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(cert_path, append=True)
        cert.private_key_pem.write_to_path(key_path)
        return {"ssl_certfile": cert_path, "ssl_keyfile": key_path}

    def stop(self) -> None:
        """Stop every server and remove the lab's temporary files."""
        for srv in self._servers:
            srv.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(15)
        self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def describe(self) -> str:
        """A human summary: URLs and demo accounts (never a token)."""
        u, p = self.demo_user
        a, ap = self.admin
        lines = ["ucexplore lab is running:"]
        lines += [f"  {k:<10} {v}" for k, v in self.ctx.urls.items()]
        if "webex" in self.ctx.urls:  # `--products` may leave Webex out
            lines.append(f"  Webex REST base   {self.ctx.urls['webex']}/v1")
        lines += [
            f"  redirect_uri      {self.redirect_uri}",
            f"  demo user         {u} / {p}   (Finesse agent {self.demo_agent_id})",
            f"  admin             {a} / {ap}",
            f"  webex client_id   {self.webex_client_id}",
            f"  users             {self.ctx.org.size} (seed {self.config.seed})",
        ]
        if self.ca_path:
            lines.append(f"  CA certificate    {self.ca_path}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "running" if self._thread else "stopped"
        return f"<Lab {state} users={self.ctx.org.size} seed={self.config.seed} idp={self.ctx.urls.get('idp')}>"


def start(users: int = 200, seed: int = 7, latency_ms: float = 0, https: bool = False, *,
          host: str = "127.0.0.1", port_base: int | None = None, faults: dict[str, Faults] | None = None,
          token_ttl: dict[str, int] | None = None, **options: Any) -> Lab:
    """Start the lab in this process on free loopback ports (background thread) and return it.

    ``latency_ms`` applies to every product's API; ``faults`` maps product → :class:`Faults`; other keyword
    arguments are :class:`LabConfig` fields (``uds_page_cap``, ``uds_users_auth``, ``user_password`` …).

    Example::

        >>> lab = start(users=50, seed=1)   # doctest: +SKIP
        >>> lab.stop()                      # doctest: +SKIP
    """
    cfg = LabConfig(users=users, seed=seed, https=https, host=host, port_base=port_base,
                    faults=dict(faults or {}), **options)
    if token_ttl:
        cfg = replace(cfg, token_ttl={**cfg.token_ttl, **token_ttl})
    if latency_ms:
        cfg = cfg.with_faults(latency_ms=float(latency_ms))
    return Lab(cfg)._start()
