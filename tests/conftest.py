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


@pytest.fixture(scope="session")
def sign_in(lab):
    """``sign_in(flow, user=None, password=None) -> Token``: a scripted person signs in through the lab IdP
    form (one browser session per user, so SSO applies) and pastes what the browser landed on."""
    from ucexplore.lab.person import Person

    people: dict[str, Person] = {}

    def _sign_in(flow, user: str | None = None, password: str | None = None):
        user = user or lab.demo_user[0]
        password = password or lab.demo_user[1]
        person = people.get(user)
        if person is None:
            person = people[user] = Person(user, password, verify=lab.ca_path or True)
        return flow.complete(person.sign_in(flow.authorize_url))

    yield _sign_in
    for person in people.values():
        person.close()


@pytest.fixture
def sent(monkeypatch):
    """Every message the kernel sends to the front end while the test runs (widget tests, no kernel)."""
    import comm

    from widget_doubles import RecordingComm

    messages: list = []
    monkeypatch.setattr(comm, "create_comm", lambda *a, **kw: RecordingComm(messages, **kw))
    return messages
