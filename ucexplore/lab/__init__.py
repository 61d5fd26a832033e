"""The embedded UC lab: a local emulator of CUCM (SSO, UDS, WebDialer), Unity Connection, Finesse, Webex
(REST and the legacy XML API) and their identity provider, on loopback.

It imports nothing from the ucexplore client: it is a separate server that happens to live in this package.

Example::

    >>> import ucexplore as ux
    >>> with ux.lab.start(users=50) as lab:        # doctest: +SKIP
    ...     print(lab.urls["cucm"])
"""

from .config import Faults, LabConfig
from .server import Lab, start

__all__ = ["start", "Lab", "LabConfig", "Faults"]
