"""Free loopback ports for tests that start a process of their own (never the lab's usual 9100-9105, where a
user's own ``ucexplore lab`` may be running)."""

from __future__ import annotations

import random
import socket


def free_port_block(n: int = 6, host: str = "127.0.0.1") -> int:
    """A port ``p`` with ``p`` … ``p + n - 1`` all free on ``host`` right now (a random high range, retried).

    Example::

        >>> base = free_port_block(3)
        >>> 20000 <= base < 60000
        True
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - n)
        socks: list[socket.socket] = []
        try:
            for off in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind((host, base + off))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of ports on loopback")
