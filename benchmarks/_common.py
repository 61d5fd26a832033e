"""Shared helpers of the benchmarks: one ``Figure`` per measured number, printed beside its goal.

Every benchmark module has ``main(argv=None) -> list[Figure]`` (it prints its own details as it goes);
``benchmarks/run_all.py`` calls them all and prints every figure in one table.

Example::

    >>> Figure("P3 import ratio", 0.4, "x", "<= 1.3x", 0.4 <= 1.3).line()[:15]
    'P3 import ratio'
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` from anywhere runs against this checkout
    sys.path.insert(0, str(ROOT))

__all__ = ["ROOT", "Figure", "LabProcess", "cpu_note", "fmt_table", "free_port_block", "median", "percentile"]


@dataclass
class Figure:
    """One number a benchmark measured: ``ok`` is None for informational figures."""

    name: str
    value: float
    unit: str
    goal: str = ""
    ok: bool | None = None

    def line(self, width: int = 46) -> str:
        """``name  value unit  goal  OK/MISSED``."""
        if self.unit == "x":
            shown = f"{self.value:8.2f} x"
        elif self.unit in ("s", "ms"):
            shown = f"{self.value:8.3f} {self.unit}" if self.value < 10 else f"{self.value:8.1f} {self.unit}"
        elif self.unit in ("", "rows", "req/s", "MB"):
            shown = f"{self.value:8,.0f} {self.unit}".rstrip()
        else:
            shown = f"{self.value:8.3f} {self.unit}"
        verdict = "" if self.ok is None else ("OK" if self.ok else "MISSED")
        goal = f"goal {self.goal}" if self.goal else "(informational)"
        return f"{self.name:<{width}} {shown:>14}   {goal:<22} {verdict}"


def fmt_table(figures: list[Figure]) -> str:
    """Every figure on one line each, aligned."""
    width = max([len(f.name) for f in figures] + [20]) + 1
    return "\n".join(f.line(width) for f in figures)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank (no numpy needed)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def cpu_note() -> str:
    """A one-line note on the machine (the figures are noisy on shared cores)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = float("nan")
    return f"{os.cpu_count()} CPU(s), load average {load:.2f}, Python {sys.version.split()[0]}"


# ---------------------------------------------------------------------------------------------------------
# a lab in its own process (so the client under test does not share the lab's GIL)
# ---------------------------------------------------------------------------------------------------------


class LabProcess:
    """``ucexplore lab`` in a subprocess on a free port block; ``urls`` parsed from what it prints.

    Example::

        with LabProcess(users=20000, latency_ms=25, products="cucm") as lab:
            lab.urls["cucm"]
    """

    def __init__(
        self,
        users: int = 200,
        seed: int = 7,
        *,
        products: str = "",
        extra: list[str] | None = None,
        **faults: float,
    ) -> None:
        self.users, self.seed, self.products = users, seed, products
        self.extra = list(extra or [])
        self.faults = faults
        self.urls: dict[str, str] = {}
        self.text = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> LabProcess:
        base = free_port_block(6)
        cmd = [
            sys.executable,
            "-m",
            "ucexplore.cli",
            "lab",
            "--users",
            str(self.users),
            "--seed",
            str(self.seed),
            "--port-base",
            str(base),
            *self.extra,
        ]
        if self.products:
            cmd += ["--products", self.products]
        for k, v in self.faults.items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
        )
        lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # bounded: the lab prints its summary then waits
            lines.append(line.rstrip())
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http"):
                self.urls[parts[0]] = parts[1]
            if line.strip().startswith("users"):
                break
        self.text = "\n".join(lines)
        if self.proc.poll() is not None or "cucm" not in self.urls and "idp" not in self.urls:
            self.__exit__()
            raise RuntimeError("the lab did not start:\n" + self.text)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the CLI stops the lab cleanly
            try:
                self.proc.wait(20)
            except Exception:  # pragma: no cover
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def free_port_block(n: int) -> int:
    """A port ``p`` such that ``p`` … ``p + n - 1`` are all free on 127.0.0.1 right now."""
    from ucexplore.lab.server import free_port_base

    base = free_port_base(n)
    if base is None:
        raise RuntimeError("no free block of ports found")
    return base
