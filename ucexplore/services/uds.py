"""CUCM User Data Service (UDS): ``/cucm-uds/…`` on the CUCM node (8443), XML only.

Anonymous resources (``version``, ``servers``, ``clusterUser``, and ``users`` unless contact-search
authentication is on) need no ``auth=``; a user's own subtree (``user/{id}`` and its devices, extensions,
speed dials, …) needs that user's sign-in: a :class:`~ucexplore.CucmSSO` flow or its token (Bearer), or
``(user, password)`` (HTTP Basic, end users only). An end user may read only their own subtree; an
administrator may read anyone's.

``users(**filters)`` pages with ``start``/``max`` (0-based, the server clamps ``max``, 64 on a default CUCM):
the first page gives ``totalCount``, the rest are fetched concurrently, advancing by what the server returned.

Example::

    >>> import ucexplore as ux
    >>> flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)      # doctest: +SKIP
    >>> ux.login(flow)                                                         # doctest: +SKIP
    >>> uds = ux.UDS(lab.urls["cucm"], auth=flow)                              # doctest: +SKIP
    >>> uds.users(last="Ka")[["userName", "displayName", "phoneNumber"]]       # doctest: +SKIP
    >>> uds.user("jkam")["primaryExtension.directoryNumber"]                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..decode import error_from_response
from ..errors import ApiError, TokenExpired, UcError
from .base import Fetch, Offset, Service

__all__ = ["UDS"]

#: The ``users`` search filters (all case-insensitive "starts with"); ``displayname`` needs CUCM 11.5+.
USER_FILTERS = ("last", "first", "name", "number", "numberLast", "email", "uri", "displayname")

_USER_COLUMNS = (
    "id",
    "userName",
    "firstName",
    "lastName",
    "displayName",
    "phoneNumber",
    "mobileNumber",
    "email",
    "directoryUri",
)

#: A 401 on a bearer token this close to its expiry (or past it) means "sign in again", not "no access".
_EXPIRY_SKEW_S = 5.0


def _token_of(credentials: Any) -> Any:
    """The Token behind bearer credentials (a flow's current token, or a fixed token), else None."""
    flow = getattr(credentials, "flow", None)
    if flow is not None:
        return getattr(flow, "token", None)
    return getattr(credentials, "token", None)


def token_spent(credentials: Any) -> bool:
    """True when the credentials are a bearer token that has expired or is about to (so a 401 means that)."""
    if getattr(credentials, "kind", None) != "bearer":
        return False
    tok = _token_of(credentials)
    expires = getattr(tok, "expires_at", None)
    if expires is None:
        return False
    return expires.timestamp() - time.time() <= _EXPIRY_SKEW_S


def _older_extensions(current: Fetch) -> Fetch:
    """The older name of ``extensions`` (cisco-api-notes §2.3), tried when ``extensions`` answers 404."""
    fetch = Fetch(
        current.path.replace("/extensions", "/userExtensions"),
        item=current.item,
        columns=current.columns,
        force_list=current.force_list,
        dtypes=current.dtypes,
    )
    fetch.name = current.name
    return fetch


class UDS(Service):
    """CUCM User Data Service. ``auth`` is a CucmSSO flow, its Token, a bearer string, or ``(user, password)``.

    Example::

        >>> uds = UDS("https://cucm.example.com:8443", auth=("jkam", "pa55word"))
        >>> uds
        <UDS https://cucm.example.com:8443 as jkam (HTTP Basic)>
    """

    product = "uds"
    accept = "application/xml"
    server_hint: ClassVar[str] = "UDS runs on a CUCM node, usually https://<cucm>:8443"
    error_hints: ClassVar[Mapping[int, str]] = {
        404: "no such user or resource: check the user id (a CUCM user id such as 'jkam', not an e-mail "
        "address; uds.users(email=...) finds it)",
        405: "UDS does not support that method on this resource",
        415: "a required parameter is missing or invalid: clusterUser needs username=, email= or "
        "useridentifier=; users() filters are " + ", ".join(USER_FILTERS),
        503: "CUCM is overloaded (UDS's only throttling signal): wait a minute, lower max_concurrency=, or "
        "pull less with limit=",
    }

    # -- anonymous ---------------------------------------------------------------------------------------
    version = Fetch(
        "/cucm-uds/version",
        one=True,
        item="versionInformation",
        columns=("version", "@version", "capabilities.usersResourceAuthEnabled", "upgradeInProgress"),
        dtypes={"capabilities.usersResourceAuthEnabled": "bool", "upgradeInProgress": "bool"},
        doc="The CUCM build (``version``), the UDS schema version (``@version``) and capabilities "
        "(``capabilities.usersResourceAuthEnabled``: contact search needs credentials). "
        "Example: uds.version()['version']",
    )
    servers = Fetch(
        "/cucm-uds/servers",
        item="server",
        columns=("server",),
        doc="The cluster's UDS nodes, one row per host name. Example: uds.servers()['server'].tolist()",
    )
    cluster_user = Fetch(
        "/cucm-uds/clusterUser",
        one=True,
        item="clusterUser",
        params=("username", "email", "useridentifier"),
        columns=("result@found", "result@uri", "homeCluster", "homeCluster@serversUri"),
        dtypes={"result@found": "bool"},
        doc="Which cluster is a user's home (``result@found``, ``homeCluster``); pass one of username=, "
        "email=, useridentifier=. Example: uds.cluster_user(username='jkam')['homeCluster']",
    )
    users = Fetch(
        "/cucm-uds/users",
        item="user",
        paging=Offset(
            start="start", size="max", first=0, page=64, total="totalCount", returned="returnedCount", id="id"
        ),
        params=USER_FILTERS,
        columns=_USER_COLUMNS,
        id="id",
        doc="Directory search, every page: each filter is a case-insensitive prefix (last, first, number, "
        "numberLast, email, uri, displayname; name='x y' matches first/last either way or the display "
        "name). Example: uds.users(last='Ka', limit=100)",
    )

    # -- the signed-in user's own subtree (administrators: anyone's) --------------------------------------
    user = Fetch(
        "/cucm-uds/user/{user_id}",
        one=True,
        item="user",
        columns=(
            *_USER_COLUMNS,
            "department",
            "title",
            "accountType",
            "userLocale",
            "primaryExtension.directoryNumber",
            "primaryExtension.routePartition",
        ),
        doc="One user's settings, nested fields dotted (``primaryExtension.directoryNumber``, "
        "``accountType@useLdapAuth``, ``callForwardAllDestination.destination``). Example: uds.user('jkam')",
    )
    devices = Fetch(
        "/cucm-uds/user/{user_id}/devices",
        item="device",
        columns=(
            "id",
            "name",
            "description",
            "model",
            "type",
            "protocol",
            "provision",
            "lineNumber",
            "deviceProfile",
        ),
        dtypes={"deviceProfile": "bool"},
        doc="The user's phones and soft clients. Example: uds.devices('jkam')[['name', 'model']]",
    )
    device = Fetch(
        "/cucm-uds/user/{user_id}/device/{device_id}",
        one=True,
        item="device",
        columns=(
            "id",
            "name",
            "description",
            "model",
            "type",
            "protocol",
            "provision",
            "lineNumber",
            "deviceProfile",
        ),
        dtypes={"deviceProfile": "bool"},
        doc="One device of the user, by pkid. Example: uds.device('jkam', uds.devices('jkam')['id'][0])",
    )
    extensions = Fetch(
        "/cucm-uds/user/{user_id}/extensions",
        item=None,  # <extension> (or whatever the older userExtensions resource calls its records)
        columns=(
            "id",
            "directoryNumber",
            "routePartition",
            "description",
            "lineText",
            "associatedDevices.device",
        ),
        force_list=("associatedDevices.device",),
        doc="The user's lines (directory numbers) and the devices they are on; falls back to the older "
        "``userExtensions`` path on servers without ``extensions``. Example: uds.extensions('jkam')",
    )
    speed_dials = Fetch(
        "/cucm-uds/user/{user_id}/speedDials",
        item="speedDial",
        columns=("index", "number", "label"),
        dtypes={"index": "int"},
        doc="The user's speed dials. Example: uds.speed_dials('jkam')",
    )
    subscribed_services = Fetch(
        "/cucm-uds/user/{user_id}/subscribedServices",
        item="subscribedService",
        columns=("id", "serviceId", "name", "serviceName", "url"),
        doc="The IP phone services the user subscribed to. Example: uds.subscribed_services('jkam')",
    )
    remote_destinations = Fetch(
        "/cucm-uds/user/{user_id}/remoteDestinations",
        item="remoteDestination",
        columns=(
            "id",
            "name",
            "destination",
            "isMobilePhone",
            "enableMobileConnect",
            "answerTooSoonTimer",
            "answerTooLateTimer",
            "delayBeforeRingingCell",
        ),
        dtypes={
            "isMobilePhone": "bool",
            "enableMobileConnect": "bool",
            "answerTooSoonTimer": "int",
            "answerTooLateTimer": "int",
            "delayBeforeRingingCell": "int",
        },
        doc="Single Number Reach destinations (timers in ms). Example: uds.remote_destinations('jkam')",
    )
    credential_status = Fetch(
        "/cucm-uds/user/{user_id}/credentials",
        item="credential",
        columns=(
            "credentialType",
            "lastSuccessfulLoginTime",
            "lastSuccessfulLoginIpAddress",
            "failedLoginAttempts",
            "lastFailedLoginTime",
            "timeChanged",
            "locked",
            "userMustChange",
            "doesNotExpire",
        ),
        dtypes={
            "failedLoginAttempts": "int",
            "lastSuccessfulLoginTime": "datetime",
            "lastFailedLoginTime": "datetime",
            "timeChanged": "datetime",
            "locked": "bool",
            "userMustChange": "bool",
            "doesNotExpire": "bool",
        },
        doc="Password and PIN history: last login time/IP, failed attempts (CUCM 10.5(2)+; the "
        "credentials themselves are never returned). Example: uds.credential_status('jkam')",
    )

    #: set once ``extensions`` answered 404 and ``userExtensions`` worked (an older CUCM)
    _old_extensions: bool = False

    # -- hooks ---------------------------------------------------------------------------------------------
    async def _call(self, fetch: Fetch, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if fetch is not UDS.__dict__["extensions"]:
            return await super()._call(fetch, args, kwargs)
        if self._old_extensions:
            return await super()._call(_USER_EXTENSIONS, args, kwargs)
        try:
            return await super()._call(fetch, args, kwargs)
        except ApiError as first:
            if first.status != 404:
                raise
            try:
                out = await super()._call(_USER_EXTENSIONS, args, kwargs)
            except ApiError:
                raise first from None
            self._old_extensions = True
            return out

    def error_decoder(self, response: Any) -> UcError:
        """401 → :class:`TokenExpired` when the bearer token is (about to be) spent, else an ApiError whose
        hint explains UDS's own-subtree rule."""
        creds = self.credentials
        if response.status_code == 401 and token_spent(creds):
            return TokenExpired("CUCM refused the token: it has expired", hint=self.sign_in_hint())
        hints = self.hints_for(response)
        if response.status_code == 401:
            hints[401] = self._unauthorized_hint(response, creds)
        return error_from_response(
            response, service=self.label, sign_in_hint=self.sign_in_hint(), hints=hints
        )

    def _unauthorized_hint(self, response: Any, creds: Any) -> str:
        try:
            path = response.request.url.path
        except (RuntimeError, AttributeError):
            path = ""
        if creds.kind == "none":
            if path.endswith("/cucm-uds/users"):
                return (
                    "contact search authentication is on for this cluster: pass auth= (a CucmSSO flow, its "
                    "token, or (user, password))"
                )
            return (
                "this UDS resource needs the user's sign-in: pass auth= (a CucmSSO flow, its token, or "
                "(user, password))"
            )
        who = f" (signed in as {creds.user})" if creds.user else ""
        if "/cucm-uds/user/" in path:
            return (
                f"an end user may read only their own /cucm-uds/user/<id> resources{who}: pass your own "
                "CUCM user id, or use an administrator's (user, password); if the id is yours, "
                f"{self.sign_in_hint()}"
            )
        return f"CUCM refused the credentials{who}: {self.sign_in_hint()}"


_USER_EXTENSIONS = _older_extensions(UDS.__dict__["extensions"])
