"""Webex REST API (``https://webexapis.com/v1``): people, meetings, meeting participants and rooms.

Lists are ``{"items": [...]}`` paged by ``Link: <…>; rel="next"``: ucexplore follows the links one after
another with the largest page Webex allows (``max=100``) and puts back any query parameter a ``next`` link
dropped. ``429 Too Many Requests`` is waited out as ``Retry-After`` says (the transport does it). Errors are
``{"message", "errors": [{"description"}], "trackingId"}`` → :class:`~ucexplore.errors.ApiError` with
``tracking_id`` (also read from the ``trackingid`` header), which Cisco support asks for.

Example::

    >>> import ucexplore as ux
    >>> wx = ux.Webex(auth="a-personal-access-token")
    >>> wx
    <Webex https://webexapis.com/v1 as Bearer token for unknown user>
    >>> sorted(ux.Webex.endpoints())
    ['me', 'meeting', 'meeting_participants', 'meetings', 'people', 'person', 'rooms']
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import InvalidArgument
from .base import Cursor, Fetch, Page, ProgressFactory, Service

__all__ = ["Webex", "iso_utc"]

WEBEX_BASE_URL = "https://webexapis.com/v1"


# ============================================================================================================
# small helpers (the declarative parts are below)
# ============================================================================================================


def iso_utc(value: Any, name: str = "value") -> str:
    """A date-time as Webex wants it: ISO-8601 in UTC with a ``Z`` (milliseconds only when present).

    Accepts an aware or naive ``datetime`` / ``pandas.Timestamp`` (naive means UTC), a ``date`` (midnight
    UTC) or ISO-8601 text (with ``Z``, an offset, or none = UTC).

    Example::

        >>> from datetime import datetime, timedelta, timezone
        >>> iso_utc(datetime(2026, 11, 2, 17, 0, tzinfo=timezone(timedelta(hours=8))))
        '2026-11-02T09:00:00Z'
        >>> iso_utc("2026-11-02"), iso_utc("2026-11-02T10:00:00.250+01:00")
        ('2026-11-02T00:00:00Z', '2026-11-02T09:00:00.250Z')
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
        except ValueError:
            try:
                import pandas as pd

                dt = pd.Timestamp(text).to_pydatetime()
            except (ValueError, TypeError):
                raise InvalidArgument(
                    f"{name}= takes a datetime or ISO-8601 text such as '2026-11-02T09:00:00Z', got {value!r}"
                ) from None
    else:
        raise InvalidArgument(f"{name}= takes a datetime, a date or ISO-8601 text, got {type(value).__name__}")
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    ms = f".{dt.microsecond // 1000:03d}" if dt.microsecond else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ms + "Z"


class WebexFetch(Fetch):
    """A :class:`Fetch` with three Webex touches: ``positional`` query parameters (wire names) that may also
    be passed positionally (``meeting_participants(meeting_id)``), ``iso`` parameters sent as ISO-8601 UTC
    (``from``/``to``), and ``joined`` parameters whose lists are sent comma-separated (``people(id=[…])``).

    Example::

        >>> f = WebexFetch("/meetingParticipants", params={"meeting_id": "meetingId"},
        ...                positional=("meetingId",), required=("meetingId",))
        >>> f.bind(("abc",), {})
        ('/meetingParticipants', {'meetingId': 'abc'})
    """

    def __init__(
        self,
        path: str,
        *,
        positional: Sequence[str] = (),
        iso: Sequence[str] = (),
        joined: Sequence[str] = (),
        **kw: Any,
    ) -> None:
        super().__init__(path, **kw)
        self.positional = tuple(positional)
        self.iso = tuple(iso)
        self.joined = tuple(joined)

    def _py(self, wire: str) -> str:
        return next((py for py, w in (self.params or {}).items() if w == wire), wire)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        n = len(self.placeholders)
        if self.positional and len(args) > n:
            extra, args = args[n:], args[:n]
            if len(extra) > len(self.positional):
                raise InvalidArgument(
                    f"{self.name}() takes at most {n + len(self.positional)} positional argument(s), "
                    f"got {n + len(extra)}"
                )
            kwargs = dict(kwargs)
            for wire, value in zip(self.positional, extra):
                py = self._py(wire)
                if py in kwargs or wire in kwargs:
                    raise InvalidArgument(f"{self.name}() got {py!r} twice")
                kwargs[py] = value
        path, query = super().bind(args, kwargs)
        for wire in self.joined:
            value = query.get(wire)
            if isinstance(value, (list, tuple, set)):
                query[wire] = ",".join(str(v) for v in value)
        for wire in self.iso:
            if wire in query:
                query[wire] = iso_utc(query[wire], self._py(wire))
        return path, query

    def _make_signature(self) -> inspect.Signature:
        sig = super()._make_signature()
        if not self.positional:
            return sig
        P = inspect.Parameter
        front = [self._py(w) for w in self.positional]
        params = list(sig.parameters.values())
        moved = []
        for name in front:
            p = sig.parameters[name]
            default = P.empty if p.default is None and name in map(self._py, self.required) else p.default
            moved.append(p.replace(kind=P.POSITIONAL_OR_KEYWORD, default=default))
        head = [p for p in params if p.kind is P.POSITIONAL_OR_KEYWORD]
        rest = [p for p in params if p.kind is not P.POSITIONAL_OR_KEYWORD and p.name not in front]
        return sig.replace(parameters=head + moved + rest)


