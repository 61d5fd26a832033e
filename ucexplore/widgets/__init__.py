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

from .explorer import Explorer, explore
from .login import LoginWidget, login
from .sessions import SessionsBar, register_flow, registered_flows, sessions

__all__ = ["login", "sessions", "explore", "LoginWidget", "SessionsBar", "Explorer", "register_flow",
           "registered_flows"]
