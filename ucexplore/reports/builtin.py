"""The three built-in reports: ``directory`` (UDS), ``voicemail`` (CUMI) and ``contact-centre`` (Finesse).

Each is an ``async`` function that pulls what it needs with the clients' ``*_async`` twins and returns a
:class:`~ucexplore.reports.build.Section` (facts, charts, tables). :func:`ucexplore.reports.report` puts
sections into a report and writes the files.

* **directory** — every UDS user; users without an e-mail address, without a mobile number, and without
  devices. Devices are a per-user call (``/cucm-uds/user/{id}/devices``) that only the user themself or an
  administrator may make, so they are fetched concurrently for a bounded sample (``devices=200`` users by
  default, ``devices="all"`` for everyone) with ``admin=`` (an administrator's client) when given.
* **voicemail** — the signed-in user's mailbox (CUMI): messages per day, the unread backlog (oldest first)
  and the longest messages.
* **contact-centre** — Finesse agents the sign-in may see (a supervisor: its teams; ``admin=``: everyone):
  agents by state and by reason code, and team sizes.

Example::

    >>> import ucexplore as ux
    >>> admin = ux.UDS(url, auth=("admin", "pa55word"))                               # doctest: +SKIP
    >>> section = await directory(ux.UDS(url, auth=flow), admin=admin, devices="all")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ApiError, UcError
from .build import Chart, Section, Table
from .charts import bar_png, chart_png, day_counts

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["BUILTIN", "DEFAULT_DEVICE_SAMPLE", "builtin_name", "contact_centre", "directory", "voicemail"]

#: users whose devices the directory report checks by default (a bounded sample of a big directory)
DEFAULT_DEVICE_SAMPLE = 200

Devices = int | Literal["all"] | None


def _present(s: pd.Series) -> pd.Series:
    """True where a text value is there (not missing, not blank)."""
    return s.notna() & s.astype("string").str.strip().fillna("").ne("")


def _col(df: pd.DataFrame, *names: str) -> str | None:
    """The first of ``names`` that is a column of ``df`` (case-insensitive)."""
    lower = {str(c).lower(): c for c in df.columns}
    for n in names:
        if n.lower() in lower:
            return str(lower[n.lower()])
    return None


def _keep(df: pd.DataFrame, names: list[str | None]) -> pd.DataFrame:
    cols = [c for c in dict.fromkeys(names) if c is not None and c in df.columns]
    return df[cols] if cols else df


def _pct(part: int, whole: int) -> str:
    return f"{part:,} ({100 * part / whole:.0f} %)" if whole else f"{part:,}"


# ============================================================================================================
# directory
# ============================================================================================================
async def _device_counts(
    client: Any, user_ids: list[str], concurrency: int
) -> tuple[dict[str, int], list[pd.DataFrame], dict[str, str], tuple[str, str]]:
    """Devices per user id: (counts, device frames with ``userName``, failures id → reason, (first, last))."""

    gate = asyncio.Semaphore(max(1, concurrency))
    counts: dict[str, int] = {}
    frames: list[pd.DataFrame] = []
    failed: dict[str, str] = {}
    stamps: list[str] = []

    async def one(uid: str) -> None:
        async with gate:
            try:
                df = await client.devices_async(uid)
            except ApiError as exc:
                failed[uid] = "denied" if exc.status in (401, 403) else f"HTTP {exc.status}"
                return
            except UcError as exc:
                failed[uid] = type(exc).__name__
                return
        counts[uid] = len(df)
        stamp = (df.attrs.get("ucexplore") or {}).get("fetched_at")
        if stamp:
            stamps.append(stamp)
        if len(df):
            frames.append(df.assign(userName=uid))

    await asyncio.gather(*(one(u) for u in user_ids))
    stamps.sort()
    span = (stamps[0], stamps[-1]) if stamps else ("", "")
    return counts, frames, failed, span


def _sample(ids: list[str], devices: Devices, seed: int) -> list[str]:
    if devices in (None, 0):
        return []
    if devices == "all" or (isinstance(devices, int) and devices >= len(ids)):
        return list(ids)
    if not isinstance(devices, int) or devices < 0:
        raise ValueError(f"devices= takes a number of users or 'all', got {devices!r}")
    return sorted(random.Random(seed).sample(ids, devices))


async def directory(
    uds: Any,
    *,
    admin: Any = None,
    devices: Devices = DEFAULT_DEVICE_SAMPLE,
    concurrency: int = 16,
    seed: int = 0,
    **filters: Any,
) -> Section:
    """Directory hygiene from UDS: users without e-mail, mobile number or devices.

    ``uds`` lists the users (``filters`` such as ``last="Ka"`` narrow it); ``admin`` (a UDS client signed in
    as an administrator) reads other users' devices; ``devices`` is how many users to check (a seeded random
    sample; ``"all"``; 0 to skip).

    Example::

        >>> admin = ux.UDS(url, auth=("admin", "pa55word"))                           # doctest: +SKIP
        >>> section = await directory(ux.UDS(url, auth=flow), admin=admin)          # doctest: +SKIP
    """
    import pandas as pd

    users = await uds.users_async(**filters)
    n = len(users)
    uid_col = _col(users, "userName", "id") or "userName"
    if uid_col not in users.columns:
        users = users.assign(**{uid_col: pd.Series(dtype="string")})
    email = _col(users, "email")
    mobile = _col(users, "mobileNumber", "mobile")
    first, last, display = _col(users, "firstName"), _col(users, "lastName"), _col(users, "displayName")
    show = [
        uid_col,
        display,
        first,
        last,
        email,
        mobile,
        _col(users, "phoneNumber"),
        _col(users, "directoryUri"),
    ]
    no_email = users[~_present(users[email])] if email else users.iloc[0:0]
    no_mobile = users[~_present(users[mobile])] if mobile else users.iloc[0:0]

    section = Section(
        "Directory hygiene",
        text="Users in CUCM's directory (UDS) who lack an e-mail address, a mobile number or any "
        "device. Each list is a sheet of the workbook, ready to hand to whoever fixes it.",
    )
    section.facts += [
        ("Users", n),
        ("Without e-mail", _pct(len(no_email), n)),
        ("Without mobile", _pct(len(no_mobile), n)),
    ]

    ids = users[uid_col].dropna().astype(str).tolist() if n else []
    checked_ids = _sample(ids, devices, seed)
    client = admin or uds
    counts: dict[str, int] = {}
    device_frames: list[pd.DataFrame] = []
    if checked_ids:
        counts, device_frames, failed, span = await _device_counts(client, checked_ids, concurrency)
        if counts:
            section.pulls.append(
                {
                    "service": getattr(client, "product", "uds"),
                    "host": client.host,
                    "path": "/cucm-uds/user/{user_id}/devices",
                    "params": {},
                    "calls": len(counts),
                    "rows": sum(counts.values()),
                    "auth": client.auth_description,
                    "fetched_at": span[0],
                    "fetched_until": span[1] if span[1] != span[0] else None,
                }
            )
        denied = sum(1 for v in failed.values() if v == "denied")
        if denied:
            section.notes.append(
                f"Devices could not be read for {denied:,} of {len(checked_ids):,} users: an end user may "
                "read only "
                "their own devices. Pass admin= (a UDS client signed in as an administrator, e.g. "
                "ux.UDS(url, auth=(admin, password))) to check everyone."
            )
        other = {k: v for k, v in failed.items() if v != "denied"}
        if other:
            section.notes.append(
                f"Devices could not be read for {len(other):,} more users "
                f"({', '.join(sorted(set(other.values())))})."
            )
        if len(checked_ids) < len(ids):
            section.notes.append(
                f"Devices were checked for a random sample of {len(checked_ids):,} of {n:,} users "
                f"(devices='all' checks everyone)."
            )
    checked = pd.Series(counts, dtype="int64")
    no_devices = users[users[uid_col].astype(str).isin(checked[checked == 0].index)] if len(checked) else None
    if len(checked):
        section.facts.append(
            (
                "Without devices",
                _pct(int((checked == 0).sum()), len(checked))
                + ("" if len(checked) == n else f" of {len(checked):,} checked"),
            )
        )

    labels = ["e-mail", "mobile number"] + (["devices"] if len(checked) else [])
    values = [100 * (n - len(no_email)) / n if n else 0, 100 * (n - len(no_mobile)) / n if n else 0]
    if len(checked):
        values.append(100 * float((checked > 0).mean()))
    section.charts.append(
        Chart(
            "Directory completeness",
            bar_png(labels, values, title="Users with … (%)", xlabel="% of users"),
            "Share of users that have each attribute.",
        )
    )
    if len(checked):
        per_user = checked.value_counts().sort_index()
        section.charts.append(
            Chart(
                "Devices per user",
                bar_png(
                    [str(i) for i in per_user.index],
                    list(per_user.values),
                    horizontal=False,
                    title="Devices per user",
                    xlabel="users",
                ),
                f"Users by number of devices ({len(checked):,} users checked).",
            )
        )

    section.tables.append(Table("No email", _keep(no_email, show), "Users without an e-mail address."))
    section.tables.append(Table("No mobile", _keep(no_mobile, show), "Users without a mobile number."))
    if no_devices is not None:
        section.tables.append(Table("No devices", _keep(no_devices, show), "Checked users with no device."))
    if device_frames:
        all_devices = pd.concat(device_frames, ignore_index=True)
        cols = ["userName"] + [c for c in all_devices.columns if c != "userName"]
        all_devices = all_devices[cols]
        all_devices.attrs = {}
        section.tables.append(Table("Devices", all_devices, "Every device of the checked users."))
    section.tables.append(Table("Users", _keep(users, show), "Every user returned by UDS."))
    return section


# ============================================================================================================
# voicemail
# ============================================================================================================
async def voicemail(unity: Any, *, folder: str = "inbox", longest: int = 10, **filters: Any) -> Section:
    """Voicemail usage of the signed-in mailbox (CUMI): messages per day, unread backlog, longest messages.

    Example::

        >>> section = await voicemail(ux.Unity(url, auth=unity_flow))      # doctest: +SKIP
    """
    import pandas as pd

    msgs = await unity.messages_async(folder, **filters)
    n = len(msgs)
    arrival = _col(msgs, "ArrivalTime")
    duration = _col(msgs, "Duration")
    read = _col(msgs, "Read")
    show = [
        arrival,
        _col(msgs, "From.DisplayName"),
        _col(msgs, "CallerId.CallerNumber"),
        _col(msgs, "Subject"),
        "Seconds",
        _col(msgs, "Priority"),
        read,
    ]
    view = msgs.copy()
    if duration:
        view["Seconds"] = (pd.to_numeric(view[duration], errors="coerce") / 1000).round(1)
    unread_mask = (view[read] == False) if read else pd.Series(False, index=view.index)
    unread = view[unread_mask.fillna(False).astype(bool)]
    if arrival:
        unread = unread.sort_values(arrival)

    section = Section(
        f"Voicemail ({folder})",
        text="Messages in the signed-in user's mailbox (Unity Connection CUMI): arrivals per day, "
        "the unread backlog oldest first, and the longest messages.",
    )
    section.facts.append(("Messages", n))
    section.facts.append(("Unread", _pct(len(unread), n)))
    if arrival and len(unread):
        oldest = unread[arrival].min()
        age = (datetime.now(UTC) - oldest.to_pydatetime()).days if pd.notna(oldest) else None
        if age is not None:
            section.facts.append(("Oldest unread", f"{oldest:%Y-%m-%d} ({age} days)"))
    if duration and n:
        secs = view["Seconds"]
        section.facts.append(("Total length", f"{secs.sum() / 60:,.1f} min"))
        section.facts.append(("Average length", f"{secs.mean():,.0f} s"))

    if arrival:
        per_day = day_counts(view[arrival])
        unread_day = day_counts(unread[arrival]) if len(unread) else per_day * 0
        table = pd.DataFrame(
            {
                "day": per_day.index,
                "messages": per_day.values,
                "unread": unread_day.reindex(per_day.index, fill_value=0).values,
            }
        )
        section.charts.append(
            Chart(
                "Messages per day",
                bar_png(
                    [str(d) for d in per_day.index],
                    list(per_day.values),
                    horizontal=False,
                    title="Messages per day",
                    xlabel="messages",
                ),
                "Messages by arrival day (UTC).",
            )
        )
        section.tables.append(
            Table("Messages per day", table, "Arrivals per day (UTC), with how many are unread.")
        )
    if duration and n:
        section.charts.append(
            Chart(
                "Message length",
                chart_png(view["Seconds"].rename("length (s)"), title="Message length (s)"),
                "How long messages are.",
            )
        )
    section.tables.append(Table("Unread backlog", _keep(unread, show), "Unread messages, oldest first."))
    top = view.sort_values("Seconds", ascending=False).head(longest) if duration else view.head(0)
    section.tables.append(Table("Longest messages", _keep(top, show), f"The {longest} longest messages."))
    section.tables.append(Table("Messages", _keep(view, show), "Every message of the folder."))
    return section


# ============================================================================================================
# contact centre
# ============================================================================================================
def _agent_id(fin: Any, agent_id: str | None) -> str | None:
    if agent_id:
        return str(agent_id)
    creds = getattr(fin, "credentials", None)
    flow = getattr(creds, "flow", None)
    for source in (flow, creds):
        for attr in ("agent_id", "user"):
            value = getattr(source, attr, None)
            if value:
                return str(value)
    tok = getattr(flow, "token", None)
    return str(tok.user) if getattr(tok, "user", None) else None


async def contact_centre(finesse: Any, *, agent_id: str | None = None, admin: Any = None) -> Section:
    """A contact-centre snapshot from Finesse: agents by state and by reason code, team sizes.

    The agents are those the sign-in may see: ``admin`` (an administrator's client) sees everyone, a
    supervisor its teams; an agent sees only itself.

    Example::

        >>> section = await contact_centre(ux.Finesse(url, auth=finesse_flow))      # doctest: +SKIP
    """
    import pandas as pd

    section = Section(
        "Contact centre",
        text="Finesse agents right now: how many are in each state, why those not ready are not "
        "ready (reason codes), and how big each team is.",
    )
    client = admin or finesse
    try:
        agents = await client.users_async()
    except ApiError as exc:
        if exc.status not in (401, 403):
            raise
        me = _agent_id(finesse, agent_id)
        if not me:
            raise
        one = await finesse.user_async(me)
        agents = one.to_frame().T.reset_index(drop=True)
        agents.attrs = dict(one.attrs)
        section.notes.append(
            "Only the signed-in agent could be read: a supervisor sees its teams, an "
            "administrator (admin=) everyone."
        )
    n = len(agents)
    state = _col(agents, "state") or "state"
    reason = _col(agents, "reasonCode.label")
    team_id, team_name = _col(agents, "teamId"), _col(agents, "teamName")
    view = agents.copy()
    if state not in view.columns:
        view[state] = pd.NA
    view["agent"] = (
        view.get("firstName", pd.Series("", index=view.index)).fillna("").astype(str)
        + " "
        + view.get("lastName", pd.Series("", index=view.index)).fillna("").astype(str)
    ).str.strip()
    states = view[state].astype("string").fillna("(unknown)")
    by_state = states.value_counts().rename_axis("state").reset_index(name="agents")

    not_ready = view[states == "NOT_READY"]
    reasons = (
        not_ready[reason].astype("string").fillna("(no reason)")
        if reason
        else pd.Series("(no reason)", index=not_ready.index, dtype="string")
    )
    by_reason = reasons.value_counts().rename_axis("reason code").reset_index(name="agents")

    if team_id:
        key = [c for c in (team_id, team_name) if c]
        teams = view.assign(_state=states).pivot_table(
            index=key, columns="_state", values="agent", aggfunc="count", fill_value=0
        )
        teams.columns = [str(c) for c in teams.columns]
        teams.insert(0, "agents", teams.sum(axis=1))
        teams = teams.reset_index().sort_values("agents", ascending=False).reset_index(drop=True)
        teams.columns.name = None
    else:
        teams = pd.DataFrame({"team": [], "agents": []})

    section.facts += [("Agents", n), ("Teams", len(teams))]
    for s in ("READY", "NOT_READY", "TALKING"):
        section.facts.append((s.replace("_", " ").title(), int((states == s).sum())))
    section.charts.append(
        Chart(
            "Agents by state",
            bar_png(
                by_state["state"].tolist(),
                by_state["agents"].tolist(),
                title="Agents by state",
                xlabel="agents",
            ),
        )
    )
    if len(by_reason):
        section.charts.append(
            Chart(
                "Not ready: reason codes",
                bar_png(
                    by_reason["reason code"].tolist(),
                    by_reason["agents"].tolist(),
                    title="Not ready agents by reason code",
                    xlabel="agents",
                ),
            )
        )
    for frame in (by_state, by_reason, teams):
        frame.attrs = dict(agents.attrs)
    cols = [
        _col(view, "loginId"),
        _col(view, "loginName"),
        "agent",
        team_id,
        team_name,
        state,
        reason,
        _col(view, "stateChangeTime"),
        _col(view, "extension"),
    ]
    section.tables += [
        Table("By state", by_state, "Agents per state."),
        Table("By reason code", by_reason, "Not-ready agents per reason code."),
        Table("Team sizes", teams, "Agents per team, and how many are in each state."),
        Table("Agents", _keep(view, cols), "Every agent read."),
    ]
    return section


# ============================================================================================================
# registry
# ============================================================================================================
#: name → (section builder, the keyword its client is passed as, the product it signs in to)
BUILTIN: dict[str, tuple[Callable[..., Coroutine[Any, Any, Section]], str, str]] = {
    "directory": (directory, "uds", "cucm"),
    "voicemail": (voicemail, "unity", "unity"),
    "contact-centre": (contact_centre, "finesse", "finesse"),
}
_ALIASES = {
    "contact_centre": "contact-centre",
    "contact-center": "contact-centre",
    "contactcentre": "contact-centre",
    "cc": "contact-centre",
    "finesse": "contact-centre",
    "vm": "voicemail",
    "unity": "voicemail",
    "uds": "directory",
    "dir": "directory",
}


def builtin_name(name: str) -> str:
    """The canonical name of a built-in report (accepts ``contact_centre``, ``contact-center`` …).

    Example::

        >>> builtin_name("Contact_Center")
        'contact-centre'
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, _ALIASES.get(key.replace("_", "-"), key.replace("_", "-")))
    if key not in BUILTIN:
        raise ValueError(f"unknown report {name!r}: the built-in reports are {', '.join(BUILTIN)}")
    return key
