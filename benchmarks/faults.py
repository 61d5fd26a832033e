"""Reliability under faults (issue 6): every list endpoint of every product, over several seeds, against a lab
that answers 10 % 429 (with Retry-After), 10 % 503, latency spikes and truncated bodies; then a token that
expires in the middle of a pull. Goal: 0 rows lost, 0 duplicated, every failure typed. First, a server
that stops answering mid-pull: the error must come within a small multiple of ``timeout``.

The truth is the lab's (``lab.org``, or the lab's own complete unfaulted answer read without ucexplore);
see ``benchmarks/fault_suite.py``. The clients use ``fault_suite.SUITE_RETRY`` (10 attempts, Retry-After
honoured up to 2 s). Where the API lets the client choose the page size (Webex ``max``, the XML API's
``maximumNum``) small pages are asked for, so that a pull makes many requests and meets many faults
(``--default-pages`` to use ucexplore's defaults).

    .venv/bin/python benchmarks/faults.py [--users 2000] [--seeds 1,2,3] [--retry-after 0.2]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

try:
    from . import fault_suite as fs
    from ._common import Figure, cpu_note, fmt_table
except ImportError:  # run as a script
    import fault_suite as fs  # type: ignore[no-redef]
    from _common import Figure, cpu_note, fmt_table  # type: ignore[no-redef]


def aggregate(reports: list[fs.SeedReport]) -> list[fs.EndpointResult]:
    """One row per endpoint, summed over the seeds."""
    rows: dict[str, fs.EndpointResult] = {}
    for rep in reports:
        for r in rep.endpoints:
            a = rows.get(r.endpoint)
            if a is None:
                a = rows[r.endpoint] = fs.EndpointResult(r.endpoint, r.source, faults=defaultdict(int))
            for k, v in r.faults.items():
                a.faults[k] += v
            a.expected += r.expected
            a.got += r.got
            a.lost += r.lost
            a.dup += r.dup
            a.extra += r.extra
            a.retries += r.retries
            a.requests += r.requests
            if r.error and not a.error:
                a.error = r.error
                a.error_typed = r.error_typed
    return list(rows.values())


def frozen_server(users: int = 20_000, seed: int = 5, timeout: float = 1.0, freeze_after: int = 40) -> dict:
    """A UDS pull of every user (313 pages at 20,000 users) from a server that stops answering after
    ``freeze_after`` requests (the lab's ``freeze_after`` fault: what a SIGSTOPped server or a dead VPN looks
    like). Returns the time to the error, the requests sent and the rows kept, with ``timeout`` as the unit."""
    import ucexplore as ux
    from ucexplore.errors import UcError
    from ucexplore.lab import start

    with start(users=users, seed=seed, products=("cucm",)) as lab:
        uds = ux.UDS(lab.urls["cucm"], auth=lab.admin, timeout=timeout, progress=False)
        lab.set_faults("cucm", freeze_after=freeze_after)
        t0 = time.perf_counter()
        error: UcError | None = None
        try:
            uds.users()
        except UcError as exc:
            error = exc
        seconds = time.perf_counter() - t0
        lab.set_faults(None)
        partial = getattr(error, "partial", None)
        return {
            "seconds": seconds,
            "in_timeouts": seconds / timeout,
            "requests": int(uds.transport.stats["requests"]),
            "rows_kept": 0 if partial is None else len(partial),
            "pages": -(-users // 64),
            "error": type(error).__name__ if error else "none",
            "message": str(error).splitlines()[0] if error else "",
        }


def main(argv: list[str] | None = None) -> list[Figure]:
    """Run the suite, print the tables, return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--users", type=int, default=2000, help="users per lab (the XML API admin list needs <= 5000)"
    )
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--retry-after", type=float, default=fs.FAULTS["retry_after"])
    ap.add_argument("--quiet", action="store_true", help="print only the summary table")
    ap.add_argument("--default-pages", action="store_true", help="ucexplore's page sizes (fewer requests)")
    ap.add_argument("--frozen-only", action="store_true", help="run only the frozen-server case")
    args = ap.parse_args(argv)
    print("  frozen server: UDS pull of 20,000 users (313 pages), timeout=1 s, the server stops answering "
          "after 40 requests")
    frozen = frozen_server()
    print(f"    {frozen['error']} after {frozen['seconds']:.1f} s ({frozen['in_timeouts']:.1f} x timeout), "
          f"{frozen['requests']:,} requests for {frozen['pages']} pages, {frozen['rows_kept']:,} rows kept: "
          f"{frozen['message']}")
    frozen_figures = [
        Figure("frozen server: time to the error", frozen["in_timeouts"], "x", "<= 5 x timeout",
               frozen["in_timeouts"] <= 5),
        Figure("frozen server: requests sent", frozen["requests"], "", f"< {frozen['pages']} pages",
               frozen["requests"] < frozen["pages"]),
        Figure("frozen server: rows kept on the error", frozen["rows_kept"], "rows", "> 0",
               frozen["rows_kept"] > 0),
    ]
    if args.frozen_only:
        return frozen_figures
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    faults = {**fs.FAULTS, "retry_after": args.retry_after}
    products = fs.available_products()
    print(f"faults — {args.users:,} users, seeds {seeds}, products {', '.join(products)}; {cpu_note()}")
    print("  injected: " + ", ".join(f"{k}={v:g}" for k, v in faults.items()))
    t0 = time.perf_counter()
    reports = []
    for seed in seeds:
        if not args.quiet:
            print(f"\n  seed {seed}\n  " + fs.HEADER)
        rep = fs.run_seed(
            args.users,
            seed,
            faults,
            products=products,
            small_pages=not args.default_pages,
            log=None if args.quiet else (lambda line: print("  " + line, flush=True)),
        )
        reports.append(rep)
        if not args.quiet:
            print(f"  ({rep.seconds:.1f} s)")
    agg = aggregate(reports)
    print(f"\n  every seed together ({len(seeds)} seeds)\n  " + fs.HEADER)
    for r in agg:
        print("  " + fs.format_row(r))
    print("\n  mid-pull token expiry")
    expiry = fs.expiry_cases(
        users=min(args.users, 2000), seed=seeds[0], log=lambda line: print("    " + line, flush=True)
    )
    elapsed = time.perf_counter() - t0
    lost = sum(r.lost for r in agg)
    dup = sum(r.dup + r.extra for r in agg)
    failed = sum(1 for rep in reports for r in rep.endpoints if r.error)
    untyped = sum(1 for rep in reports for r in rep.endpoints if r.error and not r.error_typed)
    faults_seen = sum(r.faults_seen for r in agg)
    retries = sum(r.retries for r in agg)
    expected = sum(r.expected for r in agg)
    print(
        f"\n  {len(agg)} endpoints x {len(seeds)} seeds: {expected:,} rows expected, {faults_seen:,} faults met, "
        f"{retries:,} retries, {elapsed:.0f} s in all"
    )
    return frozen_figures + [
        Figure("faults: endpoints x seeds pulled", len(agg) * len(seeds), ""),
        Figure("faults: injected faults met", faults_seen, ""),
        Figure("faults: rows lost", lost, "rows", "0", lost == 0),
        Figure("faults: rows duplicated or invented", dup, "rows", "0", dup == 0),
        Figure("faults: pulls that failed", failed, "", "0", failed == 0),
        Figure("faults: failures not typed (UcError)", untyped, "", "0", untyped == 0),
        Figure(
            "faults: mid-pull expiry cases as specified",
            sum(e.ok for e in expiry),
            "",
            f"{len(expiry)} of {len(expiry)}",
            all(e.ok for e in expiry),
        ),
    ]


if __name__ == "__main__":
    print(fmt_table(main()))
