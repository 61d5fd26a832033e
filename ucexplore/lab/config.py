"""Lab settings: organisation size, accounts, token lifetimes, and fault injection per product."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

__all__ = ["PRODUCTS", "Faults", "LabConfig"]

#: Each product runs on its own loopback port, as in a real deployment. ``idp`` is the identity provider.
PRODUCTS = ("idp", "cucm", "unity", "finesse", "webex", "webex_xml")

#: Fixed ports used by ``ucexplore lab`` (``port_base`` + offset); ``start()`` picks free ports instead.
PORT_OFFSETS = {"idp": 0, "cucm": 1, "unity": 2, "finesse": 3, "webex": 4, "webex_xml": 5}


@dataclass(frozen=True)
class Faults:
    """Fault injection for one product's API paths (sign-in pages are never faulted).

    Example::

        >>> Faults(rate_429=0.1, retry_after=1).active
        True
    """

    latency_ms: float = 0.0  #: fixed latency added to every API response
    jitter_ms: float = 0.0  #: plus a uniform random 0..jitter_ms
    spike_rate: float = 0.0  #: share of responses that get ``spike_ms`` extra
    spike_ms: float = 0.0
    rate_429: float = 0.0  #: share of API requests answered 429 (XML API: FAILURE 000045 in HTTP 200)
    rate_503: float = 0.0  #: share answered 503
    retry_after: float = 1.0  #: the Retry-After value sent with 429/503 (seconds)
    truncate_rate: float = 0.0  #: share of 200 bodies cut short (Content-Length matches the cut body)
    #: answer this many API requests, then stop answering (a SIGSTOPped server, a dead VPN: connections are
    #: accepted, nothing comes back) until the faults change; 0 freezes at once, None never
    freeze_after: int | None = None

    @property
    def active(self) -> bool:
        """True when any fault or latency is configured."""
        return any((self.latency_ms, self.jitter_ms, self.spike_rate, self.rate_429, self.rate_503,
                    self.truncate_rate)) or self.freeze_after is not None


@dataclass(frozen=True)
class LabConfig:
    """Everything that shapes a lab. All of it is deterministic for a given ``seed`` and anchor day.

    Example::

        >>> LabConfig(users=50, seed=3).token_ttl["cucm"]
        3600
        >>> LabConfig(anchor=date(2026, 11, 2)).anchor_date.isoformat()
        '2026-11-02'
    """

    users: int = 200
    seed: int = 7
    host: str = "127.0.0.1"
    https: bool = False
    port_base: int | None = None  #: None → free ports
    user_password: str = "lab-pass-1"  #: every synthetic user's password
    admin_user: str = "labadmin"
    admin_password: str = "lab-admin-1"
    token_ttl: dict[str, int] = field(
        default_factory=lambda: {"cucm": 3600, "unity": 3600, "finesse": 1800, "webex": 1209599}
    )
    refresh_ttl: dict[str, int] = field(default_factory=lambda: {"finesse": 36000, "webex": 7775999})
    uds_page_cap: int = 64  #: UDS clamps ``max`` to this
    uds_users_auth: bool = False  #: "contact search authentication": /cucm-uds/users needs credentials
    finesse_auth_mode: str = "HYBRID"  #: SystemInfo systemAuthMode: SSO users and Basic users both work
    webex_max_page: int = 100
    xml_api_max_page: int = 500
    faults: dict[str, Faults] = field(default_factory=dict)
    redirect_uris: tuple[str, ...] = ()  #: extra redirect URIs registered with every product
    products: tuple[str, ...] = PRODUCTS  #: which products to serve (the IdP always runs)
    #: the day the synthetic calendar (meetings, voicemail, sign-ins) is built around; None → today (UTC),
    #: read when the lab starts. The same ``(seed, anchor)`` always gives the same data.
    anchor: date | None = None

    @property
    def anchor_date(self) -> date:
        """The anchor day: :attr:`anchor`, or today's UTC date when it is None."""
        from .org import anchor_datetime

        return anchor_datetime(self.anchor).date()

    def faults_for(self, product: str) -> Faults:
        """The faults configured for ``product`` (none by default)."""
        return self.faults.get(product, Faults())

    def with_faults(self, products: tuple[str, ...] | None = None, **kw: Any) -> "LabConfig":
        """A copy with the same faults applied to ``products`` (all API products when None)."""
        targets = products or tuple(p for p in PRODUCTS if p != "idp")
        merged = dict(self.faults)
        for p in targets:
            merged[p] = replace(merged.get(p, Faults()), **kw)
        return replace(self, faults=merged)
