"""Declarative services: a product file lists its endpoints; this module does the rest.

Each :class:`Fetch` on a :class:`Service` subclass becomes two methods: ``client.users(...)`` (synchronous,
works in notebooks, scripts and running loops alike) and ``await client.users_async(...)``. List endpoints
return a DataFrame with every page, one-object endpoints a pandas Series; ``raw=True`` returns the decoded
records instead; ``limit=`` caps the total number of rows. Paging styles: :class:`Offset` (UDS
``start``/``max``, the Webex XML API's ``startFrom``/``maximumNum``), :class:`PageNumber` (CUPI/CUMI
``pageNumber``/``rowsPerPage``), :class:`Cursor` (Webex ``Link: rel="next"``).

Example (a whole product file)::

    class UDS(Service):
        \"\"\"CUCM User Data Service. Example: ux.UDS(lab.urls["cucm"], auth=tok).users(last="Ka")\"\"\"
        product = "uds"
        accept = "application/xml"
        version = Fetch("/cucm-uds/version", one=True)
        users = Fetch("/cucm-uds/users", item="user",
                      paging=Offset(start="start", size="max", first=0, page=64, total="totalCount"),
                      params=("last", "first", "name", "number", "email"),
                      columns=("id", "userName", "firstName", "lastName"), id="id")
        user = Fetch("/cucm-uds/user/{user_id}", one=True)

Imperative calls (Finesse ``set_state``, WebDialer SOAP) are ``async def …_async`` methods that use
:meth:`Service._request`, plus ``name = sync_twin(name_async)``.
"""

from __future__ import annotations

import asyncio
import difflib
import enum
import functools
import keyword
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..decode import DEFAULT_TOTAL_KEYS, Meta, RecordSpec, decode_records, error_from_response
from ..errors import InvalidArgument, UcError, remember
from ..frames import provenance as make_provenance
from ..frames import to_frame, to_series
from ..redact import redact
from ..transport import PROGRESS_MIN_PAGES, Progress, RetryPolicy, Transport, run_sync

if TYPE_CHECKING:  # pragma: no cover
    import inspect

__all__ = [
    "Cursor",
    "Fetch",
    "NoPaging",
    "Offset",
    "PageNumber",
    "Paging",
    "Request",
    "Service",
    "sync_twin",
]

log = logging.getLogger("ucexplore.services")

T = TypeVar("T")

Page = tuple[list[dict[str, Any]], Meta]
FetchPage = Callable[..., Awaitable[Page]]
ProgressFactory = Callable[[int | None], Progress]


# ============================================================================================================
# paging styles
# ============================================================================================================


