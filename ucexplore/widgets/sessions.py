"""One status bar for every signed-in flow in this kernel: who, where, expires in, last refresh, sign out.

Flows are remembered in a weak registry: :class:`~ucexplore.widgets.LoginWidget` registers its flow, and
anything else can call :func:`register_flow`. A bar re-renders when a flow signs in, refreshes or signs out
(the flows' ``on_change`` hooks), when a new flow is registered, and every ``tick`` seconds while the kernel's
event loop runs. No token text is ever put into a widget.

Example::

    >>> import ucexplore as ux
    >>> bar = ux.sessions()          # the last line of a cell: shows the bar
    >>> bar.rows                     # one dict per signed-in flow (no secrets)   # doctest: +SKIP
    [{'product': 'cucm', 'host': '127.0.0.1:50123', 'user': 'jkam', 'state': 'signed_in', ...}]
    >>> bar.close()
"""

from __future__ import annotations

import html
import logging
import weakref
from typing import Any

import ipywidgets as widgets

from .login import (TICK_SECONDS, _clock, _close_all, _display_name, _host, _KernelSide, _product, _status,
                    _WeakCallback, _wrapping)

__all__ = ["SessionsBar", "sessions", "register_flow", "registered_flows"]

log = logging.getLogger("ucexplore.widgets")

_registry: list[weakref.ref[Any]] = []  # registration order; dead references are pruned on read
_bars: weakref.WeakSet[SessionsBar] = weakref.WeakSet()


def register_flow(flow: Any) -> None:
    """Remember ``flow`` (weakly) so that :func:`sessions` bars show it while it is signed in.

    Example::

        >>> register_flow(flow)          # doctest: +SKIP
    """
    if any(ref() is flow for ref in _registry):
        return
    _registry.append(weakref.ref(flow))
    for bar in list(_bars):
        bar._watch(flow)


def registered_flows() -> list[Any]:
    """Every live registered flow, in registration order (signed in or not)."""
    alive: list[Any] = []
    for ref in list(_registry):
        flow = ref()
        if flow is None:
            _registry.remove(ref)
        else:
            alive.append(flow)
    return alive


class _Row:
    """One session row: product, host, user, expiry, last refresh, and a sign-out button."""

    def __init__(self, bar: SessionsBar, flow: Any) -> None:
        self.flow_ref = weakref.ref(flow)
        self.info = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        self.info.add_class("ucx-session-info")
        self.button = widgets.Button(description="Sign out", icon="sign-out",
                                     tooltip=f"Forget the {_display_name(flow)} token in this kernel",
                                     layout=widgets.Layout(width="8em", flex="0 0 auto"))
        self.button.add_class("ucx-session-signout")
        self.box = widgets.HBox([self.info, self.button], layout=widgets.Layout(align_items="center"))
        self.box.add_class("ucx-session-row")
        self.box.add_class(f"ucx-session-{_product(flow) or 'flow'}")
        bar_ref = weakref.ref(bar)

        def sign_out(_button: Any) -> None:
            target, owner = self.flow_ref(), bar_ref()
            if target is not None:
                try:
                    target.sign_out()
                except Exception:  # noqa: BLE001 - a button click must not raise into the kernel
                    log.warning("signing out of %s failed", _display_name(target), exc_info=True)
            if owner is not None:
                owner._render()

        self.button.on_click(sign_out)

    def update(self, flow: Any) -> dict[str, Any]:
        st = _status(flow)
        tok = flow.token
        refreshes = int(getattr(flow, "refresh_count", 0) or 0)
        can_refresh = tok is not None and bool(getattr(flow, "refreshable", False)) and tok.refreshable
        expires = st.expiry
        if tok is None:
            last = ""
        elif refreshes:
            last = f"last refresh {_clock(tok.issued_at)} ({refreshes}×)"
        elif can_refresh:
            last = f"signed in {_clock(tok.issued_at)}, not refreshed yet"
        else:
            # a CUCM/Unity implicit-grant token (or one without a refresh token) never refreshes: say when to
            # sign in again instead of waiting for a refresh that cannot come
            last = f"signed in {_clock(tok.issued_at)}"
            if tok.expired:
                expires = f"{st.expiry} — sign in again"
            elif tok.remaining is not None:
                expires = f"{st.expiry} — sign in again then"
            else:
                expires = f"{st.expiry}: sign in again when it stops working"
        dot = "<span style='color:#1e7d32'>●</span>" if st.state == "signed_in" \
            else "<span style='color:#c0392b'>●</span>"
        pieces = [f"{dot} <b>{html.escape(_display_name(flow))}</b> "
                  f"<span style='color:#667'>{html.escape(st.issuer)}</span>"]
        if st.user:
            pieces.append(f"<b>{html.escape(st.user)}</b>")
        pieces += [html.escape(p) for p in (expires, last) if p]
        if st.refreshes_at:
            pieces.append(f"refreshes at {html.escape(st.refreshes_at)}")
        self.info.value = _wrapping(" · ".join(pieces))
        self.button.disabled = tok is None
        return {"product": _product(flow), "host": _host(flow), "user": st.user, "state": st.state,
                "expires": expires, "last_refresh": last, "refreshes_at": st.refreshes_at}

    def close(self) -> None:
        _close_all((self.info, self.button, self.box))