@dataclass(frozen=True)
class WebexCursor(Cursor):
    """:class:`Cursor` paging where a caller's own ``max=`` sets the page size (default: the largest, 100);
    ``limit=`` still caps the total rows.

    Example::

        >>> WebexCursor().page, WebexCursor().size
        (100, 'max')
    """

    async def collect(
        self,
        fetch_page: Any,
        *,
        params: Mapping[str, Any],
        limit: int | None,
        progress: ProgressFactory,
    ) -> Page:
        asked = params.get(self.size)
        if asked not in (None, ""):
            try:
                size = int(asked)
            except (TypeError, ValueError):
                raise InvalidArgument(f"{self.size}= is the page size, a whole number; got {asked!r}") from None
            if size < 1:
                raise InvalidArgument(
                    f"{self.size}= is the page size and must be at least 1 (limit= caps the rows)"
                )
            if size != self.page:
                return await replace(self, page=size).collect(
                    fetch_page, params=params, limit=limit, progress=progress
                )
        return await super().collect(fetch_page, params=params, limit=limit, progress=progress)


# ============================================================================================================
# the client
# ============================================================================================================

PAGES = WebexCursor(size="max", page=100)

# fmt: off
PERSON_COLUMNS = (
    "id", "emails", "displayName", "nickName", "firstName", "lastName", "avatar", "orgId", "created",
    "lastActivity", "status", "type", "phoneNumbers",
)
# fmt: on
PERSON_DTYPES = {"created": "datetime", "lastActivity": "datetime", "status": "category", "type": "category"}

# fmt: off
MEETING_COLUMNS = (
    "id", "meetingNumber", "title", "meetingType", "state", "timezone", "start", "end", "hostUserId",
    "hostDisplayName", "hostEmail", "siteUrl", "webLink", "sipAddress", "scheduledType",
)
# fmt: on
MEETING_DTYPES = {
    "start": "datetime",
    "end": "datetime",
    "state": "category",
    "meetingType": "category",
    "scheduledType": "category",
}

# fmt: off
PARTICIPANT_COLUMNS = (
    "id", "orgId", "host", "coHost", "email", "displayName", "invitee", "muted", "video", "state",
    "joinedTime", "leftTime", "siteUrl", "meetingId", "hostEmail", "meetingStartTime", "devices",
)
# fmt: on
PARTICIPANT_DTYPES = {
    "host": "bool",
    "coHost": "bool",
    "invitee": "bool",
    "muted": "bool",
    "video": "category",
    "state": "category",
    "joinedTime": "datetime",
    "leftTime": "datetime",
    "meetingStartTime": "datetime",
}

# fmt: off
ROOM_COLUMNS = (
    "id", "title", "type", "isLocked", "lastActivity", "creatorId", "created", "ownerId", "isPublic",
)
# fmt: on
ROOM_DTYPES = {
    "type": "category",
    "isLocked": "bool",
    "isPublic": "bool",
    "lastActivity": "datetime",
    "created": "datetime",
}


