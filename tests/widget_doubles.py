"""Test doubles for widgets without a browser or a kernel: a recording comm and the messages a browser sends.

The ``sent`` fixture in ``tests/conftest.py`` installs :class:`RecordingComm` for a test.
"""

from __future__ import annotations

import uuid
from typing import Any

import ipywidgets

__all__ = ["RecordingComm", "browser_sets", "browser_clicks"]


class RecordingComm:
    """Stands in for the kernel comm: keeps everything the kernel would send to the browser."""

    def __init__(self, sent: list[Any], **kw: Any) -> None:
        self.comm_id = kw.get("comm_id") or uuid.uuid4().hex
        self.kernel = object()  # ipywidgets only sends when the comm has a kernel
        self._sent = sent
        sent.append(("open", kw.get("data")))

    def open(self, *a: Any, **kw: Any) -> None:
        pass

    def on_msg(self, callback: Any) -> None:
        pass

    def on_close(self, callback: Any) -> None:
        pass

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self._sent.append(("send", data))

    def close(self, *a: Any, **kw: Any) -> None:
        self._sent.append(("close", None))


def browser_sets(widget: ipywidgets.Widget, **state: Any) -> None:
    """What the browser sends when a person changes a control."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                        "buffers": []})


def browser_clicks(button: ipywidgets.Button) -> None:
    """What the browser sends when a person clicks a button (Button._handle_button_msg)."""
    button._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}},
                        "buffers": []})
