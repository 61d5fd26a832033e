"""Fault injection as plain ASGI middleware: latency, 429/503 with Retry-After, truncated bodies.

Faults apply only to a product's API paths, never to its sign-in pages, and can be changed while the lab
runs (``lab.set_faults("webex", Faults(rate_429=0.1))``). Each product renders its own error body.
``freeze_after=N`` answers N requests and then holds every request without a byte of answer until the faults
change, which is what a client sees of a frozen server.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Awaitable, Callable

from .config import Faults

__all__ = ["FaultMiddleware", "FaultRender", "FaultCounters"]

#: (status, retry_after) → (status, headers, body) in the product's own error shape
FaultRender = Callable[[int, float], tuple[int, list[tuple[bytes, bytes]], bytes]]
ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class FaultCounters:
    """How many faults a product injected (the fault suite compares them with the client's retries)."""

    def __init__(self) -> None:
        self.too_many = 0
        self.busy = 0
        self.truncated = 0
        self.delayed = 0
        self.frozen = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a dict."""
        return {"429": self.too_many, "503": self.busy, "truncated": self.truncated, "delayed": self.delayed,
                "frozen": self.frozen}


class FaultMiddleware:
    """Wraps one product app; ``get_faults()`` is read on every request so faults can change at run time."""

    def __init__(self, app: ASGIApp, *, get_faults: Callable[[], Faults], api_prefixes: tuple[str, ...],
                 render: FaultRender, seed: int = 0) -> None:
        self.app = app
        self.get_faults = get_faults
        self.api_prefixes = api_prefixes
        self.render = render
        self.rng = random.Random(f"faults:{seed}")
        self.counters = FaultCounters()
        self._freeze_of: object = None  # the Faults whose freeze_after is being counted
        self._answered = 0

    async def _hold_while_frozen(self, faults: Any) -> bool:
        """Hold a request while ``faults`` freeze this product; True when it was held."""
        if faults is not self._freeze_of:
            self._freeze_of, self._answered = faults, 0
        if self._answered < faults.freeze_after:
            self._answered += 1
            return False
        self.counters.frozen += 1
        while self.get_faults() is faults:
            await asyncio.sleep(0.05)
        return True

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.api_prefixes):
            await self.app(scope, receive, send)
            return
        faults = self.get_faults()
        if not faults.active:
            await self.app(scope, receive, send)
            return
        if faults.freeze_after is not None and await self._hold_while_frozen(faults):
            await self.app(scope, receive, send)  # thawed: answer (the client has most likely given up)
            return
        delay = faults.latency_ms + (self.rng.random() * faults.jitter_ms if faults.jitter_ms else 0.0)
        if faults.spike_rate and self.rng.random() < faults.spike_rate:
            delay += faults.spike_ms
        if delay > 0:
            self.counters.delayed += 1
            await asyncio.sleep(delay / 1000.0)
        roll = self.rng.random()
        if roll < faults.rate_429 + faults.rate_503:
            status = 429 if roll < faults.rate_429 else 503
            if status == 429:
                self.counters.too_many += 1
            else:
                self.counters.busy += 1
            await self._send(send, *self.render(status, faults.retry_after))
            return
        if faults.truncate_rate and self.rng.random() < faults.truncate_rate:
            await self._truncated(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        headers = [h for h in headers if h[0].lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _truncated(self, scope: dict, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200 and len(body) > 16:
            body = body[: int(len(body) * (0.3 + 0.6 * self.rng.random()))]
            self.counters.truncated += 1
        await self._send(send, start.get("status", 500), list(start.get("headers", [])), body)
