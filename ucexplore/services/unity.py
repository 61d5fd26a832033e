"""Cisco Unity Connection ``/vmrest``: CUPI (provisioning, administrator) and CUMI (a user's mailbox).

JSON is requested (``Accept: application/json``) and CUPI's JSON quirks are handled: the ``@total`` count, a
lone object instead of a one-item list, ``{"@total":"0"}`` for nothing, and every value a string (booleans,
integers and ``CreationTime`` are coerced). XML (``<Users total="…">``) is read the same way, should a server
or proxy answer with it.

Searching (CUPI allows **one** criterion per request): ``users("(alias startswith j)")`` passes a raw CUPI
query; ``users(alias="j")`` is the convenience form and means ``(alias startswith j)``. For an exact match use
the raw form, ``users("(alias is jkam)")``. ``sort="alias"`` means ``(alias asc)``, ``sort="-alias"``
``(alias desc)`` (CUPI: the sort column must be the query column).

Who may call what: CUPI (``users``, ``call_handlers``, ``distribution_lists`` …) needs an administrator,
HTTP Basic ``auth=(admin, password)``. CUMI (``mailbox``, ``folders``, ``messages``) is the signed-in user's
own mailbox — Basic with the user's web application password, or a Unity Connection SSO sign-in
(``ux.UnitySSO``; a CUCM token is not valid here) — or, for an administrator, ``user_object_id=``.

Example::

    >>> cuc = Unity("https://cuc.example.com", auth=("admin", "pa55word"))
    >>> cuc.users(alias="j")                  # doctest: +SKIP
    >>> me = Unity("https://cuc.example.com", auth=flow)  # doctest: +SKIP
    >>> me.messages(read=False)               # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import InvalidArgument
from .base import Fetch, NoPaging, PageNumber, Service

__all__ = ["Unity", "cupi_query", "cupi_sort"]

#: CUPI page size (the server's default is 2001; any size works, 200 keeps pages light and concurrent)
CUPI_PAGE = 200
#: CUMI page size (``rowsperpage``: CUMI documents its paging parameters in lower case)
CUMI_PAGE = 100

_CUPI_PAGING = PageNumber(number="pageNumber", size="rowsPerPage", page=CUPI_PAGE, id="ObjectId")
_CUMI_PAGING = PageNumber(number="pagenumber", size="rowsperpage", page=CUMI_PAGE, id="MsgId")

_OPERATORS = ("is", "startswith", "isnull", "isnotnull")
_RAW_QUERY = re.compile(r"^\(\s*\w+\s+(?:is|startswith|isnull|isnotnull)\b.*\)$", re.IGNORECASE | re.DOTALL)


def cupi_query(query: str | None, criteria: Mapping[str, Any], columns: Mapping[str, str]) -> str | None:
    """The CUPI ``query=`` value from a raw query or one convenience keyword (``column startswith value``).

    Example::

        >>> cupi_query(None, {"alias": "j"}, {"alias": "alias"})
        '(alias startswith j)'
        >>> cupi_query("(alias is jkam)", {}, {})
        '(alias is jkam)'
    """
    given = {k: v for k, v in criteria.items() if v is not None}
    if query is not None and not isinstance(query, str):
        raise InvalidArgument(f"query= takes a CUPI query string such as '(alias startswith j)', got {query!r}")
    if query is not None and query.strip() == "":
        query = None
    if len(given) + (query is not None) > 1:
        names = ", ".join((["query"] if query is not None else []) + sorted(given))
        raise InvalidArgument(
            f"CUPI takes one search criterion per request; got {names}. Search on one column and filter the "
            "rest in pandas, e.g. df[df['LastName'].str.startswith('K')]"
        )
    if query is not None:
        q = query.strip()
        if not q.startswith("("):  # "alias startswith j" → "(alias startswith j)"
            q = f"({q})"
        if not _RAW_QUERY.match(q):
            raise InvalidArgument(
                f"not a CUPI query: {query!r}; it looks like (column is|startswith value) or (column isnull)"
            )
        return q
    if not given:
        return None
    name, value = next(iter(given.items()))
    text = str(value).strip()
    if not text:
        raise InvalidArgument(f"{name}= needs a value (the start of the {columns[name]} to look for)")
    if "(" in text or ")" in text:
        raise InvalidArgument(f"{name}={value!r}: CUPI query values cannot contain parentheses")
    return f"({columns[name]} startswith {text})"


def cupi_sort(sort: str | None) -> str | None:
    """The CUPI ``sort=`` value: ``"alias"`` → ``(alias asc)``, ``"-alias"`` → ``(alias desc)``; a raw
    ``(column asc|desc)`` is kept.

    Example::

        >>> cupi_sort("-alias"), cupi_sort("(lastname asc)")
        ('(alias desc)', '(lastname asc)')
    """
    if sort is None or not str(sort).strip():
        return None
    s = str(sort).strip()
    if s.startswith("("):
        return s
    parts = s.split()
    if len(parts) == 2 and parts[1].lower() in ("asc", "desc"):
        return f"({parts[0]} {parts[1].lower()})"
    if s.startswith("-"):
        return f"({s[1:].strip()} desc)"
    return f"({s.lstrip('+').strip()} asc)"


class _Cupi(Fetch):
    """A CUPI list: ``query`` (positional or keyword), ``sort``, and convenience criteria — keyword →
    CUPI column — each meaning ``(column startswith value)``; only one criterion per call."""

    def __init__(self, path: str, *, criteria: Mapping[str, str], **kw: Any) -> None:
        self.criteria = dict(criteria)
        params = {"query": "query", "sort": "sort", **{k: k for k in self.criteria}}
        super().__init__(path, params=params, paging=_CUPI_PAGING, id="ObjectId", **kw)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        kw = dict(kwargs)
        n = len(self.placeholders)
        if len(args) > n:  # the positional after the path's placeholders is the query
            if len(args) > n + 1:
                names = ", ".join([*self.placeholders, "query"])
                raise InvalidArgument(
                    f"{self.name}() takes {n + 1} positional argument(s) ({names}), got {len(args)}"
                )
            if "query" in kw:
                raise InvalidArgument(f"{self.name}() got 'query' twice")
            kw["query"] = args[n]
            args = args[:n]
        criteria = {k: kw.pop(k) for k in list(kw) if k in self.criteria}
        kw["query"] = cupi_query(kw.pop("query", None), criteria, self.criteria)
        kw["sort"] = cupi_sort(kw.get("sort"))
        return super().bind(args, kw)

    def _make_signature(self) -> inspect.Signature:
        sig = super()._make_signature()
        P = inspect.Parameter
        ps = list(sig.parameters.values())
        head = [p for p in ps if p.kind is P.POSITIONAL_OR_KEYWORD]
        rest = [p for p in ps if p.kind is not P.POSITIONAL_OR_KEYWORD and p.name != "query"]
        return sig.replace(parameters=[*head, P("query", P.POSITIONAL_OR_KEYWORD, default=None), *rest])


_USER_COLUMNS = (
    "ObjectId",
    "Alias",
    "FirstName",
    "LastName",
    "DisplayName",
    "EmailAddress",
    "DtmfAccessId",
    "Department",
    "Title",
    "ListInDirectory",
    "IsVmEnrolled",
    "Inactive",
    "CreationTime",
    "URI",
)
_USER_DTYPES = {
    "CreationTime": "datetime",
    "ListInDirectory": "bool",
    "IsVmEnrolled": "bool",
    "Inactive": "bool",
    "IsTemplate": "bool",
    "Language": "int",
    "TimeZone": "int",
    "DtmfAccessId": "str",
}
_HANDLER_DTYPES = {
    "CreationTime": "datetime",
    "IsPrimary": "bool",
    "Undeletable": "bool",
    "Language": "int",
    "TimeZone": "int",
    "DtmfAccessId": "str",
}
_DL_DTYPES = {
    "CreationTime": "datetime",
    "IsPublic": "bool",
    "AllowContacts": "bool",
    "AllowForeignMessage": "bool",
    "Undeletable": "bool",
    "DtmfAccessId": "str",
}
_HANDLER_COLUMNS = ("ObjectId", "DisplayName", "DtmfAccessId", "IsPrimary", "Undeletable", "CreationTime", "URI")
_MESSAGE_COLUMNS = (
    "MsgId",
    "Subject",
    "Read",
    "Priority",
    "ArrivalTime",
    "Duration",
    "From.DisplayName",
    "From.DtmfAccessId",
    "CallerId.CallerNumber",
    "CallerId.CallerName",
    "MsgType",
    "Size",
    "URI",
)
_MESSAGE_DTYPES = {
    "ArrivalTime": "epoch_ms",
    "Duration": "int",
    "Size": "int",
    "IMAPUid": "int",
    "Read": "bool",
    "Dispatch": "bool",
    "Secure": "bool",
    "FromSub": "bool",
    "Priority": "category",
    "Sensitivity": "category",
    "MsgType": "category",
    "From.DtmfAccessId": "str",
    "CallerId.CallerNumber": "str",
}
_MAILBOX_PARAMS = {"user_object_id": "userobjectid"}


class Unity(Service):
    """Cisco Unity Connection (CUPI + CUMI under ``/vmrest``); list calls return DataFrames, one object a
    Series. See the module docstring for searching and for who may call what.

    Example::

        >>> cuc = Unity("https://cuc.example.com", auth=("admin", "pa55word"))
        >>> cuc.users("(alias startswith j)", limit=50)          # doctest: +SKIP
    """

    product = "unity"
    accept = "application/json"
    server_hint: ClassVar[str] = "Unity Connection's /vmrest is on https://<unity-connection>"
    error_hints: ClassVar[Mapping[int, str]] = {
        400: "check the arguments: a CUPI query looks like (alias startswith j) — one criterion, one column — "
        "and a sort must name the query column; an administrator reading a mailbox passes user_object_id=",
        403: "CUPI (users, call handlers, distribution lists) needs an administrator: auth=(admin, password); "
        "a user reads only their own mailbox, an administrator another user's with user_object_id=",
        404: "check the ObjectId / MsgId / folder (inbox, sent, deleted): it does not exist on this server",
        415: "the request body type was refused: send application/json or application/xml",
        503: "Unity Connection is busy or its REST service is stopped: try again in a few minutes",
    }

    # -- system ----------------------------------------------------------------------------------------
    version = Fetch(
        "/vmrest/version",
        one=True,
        columns=("name", "version"),
        doc="The REST API version (any valid credentials). Example: cuc.version()['version']",
    )

    # -- CUPI ------------------------------------------------------------------------------------------
    users = _Cupi(
        "/vmrest/users",
        item="User",
        criteria={
            "alias": "alias",
            "first_name": "firstname",
            "last_name": "lastname",
            "display_name": "displayname",
            "dtmf_access_id": "dtmfaccessid",
            "email": "emailaddress",
        },
        columns=_USER_COLUMNS,
        dtypes=_USER_DTYPES,
        doc="CUPI users (administrator), every page. `query` is a raw CUPI query such as "
        "'(alias startswith j)'; or one keyword — alias, first_name, last_name, display_name, dtmf_access_id, "
        "email — meaning (column startswith value); sort='alias' or '-alias'. "
        "Example: cuc.users(alias='j') or cuc.users('(dtmfaccessid is 2001)')",
    )
    user = Fetch(
        "/vmrest/users/{object_id}",
        one=True,
        item="User",
        columns=_USER_COLUMNS,
        dtypes=_USER_DTYPES,
        doc="One CUPI user by ObjectId (administrator). Example: cuc.user(df.loc[0, 'ObjectId'])",
    )
    call_handlers = _Cupi(
        "/vmrest/handlers/callhandlers",
        item="Callhandler",
        criteria={"display_name": "displayname", "dtmf_access_id": "dtmfaccessid"},
        columns=_HANDLER_COLUMNS,
        dtypes=_HANDLER_DTYPES,
        doc="Call handlers (system handlers and every user's primary handler), every page; same searching "
        "as users(). Example: cuc.call_handlers(display_name='Op')",
    )
    call_handler = Fetch(
        "/vmrest/handlers/callhandlers/{object_id}",
        one=True,
        item="Callhandler",
        columns=_HANDLER_COLUMNS,
        dtypes=_HANDLER_DTYPES,
        doc="One call handler by ObjectId. Example: cuc.call_handler(user['CallHandlerObjectId'])",
    )
    distribution_lists = _Cupi(
        "/vmrest/distributionlists",
        item="DistributionList",
        criteria={"alias": "alias", "display_name": "displayname", "dtmf_access_id": "dtmfaccessid"},
        columns=(
            "ObjectId",
            "Alias",
            "DisplayName",
            "DtmfAccessId",
            "IsPublic",
            "Undeletable",
            "CreationTime",
            "URI",
        ),
        dtypes=_DL_DTYPES,
        doc="System distribution lists, every page; same searching as users(). "
        "Example: cuc.distribution_lists(alias='dept-')",
    )
    distribution_list_members = _Cupi(
        "/vmrest/distributionlists/{object_id}/distributionlistmembers",
        item="DistributionListMember",
        criteria={"alias": "alias", "display_name": "displayname"},
        columns=("ObjectId", "MemberUserObjectId", "Alias", "DisplayName", "DtmfAccessId"),
        dtypes={"DtmfAccessId": "str"},
        doc="The members of one distribution list, every page. "
        "Example: cuc.distribution_list_members(dl_object_id)",
    )

    # -- CUMI ------------------------------------------------------------------------------------------
    mailbox = Fetch(
        "/vmrest/mailbox",
        one=True,
        columns=("DisplayName", "CurrentSizeInBytes", "IsPrimary", "IsStoreFull", "IsMailboxMounted",
                 "IsWarningQuotaExceeded", "IsReceiveQuotaExceeded", "IsSendQuotaExceeded", "ReceiveQuota",
                 "WarningQuota", "SendQuota"),
        params=_MAILBOX_PARAMS,
        dtypes={
            "CurrentSizeInBytes": "int",
            "ReceiveQuota": "int",
            "WarningQuota": "int",
            "SendQuota": "int",
        },
        doc="The signed-in user's mailbox: size and quotas (CUMI; an administrator passes user_object_id=). "
        "Example: me.mailbox()['CurrentSizeInBytes']",
    )
    folders = Fetch(
        "/vmrest/mailbox/folders",
        item="Folder",
        params=_MAILBOX_PARAMS,
        paging=NoPaging(),
        columns=("DisplayName", "MessageCount", "USN", "UIDValidity", "URI"),
        dtypes={"MessageCount": "int", "USN": "int", "UIDValidity": "int"},
        doc="The mailbox folders (inbox, sent, deleted) with their message counts (CUMI). "
        "Example: me.folders().set_index('DisplayName')['MessageCount']",
    )
    messages = Fetch(
        "/vmrest/mailbox/folders/{folder}/messages",
        item="Message",
        paging=_CUMI_PAGING,
        defaults={"folder": "inbox"},
        params={
            "read": "read",
            "priority": "priority",
            "type": "type",
            "dispatch": "dispatch",
            "sortkey": "sortkey",
            "sortorder": "sortorder",
            "user_object_id": "userobjectid",
        },
        columns=_MESSAGE_COLUMNS,
        dtypes=_MESSAGE_DTYPES,
        id="MsgId",
        doc="Messages of a folder (inbox, sent, deleted) of the signed-in user's mailbox (CUMI), every page: "
        "ArrivalTime as a UTC timestamp, Duration in ms, From/CallerId flattened (From.DisplayName). Filters: "
        "read=True/False, priority='urgent'|'normal'|'low', type='voice'…, sortkey='arrivaltime'|'priority', "
        "sortorder='ascending'|'descending'; an administrator passes user_object_id=. "
        "Example: me.messages(read=False)",
    )
    message = Fetch(
        "/vmrest/messages/{msg_id}",
        one=True,
        columns=_MESSAGE_COLUMNS,
        params=_MAILBOX_PARAMS,
        force_list=("Attachments.Attachment", "Recipients.Recipient"),
        dtypes=_MESSAGE_DTYPES,
        doc="One message with its attachments and recipients (CUMI). "
        "Example: me.message(me.messages().loc[0, 'MsgId'])",
    )

    # -- hooks -----------------------------------------------------------------------------------------
    def sign_in_hint(self) -> str:
        """How to (re)authenticate with these credentials, Unity-specific: CUPI needs an administrator, and
        only Unity Connection's own SSO tokens are valid here (``ux.UnitySSO``), never a CUCM token.

        Example::

            >>> Unity("https://cuc.example.com", auth="a-token-from-cucm-sso").sign_in_hint()[:38]
            'Unity Connection accepts only tokens i'
        """
        creds = self.credentials
        flow = getattr(creds, "flow", None)
        unity_sso = "ux.UnitySSO(base_url, redirect_uri=...)"
        if flow is not None:
            if getattr(flow, "product", None) == "unity":
                return str(flow.sign_in_hint())
            name = getattr(flow, "display_name", None) or type(flow).__name__
            return (
                f"Unity Connection accepts only tokens it issued itself, not a {name} sign-in: sign in with "
                f"{unity_sso} and pass that flow as auth= (or use Basic auth=(user, password))"
            )
        if creds.kind == "bearer":
            issuer = getattr(getattr(creds, "token", None), "issuer", None)
            source = f" (this one was issued by {issuer})" if issuer and issuer != "unity" else ""
            return (
                f"Unity Connection accepts only tokens it issued itself{source}: sign in to Unity Connection "
                f"with {unity_sso} and pass that flow as auth=, so it is used until it expires"
            )
        if creds.kind == "basic":
            return (
                "check the user name and password: CUPI needs an administrator account, CUMI the user's own "
                "web application password (or an administrator with user_object_id=)"
            )
        return (
            "Unity Connection needs credentials: auth=(admin, password) for CUPI, or a Unity Connection "
            f"sign-in ({unity_sso}) or auth=(user, password) for the user's own mailbox"
        )
