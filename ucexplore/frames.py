"""Records → pandas: one row per object, the API's own column names, coerced dtypes, provenance in ``attrs``.

Coercions (declared per endpoint in ``dtypes``; booleans are also recognised on their own):

* ``"bool"``: ``"true"``/``"false"`` → ``bool`` (pandas ``boolean`` when some are missing)
* ``"int"``: nullable ``Int64``; ``"float"``: ``float64``
* timestamps → UTC ``datetime64[ns, UTC]``: ``"datetime"`` (ISO-8601: Finesse, Webex, CUPI),
  ``"epoch_ms"`` (CUMI ``ArrivalTime``), ``"mdy"`` (Webex XML ``MM/DD/YYYY HH:MM:SS`` in the site's zone),
  or a :class:`Timestamp` for anything else (a per-row zone column, another format)
* ``"category"`` for small enumerations (agent state, meeting status); ``"str"`` keeps text as is

A value that does not convert is never silently lost: the column keeps its text and a warning is logged.
pandas is imported on first use, never at import time.

Example::

    >>> df = to_frame([{"userName": "jkam", "inactive": "false", "pin": "2001"}],
    ...               columns=("userName", "email"), dtypes={"pin": "int"})
    >>> list(df.columns), str(df["inactive"].dtype), str(df["pin"].dtype)
    (['userName', 'email', 'inactive', 'pin'], 'bool', 'Int64')
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from .redact import redact, redact_params

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DTYPE_KINDS", "Timestamp", "coerce_values", "parse_tz", "provenance", "to_frame", "to_series"]

log = logging.getLogger("ucexplore.frames")


@dataclass(frozen=True)
class Timestamp:
    """A timestamp column: ``unit`` (``"ms"``/``"s"`` for epochs), or ``format`` (strptime; None = ISO-8601),
    and the zone of naive values: ``tz`` (IANA name, ``"+08:00"``, ``"GMT+08:00, Singapore"``, minutes east
    of UTC) or ``tz_column`` (a column holding each row's zone).

    Example::

        >>> Timestamp(format="%m/%d/%Y %H:%M:%S", tz_column="timeZone").tz_column
        'timeZone'
    """

    unit: str | None = None
    format: str | None = None
    tz: Any = None
    tz_column: str | None = None


#: Short names accepted in ``dtypes``.
DTYPE_KINDS: dict[str, Any] = {
    "bool": "bool",
    "boolean": "bool",
    "int": "int",
    "Int64": "int",
    "integer": "int",
    "float": "float",
    "category": "category",
    "str": "str",
    "string": "str",
    "text": "str",
    "object": "str",
    "datetime": Timestamp(),
    "timestamp": Timestamp(),
    "iso": Timestamp(),
    "epoch_ms": Timestamp(unit="ms"),
    "epoch_s": Timestamp(unit="s"),
    "mdy": Timestamp(format="%m/%d/%Y %H:%M:%S"),
    "webex_xml": Timestamp(format="%m/%d/%Y %H:%M:%S"),
}

_BOOL = {
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "TRUE": True,
    "FALSE": False,
    True: True,
    False: False,
    None: None,
    "": None,
}
_OFFSET = re.compile(r"^\s*(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?\b")


def parse_tz(value: Any) -> tzinfo:
    """A tzinfo from a zone name, an offset text (``"+08:00"``, ``"GMT-05:00, Eastern (New York)"``), minutes
    east of UTC (Finesse ``timezoneOffset``), or a tzinfo; None → UTC.

    Example::

        >>> parse_tz("GMT+08:00, Singapore (Singapore)")
        datetime.timezone(datetime.timedelta(seconds=28800))
        >>> parse_tz(330).utcoffset(None)
        datetime.timedelta(seconds=19800)
    """
    if value is None:
        return UTC
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timezone(timedelta(minutes=float(value)))
    text = str(value).strip()
    if text.upper() in ("", "UTC", "GMT", "Z", "GMT+00:00", "UTC+00:00"):
        return UTC
    m = _OFFSET.match(text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {text!r}: use an IANA name (Asia/Singapore) or an offset (+08:00)"
        ) from exc


def _kind(spec: Any) -> Any:
    if spec is None or isinstance(spec, Timestamp):
        return spec
    if isinstance(spec, str):
        if spec in DTYPE_KINDS:
            return DTYPE_KINDS[spec]
        raise ValueError(f"unknown dtype {spec!r}: use one of {sorted(DTYPE_KINDS)} or a frames.Timestamp")
    raise TypeError(f"dtypes values are names or frames.Timestamp, got {type(spec).__name__}")


# -- converters: each returns an array, or None when the values do not convert -------------------------------


def _as_bool(values: list[Any]) -> Any:
    import numpy as np
    import pandas as pd

    try:
        out = [_BOOL[v] for v in values]
    except (KeyError, TypeError):
        out = []
        for v in values:
            if isinstance(v, str) and v.strip().lower() in ("true", "false"):
                out.append(v.strip().lower() == "true")
            elif v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
            elif isinstance(v, bool):
                out.append(v)
            else:
                return None
    if None in out:
        return pd.array(out, dtype="boolean")
    return np.array(out, dtype=bool)


def _blank_mask(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(object) == "")


def _plain_ints(values: list[Any]) -> list[int | None] | None:
    """The values as Python ints (None for blanks) when every one is plainly a whole number: an int, or ASCII
    digits with an optional sign; else None (the general path below decides)."""
    out: list[int | None] = []
    for v in values:
        cls = v.__class__
        if v is None or v == "":
            out.append(None)
        elif cls is int:
            out.append(v)
        elif cls is str and v.isascii() and (v[1:] if v[0] in "+-" else v).isdigit():
            out.append(int(v))
        else:
            return None
    if any(i is not None and not -(2**63) <= i < 2**63 for i in out):
        return None  # beyond Int64: the general path decides
    return out


def _as_number(values: list[Any], name: str, integer: bool) -> Any:
    import pandas as pd

    if integer:  # fast path (no pandas round trips): most integer columns are plain digits
        ints = _plain_ints(values)
        if ints is not None:
            return pd.array(ints, dtype="Int64")
    s = pd.Series(values, dtype=object)
    blank = _blank_mask(s)
    num = pd.to_numeric(s.where(~blank, None), errors="coerce")
    bad = num.isna() & ~blank
    if bad.any():
        log.warning(
            "column %s: %d value(s) are not numbers (e.g. %r); kept as text",
            name,
            int(bad.sum()),
            redact(s[bad].iloc[0]),
        )
        return None
    if not integer:
        return num.astype("float64").array
    whole = num.dropna()
    if len(whole) and not (whole % 1 == 0).all():
        log.warning("column %s: not whole numbers; kept as float", name)
        return num.astype("float64").array
    try:
        if len(whole) and (whole.abs() >= 2**63).any():
            raise OverflowError
        return num.astype("Int64").array
    except (TypeError, ValueError, OverflowError):  # beyond 64 bits
        log.warning("column %s: numbers too large for Int64; kept as float", name)
        return num.astype("float64").array


def _as_datetime(values: list[Any], name: str, spec: Timestamp, tz: Any, zones: list[Any] | None) -> Any:
    import pandas as pd

    s = pd.Series(values, dtype=object)
    blank = _blank_mask(s)
    s = s.where(~blank, None)
    if spec.unit:
        num = pd.to_numeric(s, errors="coerce")
        dt = pd.to_datetime(num, unit=spec.unit, utc=True, errors="coerce")
    elif spec.format is None:
        dt = pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce")
    else:
        naive = pd.to_datetime(s, format=spec.format, errors="coerce")
        if zones is not None:
            dt = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
            zs = pd.Series(zones, dtype=object).where(lambda z: z.notna(), None)
            for zone in zs.dropna().unique().tolist() + ([None] if zs.isna().any() else []):
                mask = zs.isna() if zone is None else (zs == zone)
                try:
                    zi = parse_tz(zone if zone is not None else (spec.tz if spec.tz is not None else tz))
                except ValueError:
                    log.warning("column %s: unknown zone %r; those rows are read as UTC", name, zone)
                    zi = UTC
                part = naive[mask].dt.tz_localize(zi, ambiguous="NaT", nonexistent="shift_forward")
                dt[mask] = part.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        else:
            zi = parse_tz(spec.tz if spec.tz is not None else tz)
            dt = naive.dt.tz_localize(zi, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
    bad = dt.isna() & ~blank
    if bad.any():
        log.warning(
            "column %s: %d value(s) are not timestamps (e.g. %r); kept as text",
            name,
            int(bad.sum()),
            redact(pd.Series(values, dtype=object)[bad].iloc[0]),
        )
        return None
    return dt.astype("datetime64[ns, UTC]").array


def _as_category(values: list[Any]) -> Any:
    import pandas as pd

    try:
        return pd.Categorical([None if v == "" else v for v in values])
    except TypeError:  # unhashable (lists)
        return None


def _empty(kind: Any) -> Any:
    import numpy as np
    import pandas as pd

    if kind == "bool":
        return np.array([], dtype=bool)
    if kind == "int":
        return pd.array([], dtype="Int64")
    if kind == "float":
        return np.array([], dtype="float64")
    if kind == "category":
        return pd.Categorical([])
    if isinstance(kind, Timestamp):
        return pd.array([], dtype="datetime64[ns, UTC]")
    return pd.array([], dtype="str")


def coerce_values(
    values: list[Any],
    kind: Any,
    *,
    name: str = "",
    tz: Any = None,
    zones: list[Any] | None = None,
    infer_bool: bool = True,
) -> Any:
    """Convert one column's values to the array for ``kind`` (a :data:`DTYPE_KINDS` name or a
    :class:`Timestamp`); undeclared columns become booleans when every value is true/false.

    Example::

        >>> coerce_values(["true", None], "bool")
        <BooleanArray>
        [True, <NA>]
        Length: 2, dtype: boolean
    """
    kind = _kind(kind)
    if not values:
        return _empty(kind) if kind is not None else _empty("str")
    out: Any = None
    if kind is None:
        if infer_bool:
            first = next((v for v in values if v is not None and v != ""), None)
            try:  # the first value settles most columns at once (a user name is no boolean)
                plausible = first is None or first in _BOOL
            except TypeError:  # unhashable (a list)
                plausible = False
            try:
                distinct = set(values) if plausible else None
            except TypeError:
                distinct = None
            if (
                distinct
                and distinct <= _BOOL.keys()
                and any(v.__class__ in (str, bool) and v != "" for v in distinct)
                and all(v is None or v.__class__ in (str, bool) for v in distinct)
            ):
                out = _as_bool(values)
        return values if out is None else out
    if kind == "bool":
        out = _as_bool(values)
        if out is None:
            log.warning("column %s: not all values are true/false; kept as text", name)
    elif kind == "int":
        out = _as_number(values, name, True)
    elif kind == "float":
        out = _as_number(values, name, False)
    elif kind == "category":
        out = _as_category(values)
    elif kind == "str":
        return values
    elif isinstance(kind, Timestamp):
        try:
            out = _as_datetime(values, name, kind, tz, zones)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a number far outside the datetime range
            if _is_zone_error(exc):
                raise
            log.warning("column %s: values do not convert to timestamps (%s); kept as text", name,
                        type(exc).__name__)
    return values if out is None else out


def _is_zone_error(exc: BaseException) -> bool:
    """A zone the caller named that does not exist is the caller's to fix (parse_tz's ValueError)."""
    return isinstance(exc, ValueError) and str(exc).startswith("unknown time zone")


# -- frames --------------------------------------------------------------------------------------------------


def provenance(
    *,
    service: str,
    host: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    total: int | None = None,
    rows: int | None = None,
    auth: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``df.attrs["ucexplore"]`` record: where the data came from, with secrets removed.

    Example::

        >>> p = provenance(service="uds", host="cucm:8443", path="/cucm-uds/users",
        ...                params={"last": "Ka", "token": "x"}, total=3)
        >>> p["params"], p["total"]
        ({'last': 'Ka', 'token': '*****'}, 3)
    """
    rec = {
        "service": service,
        "host": redact(host),
        "path": redact(path),
        "params": redact_params(dict(params or {})),
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": total,
        "rows": rows,
        "auth": redact(auth) if auth is not None else None,
    }
    for k, v in extra.items():
        rec[k] = redact(v) if isinstance(v, str) else v
    return rec