class Webex(Service):
    """Webex REST API client: people, meetings, meeting participants and rooms as DataFrames.

    ``auth`` is a :class:`~ucexplore.auth.flows.WebexOAuth` flow (its token is refreshed automatically), a
    :class:`~ucexplore.Token`, or a bearer string (a personal access token); ``base_url`` defaults to
    ``https://webexapis.com/v1`` (the lab's is ``lab.urls["webex"] + "/v1"``; ``/v1`` is added when the URL
    has no path). Every list is complete (all pages, one after another, 100 rows a page); ``limit=`` caps
    the total rows, ``raw=True`` returns the decoded records, and each method has an ``*_async`` twin.

    Columns are Webex's own field names; ``start``/``end``/``created``/``lastActivity``/``joinedTime`` are
    UTC timestamps, ``emails`` stays a list, ``state``/``status``/``type`` are categories.

    Example::

        >>> flow = ux.WebexOAuth(client_id, redirect_uri=..., scopes=["spark:all"])   # doctest: +SKIP
        >>> wx = ux.Webex(auth=flow)                                                    # doctest: +SKIP
        >>> wx.meetings(from_="2026-11-01", to="2026-11-08", state="ended")            # doctest: +SKIP
    """

    product = "webex"
    accept = "application/json"
    default_base_url = WEBEX_BASE_URL
    server_hint: ClassVar[str] = "the Webex REST base is https://webexapis.com/v1"
    error_hints: ClassVar[Mapping[int, str]] = {
        400: "check the parameters: from_/to take ISO-8601 date-times (from_ earlier than to), meeting_type is "
        "meetingSeries, scheduledMeeting or meeting; email/display_name must not be empty",
        403: "the token lacks the scope this endpoint needs (sign in with scopes=['spark:all'], or "
        "spark:people_read / meeting:schedules_read / meeting:participants_read / spark:rooms_read); "
        "host_email= for another host needs an administrator",
        404: "no such id (person, meeting or room), or it is not visible to the signed-in user",
        410: "this Webex API version has been retired: update ucexplore",
        423: "Webex says the resource is temporarily unavailable: try again in a moment",
    }

    def __init__(self, auth: Any = None, base_url: str | None = None, **kw: Any) -> None:
        def is_url(v: Any) -> bool:
            return isinstance(v, str) and v.strip().startswith(("http://", "https://"))

        if is_url(auth) and not is_url(base_url):
            auth, base_url = base_url, auth  # Webex(base_url, auth) written the other way round
        base = (base_url or WEBEX_BASE_URL).strip().rstrip("/")
        if isinstance(base, str) and urlsplit(base).path in ("", "/"):
            base += "/v1"
        super().__init__(base, auth, **kw)

    me = WebexFetch(
        "/people/me",
        one=True,
        columns=PERSON_COLUMNS,
        dtypes=PERSON_DTYPES,
        doc="The signed-in person (id, emails, displayName, status …). Example: wx.me()['displayName']",
    )
    people = WebexFetch(
        "/people",
        item="items",
        paging=PAGES,
        params={
            "email": "email",
            "display_name": "displayName",
            "displayName": "displayName",
            "id": "id",
            "org_id": "orgId",
            "calling_data": "callingData",
            "location_id": "locationId",
            "max": "max",
        },
        joined=("id",),
        columns=PERSON_COLUMNS,
        dtypes=PERSON_DTYPES,
        id="id",
        doc="People of the organisation, filtered by email=, display_name= (a prefix; displayName= also "
        "works) or id= (one id or a list). max= is the page size, limit= the total. "
        "Example: wx.people(display_name='Ka', limit=20)",
    )
    person = WebexFetch(
        "/people/{person_id}",
        one=True,
        columns=PERSON_COLUMNS,
        dtypes=PERSON_DTYPES,
        doc="One person by id. Example: wx.person(wx.me()['id'])",
    )
    meetings = WebexFetch(
        "/meetings",
        item="items",
        paging=PAGES,
        params={
            "meeting_type": "meetingType",
            "state": "state",
            "from_": "from",
            "to": "to",
            "host_email": "hostEmail",
            "meeting_number": "meetingNumber",
            "site_url": "siteUrl",
            "web_link": "webLink",
            "room_id": "roomId",
            "scheduled_type": "scheduledType",
            "current": "current",
            "integration_tag": "integrationTag",
            "max": "max",
        },
        iso=("from", "to"),
        columns=MEETING_COLUMNS,
        dtypes=MEETING_DTYPES,
        id="id",
        doc="Meetings of the signed-in user (or of host_email= for an administrator): meeting_type= "
        "(meetingSeries, scheduledMeeting, meeting), state= (scheduled, inProgress, ended …), from_=/to= "
        "(datetime, date or ISO text; sent as UTC ISO-8601). "
        "Example: wx.meetings(meeting_type='meeting', from_=datetime(2026, 11, 1, tzinfo=UTC))",
    )
    meeting = WebexFetch(
        "/meetings/{meeting_id}",
        one=True,
        columns=MEETING_COLUMNS,
        dtypes=MEETING_DTYPES,
        doc="One meeting by id. Example: wx.meeting(wx.meetings(limit=1)['id'][0])",
    )
    meeting_participants = WebexFetch(
        "/meetingParticipants",
        item="items",
        paging=PAGES,
        params={"meeting_id": "meetingId", "host_email": "hostEmail", "email": "email", "max": "max"},
        required=("meetingId",),
        positional=("meetingId",),
        columns=PARTICIPANT_COLUMNS,
        dtypes=PARTICIPANT_DTYPES,
        id="id",
        doc="Who joined a meeting (an ended or in-progress meeting instance). "
        "Example: wx.meeting_participants(meeting_id)",
    )
    rooms = WebexFetch(
        "/rooms",
        item="items",
        paging=PAGES,
        params={"type": "type", "sort_by": "sortBy", "team_id": "teamId", "max": "max"},
        columns=ROOM_COLUMNS,
        dtypes=ROOM_DTYPES,
        id="id",
        doc="Spaces (rooms) the signed-in user is in: type= direct|group, sort_by= id|lastactivity|created. "
        "Example: wx.rooms(type='group')",
    )
