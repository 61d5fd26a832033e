"""P2 — decode: 20,000 UDS users (~8 MB of XML in 64-user pages, captured from the lab) into the typed
DataFrame, against xmltodict + ``pandas.json_normalize`` on the same bytes.

ucexplore's side is exactly what ``UDS.users()`` does with each page after it arrives: ``UDS._decode``
(``decode_records`` with the endpoint's RecordSpec), the rows concatenated in page order, de-duplicated by
``id``, then ``frames.to_frame`` with the endpoint's columns and dtypes. The baseline is what a notebook
without ucexplore would write: ``xmltodict.parse`` each page, take ``users.user`` (a lone dict → a list),
and ``pd.json_normalize`` the lot. Both sides are timed several times, interleaved; the median is compared.

Goals (issue 4): ≥ 2 × faster than the baseline; ``df.memory_usage(deep=True).sum()`` ≤ 1.5 × the
baseline frame's.

    .venv/bin/python benchmarks/decode.py [--users 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

try:
    from ._common import Figure, cpu_note, fmt_table
except ImportError:  # run as a script
    from _common import Figure, cpu_note, fmt_table  # type: ignore[no-redef]

SPEED_GOAL = 2.0
MEMORY_GOAL = 1.5


def capture_pages(users: int, page: int = 64) -> tuple[list[bytes], str]:
    """Every ``/cucm-uds/users`` page of a fresh lab of ``users`` users, as the server sent them."""
    import httpx

    from ucexplore.lab import start

    with start(users=users, seed=7, products=("cucm",)) as lab:
        base = lab.urls["cucm"]
        bodies: list[bytes] = []
        with httpx.Client(timeout=60) as client:
            for start_at in range(0, users, page):
                r = client.get(base + "/cucm-uds/users", params={"start": start_at, "max": page})
                r.raise_for_status()
                bodies.append(r.content)
    return bodies, base


def ucexplore_decode(responses: list[Any], uds: Any) -> Any:
    """What ``UDS.users()`` does with the pages: decode each, concatenate, de-duplicate, type the frame."""
    from ucexplore.frames import to_frame
    from ucexplore.services.base import _dedupe

    fetch = type(uds).__dict__["users"]
    records: list[dict[str, Any]] = []
    for resp in responses:
        rows, _meta = uds._decode(resp, fetch, None)
        records.extend(rows)
    records = _dedupe(records, fetch.id)
    return to_frame(records, columns=fetch.columns, dtypes=fetch.dtypes)


def naive_decode(bodies: list[bytes]) -> Any:
    """The baseline: xmltodict per page, then one ``pd.json_normalize``."""
    import pandas as pd
    import xmltodict

    rows: list[dict[str, Any]] = []
    for body in bodies:
        doc = xmltodict.parse(body)
        users = (doc.get("users") or {}).get("user") or []
        if isinstance(users, dict):
            users = [users]
        rows.extend(users)
    return pd.json_normalize(rows)


def main(argv: list[str] | None = None) -> list[Figure]:
    """Run the benchmark, print the details, return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per side (median compared)")
    args = ap.parse_args(argv)

    import httpx
    import pandas  # noqa: F401  (imported before timing: neither side pays for it)
    import xmltodict  # noqa: F401

    import ucexplore as ux

    print(f"P2 decode — {args.users:,} UDS users; {cpu_note()}")
    bodies, base = capture_pages(args.users)
    size = sum(len(b) for b in bodies)
    print(f"  captured {len(bodies)} pages, {size / 1e6:.1f} MB of XML")
    uds = ux.UDS(base, progress=False)
    url = base + "/cucm-uds/users"
    responses = [
        httpx.Response(
            200, content=b, headers={"content-type": "application/xml"}, request=httpx.Request("GET", url)
        )
        for b in bodies
    ]

    ours, theirs = [], []
    df = ref = None
    for _ in range(args.repeat):  # interleaved, so background load hits both alike
        df = None
        gc.collect()
        t = time.perf_counter()
        df = ucexplore_decode(responses, uds)
        ours.append(time.perf_counter() - t)
        ref = None
        gc.collect()
        t = time.perf_counter()
        ref = naive_decode(bodies)
        theirs.append(time.perf_counter() - t)
    assert df is not None and ref is not None
    if len(df) != args.users or len(ref) != args.users:
        raise SystemExit(
            f"row counts differ: ucexplore {len(df)}, baseline {len(ref)}, expected {args.users}"
        )
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    speedup = t_theirs / t_ours
    mem_ours = int(df.memory_usage(deep=True).sum())
    mem_theirs = int(ref.memory_usage(deep=True).sum())
    mem_ratio = mem_ours / mem_theirs
    print(
        f"  ucexplore decode → typed DataFrame  median {t_ours:6.3f} s   (runs: "
        + ", ".join(f"{x:.3f}" for x in ours)
        + ")"
    )
    print(
        f"  xmltodict + json_normalize         median {t_theirs:6.3f} s   (runs: "
        + ", ".join(f"{x:.3f}" for x in theirs)
        + ")"
    )
    print(
        f"  frames: ucexplore {df.shape} {mem_ours / 1e6:.1f} MB deep; baseline {ref.shape} "
        f"{mem_theirs / 1e6:.1f} MB deep"
    )
    return [
        Figure("P2 decode: ucexplore (median)", t_ours, "s"),
        Figure("P2 decode: xmltodict + json_normalize", t_theirs, "s"),
        Figure("P2 decode speed-up", speedup, "x", f">= {SPEED_GOAL}x", speedup >= SPEED_GOAL),
        Figure(
            "P2 memory: DataFrame / json_normalize",
            mem_ratio,
            "x",
            f"<= {MEMORY_GOAL}x",
            mem_ratio <= MEMORY_GOAL,
        ),
    ]


if __name__ == "__main__":
    print(fmt_table(main()))