async def _gather(coros: Iterable[Awaitable[Any]]) -> None:
    """Run concurrently; on the first failure cancel the rest and raise that failure (not a group)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:
        return
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _dedupe(records: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    if not key or not records:
        return records
    seen: set[Any] = set()
    out: list[dict[str, Any]] = []
    for r in records:
        k = r.get(key)
        if k is None or k.__class__ in (list, dict):
            out.append(r)
            continue
        if k in seen:
            continue
        seen.add(k)
        out.append(r)
    if len(out) < len(records):
        log.info(
            "dropped %d duplicate row(s) by %s: the data shifted while paging", len(records) - len(out), key
        )
    return out


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class Paging:
    """Base of the paging styles: :meth:`collect` fetches every page needed and returns the rows in order."""

    id: str | None = None
    total: tuple[str, ...] = ()

    async def collect(
        self,
        fetch_page: FetchPage,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        """Fetch what ``limit`` needs (everything when None) and return ``(records, first_page_meta)``."""
        raise NotImplementedError


@dataclass(frozen=True)
class NoPaging(Paging):
    """One request returns everything (``limit`` still caps the rows).

    Example::

        >>> NoPaging().total
        ()
    """

    id: str | None = None
    total: tuple[str, ...] = ()

    async def collect(
        self,
        fetch_page: FetchPage,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        records, meta = await fetch_page({})
        return (records if limit is None else records[:limit]), meta


@dataclass(frozen=True)
class Offset(Paging):
    """Offset paging: ask for ``size`` rows from ``start`` (``first`` is the first row's offset: 0 for UDS,
    1 for the Webex XML API). The first page gives the total; the rest are fetched concurrently, advancing
    by what the server actually returned (a short page gets its gap fetched).

    Example::

        >>> Offset(start="start", size="max", first=0, page=64, total="totalCount").values(128, 64)
        {'start': 128, 'max': 64}
    """

    start: str = "start"
    size: str = "max"
    first: int = 0
    page: int = 64
    total: str | tuple[str, ...] = ("totalCount",)
    returned: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", _names(self.total))
        if self.page < 1:
            raise ValueError("page must be at least 1")

    def values(self, offset: int, count: int) -> dict[str, Any]:
        """The paging parameters for rows ``offset`` … ``offset + count - 1`` (0-based)."""
        return {self.start: self.first + offset, self.size: count}

    async def collect(
        self,
        fetch_page: FetchPage,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        ask = self.page if limit is None else max(1, min(self.page, limit))
        first, meta = await fetch_page(self.values(0, ask))
        got = len(first)
        pieces: dict[int, list[dict[str, Any]]] = {0: first}
        total = meta.total
        if got == 0 or (limit is not None and got >= limit):
            return _finish(pieces, self.id, limit), meta
        if total is None:  # no total reported: walk sequentially until a short page
            offset, count = got, ask
            while limit is None or offset < limit:
                count = ask if limit is None else min(ask, limit - offset)
                rows, _ = await fetch_page(self.values(offset, count))
                if not rows:
                    break
                pieces[offset] = rows
                offset += len(rows)
                if len(rows) < count:
                    break
            return _finish(pieces, self.id, limit), meta
        want = total if limit is None else min(total, limit)
        if got >= want:
            return _finish(pieces, self.id, limit), meta
        step = min(ask, got)  # the server clamped the page size: ask for what it gives
        starts = range(got, want, step)
        bar = progress(1 + len(starts))
        bar.update(1)

        async def span(a: int, b: int) -> None:
            count = b - a
            rows, _ = await fetch_page(self.values(a, count))
            bar.update(1)
            if len(rows) >= count:
                pieces[a] = rows[:count]
                return
            if not rows:
                log.warning("no rows at offset %d (expected %d): the data changed while paging", a, count)
                return
            pieces[a] = rows
            bar.add_total(1)
            await span(a + len(rows), b)  # fetch the gap the short page left

        try:
            await _gather(span(a, min(a + step, want)) for a in starts)
        finally:
            bar.close()
        return _finish(pieces, self.id, limit), meta


@dataclass(frozen=True)
class PageNumber(Paging):
    """Page-number paging (CUPI/CUMI ``pageNumber`` from 1 and ``rowsPerPage``): the first page gives the
    total, the other pages are fetched concurrently.

    Example::

        >>> PageNumber(number="pageNumber", size="rowsPerPage", page=100).values(3, 100)
        {'pageNumber': 3, 'rowsPerPage': 100}
    """

    number: str = "pageNumber"
    size: str = "rowsPerPage"
    first: int = 1
    page: int = 100
    total: str | tuple[str, ...] = ("@total", "total")
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", _names(self.total))
        if self.page < 1:
            raise ValueError("page must be at least 1")

    def values(self, number: int, size: int) -> dict[str, Any]:
        """The paging parameters for page ``number`` (as the server counts) of ``size`` rows."""
        return {self.number: number, self.size: size}

    async def collect(
        self,
        fetch_page: FetchPage,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        ask = self.page if limit is None else max(1, min(self.page, limit))
        first, meta = await fetch_page(self.values(self.first, ask))
        got = len(first)
        pieces: dict[int, list[dict[str, Any]]] = {0: first}
        total = meta.total
        if got == 0 or (limit is not None and got >= limit):
            return _finish(pieces, self.id, limit), meta
        if total is None:
            index = 1
            while limit is None or index * ask < limit:
                rows, _ = await fetch_page(self.values(self.first + index, ask))
                if not rows:
                    break
                pieces[index * ask] = rows
                index += 1
                if len(rows) < ask:
                    break
            return _finish(pieces, self.id, limit), meta
        want = total if limit is None else min(total, limit)
        if got >= want:
            return _finish(pieces, self.id, limit), meta
        step = min(ask, got)
        count_pages = math.ceil(want / step)
        bar = progress(count_pages)
        bar.update(1)

        async def one(i: int) -> None:
            a = i * step
            need = min(step, want - a)
            rows, _ = await fetch_page(self.values(self.first + i, step))
            bar.update(1)
            if len(rows) >= need:
                pieces[a] = rows[:need]
                return
            pieces[a] = rows
            if rows:
                await gap(a + len(rows), a + need)

        async def gap(a: int, b: int) -> None:
            p = math.gcd(a, b)  # pages of p rows line up with both ends of the gap
            if (b - a) // p > 64:
                log.warning("a short page left rows %d-%d that cannot be fetched by page number", a, b - 1)
                return
            bar.add_total((b - a) // p)

            async def sub(j: int) -> None:
                rows, _ = await fetch_page(self.values(self.first + j, p))
                bar.update(1)
                pieces[j * p] = rows[:p]

            await _gather(sub(j) for j in range(a // p, b // p))

        try:
            await _gather(one(i) for i in range(1, count_pages))
        finally:
            bar.close()
        return _finish(pieces, self.id, limit), meta


@dataclass(frozen=True)
class Cursor(Paging):
    """Cursor paging (Webex ``Link: <…>; rel="next"``): followed one page after another with the largest
    page size allowed; query parameters a ``next`` link dropped are put back.

    Example::

        >>> Cursor(size="max", page=100).fix_next("https://h/v1/people?cursor=Y2", {"displayName": "Ka"}, 100)
        'https://h/v1/people?cursor=Y2&displayName=Ka&max=100'
    """

    size: str = "max"
    page: int = 100
    id: str | None = "id"
    total: tuple[str, ...] = ()

    def fix_next(self, url: str, params: Mapping[str, Any], size: int) -> str:
        """``url`` with every parameter of the first request it lost (and a usable page size) re-appended."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        present = {k for k, _ in query}
        extra: list[tuple[str, str]] = []
        for k, v in params.items():
            if k in present or k == self.size or v is None:
                continue
            for one in v if isinstance(v, (list, tuple)) else (v,):
                extra.append((k, str(one)))
        sizes = [v for k, v in query if k == self.size]
        changed = bool(extra)
        if not sizes:
            extra.append((self.size, str(size)))
            changed = True
        elif any(v in ("", "null", "None") for v in sizes):
            query = [(k, str(size) if k == self.size else v) for k, v in query]
            changed = True
        if not changed:
            return url
        return urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(query + extra, doseq=True), parts.fragment)
        )

    async def collect(
        self,
        fetch_page: FetchPage,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        ask = self.page if limit is None else max(1, min(self.page, limit))
        rows, meta = await fetch_page({self.size: ask})
        out = list(rows)
        nxt = meta.next_url
        seen: set[str] = set()
        pages = 1
        bar: Progress | None = None
        try:
            while nxt and (limit is None or len(out) < limit):
                url = self.fix_next(nxt, params, ask)
                if url in seen:
                    log.warning("the server's next link repeats itself; stopping after %d pages", pages)
                    break
                seen.add(url)
                rows, m = await fetch_page(None, url)
                pages += 1
                if bar is None and pages > PROGRESS_MIN_PAGES:
                    bar = progress(None)
                    bar.update(pages)
                elif bar is not None:
                    bar.update(1)
                out.extend(rows)
                nxt = m.next_url
        finally:
            if bar is not None:
                bar.close()
        out = _dedupe(out, self.id)
        return (out if limit is None else out[:limit]), meta


def _finish(
    pieces: dict[int, list[dict[str, Any]]], key: str | None, limit: int | None
) -> list[dict[str, Any]]:
    records = [r for start in sorted(pieces) for r in pieces[start]]
    records = _dedupe(records, key)
    return records if limit is None else records[:limit]


# ============================================================================================================
# endpoints
# ============================================================================================================


@dataclass
class Request:
    """What :meth:`Service._build_request` returns: one HTTP request to send."""

    method: str
    url: str
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: Any = None  #: bytes, str, or a SecretBody (a body with a credential)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _py_name(wire: str) -> str:
    name = re.sub(r"\W", "_", wire)
    if keyword.iskeyword(name) or not name.isidentifier():
        name += "_"
    return name


def _param_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
            return (
                v.strftime("%Y-%m-%dT%H:%M:%S")
                + (f".{v.microsecond // 1000:03d}" if v.microsecond else "")
                + "Z"
            )
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (list, tuple, set)):
        return [_param_value(x) for x in v]
    if isinstance(v, enum.Enum):
        return v.value
    return v


