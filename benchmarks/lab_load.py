"""Lab load: 100 simulated learners sign in (the scripted person, through the lab IdP's form) and pull data
concurrently from one lab on loopback — a workshop's worth of notebooks hitting one ``ucexplore lab``.

The lab runs in its own process (``ucexplore lab --port-base …``), so the load does not share its GIL.
Each learner signs in to CUCM, Unity Connection and Webex (one IdP form, then SSO) and runs one round of its
cells through ucexplore's clients (the "first run" of the notebook):

    UDS users(last=<2 letters>, limit=64) · UDS user(<me>) · Finesse system_info() ·
    Unity messages('inbox') · Webex people(display_name=<2 letters>, limit=20) · Webex me()

then, for ``--seconds``, runs them again and again with no think time. In a real workshop every learner's
notebook runs on its own machine; here 100 learners' client work would share two cores with the lab, and
ucexplore's per-call cost (httpx, decoding, building a DataFrame: ~3–5 ms) would measure the load generator,
not the lab. So by default (``--client raw``) the pulling phase replays exactly the requests ucexplore sent in
the first round (same URLs, parameters and Authorization headers, recorded at the transport) with a minimal
keep-alive HTTP/1.1 client on asyncio streams; ``--client ucexplore`` pulls through ucexplore's clients
instead (informational: it shows the client's cost). The lab's CPU use is sampled, to tell whether the lab or
the load generator is the limit.

Goal (issue 4): ≥ 1,000 requests/s and p99 < 100 ms on a 2-core machine.

    .venv/bin/python benchmarks/lab_load.py [--learners 100] [--seconds 10] [--client raw|ucexplore]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import time
from typing import Any

try:
    from ._common import Figure, LabProcess, cpu_note, fmt_table, percentile
except ImportError:  # run as a script
    from _common import Figure, LabProcess, cpu_note, fmt_table, percentile  # type: ignore[no-redef]

RPS_GOAL = 1000.0
P99_GOAL_MS = 100.0
PASSWORD = "lab-pass-1"  #: LabConfig.user_password (every synthetic user's password in the lab)


# ============================================================================================================
# one client process: its share of the learners
# ============================================================================================================


def _learner_process(
    urls: dict[str, str],
    redirect_uri: str,
    client_id: str,
    users: list[str],
    prefixes: list[str],
    start_at: float,
    seconds: float,
    mode: str,
    rate: float,
    total_learners: int,
    out: Any,
) -> None:
    """Sign every learner in, run the first round, wait for ``start_at``, pull until ``start_at + seconds``."""
    try:
        out.put(
            asyncio.run(
                _learners(
                    urls,
                    redirect_uri,
                    client_id,
                    users,
                    prefixes,
                    start_at,
                    seconds,
                    mode,
                    rate,
                    total_learners,
                )
            )
        )
    except BaseException as exc:  # surfaced to the parent
        import traceback

        out.put({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"})


class _Recorder:
    """An httpx transport that records every request it sends (method, URL, headers) and passes it on."""

    def __init__(self, log: list[tuple[str, str, list[tuple[bytes, bytes]]]]) -> None:
        import httpx

        self.inner = httpx.AsyncHTTPTransport()
        self.log = log

    async def handle_async_request(self, request: Any) -> Any:
        self.log.append((request.method, str(request.url), list(request.headers.raw)))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _learners(
    urls: dict[str, str],
    redirect_uri: str,
    client_id: str,
    users: list[str],
    prefixes: list[str],
    start_at: float,
    seconds: float,
    mode: str,
    rate: float,
    total_learners: int,
) -> dict[str, Any]:
    import ucexplore as ux
    from ucexplore.lab.person import Person
    from ucexplore.transport import RetryPolicy

    def sign_in(user: str) -> tuple[Any, Any, Any, float]:
        t = time.perf_counter()
        with Person(user, PASSWORD) as person:
            cucm = ux.CucmSSO(urls["cucm"], redirect_uri=redirect_uri)
            cucm.complete(person.sign_in(cucm.authorize_url))
            unity = ux.UnitySSO(urls["unity"], redirect_uri=redirect_uri)
            unity.complete(person.sign_in(unity.authorize_url))
            webex = ux.WebexOAuth(
                client_id, redirect_uri=redirect_uri, scopes=["spark:all"], base_url=urls["webex"] + "/v1"
            )  # PKCE, no client secret
            webex.complete(person.sign_in(webex.authorize_url))
        return cucm, unity, webex, time.perf_counter() - t

    # sign in: every learner of this process at once (the scripted person is synchronous: threads)
    signed = await asyncio.gather(*(asyncio.to_thread(sign_in, u) for u in users))
    sign_in_s = [x[3] for x in signed]

    # the first round of every learner's cells, through ucexplore, recording the requests it sends
    retry = RetryPolicy(attempts=1)  # a load test: an error is counted, not retried
    learners = []
    for i, (user, (cucm, unity, webex, _)) in enumerate(zip(users, signed)):
        log: list[tuple[str, str, list[tuple[bytes, bytes]]]] = []
        kw: dict[str, Any] = dict(
            progress=False,
            retry=retry,
            max_concurrency=2,
            http_transport=_Recorder(log) if mode == "raw" else None,
        )
        uds, cuc = ux.UDS(urls["cucm"], auth=cucm, **kw), ux.Unity(urls["unity"], auth=unity, **kw)
        fin, wx = (
            ux.Finesse(urls["finesse"], **kw),
            ux.Webex(auth=webex, base_url=urls["webex"] + "/v1", **kw),
        )
        rng = random.Random(i)
        last, name = rng.choice(prefixes), rng.choice(prefixes)
        cells = [  # (defaults bind this learner's clients: lambdas in a loop would share the last ones)
            lambda uds=uds, last=last: uds.users_async(last=last, limit=64),
            lambda uds=uds, u=user: uds.user_async(u),
            lambda fin=fin: fin.system_info_async(),
            lambda cuc=cuc: cuc.messages_async("inbox"),
            lambda wx=wx, name=name: wx.people_async(display_name=name, limit=20),
            lambda wx=wx: wx.me_async(),
        ]
        learners.append((cells, log, (uds, cuc, fin, wx)))
    first: list[float] = []
    for cells, _, _ in learners:
        for cell in cells:
            t = time.perf_counter()
            await cell()
            first.append((time.perf_counter() - t) * 1000)

    latencies: list[float] = []
    errors: dict[str, int] = {}
    paced: dict[str, Any] = {}
    if mode == "raw" and rate:
        # phase 1: paced at `rate` requests/s in all (this process's share), for the latency at that load
        share = rate * len(users) / total_learners
        await asyncio.sleep(max(0.0, start_at - time.time()))
        p_lat: list[float] = []
        p_err: dict[str, int] = {}
        t0 = time.time()
        n = await _replay(
            [log for _, log, _ in learners], start_at + seconds, p_lat, p_err, interval=len(users) / share
        )
        paced = {"latencies": p_lat, "errors": p_err, "requests": n, "wall": time.time() - t0}
        start_at += seconds + 0.5
    await asyncio.sleep(max(0.0, start_at - time.time()))
    end = start_at + seconds
    t0 = time.time()
    if mode == "raw":
        requests = await _replay([log for _, log, _ in learners], end, latencies, errors)
    else:
        for _, _, clients in learners:
            for c in clients:
                c.transport.reset_stats()

        async def learner(cells: list[Any], k: int) -> None:
            while time.time() < end:
                t = time.perf_counter()
                try:
                    await cells[k % len(cells)]()
                except Exception as exc:  # counted, and the learner goes on
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                else:
                    latencies.append((time.perf_counter() - t) * 1000)
                k += 1

        await asyncio.gather(*(learner(cells, i) for i, (cells, _, _) in enumerate(learners)))
        requests = sum(c.transport.stats["requests"] for _, _, clients in learners for c in clients)
    wall = time.time() - t0
    for _, _, clients in learners:
        for c in clients:
            await c.aclose()
    return {
        "latencies": latencies,
        "errors": errors,
        "requests": requests,
        "wall": wall,
        "sign_in_s": sign_in_s,
        "first_round_ms": first,
        "paced": paced,
    }


async def _replay(
    logs: list[list[tuple[str, str, list[tuple[bytes, bytes]]]]],
    end: float,
    latencies: list[float],
    errors: dict[str, int],
    interval: float | None = None,
) -> int:
    """Each learner sends its recorded requests again and again until ``end``, one at a time, over its own
    keep-alive connections (one per product, as its notebook's clients had): back to back, or one every
    ``interval`` seconds (learners spread evenly over the interval)."""
    from urllib.parse import urlsplit

    count = 0

    async def learner(i: int, log: list[tuple[str, str, list[tuple[bytes, bytes]]]]) -> None:
        nonlocal count
        conns: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        wire = []
        for method, url, headers in log:
            p = urlsplit(url)
            target = (p.path or "/") + (f"?{p.query}" if p.query else "")
            head = [f"{method} {target} HTTP/1.1".encode()]
            head += [
                k + b": " + v for k, v in headers if k.lower() not in (b"accept-encoding", b"connection")
            ]
            wire.append(((p.hostname or "127.0.0.1", p.port or 80), b"\r\n".join(head) + b"\r\n\r\n"))
        k = i
        t_next = time.perf_counter() + (interval * i / len(logs) if interval else 0.0)
        try:
            while time.time() < end:
                if interval:
                    delay = t_next - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    t_next += interval
                addr, data = wire[k % len(wire)]
                k += 1
                t = time.perf_counter()
                try:
                    conn = conns.get(addr)
                    if conn is None:
                        conn = conns[addr] = await asyncio.open_connection(*addr)
                    status = await _exchange(*conn, data)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    conns.pop(addr, None)
                    continue
                count += 1
                if status != 200:
                    errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
                else:
                    latencies.append((time.perf_counter() - t) * 1000)
        finally:
            for _, writer in conns.values():
                writer.close()

    await asyncio.gather(*(learner(i, log) for i, log in enumerate(logs)))
    return count


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> int:
    """Send one request, read the whole response (Content-Length or chunked); return the status."""
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


# ============================================================================================================
# the benchmark
# ============================================================================================================


def main(argv: list[str] | None = None) -> list[Figure]:
    """Run the benchmark, print the details, return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the pulling phase")
    ap.add_argument(
        "--client",
        choices=("raw", "ucexplore"),
        default="raw",
        help="pulling phase: replay ucexplore's recorded requests (raw) or call ucexplore's clients",
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=RPS_GOAL,
        help="first, pull paced at this many requests/s in all for the latency at that load "
        "(raw client; 0 skips), then back to back for the most the lab serves",
    )
    ap.add_argument("--procs", type=int, default=1, help="client processes the learners are spread over")
    ap.add_argument("--users", type=int, default=2000, help="size of the lab's organisation")
    args = ap.parse_args(argv)

    import psutil

    from ucexplore.lab.org import Organisation

    org = Organisation(users=args.users, seed=7)  # the lab's organisation (deterministic for the seed)
    learners = [u.username for u in org.users[1 : args.learners + 1]]
    prefixes = sorted({u.last_name[:2].lower() for u in org.users})
    print(
        f"lab load — {args.learners} learners ({args.client} pulls) in {args.procs} client process(es), "
        f"{args.seconds:g} s of pulling, lab of {args.users:,} users in its own process; {cpu_note()}"
    )
    with LabProcess(users=args.users, seed=7) as lab:
        redirect = _printed(lab.text, "redirect_uri")
        client_id = _printed(lab.text, "webex client_id")
        lab_proc = psutil.Process(lab.proc.pid)  # type: ignore[union-attr]
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        share = [learners[i :: args.procs] for i in range(args.procs)]
        # sign-in and first round of every learner before the common start
        budget = 8.0 + 0.15 * args.learners / args.procs
        start_at = time.time() + budget
        rate = args.rate if args.client == "raw" else 0.0
        procs = [
            ctx.Process(
                target=_learner_process,
                args=(
                    lab.urls,
                    redirect,
                    client_id,
                    part,
                    prefixes,
                    start_at,
                    args.seconds,
                    args.client,
                    rate,
                    len(learners),
                    out,
                ),
                daemon=True,
            )
            for part in share
            if part
        ]
        for p in procs:
            p.start()

        def lab_cpu_during(begin: float) -> float:
            """The lab's CPU use (% of one core) inside [begin + 0.5 s, begin + seconds - 0.5 s]."""
            time.sleep(max(0.0, begin - time.time()) + 0.5)
            c0, t0 = lab_proc.cpu_times(), time.perf_counter()
            time.sleep(max(0.1, args.seconds - 1.0))
            c1, t1 = lab_proc.cpu_times(), time.perf_counter()
            return ((c1.user + c1.system) - (c0.user + c0.system)) / (t1 - t0) * 100

        paced_cpu = lab_cpu_during(start_at) if rate else None
        lab_cpu = lab_cpu_during(start_at + (args.seconds + 0.5 if rate else 0.0))
        results = [out.get(timeout=budget + 2 * args.seconds + 300) for _ in procs]
        for p in procs:
            p.join(30)
    failures = [r["error"] for r in results if "error" in r]
    if failures:
        raise SystemExit("a client process failed: " + "; ".join(failures))
    lat = [x for r in results for x in r["latencies"]]
    requests = sum(r["requests"] for r in results)
    wall = max(r["wall"] for r in results)
    errs: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errs[k] = errs.get(k, 0) + v
    rps = requests / wall
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    sign = [x for r in results for x in r["sign_in_s"]]
    first = [x for r in results for x in r["first_round_ms"]]
    late = [x for x in sign if x > budget]
    print(
        f"  sign-in (CUCM, Unity, Webex: one IdP form, then SSO) per learner: p50 {percentile(sign, 50):.2f} s, "
        f"max {max(sign):.2f} s (all {len(sign)} concurrently)"
    )
    print(f"  first round through ucexplore: p50 {percentile(first, 50):.1f} ms per call")
    name = f"lab load ({args.learners} learners, {args.client})"
    figures: list[Figure] = []
    if rate:
        pl = [x for r in results for x in r["paced"]["latencies"]]
        pn = sum(r["paced"]["requests"] for r in results)
        pw = max(r["paced"]["wall"] for r in results)
        perr = sum(v for r in results for v in r["paced"]["errors"].values())
        q50, q99 = percentile(pl, 50), percentile(pl, 99)
        print(
            f"  paced at {rate:,.0f} req/s: {pn:,} requests in {pw:.1f} s = {pn / pw:,.0f} req/s; latency "
            f"p50 {q50:.1f} ms, p99 {q99:.1f} ms, max {max(pl) if pl else float('nan'):.0f} ms; "
            f"lab CPU {paced_cpu:.0f} % of one core; {perr} errors"
        )
        figures += [
            Figure(
                f"{name}: served at {rate:,.0f} req/s paced",
                pn / pw,
                "req/s",
                f">= {RPS_GOAL:,.0f}",
                pn / pw >= 0.97 * RPS_GOAL,
            ),
            Figure(f"{name}: p50 latency at {rate:,.0f} req/s", q50, "ms"),
            Figure(
                f"{name}: p99 latency at {rate:,.0f} req/s",
                q99,
                "ms",
                f"< {P99_GOAL_MS:g} ms",
                q99 < P99_GOAL_MS,
            ),
        ]
    print(
        f"  back to back: {requests:,} requests in {wall:.1f} s = {rps:,.0f} req/s; latency p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(lat) if lat else float('nan'):.0f} ms; errors {errs or 'none'}"
    )
    limit = (
        "the lab is the limit (its one event loop is busy)"
        if lab_cpu > 85
        else "the lab has headroom: the load generator (same 2 cores) is the limit"
    )
    print(f"  lab process CPU back to back: {lab_cpu:.0f} % of one core — {limit}")
    if late:
        print(f"  note: {len(late)} learner(s) were still signing in when the pulling began")
    figures += [
        Figure(
            f"{name}: most requests/s (back to back)", rps, "req/s", f">= {RPS_GOAL:,.0f}", rps >= RPS_GOAL
        ),
        Figure(f"{name}: p50 latency back to back", p50, "ms"),
        Figure(f"{name}: p99 latency back to back", p99, "ms"),
        Figure(f"{name}: lab CPU back to back, % of a core", lab_cpu, "%"),
        Figure(f"{name}: failed requests", sum(errs.values()), "", "0", not errs),
    ]
    return figures


def _printed(text: str, label: str) -> str:
    """A value from the lab's printed summary (``  redirect_uri      http://…``)."""
    for line in text.splitlines():
        if line.strip().startswith(label):
            return line.strip()[len(label) :].split()[0]
    raise SystemExit(f"the lab did not print {label!r}:\n{text}")


if __name__ == "__main__":
    print(fmt_table(main()))
