"""The embedded UC lab: a local emulator of CUCM (SSO, UDS, WebDialer), Unity Connection, Finesse, Webex
(REST and the legacy XML API) and their identity provider, on loopback.

It imports nothing from the ucexplore client: it is a separate server that happens to live in this package.

Example::

    >>> import ucexplore as ux
    >>> with ux.lab.start(users=50) as lab:        # doctest: +SKIP
    ...     print(lab.urls["cucm"])
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import Faults, LabConfig

__all__ = ["start", "Lab", "LabConfig", "Faults"]


def __getattr__(name: str) -> Any:
    """``start`` and ``Lab`` load the web servers (uvicorn, starlette) on first use, so that reading the lab's
    configuration (``ucexplore.lab.config``: the command line's option checks) stays cheap."""
    if name in ("start", "Lab"):
        value = getattr(importlib.import_module("ucexplore.lab.server"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ucexplore.lab' has no attribute {name!r}")