class Fetch:
    """One endpoint: ``path`` (with ``{placeholders}`` filled from positional or keyword arguments), where
    the records are (``item``/``container``, ``one=True`` for a single object), its ``paging`` style,
    accepted query ``params`` (wire names; ``from`` becomes the keyword ``from_``; ``params=None`` accepts
    any), ``defaults``, ``required``, the usual ``columns`` and ``dtypes`` of its frame, ``force_list`` names,
    and request details (``method``, ``body`` builder, ``accept``, ``headers``, ``idempotent``).

    Example::

        >>> f = Fetch("/cucm-uds/user/{user_id}/devices", item="device", params=("start",))
        >>> f.bind(("jkam",), {"start": 0})
        ('/cucm-uds/user/jkam/devices', {'start': 0})
    """

    def __init__(
        self,
        path: str,
        *,
        item: str | None = None,
        one: bool = False,
        paging: Paging | None = None,
        params: Sequence[str] | Mapping[str, str] | None = (),
        required: Sequence[str] = (),
        defaults: Mapping[str, Any] | None = None,
        columns: Sequence[str] = (),
        dtypes: Mapping[str, Any] | None = None,
        force_list: Sequence[str] = (),
        container: str | None = None,
        method: str = "GET",
        body: Callable[..., Any] | None = None,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
        id: str | None = None,
        idempotent: bool | None = None,
        doc: str | None = None,
    ) -> None:
        self.path = path
        self.item = item
        self.one = one
        self.paging = paging
        self.placeholders = tuple(_PLACEHOLDER.findall(path))
        if params is None:
            self.params: dict[str, str] | None = None
        elif isinstance(params, Mapping):
            self.params = dict(params)
        else:
            self.params = {_py_name(p): p for p in params}
        self.required = tuple(required)
        self.defaults = dict(defaults or {})
        self.columns = tuple(columns)
        self.dtypes = dict(dtypes or {})
        self.force_list = tuple(force_list)
        self.container = container
        self.method = method.upper()
        self.body = body
        self.accept = accept
        self.headers = dict(headers or {})
        self.id = id
        self.idempotent = idempotent
        self.name = ""
        self.owner: type | None = None
        totals = _names(getattr(paging, "total", ()))
        self.spec = RecordSpec(
            item=item,
            container=container,
            one=one,
            force_list=self.force_list,
            total=tuple(dict.fromkeys(totals + DEFAULT_TOTAL_KEYS)),
        )
        self._doc = doc
        self._sig: inspect.Signature | None = None

    # -- descriptor protocol -----------------------------------------------------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner = owner
        self.__doc__ = self._make_doc(owner)
        if f"{name}_async" not in owner.__dict__:
            setattr(owner, f"{name}_async", _AsyncFetch(self))

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fetch = self

        def call(*args: Any, **kwargs: Any) -> Any:
            return obj._run(obj._call(fetch, args, kwargs))

        call.__name__ = self.name
        call.__qualname__ = f"{type(obj).__name__}.{self.name}"
        call.__doc__ = self.__doc__
        call.__signature__ = self.signature()  # type: ignore[attr-defined]
        return call

    # -- arguments ---------------------------------------------------------------------------------------
    def signature(self) -> inspect.Signature:
        """The Python signature of the generated method (for ``help()`` and the Explorer widget)."""
        if self._sig is None:
            self._sig = self._make_signature()
        return self._sig

    def _make_signature(self) -> inspect.Signature:
        import inspect

        P = inspect.Parameter
        ps = [P(n, P.POSITIONAL_OR_KEYWORD, default=self.defaults.get(n, P.empty)) for n in self.placeholders]
        ps.sort(key=lambda p: p.default is not P.empty)  # keep the signature valid
        for py, wire in (self.params or {}).items():
            if py not in self.placeholders:
                ps.append(P(py, P.KEYWORD_ONLY, default=self.defaults.get(wire, self.defaults.get(py))))
        if not self.one:
            ps.append(P("limit", P.KEYWORD_ONLY, default=None))
        ps.append(P("raw", P.KEYWORD_ONLY, default=False))
        if self.params is None:
            ps.append(P("params", P.VAR_KEYWORD))
        return inspect.Signature(ps)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Fill the path and build the query from a call's arguments; wrong arguments raise InvalidArgument
        (also a TypeError)."""
        label = self.name or self.path
        if len(args) > len(self.placeholders):
            raise InvalidArgument(
                f"{label}() takes {len(self.placeholders)} positional argument(s) "
                f"({', '.join(self.placeholders) or 'none'}), got {len(args)}"
            )
        values: dict[str, Any] = {n: self.defaults[n] for n in self.placeholders if n in self.defaults}
        values.update(zip(self.placeholders, args))
        query: dict[str, Any] = {}
        for k, v in kwargs.items():
            if k in self.placeholders:
                if k in self.placeholders[: len(args)]:
                    raise InvalidArgument(f"{label}() got {k!r} twice")
                values[k] = v
            elif self.params is None:
                query[k[:-1] if k.endswith("_") and keyword.iskeyword(k[:-1]) else k] = v
            elif k in self.params:
                query[self.params[k]] = v
            elif k in self.params.values():
                query[k] = v
            else:
                accepted = ", ".join(sorted(self.params)) or "no parameters"
                close = difflib.get_close_matches(k, [*self.params, *self.params.values()], n=1)
                raise InvalidArgument(f"{label}() has no parameter {k!r}" + (f" (did you mean {close[0]!r}?)"
                                                                             if close else ""),
                                      hint=f"{label}() accepts {accepted}")
        for k, v in self.defaults.items():
            if k in self.placeholders:
                continue
            wire = (self.params or {}).get(k, k)
            query.setdefault(wire, v)
        missing = [n for n in self.placeholders if values.get(n) in (None, "")]
        if missing:
            raise InvalidArgument(f"{label}() needs {', '.join(missing)}")
        lacking = [r for r in self.required if query.get(r) in (None, "")]
        if lacking:
            raise InvalidArgument(f"{label}() needs the parameter(s) {', '.join(lacking)}")
        path = _PLACEHOLDER.sub(lambda m: quote(str(values[m.group(1)]), safe=""), self.path)
        return path, {k: _param_value(v) for k, v in query.items() if v is not None}

    def _make_doc(self, owner: type) -> str:
        kind = "pandas Series (one object)" if self.one else "DataFrame (every page)"
        lines = [self._doc or f"{self.method} {self.path} → {kind}."]
        if self._doc:
            lines.append(f"{self.method} {self.path} → {kind}.")
        if self.placeholders:
            lines.append("Path: " + ", ".join(self.placeholders) + ".")
        if self.params:
            lines.append("Filters: " + ", ".join(self.params) + ".")
        extra = "raw=True returns the decoded records" + ("" if self.one else "; limit= caps the total rows")
        lines.append(extra + f"; `await client.{self.name}_async(...)` is the async twin.")
        args = ", ".join(repr(f"<{p}>") for p in self.placeholders)
        lines.append(f"Example: client.{self.name}({args})")
        return "\n\n".join(lines)

    def __repr__(self) -> str:
        return f"<Fetch {self.method} {self.path}{' one' if self.one else ''}>"


class _AsyncFetch:
    """The ``*_async`` twin of a :class:`Fetch`."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.__doc__ = f"Async twin of {fetch.name}(): await it in async code.\n\n{fetch.__doc__}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fetch = self.fetch

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await obj._call(fetch, args, kwargs)

        call.__name__ = f"{fetch.name}_async"
        call.__qualname__ = f"{type(obj).__name__}.{fetch.name}_async"
        call.__doc__ = self.__doc__
        call.__signature__ = fetch.signature()  # type: ignore[attr-defined]
        return call


