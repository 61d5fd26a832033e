"""The Explorer's filter controls, built from an endpoint's signature.

Each parameter of a list endpoint becomes a control: a **dropdown** for an enumeration (see
:data:`ENUMERATIONS`, a ``choices`` mapping a service declares on its ``Fetch``, or the Explorer's
``choices=``) and for yes/no parameters, a **date picker** for points in time (``from``/``to``,
``since``/``until``, ``start_from`` …: the day starts at 00:00:00 UTC, or ends at 23:59:59 UTC for ``to``-like
names), and a **text box** for everything else. Path placeholders (``user_id`` …) without a default are
required.

Example::

    >>> from ucexplore.services import Fetch, NoPaging, Service
    >>> class Demo(Service):
    ...     things = Fetch("/things", item="thing", paging=NoPaging(),
    ...                    params={"from_": "from", "folder": "folder"})
    >>> [(f.name, f.kind) for f in build_filters("demo", "things", Demo.endpoints()["things"], None)]
    [('from_', 'date'), ('folder', 'choice')]
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ipywidgets as widgets

__all__ = ["ENUMERATIONS", "Filter", "build_filters"]

#: Dropdown choices for enumerated parameters: ``"product.endpoint.param"``, ``"endpoint.param"`` or
#: ``"param"`` (wire or Python name) → values. A service may also declare ``choices={param: values}`` on
#: its ``Fetch`` (read with ``getattr``); ``explore(client, choices=…)`` overrides both.
ENUMERATIONS: dict[str, tuple[Any, ...]] = {
    "unity.messages.folder": ("inbox", "sent", "deleted"),
    "unity.messages.read": (True, False),
    "unity.messages.dispatch": (True, False),
    "unity.messages.priority": ("urgent", "normal", "low"),
    "unity.messages.type": ("voice", "email", "fax", "receipt"),
    "unity.messages.sortkey": ("arrivaltime", "priority"),
    "unity.messages.sortorder": ("descending", "ascending"),
    "finesse.reason_codes.category": ("NOT_READY", "LOGOUT", "ALL"),
    "finesse.user_reason_codes.category": ("NOT_READY", "LOGOUT", "ALL"),
    "webex.meetings.meetingType": ("meetingSeries", "scheduledMeeting", "meeting"),
    "webex.meetings.state": (
        "active",
        "scheduled",
        "ready",
        "lobby",
        "inProgress",
        "ended",
        "missed",
        "expired",
    ),
    "webex.meetings.scheduledType": ("meeting", "webinar", "personalRoomMeeting"),
    "webex.meetings.current": (True, False),
    "webex.rooms.type": ("direct", "group"),
    "webex.rooms.sortBy": ("id", "lastactivity", "created"),
    "webex_xml.meetings.orderBy": ("STARTTIME", "HOSTWEBEXID", "CONFNAME"),
    "webex_xml.meetings.orderAD": ("ASC", "DESC"),
    "folder": ("inbox", "sent", "deleted"),
    "category": ("NOT_READY", "LOGOUT", "ALL"),
}

#: parameters that are points in time (date pickers): from/to, since/until, start_from, end_to …
_TIME_PARAM = re.compile(r"(?i)^(?:.*_)?(?:from|to|since|until|before|after)_?$|(?:date|time)(?:start|end)?$")
_END_PARAM = re.compile(r"(?i)(?:^|_)(?:to|until|before|end)_?$|end$")
_SKIP = {"limit", "raw"}
_ANY = "(any)"


@dataclass
class Filter:
    """One filter control: the Python keyword ``name``, the wire name, its kind and widget."""

    name: str
    wire: str
    kind: str  #: "text", "date", "choice"
    widget: Any
    required: bool
    end_of_day: bool = False

    def value(self) -> Any:
        """The value to pass to the endpoint, or None when left empty."""
        v = self.widget.value
        if self.kind == "text":
            text = (v or "").strip()
            return text or None
        if self.kind == "date":
            if not v:
                return None
            start = datetime(v.year, v.month, v.day, tzinfo=UTC)
            return start + timedelta(days=1, seconds=-1) if self.end_of_day else start
        return v

    def get(self) -> Any:
        """What to remember (the raw control value)."""
        return self.widget.value

    def set(self, raw: Any) -> None:
        """Restore a remembered or scripted value."""
        w = self.widget
        if self.kind == "date":
            if isinstance(raw, str) and raw:
                raw = date.fromisoformat(raw[:10])
            elif isinstance(raw, datetime):
                raw = raw.date()
            w.value = raw or None
        elif self.kind == "choice":
            values = [v for _, v in w.options]
            if raw in values:
                w.value = raw
            elif raw is not None and str(raw) in [str(v) for v in values]:
                w.value = values[[str(v) for v in values].index(str(raw))]
            else:
                raise ValueError(f"{self.name} takes one of {', '.join(str(v) for v in values)}; got {raw!r}")
        else:
            w.value = "" if raw is None else str(raw)


def _choices_for(
    product: str, endpoint: str, py: str, wire: str, fetch: Any, override: Mapping[str, Any] | None
) -> tuple[Any, ...] | None:
    declared = getattr(fetch, "choices", None)
    for source in (override or {}, declared if isinstance(declared, Mapping) else {}, ENUMERATIONS):
        for k in (
            f"{product}.{endpoint}.{wire}",
            f"{product}.{endpoint}.{py}",
            f"{endpoint}.{wire}",
            f"{endpoint}.{py}",
            wire,
            py,
        ):
            if k in source:
                return tuple(source[k])
    return None


def build_filters(
    product: str, endpoint: str, fetch: Any, override: Mapping[str, Any] | None
) -> list[Filter]:
    """The controls for one endpoint, from its signature (placeholders first, then its parameters)."""
    P = inspect.Parameter
    params = getattr(fetch, "params", None) or {}
    out: list[Filter] = []
    for p in fetch.signature().parameters.values():
        if p.name in _SKIP or p.kind is P.VAR_KEYWORD:
            continue
        wire = params.get(p.name, p.name.rstrip("_") if p.name.endswith("_") else p.name)
        default = None if p.default is P.empty else p.default
        required = p.default is P.empty
        label = p.name.rstrip("_") if p.name.endswith("_") else p.name
        choices = _choices_for(product, endpoint, p.name, wire, fetch, override)
        style = {"description_width": "initial"}
        tip = f"{wire}{' (required)' if required else ''}"
        if choices is None and isinstance(default, bool):
            choices = (True, False)
        if choices is not None:
            options: list[tuple[str, Any]] = [] if (required or default is not None) else [(_ANY, None)]
            options += [(("yes" if c else "no") if isinstance(c, bool) else str(c), c) for c in choices]
            if default is not None and default not in [v for _, v in options]:
                options.insert(0, (str(default), default))
            w = widgets.Dropdown(
                options=options,
                value=default if default is not None else options[0][1],
                description=label,
                style=style,
                tooltip=tip,
                layout=widgets.Layout(width="auto", min_width="12em"),
            )
            kind = "choice"
        elif _TIME_PARAM.search(p.name) or _TIME_PARAM.search(wire) or isinstance(default, (date, datetime)):
            w = widgets.DatePicker(
                description=label,
                style=style,
                tooltip=f"{tip} (UTC day)",
                value=default.date() if isinstance(default, datetime) else default,
            )
            kind = "date"
        else:
            hint = "required" if required else ("" if default is None else f"default {default}")
            w = widgets.Text(
                value="" if default is None else str(default),
                description=label,
                placeholder=hint,
                style=style,
                tooltip=tip,
                continuous_update=True,
                layout=widgets.Layout(width="auto", min_width="14em"),
            )
            kind = "text"
        w.add_class("ucx-explorer-filter")
        w.add_class(f"ucx-explorer-filter-{re.sub(r'[^A-Za-z0-9_-]', '-', label)}")
        end = kind == "date" and bool(_END_PARAM.search(p.name) or _END_PARAM.search(wire))
        out.append(Filter(p.name, wire, kind, w, required and kind != "choice", end))
    return out
