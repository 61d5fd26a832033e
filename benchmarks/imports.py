"""P3 — import cost: ``import ucexplore`` vs ``import httpx``, each in a fresh interpreter.

``import ucexplore`` is lazy (everything heavy loads on first attribute access), so the first use of a client
class (``ux.UDS``: transport, httpx, decode, frames, services) is measured too, for information.

Goal (issue 4): ``import ucexplore`` ≤ 1.3 × ``import httpx`` (median of several fresh interpreters).

    .venv/bin/python benchmarks/imports.py [--runs 9]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

try:
    from ._common import ROOT, Figure, cpu_note, fmt_table, median
except ImportError:  # run as a script
    from _common import ROOT, Figure, cpu_note, fmt_table, median  # type: ignore[no-redef]

GOAL = 1.3

#: what each fresh interpreter runs, timed inside the child with perf_counter (start-up excluded)
CASES = {
    "baseline": "pass",
    "httpx": "import httpx",
    "ucexplore": "import ucexplore",
    "ucexplore + ux.UDS": "import ucexplore as ux; ux.UDS",
    "ucexplore + ux.Token": "import ucexplore as ux; ux.Token",
}

_CHILD = "import time, sys; t = time.perf_counter(); exec(sys.argv[1]); print(repr(time.perf_counter() - t))"


def time_import(code: str) -> float:
    """Seconds ``code`` takes in a fresh interpreter (measured inside it, interpreter start-up excluded)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[Figure]:
    """Run the benchmark, print the details, return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="fresh interpreters per case (median taken)")
    args = ap.parse_args(argv)
    print(f"P3 imports — {args.runs} fresh interpreters per case; {cpu_note()}")
    results: dict[str, list[float]] = {name: [] for name in CASES}
    t0 = time.perf_counter()
    for _ in range(args.runs):  # interleaved, so background load hits every case alike
        for name, code in CASES.items():
            results[name].append(time_import(code))
    med = {name: median(v) * 1000 for name, v in results.items()}
    for name, ms in med.items():
        print(
            f"  {name:<22} median {ms:7.1f} ms   (min {min(results[name]) * 1000:6.1f}, "
            f"max {max(results[name]) * 1000:6.1f})"
        )
    ratio = med["ucexplore"] / med["httpx"]
    uds_ratio = med["ucexplore + ux.UDS"] / med["httpx"]
    print(f"  ({time.perf_counter() - t0:.1f} s in all)")
    figures = [
        Figure("P3 import httpx (median)", med["httpx"], "ms"),
        Figure("P3 import ucexplore (median)", med["ucexplore"], "ms"),
        Figure("P3 import ucexplore / import httpx", ratio, "x", f"<= {GOAL}x", ratio <= GOAL),
        Figure("P3 ucexplore + ux.UDS / import httpx", uds_ratio, "x"),
    ]
    return figures


if __name__ == "__main__":
    print(fmt_table(main()))
