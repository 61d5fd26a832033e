"""Service clients. The declarative base is in :mod:`ucexplore.services.base`; each product (UDS, Unity,
Finesse, Webex, WebexXML, WebDialer) is one short module here, imported on first use.

Example::

    >>> from ucexplore.services import Service, Fetch, Offset
    >>> class Demo(Service):
    ...     things = Fetch("/things", item="thing", paging=Offset(page=50))
    >>> sorted(Demo.endpoints())
    ['things']
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Cursor, Fetch, NoPaging, Offset, PageNumber, Paging, Request, Service, sync_twin

#: product class → module under ucexplore.services (imported lazily)
_PRODUCTS = {
    "UDS": "uds",
    "Unity": "unity",
    "Finesse": "finesse",
    "Webex": "webex",
    "WebexXML": "webex_xml",
    "WebDialer": "webdialer",
}

__all__ = [
    "UDS",
    "Cursor",
    "Fetch",
    "Finesse",
    "NoPaging",
    "Offset",
    "PageNumber",
    "Paging",
    "Request",
    "Service",
    "Unity",
    "WebDialer",
    "Webex",
    "WebexXML",
    "sync_twin",
]


def __getattr__(name: str) -> Any:
    module = _PRODUCTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ucexplore.services' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
