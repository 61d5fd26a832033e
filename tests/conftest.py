"""Shared fixtures: one full lab for the session, started on first use, on loopback."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def lab():
    """A full lab (every product) with 300 users, shared by the contract tests."""
    from ucexplore.lab import start

    with start(users=300, seed=11) as running:
        yield running
