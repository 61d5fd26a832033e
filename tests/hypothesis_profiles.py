"""Hypothesis settings for the auth property tests (test_paste, test_token).

``HYPOTHESIS_PROFILE=long`` gives 10,000 generated inputs per property and flow; anything else (the default
``ci``) gives 300. Tests use ``@PROFILE`` (a ``hypothesis.settings`` object) and nothing is registered or
loaded globally, so the profiles of ``tests/conftest.py`` stay as they are. No deadline (two shared cores: no
wall-clock limits in tests) and no example database written into the repository.

Example::

    from hypothesis_profiles import PROFILE

    @PROFILE
    @given(st.text())
    def test_something(text): ...
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: generated inputs per property (and per flow, where a test is parametrised over the flows)
MAX_EXAMPLES = {"long": 10_000}.get(NAME, 300)
#: the settings every property test in the auth suite uses
PROFILE = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
