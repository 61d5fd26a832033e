"""ucexplore: sign in to Cisco collaboration servers from Jupyter and explore their data in pandas.

Example::

    >>> import ucexplore as ux
    >>> lab = ux.lab.start(users=50)                                   # doctest: +SKIP
    >>> flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)   # doctest: +SKIP
    >>> ux.login(flow)          # open the sign-in page, paste the address back   # doctest: +SKIP
    >>> ux.UDS(lab.urls["cucm"], auth=flow).users(last="Ka")        # doctest: +SKIP

Everything heavy (pandas, ipywidgets, the lab's web servers) is imported on first use, so
``import ucexplore`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name → module that defines it (imported lazily on first attribute access)
_LAZY = {
    "Token": "ucexplore.auth.token",
    "CucmSSO": "ucexplore.auth.flows",
    "UnitySSO": "ucexplore.auth.flows",
    "FinesseSSO": "ucexplore.auth.flows",
    "WebexOAuth": "ucexplore.auth.flows",
    "UDS": "ucexplore.services.uds",
    "Unity": "ucexplore.services.unity",
    "Finesse": "ucexplore.services.finesse",
    "Webex": "ucexplore.services.webex",
    "WebexXML": "ucexplore.services.webex_xml",
    "WebDialer": "ucexplore.services.webdialer",
    "login": "ucexplore.widgets",
    "sessions": "ucexplore.widgets",
    "explore": "ucexplore.widgets",
    "report": "ucexplore.reports",
    "audit": "ucexplore.audit",
    "output_dir": "ucexplore.paths",
    "UcError": "ucexplore.errors",
    "NotSignedIn": "ucexplore.errors",
    "TokenExpired": "ucexplore.errors",
    "SSOError": "ucexplore.errors",
    "ConnectionFailed": "ucexplore.errors",
    "ApiError": "ucexplore.errors",
    "RateLimited": "ucexplore.errors",
    "ServerBusy": "ucexplore.errors",
    "ParseError": "ucexplore.errors",
    "InvalidArgument": "ucexplore.errors",
    "RedirectRefused": "ucexplore.errors",
    "debug": "ucexplore.errors",
    "last_error": "ucexplore.errors",
}
_SUBMODULES = {"lab"}

__all__ = sorted([*_LAZY, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"ucexplore.{name}")
        globals()[name] = module
        return module
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ucexplore' has no attribute {name!r}")
    value = getattr(importlib.import_module(target), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
