"""Run every benchmark and print each figure beside its goal (``make bench``).

    .venv/bin/python benchmarks/run_all.py [--quick] [--only pull,decode,imports,faults,lab_load,lab_scale]

Each benchmark measures its own baseline in the same run, so the ratios hold on a busy machine better than
the absolute times; on two shared cores expect run-to-run noise of 10–20 %. ``--quick`` runs smaller sizes
(a smoke test, not the figures the goals are about).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback

try:
    from . import decode, faults, imports, lab_load, pull
    from ._common import ROOT, Figure, cpu_note, fmt_table
except ImportError:  # run as a script
    import decode  # type: ignore[no-redef]
    import faults  # type: ignore[no-redef]
    import imports  # type: ignore[no-redef]
    import lab_load  # type: ignore[no-redef]
    import pull  # type: ignore[no-redef]
    from _common import ROOT, Figure, cpu_note, fmt_table  # type: ignore[no-redef]

#: name → (module, full-size arguments, --quick arguments)
BENCHMARKS = {
    "imports": (imports, [], ["--runs", "3"]),
    "decode": (decode, [], ["--users", "5000", "--repeat", "2"]),
    "pull": (pull, [], ["--users", "5000", "--repeat", "1"]),
    "faults": (faults, ["--quiet"], ["--quiet", "--users", "300", "--seeds", "1"]),
    "lab_load": (lab_load, [], ["--learners", "30", "--seconds", "4"]),
}


def lab_scale(quick: bool) -> list[Figure]:
    """benchmarks/lab_scale.py (issue 2) in its own interpreter: its RSS figure must not include ours."""
    users = "20000" if quick else "100000"
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "lab_scale.py"), "--users", users],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    print(out.stdout.rstrip())
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "lab_scale failed")
    figures = []
    for line in out.stdout.splitlines():
        if ":" not in line or "goal" not in line:
            continue
        name, rest = line.split(":", 1)
        parts = rest.split()
        try:
            value = float(parts[0])
        except (ValueError, IndexError):
            continue
        goal = rest[rest.index("goal") + 4 :].split(")")[0].strip()
        figures.append(
            Figure(f"lab scale: {name.strip()}", value, parts[1], goal, line.rstrip().endswith("OK"))
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: a smoke test of the benchmarks")
    ap.add_argument("--only", default="", help="comma list of: " + ", ".join([*BENCHMARKS, "lab_scale"]))
    args = ap.parse_args(argv)
    chosen = [x.strip() for x in args.only.split(",") if x.strip()] or [*BENCHMARKS, "lab_scale"]
    unknown = set(chosen) - set(BENCHMARKS) - {"lab_scale"}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    print(f"ucexplore benchmarks{' (quick)' if args.quick else ''} — {cpu_note()}\n")
    figures: list[Figure] = []
    failed: list[str] = []
    t0 = time.perf_counter()
    for name in chosen:
        print(f"=== {name} " + "=" * (70 - len(name)), flush=True)
        try:
            if name == "lab_scale":
                figures += lab_scale(args.quick)
            else:
                module, full, quick = BENCHMARKS[name]
                figures += module.main(quick if args.quick else full)
        except (Exception, SystemExit) as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"{name} failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        print(flush=True)
    print("=" * 78)
    print(f"every figure beside its goal ({time.perf_counter() - t0:.0f} s; {cpu_note()}):\n")
    print(fmt_table(figures))
    missed = [f.name for f in figures if f.ok is False]
    if failed:
        print(f"\nbenchmarks that did not run to the end: {', '.join(failed)}")
    print(
        f"\n{sum(f.ok is True for f in figures)} goals met, {len(missed)} missed"
        + (f": {', '.join(missed)}" if missed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