def sync_twin(async_fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """The synchronous method for an ``async def name_async(self, …)`` method of a Service.

    Example::

        class Finesse(Service):
            async def set_state_async(self, agent_id, state):
                await self._request("PUT", f"/finesse/api/User/{agent_id}", content=...)
            set_state = sync_twin(set_state_async)
    """

    @functools.wraps(async_fn)
    def method(self: Service, *args: Any, **kwargs: Any) -> T:
        return self._run(async_fn(self, *args, **kwargs))

    method.__name__ = async_fn.__name__.removesuffix("_async")
    method.__qualname__ = async_fn.__qualname__.removesuffix("_async")
    return method


# ============================================================================================================
# the service base
# ============================================================================================================


class Service:
    """Base of every product client: holds the :class:`~ucexplore.transport.Transport` and runs the
    :class:`Fetch` endpoints declared on the subclass.

    ``base_url`` is ``scheme://host[:port]`` (a path prefix such as Webex's ``/v1`` is kept); ``auth`` is a
    Token, a bearer string, a ``(user, password)`` tuple, or a sign-in flow; ``verify`` is True by default
    (or a CA bundle path).

    Example::

        >>> class Demo(Service):
        ...     product = "demo"
        ...     things = Fetch("/things", item="thing")
        >>> d = Demo("https://demo.example.com", auth=("jdoe", "pa55word"))
        >>> d
        <Demo https://demo.example.com as jdoe (HTTP Basic)>
    """

    #: short product name used in provenance ("uds", "unity", "finesse", "webex", "webex_xml", "webdialer")
    product: ClassVar[str] = ""
    #: the Accept header sent with every request (a Fetch may override it)
    accept: ClassVar[str | None] = "application/xml"
    #: used when the constructor gets no base_url (Webex: https://webexapis.com/v1)
    default_base_url: ClassVar[str | None] = None
    #: status → hint, overriding the generic hints of ucexplore.decode for this product
    error_hints: ClassVar[Mapping[int, str]] = {}
    #: the zone of naive timestamps in this product's data (e.g. a Webex site's zone)
    timezone: Any = None
    #: where this product's API lives, for a 404 that shows the URL points elsewhere
    server_hint: ClassVar[str] = ""

    def __init__(
        self,
        base_url: str | None = None,
        auth: Any = None,
        *,
        verify: Any = True,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        progress: bool = True,
        http_transport: Any = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        base = base_url or self.default_base_url
        if not base:
            raise TypeError(f"{type(self).__name__}() needs base_url, e.g. 'https://host:8443'")
        hdrs: dict[str, str] = {"Accept": self.accept} if self.accept else {}
        hdrs.update(headers or {})
        self._transport = Transport(
            base,
            auth=auth,
            verify=verify,
            timeout=timeout,
            max_concurrency=max_concurrency,
            retry=retry,
            progress=progress,
            service=self.label,
            headers=hdrs,
            http_transport=http_transport,
            allow_insecure_http=allow_insecure_http,
        )
        self._transport.refresh_on_401 = self.refresh_on_401

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The name used in messages (the class name: ``UDS``, ``Finesse`` …)."""
        return type(self).__name__

    @property
    def transport(self) -> Transport:
        """The underlying :class:`~ucexplore.transport.Transport` (``.stats`` counts requests and retries)."""
        return self._transport

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` (plus any path prefix)."""
        return self._transport.base_url

    @property
    def host(self) -> str:
        """``host[:port]``."""
        return self._transport.host

    @property
    def credentials(self) -> Any:
        """The resolved :class:`~ucexplore.auth.credentials.Credentials`."""
        return self._transport.credentials

    @property
    def auth_description(self) -> str:
        """Who is signed in, without any secret."""
        try:
            return redact(self._transport.credentials.describe())
        except Exception:  # pragma: no cover - a flow in a strange state
            return "unknown"

    @classmethod
    def endpoints(cls) -> dict[str, Fetch]:
        """Every declared endpoint by method name (for the Explorer widget and ``help``).

        Example::

            >>> class Demo(Service):
            ...     things = Fetch("/things", item="thing")
            >>> list(Demo.endpoints())
            ['things']
        """
        out: dict[str, Fetch] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Fetch):
                    out[name] = value
        return out

    def __repr__(self) -> str:
        return redact(f"<{self.label} {self.base_url} as {self.auth_description}>")

    # -- hooks a product file may override ---------------------------------------------------------------
    def sign_in_hint(self) -> str:
        """One sentence on how to (re)authenticate with the credentials this client holds."""
        creds = self._transport.credentials
        flow = getattr(creds, "flow", None)
        if flow is not None and hasattr(flow, "sign_in_hint"):
            try:
                return str(flow.sign_in_hint())
            except Exception:  # pragma: no cover
                pass
        if creds.kind == "basic":
            return "check the user name and password passed as auth=(user, password)"
        if creds.kind == "bearer":
            return "sign in again and pass the new token, or pass the sign-in flow as auth= so it refreshes"
        return (
            f"{self.label} needs credentials here: pass auth= (a token, a sign-in flow, or (user, password))"
        )

    def refresh_on_401(self, response: Any) -> bool:
        """Whether a 401 answer means the token should be refreshed once (default: always)."""
        return True

    def error_decoder(self, response: Any) -> UcError:
        """The exception for an error response (override for product-specific errors)."""
        return error_from_response(
            response, service=self.label, sign_in_hint=self.sign_in_hint(), hints=self.hints_for(response)
        )

    def hints_for(self, response: Any) -> dict[int, str]:
        """:attr:`error_hints`, fitted to the call: a 404 at a path with no id in it ("check the user id" would
        be wrong there) means this is not the product's server at all.

        Example::

            >>> import httpx
            >>> class Demo(Service):
            ...     things = Fetch("/api/things", item="thing")
            ...     thing = Fetch("/api/things/{thing_id}", one=True)
            ...     error_hints = {404: "check the thing id"}
            >>> d = Demo("https://demo.example.com")
            >>> r = httpx.Response(404, request=httpx.Request("GET", "https://demo.example.com/api/things"))
            >>> d.hints_for(r)[404][:55]
            'the server at demo.example.com does not look like Demo:'
        """
        hints = dict(self.error_hints)
        if getattr(response, "status_code", None) != 404:
            return hints
        try:
            path = response.request.url.path
        except (RuntimeError, AttributeError):
            return hints
        for fetch in self.endpoints().values():
            pattern = "/".join("[^/]+" if _PLACEHOLDER.fullmatch(part) else re.escape(part)
                               for part in fetch.path.split("/"))
            if re.search(pattern + "$", path):
                if fetch.placeholders:
                    return hints  # an id was in the path: the product's own 404 hint fits
                break
        where = f" ({self.server_hint})" if self.server_hint else ""
        hints[404] = (f"the server at {self.host} does not look like {self.label}: nothing answers at {path} — "
                      f"check the URL and the port{where}")
        return hints

    async def _build_request(
        self, fetch: Fetch, path: str, query: Mapping[str, Any], paging: Mapping[str, Any]
    ) -> Request:
        """The request for one page: query + paging as URL parameters, or a ``fetch.body`` document."""
        headers = dict(fetch.headers)
        if fetch.accept:
            headers["Accept"] = fetch.accept
        if fetch.body is not None:
            content = fetch.body(self, dict(query), dict(paging))
            if hasattr(content, "__await__"):
                content = await content
            return Request(fetch.method, path, None, headers, content)
        params = {**query, **paging}
        return Request(fetch.method, path, params or None, headers, None)

    def _decode(self, response: Any, fetch: Fetch, sign_in_hint: str | None = None) -> Page:
        """Records and meta of one response (override for envelopes the generic decoder cannot read)."""
        return decode_records(response, fetch.spec, service=self.label, sign_in_hint=sign_in_hint)

    # -- machinery ---------------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of this client synchronously (the worker loop: see ``transport.run_sync``)."""
        return run_sync(coro)

    async def _request(self, method: str, path: str, **kw: Any) -> Any:
        """One request with this service's error decoder: for imperative methods (``set_state`` …).

        Example::

            >>> await self._request("PUT", "/finesse/api/User/1001", content=body,   # doctest: +SKIP
            ...                     headers={"Content-Type": "application/xml"}, expect=(200, 202))
        """
        kw.setdefault("error_decoder", self.error_decoder)
        return await self._transport.request(method, path, **kw)

    async def _call(self, fetch: Fetch, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        kwargs = dict(kwargs)
        limit = kwargs.pop("limit", None)
        raw = bool(kwargs.pop("raw", False))
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise InvalidArgument(f"limit= takes a whole number of rows, 0 or more, got {limit!r}",
                                      hint="limit= caps the total rows returned (not the page size); leave it out "
                                      "(or pass None) for every row")
        if fetch.params is None and "params" in kwargs and isinstance(kwargs["params"], Mapping):
            kwargs.update(kwargs.pop("params"))
        path, query = fetch.bind(args, kwargs)
        started = time.monotonic()
        hint = self.sign_in_hint()
        pages = 0
        arrived: list[tuple[Mapping[str, Any] | None, list[dict[str, Any]]]] = []  # every page that came in

        async def fetch_page(paging: Mapping[str, Any] | None, url: str | None = None) -> Page:
            nonlocal pages
            if url is None:
                req = await self._build_request(fetch, path, query, paging or {})
            else:
                headers = {**fetch.headers, **({"Accept": fetch.accept} if fetch.accept else {})}
                req = Request("GET", url, None, headers, None)
            _, page = await self._transport.fetch(
                req.method,
                req.url,
                lambda r: self._decode(r, fetch, hint),
                params=req.params,
                headers=req.headers or None,
                content=req.content,
                error_decoder=self.error_decoder,
                idempotent=fetch.idempotent,
            )
            pages += 1
            assert page is not None
            if not fetch.one:
                arrived.append((paging, page[0]))
            return page

        if limit == 0 and not fetch.one:
            records: list[dict[str, Any]] = []
            meta = Meta()
        else:
            paging = fetch.paging or NoPaging(id=fetch.id)
            desc = f"{self.label} {path}"

            def progress(total: int | None) -> Progress:
                show = self._transport.progress and (total is None or total > PROGRESS_MIN_PAGES)
                return Progress(show, total=total, desc=desc)

            try:
                records, meta = await paging.collect(fetch_page, params=query, limit=limit, progress=progress)
            except UcError as exc:
                if arrived:  # a later page failed (e.g. an implicit-grant token ran out): keep the rows
                    self._keep_partial(exc, fetch, arrived, limit, raw, path, query)
                remember(exc)
                raise
            if fetch.id and getattr(paging, "id", None) != fetch.id:
                records = _dedupe(records, fetch.id)
        prov = make_provenance(
            service=self.product or self.label.lower(),
            host=self.host,
            path=path,
            params=query,
            total=meta.total,
            rows=len(records),
            auth=self.auth_description,
            pages=pages,
            elapsed_s=round(time.monotonic() - started, 3),
        )
        if fetch.one:
            record = records[0] if records else {}
            if raw:
                return record
            return to_series(
                record, columns=fetch.columns, dtypes=fetch.dtypes, provenance=prov, tz=self.timezone
            )
        if raw:
            return records
        return to_frame(
            records, columns=fetch.columns, dtypes=fetch.dtypes, provenance=prov, tz=self.timezone
        )

    def _keep_partial(
        self,
        exc: UcError,
        fetch: Fetch,
        arrived: list[tuple[Mapping[str, Any] | None, list[dict[str, Any]]]],
        limit: int | None,
        raw: bool,
        path: str,
        query: Mapping[str, Any],
    ) -> None:
        """Attach the rows of the pages that arrived before ``exc`` as ``exc.partial`` (a DataFrame, or the
        records with ``raw=True``), in page order without duplicates, and say so in the message."""
        if getattr(exc, "partial", None) is not None:
            return

        def order(item: tuple[int, tuple[Mapping[str, Any] | None, list[dict[str, Any]]]]) -> tuple[Any, ...]:
            seq, (paging, _) = item
            numbers = tuple(v for v in (paging or {}).values() if v.__class__ is int)  # start, page number
            return (*numbers, seq)

        rows = [r for _, (_, page) in sorted(enumerate(arrived), key=order) for r in page]
        rows = _dedupe(rows, fetch.id or getattr(fetch.paging, "id", None))
        if limit is not None:
            rows = rows[:limit]
        partial: Any = rows
        if not raw:
            prov = make_provenance(service=self.product or self.label.lower(), host=self.host, path=path,
                                   params=query, rows=len(rows), auth=self.auth_description, partial=True)
            partial = to_frame(rows, columns=fetch.columns, dtypes=fetch.dtypes, provenance=prov,
                               tz=self.timezone)
        exc.partial = partial  # type: ignore[attr-defined]
        exc.rows_fetched = len(rows)  # type: ignore[attr-defined]
        if exc.args:
            note = (f"the {len(rows):,} rows fetched before this error are kept: err.partial "
                    "(in a notebook: ux.last_error().partial); run the call again to get every row")
            exc.args = (f"{exc.args[0]}\n→ {note}", *exc.args[1:])

    # -- life cycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connections (the client can still be used afterwards: it reconnects)."""
        self._transport.close()

    async def aclose(self) -> None:
        """Close the HTTP connections from async code."""
        await self._transport.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
