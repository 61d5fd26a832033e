"""Cisco Finesse REST (``/finesse/api``, XML): agents, teams, dialogs, reason codes, queues, agent state.

Shapes chosen for analysis:

* ``user()`` is a Series: ``roles.role`` is always a list, ``reasonCode`` is flattened
  (``reasonCode.label``, ``reasonCode.id`` …), ``stateChangeTime`` a UTC timestamp.
* ``team()`` has one row per agent of the team (the Team resource's summary rows) plus ``teamId`` and
  ``teamName``, so several teams concatenate cleanly; ``state`` is a category.
* ``dialogs()`` has one row per dialog. ``participants`` is a list of dicts (one per participant, its
  ``actions.action`` a list); each call variable becomes its own column ``callvariables.<name>``
  (``callvariables.callVariable1``, ``callvariables.user.language`` for ECC variables), so calls can be
  filtered and grouped by them; the other ``mediaProperties`` stay dotted (``mediaProperties.queueName``).
* ``reason_codes()`` adds ``id`` (the last segment of ``uri``: the id ``set_state`` takes, which need not
  equal ``code``) when the server does not send it.

``set_state`` sends ``PUT /finesse/api/User/{id}`` with ``Content-Type: application/xml``, accepts 200 or 202
(Finesse changes state asynchronously), then reads the agent back and returns it as a Series.

Auth: a :class:`~ucexplore.auth.flows.FinesseSSO` flow (refreshed automatically once 75 % of the token's
lifetime has passed), a Token, or HTTP Basic ``(loginId or loginName, password)``.

Example::

    >>> fin = Finesse("https://finesse.example.com:8445", auth=flow)  # doctest: +SKIP
    >>> fin.set_state("1001001", "NOT_READY", reason_code_id=2)["state"]    # doctest: +SKIP
    'NOT_READY'
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..decode import error_from_response, parse_xml
from ..errors import InvalidArgument, UcError
from .base import Fetch, Service, sync_twin

__all__ = ["SETTABLE_STATES", "Finesse"]

#: The states an agent (or its supervisor) may ask for.
SETTABLE_STATES = ("READY", "NOT_READY", "LOGOUT", "LOGIN")

_AGENT_DTYPES = {
    "state": "category",
    "pendingState": "category",
    "stateChangeTime": "datetime",
    "reasonCodeId": "int",
    "reasonCode.id": "int",
    "reasonCode.code": "int",
    "reasonCode.forAll": "bool",
    "reasonCode.systemCode": "bool",
    "reasonCode.category": "category",
    "wrapUpTimer": "int",
    "mediaType": "int",
    "extension": "str",
    "loginId": "str",
    "teamId": "str",
}
_AGENT_FORCE = ("roles.role", "teams.Team")
#: an agent's usual columns, present whatever the state (READY has no reasonCode; a column is still there)
_AGENT_COLUMNS = (
    "loginId",
    "loginName",
    "firstName",
    "lastName",
    "extension",
    "state",
    "stateChangeTime",
    "pendingState",
    "reasonCode.label",
    "reasonCode.id",
    "reasonCode.code",
    "reasonCode.category",
    "teamId",
    "teamName",
    "roles.role",
)
#: a team member's summary row: the agent's columns without the details a team listing does not carry
_TEAM_COLUMNS = tuple(c for c in _AGENT_COLUMNS if c not in ("reasonCode.code", "reasonCode.category", "roles.role"))
_DIALOG_COLUMNS = (
    "id",
    "state",
    "fromAddress",
    "toAddress",
    "mediaType",
    "mediaProperties.callType",
    "mediaProperties.queueName",
    "mediaProperties.queueNumber",
    "mediaProperties.DNIS",
    "participants",
    "uri",
)
_DIALOG_FORCE = ("participants.Participant", "callvariables.CallVariable", "actions.action")
_DIALOG_DTYPES = {
    "state": "category",
    "mediaType": "category",
    "mediaProperties.callType": "category",
    "mediaProperties.callKeySequenceNum": "int",
    "mediaProperties.callKeyPrefix": "int",
    "fromAddress": "str",
    "toAddress": "str",
    "mediaProperties.DNIS": "str",
    "mediaProperties.dialedNumber": "str",
    "mediaProperties.queueNumber": "str",
}
_REASON_COLUMNS = ("id", "category", "code", "label", "forAll", "systemCode", "uri")
_REASON_DTYPES = {"id": "int", "code": "int", "forAll": "bool", "systemCode": "bool", "category": "category"}
_QUEUE_STATS = (
    "callsInQueue",
    "agentsReady",
    "agentsNotReady",
    "agentsBusyOther",
    "agentsLoggedOn",
    "agentsTalkingInbound",
    "agentsTalkingOutbound",
    "agentsTalkingInternal",
    "agentsWrapUpNotReady",
    "agentsWrapUpReady",
)
_QUEUE_COLUMNS = ("name", *(f"statistics.{k}" for k in _QUEUE_STATS), "statistics.startTimeOfLongestCallInQueue",
                  "uri")
_QUEUE_DTYPES = {
    **{f"statistics.{k}": "int" for k in _QUEUE_STATS},
    "statistics.startTimeOfLongestCallInQueue": "datetime",
}

#: hints by Finesse ErrorType (more precise than by HTTP status)
_TYPE_HINTS = {
    "Invalid State": "agents set READY, NOT_READY or LOGOUT; from LOGOUT only LOGIN (set_state(..., 'LOGIN') "
    "uses the agent's extension); during a call READY and LOGOUT are refused and NOT_READY becomes the "
    "pendingState",
    "Invalid Input": "check the state and the reason code: reason_code_id must be a code of the same category "
    "(see fin.reason_codes('NOT_READY') / fin.reason_codes('LOGOUT'))",
    "Parameter Missing": "a required value is missing (state, extension for LOGIN, category for reason codes)",
    "Invalid Authorization User Specified": "an agent may read and change only itself: use that agent's own "
    "sign-in, or a supervisor of its team",
    "Invalid Supervisor": "a supervisor may read only the agents and the team it supervises",
    "Not Found": "check the id: agents are addressed by loginId (or loginName), teams and dialogs by id",
}


def _reason_id(rec: dict[str, Any]) -> None:
    if rec.get("id") in (None, "") and isinstance(rec.get("uri"), str):
        tail = rec["uri"].rstrip("/").rsplit("/", 1)[-1]
        if tail:
            rec["id"] = tail


def _dialog_row(rec: dict[str, Any]) -> None:
    """``participants.Participant`` → ``participants``; call variables → ``callvariables.<name>``."""
    parts = rec.pop("participants.Participant", None)
    if parts is not None or "participants" not in rec:
        rec["participants"] = [p if isinstance(p, dict) else {"value": p} for p in (parts or [])]
    for key in [k for k in rec if k.endswith("callvariables.CallVariable")]:
        for var in rec.pop(key) or []:
            if isinstance(var, dict) and var.get("name"):
                rec[f"callvariables.{var['name']}"] = var.get("value")


class _Category(Fetch):
    """A reason-code list whose ``category`` may also be passed positionally: ``reason_codes("LOGOUT")``."""

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        n = len(self.placeholders)
        if len(args) == n + 1:
            if "category" in kwargs:
                raise InvalidArgument(f"{self.name}() got 'category' twice")
            kwargs = {**kwargs, "category": args[n]}
            args = args[:n]
        return super().bind(args, kwargs)

    def _make_signature(self) -> inspect.Signature:
        sig = super()._make_signature()
        P = inspect.Parameter
        ps = list(sig.parameters.values())
        head = [p for p in ps if p.kind is P.POSITIONAL_OR_KEYWORD]
        rest = [p for p in ps if p.kind is not P.POSITIONAL_OR_KEYWORD and p.name != "category"]
        category = P("category", P.POSITIONAL_OR_KEYWORD, default=self.defaults.get("category"))
        return sig.replace(parameters=[*head, category, *rest])


class Finesse(Service):
    """Cisco Finesse REST API (XML). Agents by loginId (or loginName); list calls return DataFrames, one
    object a Series; ``set_state`` changes an agent's state and returns the agent as read back.

    Example::

        >>> fin = Finesse("https://finesse.example.com:8445", auth=("1001001", "pa55word"))
        >>> fin.user("1001001")["state"]                     # doctest: +SKIP
        'NOT_READY'
    """

    product = "finesse"
    accept = "application/xml"
    server_hint: ClassVar[str] = "Finesse answers on https://<finesse>:8445"
    error_hints: ClassVar[Mapping[int, str]] = {
        400: "check the request: the state and reason code (see the ErrorType and ErrorData above)",
        404: "check the id: agents are addressed by loginId (or loginName), teams and dialogs by id",
        415: "Finesse needs Content-Type: application/xml on PUT/POST (ucexplore sends it: check proxies)",
        503: "Finesse is not IN_SERVICE (starting, failing over, or out of service): try again shortly, or "
        "use the other node (system_info()['secondaryNode.host'])",
    }

    #: endpoint name → method that reshapes each decoded record in place
    _reshape: ClassVar[dict[str, str]] = {
        "dialogs": "_dialog_rows",
        "dialog": "_dialog_rows",
        "reason_codes": "_reason_rows",
        "user_reason_codes": "_reason_rows",
        "reason_code": "_reason_rows",
        "team": "_team_rows",
    }

    system_info = Fetch(
        "/finesse/api/SystemInfo",
        one=True,
        columns=("deploymentType", "status", "timezoneOffset", "currentTimestamp", "xmppDomain",
                 "primaryNode.host", "secondaryNode.host"),
        force_list=("ctiServers.ctiServer",),
        dtypes={
            "currentTimestamp": "datetime",
            "lastSuccessCTIHeartbeatTime": "datetime",
            "timezoneOffset": "int",
            "ctiHeartbeatInterval": "int",
            "ctiTimeInMMode": "int",
            "finesseTimeInMMode": "int",
            "lastCTIHeartbeatStatus": "bool",
            "ctiMMode": "bool",
            "finesseMMode": "bool",
        },
        doc="Deployment, status, nodes and time zone of the Finesse cluster (no sign-in needed). "
        "Example: fin.system_info()['status']",
    )
    user = Fetch(
        "/finesse/api/User/{agent_id}",
        one=True,
        columns=_AGENT_COLUMNS,
        force_list=_AGENT_FORCE,
        dtypes=_AGENT_DTYPES,
        doc="One agent: state, reason code (flattened), roles (a list), team. "
        "Example: fin.user('1001001')[['state', 'reasonCode.label']]",
    )
    users = Fetch(
        "/finesse/api/Users",
        item="User",
        force_list=_AGENT_FORCE,
        columns=_AGENT_COLUMNS,
        dtypes=_AGENT_DTYPES,
        id="loginId",
        doc="Every agent the caller may see (administrator: all; supervisor: its team). "
        "Example: fin.users()['state'].value_counts()",
    )
    team = Fetch(
        "/finesse/api/Team/{team_id}",
        item="User",
        container="users",
        columns=_TEAM_COLUMNS,
        dtypes=_AGENT_DTYPES,
        id="loginId",
        doc="The agents of a team, one summary row each, with teamId and teamName (supervisor of that team, "
        "or administrator). Example: fin.team(fin.user('1001001')['teamId'])",
    )
    dialogs = Fetch(
        "/finesse/api/User/{agent_id}/Dialogs",
        item="Dialog",
        force_list=_DIALOG_FORCE,
        columns=_DIALOG_COLUMNS,
        dtypes=_DIALOG_DTYPES,
        id="id",
        doc="The agent's current dialogs (calls), one row each: participants as a list of dicts, each call "
        "variable as a column callvariables.<name>. Example: fin.dialogs('1001001')",
    )
    dialog = Fetch(
        "/finesse/api/Dialog/{dialog_id}",
        one=True,
        columns=_DIALOG_COLUMNS,
        force_list=_DIALOG_FORCE,
        dtypes=_DIALOG_DTYPES,
        doc="One dialog, shaped like a dialogs() row. Example: fin.dialog(fin.dialogs('1001001').loc[0, 'id'])",
    )
    reason_codes = _Category(
        "/finesse/api/ReasonCodes",
        item="ReasonCode",
        params=("category",),
        defaults={"category": "NOT_READY"},
        columns=_REASON_COLUMNS,
        dtypes=_REASON_DTYPES,
        doc="Reason codes of a category: 'NOT_READY' (default), 'LOGOUT' or 'ALL'; `id` is what set_state "
        "takes. Example: fin.reason_codes('LOGOUT') — or fin.reason_codes(category='ALL')",
    )
    user_reason_codes = _Category(
        "/finesse/api/User/{agent_id}/ReasonCodes",
        item="ReasonCode",
        params=("category",),
        defaults={"category": "NOT_READY"},
        columns=_REASON_COLUMNS,
        dtypes=_REASON_DTYPES,
        doc="The reason codes available to one agent (the per-agent API, deprecated from Finesse 12.5 but "
        "open to agents). Example: fin.user_reason_codes('1001001', category='LOGOUT')",
    )
    reason_code = Fetch(
        "/finesse/api/ReasonCode/{reason_code_id}",
        one=True,
        columns=_REASON_COLUMNS,
        dtypes=_REASON_DTYPES,
        doc="One reason code by id. Example: fin.reason_code(2)['label']",
    )
    queues = Fetch(
        "/finesse/api/User/{agent_id}/Queues",
        item="Queue",
        columns=_QUEUE_COLUMNS,
        dtypes=_QUEUE_DTYPES,
        doc="The queues the agent serves, with live statistics (statistics.callsInQueue …; -1 where the "
        "deployment does not report one). Example: fin.queues('1001001')",
    )
    queue = Fetch(
        "/finesse/api/Queue/{queue_id}",
        one=True,
        columns=_QUEUE_COLUMNS,
        dtypes=_QUEUE_DTYPES,
        doc="One queue and its statistics. Example: fin.queue(1)['statistics.callsInQueue']",
    )

    # -- agent state -----------------------------------------------------------------------------------
    async def set_state_async(
        self,
        agent_id: str,
        state: str,
        reason_code_id: int | str | None = None,
        *,
        extension: str | None = None,
        wait: float = 2.0,
    ) -> Any:
        """Change an agent's state (``READY``, ``NOT_READY``, ``LOGOUT``, or ``LOGIN`` with ``extension=``
        — by default the agent's own) and return the agent, read back, as a Series.

        ``reason_code_id`` goes with NOT_READY or LOGOUT (see :meth:`reason_codes`). Finesse answers 202 and
        changes the state asynchronously: the agent is read back until ``state`` (or ``pendingState``, during
        a call) shows the request, for at most ``wait`` seconds.

        Example::

            >>> await fin.set_state_async("1001001", "NOT_READY", reason_code_id=2)   # doctest: +SKIP
        """
        wanted = str(state).strip().upper()
        if wanted not in SETTABLE_STATES:
            raise InvalidArgument(
                f"set_state() takes one of {', '.join(SETTABLE_STATES)}, got {state!r}: the other states "
                "(TALKING, RESERVED, WORK …) are set by the system"
            )
        if reason_code_id is not None and wanted not in ("NOT_READY", "LOGOUT"):
            raise InvalidArgument(f"a reason code goes with NOT_READY or LOGOUT, not {wanted}")
        agent = str(agent_id).strip()
        if not agent:
            raise InvalidArgument("set_state() needs the agent's loginId (or loginName)")
        parts = [f"<state>{wanted}</state>"]
        if reason_code_id is not None:
            rid = str(int(reason_code_id)) if not isinstance(reason_code_id, str) else reason_code_id.strip()
            parts.append(f"<reasonCodeId>{_xml_text(rid)}</reasonCodeId>")
        if wanted == "LOGIN":
            if extension is None:
                extension = str((await self.user_async(agent, raw=True)).get("extension") or "")
            parts.append(f"<extension>{_xml_text(str(extension))}</extension>")
        body = "<User>" + "".join(parts) + "</User>"
        path = f"/finesse/api/User/{quote(agent, safe='')}"
        await self._request("PUT", path, content=body.encode(), headers={"Content-Type": "application/xml"})
        target = "NOT_READY" if wanted == "LOGIN" else wanted
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            current = await self.user_async(agent)
            if current.get("state") == target or current.get("pendingState") == target or wanted == "LOGIN":
                return current
            if time.monotonic() >= deadline:
                return current
            await asyncio.sleep(0.25)

    set_state = sync_twin(set_state_async)

    # -- hooks -----------------------------------------------------------------------------------------
    def refresh_on_401(self, response: Any) -> bool:
        """Finesse also answers 401 for "not yours" (another agent, outside the supervisor's team): only a
        refusal of the token itself is worth a refresh, so a refusal does not rotate the refresh token."""
        body = response.content[:2000]
        return not (b"Invalid Authorization User Specified" in body or b"Invalid Supervisor" in body)

    def error_decoder(self, response: Any) -> UcError:
        """Finesse ``ApiErrors`` → :class:`ApiError` with ``error_type`` (ErrorType), ``code``
        (ErrorMessage), ``error_data`` (ErrorData) and a hint chosen by the ErrorType.

        Example::

            >>> import httpx
            >>> body = (b"<ApiErrors><ApiError><ErrorType>Invalid State</ErrorType><ErrorMessage>CF_INVALID"
            ...         b"</ErrorMessage><ErrorData>READY</ErrorData></ApiError></ApiErrors>")
            >>> req = httpx.Request("PUT", "https://fin:8445/finesse/api/User/1001001")
            >>> err = Finesse("https://fin:8445").error_decoder(httpx.Response(400, content=body, request=req))
            >>> err.error_type, err.code, err.error_data
            ('Invalid State', 'CF_INVALID', 'READY')
        """
        hint = self.sign_in_hint()
        err = error_from_response(response, service=self.label, sign_in_hint=hint, hints=self.hints_for(response))
        etype = getattr(err, "error_type", None)
        if etype in _TYPE_HINTS and response.status_code not in (429, 503):
            hints = {**self.hints_for(response), response.status_code: _TYPE_HINTS[etype]}
            err = error_from_response(response, service=self.label, sign_in_hint=hint, hints=hints)
        details = getattr(err, "details", None)
        data = None
        if isinstance(details, list) and details and isinstance(details[0], dict):
            data = details[0].get("ErrorData")
        err.error_data = data  # type: ignore[attr-defined]
        return err

    def _decode(self, response: Any, fetch: Fetch, sign_in_hint: str | None = None) -> Any:
        records, meta = super()._decode(response, fetch, sign_in_hint)
        method = self._reshape.get(fetch.name)
        if method is not None:
            getattr(self, method)(records, response)
        return records, meta

    @staticmethod
    def _dialog_rows(records: list[dict[str, Any]], response: Any) -> None:
        for rec in records:
            _dialog_row(rec)

    @staticmethod
    def _reason_rows(records: list[dict[str, Any]], response: Any) -> None:
        for rec in records:
            _reason_id(rec)

    @staticmethod
    def _team_rows(records: list[dict[str, Any]], response: Any) -> None:
        if not records:
            return
        root = parse_xml(response.content)
        team_id = (root.findtext("id") or "").strip() or None
        team_name = root.findtext("name")
        for rec in records:
            rec.setdefault("teamId", team_id)
            rec.setdefault("teamName", team_name)


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
