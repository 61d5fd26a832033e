"""P1 — pull: every UDS user (a filter-free search) from a lab with 25 ms injected latency per request.

ucexplore: ``ux.UDS(base).users()`` (first page, then the rest concurrently, ``max_concurrency`` 8 by default).
Baseline: the naive client a notebook would have without ucexplore — a sequential ``httpx`` loop over
``start``/``max`` until ``totalCount``, each page through ``xmltodict``, then ``pandas.json_normalize``.
The lab runs in its own process (``ucexplore lab``), so the client under test does not share its GIL; both
clients pull from the same lab in the same run.

Goals (issue 4): speed-up ≥ 4 ×; ucexplore's time ≤ 1.2 × the latency floor
``ceil(pages / concurrency) × latency``.

    .venv/bin/python benchmarks/pull.py [--users 20000] [--latency-ms 25] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

try:
    from ._common import Figure, LabProcess, cpu_note, fmt_table
except ImportError:  # run as a script
    from _common import Figure, LabProcess, cpu_note, fmt_table  # type: ignore[no-redef]

SPEEDUP_GOAL = 4.0
FLOOR_GOAL = 1.2
PAGE = 64  #: the lab's UDS page cap, as on a default CUCM


def naive_pull(base: str) -> Any:
    """The baseline client: sequential pages, xmltodict, json_normalize."""
    import httpx
    import pandas as pd
    import xmltodict

    rows: list[dict[str, Any]] = []
    start, total = 0, None
    with httpx.Client(timeout=60) as client:
        while total is None or start < total:
            r = client.get(base + "/cucm-uds/users", params={"start": start, "max": PAGE})
            r.raise_for_status()
            doc = xmltodict.parse(r.content)["users"]
            total = int(doc["@totalCount"])
            users = doc.get("user") or []
            if isinstance(users, dict):
                users = [users]
            if not users:
                break
            rows.extend(users)
            start += len(users)
    return pd.json_normalize(rows)


def ucexplore_pull(base: str, concurrency: int) -> tuple[Any, dict[str, float]]:
    """``ux.UDS(base).users()``; returns the frame and the transport's counters."""
    import ucexplore as ux

    with ux.UDS(base, progress=False, max_concurrency=concurrency) as uds:
        df = uds.users()
        return df, dict(uds.transport.stats)


def main(argv: list[str] | None = None) -> list[Figure]:
    """Run the benchmark, print the details, return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--latency-ms", type=float, default=25.0)
    ap.add_argument("--concurrency", type=int, default=8, help="ucexplore's max_concurrency (default 8)")
    ap.add_argument("--repeat", type=int, default=3, help="timed pulls per client (median compared)")
    args = ap.parse_args(argv)

    import httpx  # noqa: F401  (imported before timing: neither side pays for imports)
    import pandas  # noqa: F401
    import xmltodict  # noqa: F401

    import ucexplore.services.uds  # noqa: F401

    pages = math.ceil(args.users / PAGE)
    floor = math.ceil(pages / args.concurrency) * args.latency_ms / 1000
    print(
        f"P1 pull — {args.users:,} UDS users, {pages} pages of {PAGE}, {args.latency_ms:g} ms latency, "
        f"concurrency {args.concurrency}; {cpu_note()}"
    )
    with LabProcess(users=args.users, products="cucm", latency_ms=args.latency_ms) as lab:
        base = lab.urls["cucm"]
        ucexplore_pull(base, args.concurrency)  # warm-up: worker loop, connections, the lab's caches
        naive_pull(base)
        ours, theirs = [], []
        stats: dict[str, float] = {}
        for _ in range(args.repeat):  # interleaved, so background load hits both alike
            t = time.perf_counter()
            df, stats = ucexplore_pull(base, args.concurrency)
            ours.append(time.perf_counter() - t)
            if len(df) != args.users or df["id"].nunique() != args.users:
                raise SystemExit(
                    f"ucexplore returned {len(df)} rows ({df['id'].nunique()} distinct), "
                    f"expected {args.users}"
                )
            t = time.perf_counter()
            ref = naive_pull(base)
            theirs.append(time.perf_counter() - t)
            if len(ref) != args.users:
                raise SystemExit(f"the baseline returned {len(ref)} rows, expected {args.users}")
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    speedup = t_theirs / t_ours
    vs_floor = t_ours / floor
    print(
        f"  ucexplore UDS.users()          median {t_ours:6.3f} s  (runs "
        + ", ".join(f"{x:.3f}" for x in ours)
        + f"; {stats.get('requests', 0):.0f} requests, "
        f"{stats.get('retries', 0):.0f} retries)"
    )
    print(
        f"  naive httpx+xmltodict loop     median {t_theirs:6.3f} s  (runs "
        + ", ".join(f"{x:.3f}" for x in theirs)
        + ")"
    )
    print(f"  latency floor ceil({pages}/{args.concurrency}) x {args.latency_ms:g} ms = {floor:.3f} s")
    return [
        Figure("P1 pull: ucexplore UDS.users() (median)", t_ours, "s"),
        Figure("P1 pull: naive sequential client (median)", t_theirs, "s"),
        Figure("P1 pull speed-up", speedup, "x", f">= {SPEEDUP_GOAL}x", speedup >= SPEEDUP_GOAL),
        Figure("P1 pull / latency floor", vs_floor, "x", f"<= {FLOOR_GOAL}x", vs_floor <= FLOOR_GOAL),
    ]


if __name__ == "__main__":
    print(fmt_table(main()))