class SessionsBar:
    """The session status bar (composition: ``widget`` is the ipywidgets box). Build it with :func:`sessions`.

    ``rows`` lists the signed-in flows as dicts (product, host, user, state, expires, last_refresh,
    refreshes_at); ``flows`` the flows themselves.

    Example::

        >>> bar = SessionsBar(tick=0)
        >>> "ucx-sessions" in bar.widget._dom_classes
        True
        >>> bar.close()
    """

    def __init__(self, *, tick: float = TICK_SECONDS) -> None:
        self._rows: dict[int, _Row] = {}
        self._summaries: list[dict[str, Any]] = []
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        self._callback = _WeakCallback(self._on_flow_change)
        self._closed = False
        self._title = widgets.HTML("<b>ucexplore sessions</b>")
        self._title.add_class("ucx-sessions-title")
        self._empty = widgets.HTML("<span style='color:#667'>No signed-in sessions: run "
                                   "<code>ux.login(flow)</code> and sign in.</span>")
        self._empty.add_class("ucx-sessions-empty")
        self.widget = widgets.VBox([self._title, self._empty])
        self.widget.add_class("ucx-sessions")
        self._kernel = _KernelSide(self._render, tick)
        for flow in registered_flows():
            self._watch(flow, render=False)
        _bars.add(self)
        self._render()
        self._kernel.start()

    @property
    def flows(self) -> list[Any]:
        """The flows currently shown (signed in, or holding an expired token)."""
        return [f for f in registered_flows() if getattr(f, "token", None) is not None]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """What each row shows, as dicts (no secrets)."""
        return [dict(r) for r in self._summaries]

    def close(self) -> None:
        """Stop ticking, detach from every flow and close the widgets."""
        if self._closed:
            return
        self._closed = True
        self._kernel.stop()
        _bars.discard(self)
        for flow in list(self._watched):
            self._callback.detach(flow)
        for row in self._rows.values():
            row.close()
        self._rows.clear()
        _close_all((self._title, self._empty, self.widget))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self._closed:
            return {"text/plain": repr(self)}
        self._kernel.start()
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        shown = ", ".join(f"{r['product']}:{r['user']}" for r in self._summaries) or "none"
        return f"<SessionsBar sessions={shown}>"

    # -- internals ---------------------------------------------------------------------------------------
    def _watch(self, flow: Any, *, render: bool = True) -> None:
        if self._closed or flow in self._watched:
            return
        self._watched.add(flow)
        if isinstance(getattr(flow, "on_change", None), list):
            flow.on_change.append(self._callback)
        if render:
            self._kernel.call(self._render)

    def _on_flow_change(self, event: str, flow: Any) -> None:
        if not self._closed:
            self._kernel.call(self._render)

    def _render(self) -> None:
        if self._closed:
            return
        shown = self.flows
        keep = {id(f) for f in shown}
        for key in [k for k in self._rows if k not in keep]:
            self._rows.pop(key).close()
        summaries = []
        for flow in shown:
            row = self._rows.get(id(flow))
            if row is None or row.flow_ref() is not flow:
                if row is not None:
                    row.close()
                row = self._rows[id(flow)] = _Row(self, flow)
            summaries.append(row.update(flow))
        self._summaries = summaries
        children = [self._title] + ([self._rows[id(f)].box for f in shown] if shown else [self._empty])
        if tuple(children) != tuple(self.widget.children):
            self.widget.children = children


def sessions(*flows: Any, tick: float = TICK_SECONDS) -> SessionsBar:
    """A status bar with one row per signed-in flow in this kernel; ``flows`` are registered first.

    Example::

        >>> import ucexplore as ux
        >>> bar = ux.sessions(tick=0)
        >>> isinstance(bar.rows, list)
        True
        >>> bar.close()
    """
    for flow in flows:
        register_flow(flow)
    return SessionsBar(tick=tick)