def to_frame(
    records: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    tz: Any = None,
    infer_bool: bool = True,
) -> pd.DataFrame:
    """One row per record; ``columns`` come first (and exist even when there are no rows), then any other
    field in first-seen order; ``dtypes`` coerces; ``provenance`` goes to ``df.attrs["ucexplore"]`` with
    ``rows`` filled in; ``tz`` is the zone of naive timestamps (e.g. a Webex site's zone).

    Example::

        >>> df = to_frame([], columns=("id", "state"), dtypes={"state": "category"})
        >>> df.shape, str(df["state"].dtype)
        ((0, 2), 'category')
    """
    import pandas as pd

    recs = records if isinstance(records, list) else list(records)
    dtypes = dict(dtypes or {})
    keys: dict[str, Any] = dict.fromkeys(columns or ())
    for r in recs:
        keys.update(r)
    names = list(keys)
    data: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in recs]
        kind = dtypes.get(name)
        zones = None
        if isinstance(kind, Timestamp) and kind.tz_column:
            zones = [r.get(kind.tz_column) for r in recs]
        data[name] = coerce_values(values, kind, name=name, tz=tz, zones=zones, infer_bool=infer_bool)
    df = pd.DataFrame(data, columns=names) if names else pd.DataFrame(index=pd.RangeIndex(len(recs)))
    if provenance is not None:
        df.attrs["ucexplore"] = {**provenance, "rows": len(df)}
    return df


def to_series(
    record: Mapping[str, Any],
    *,
    columns: Sequence[str] | None = None,
    dtypes: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    tz: Any = None,
) -> pd.Series:
    """One object as a Series indexed by field name, with the same coercions as :func:`to_frame`.

    Example::

        >>> s = to_series({"loginId": "1001", "wrapUpTimer": "30"}, dtypes={"wrapUpTimer": "int"})
        >>> int(s["wrapUpTimer"]) + 1
        31
    """
    df = to_frame([record], columns=columns, dtypes=dtypes, tz=tz)
    s = df.iloc[0].copy()
    s.name = None
    s.attrs.clear()
    if provenance is not None:
        s.attrs["ucexplore"] = {**provenance, "rows": 1}
    return s
