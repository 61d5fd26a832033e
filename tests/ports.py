"""Free loopback ports for tests that start a process of their own (never the lab's usual 9100-9105, where a
user's own ``ucexplore lab`` may be running)."""

from __future__ import annotations

from ucexplore.lab.server import free_port_base


def free_port_block(n: int = 6, host: str = "127.0.0.1") -> int:
    """A port ``p`` with ``p`` … ``p + n - 1`` all free on ``host`` right now (a random high range)."""
    base = free_port_base(n, host)
    if base is None:
        raise RuntimeError("no free block of ports on loopback")
    return base
