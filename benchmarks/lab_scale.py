"""Lab scale: start a 100,000-user lab, touch every product once, print start time and peak RSS.

Goal (issue 2): starts in under 10 s and stays under 1 GB RSS.

    .venv/bin/python benchmarks/lab_scale.py [--users 100000]
"""

from __future__ import annotations

import argparse
import resource
import time

import httpx

from ucexplore.lab import start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    lab = start(users=args.users)
    started = time.perf_counter() - t0
    try:
        admin = lab.admin
        with httpx.Client(timeout=60) as c:
            c.get(lab.urls["cucm"] + "/cucm-uds/users", params={"last": "k", "max": 64}).raise_for_status()
            c.get(lab.urls["unity"] + "/vmrest/users", params={"rowsPerPage": 100}, auth=admin).raise_for_status()
            c.get(lab.urls["finesse"] + "/finesse/api/SystemInfo").raise_for_status()
    finally:
        lab.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lab start, {args.users:,} users : {started:6.2f} s   (goal < 10 s)  {'OK' if started < 10 else 'MISSED'}")
    print(f"peak RSS                : {rss_mb:6.0f} MB  (goal < 1024 MB) {'OK' if rss_mb < 1024 else 'MISSED'}")


if __name__ == "__main__":
    main()
