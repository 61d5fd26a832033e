"""Notebook widgets: the sign-in widget, the session status bar, and the Explorer.

Everything here is imported lazily by ``import ucexplore`` (ipywidgets is only loaded on first use).

Example::

    >>> import ucexplore as ux
    >>> flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> w = ux.login(flow)          # "Open sign-in page", paste box, status line
    >>> bar = ux.sessions()         # one row per signed-in flow in this kernel
    >>> w.close(); bar.close()
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .login import LoginWidget, login
from .sessions import SessionsBar, register_flow, registered_flows, sessions

_EXPLORER = "ucexplore.widgets.explorer"
_FROM_EXPLORER = ("explore", "Explorer")

__all__ = ["login", "sessions", "LoginWidget", "SessionsBar", "register_flow", "registered_flows"]
if importlib.util.find_spec(_EXPLORER) is not None:
    __all__ += list(_FROM_EXPLORER)


def __getattr__(name: str) -> Any:
    """``explore``/``Explorer`` come from ``explorer.py`` on first use."""
    if name in _FROM_EXPLORER:
        try:
            module = importlib.import_module(_EXPLORER)
        except ModuleNotFoundError as exc:
            if exc.name != _EXPLORER:
                raise
            raise AttributeError(f"ucexplore.widgets has no {name!r} yet: the Explorer is not installed") from None
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ucexplore.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
