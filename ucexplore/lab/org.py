"""The seeded synthetic organisation every lab product serves.

One person has the same identity everywhere: a CUCM end user with lines and devices, a Unity Connection
mailbox with messages, perhaps a Finesse agent on a team, a Webex person hosting meetings. The directory is
built eagerly (fast: 100,000 users in about a second); per-user details such as devices, voicemail and meetings
are generated lazily from their own seeded random stream, so they are the same whenever they are asked for.

The calendar (voicemail arrivals, meetings, last sign-ins) is anchored on a day: today's UTC date unless
``anchor=`` names another. "Now" for the data is 09:00 UTC on that day (:func:`anchor_datetime`), so the same
``(seed, anchor day)`` always yields the same records, and a lab started today has meetings this week, some
ended and some still to come, and voicemail that arrived in the last hours.

Example::

    >>> org = Organisation(users=20, seed=7)
    >>> org.demo.is_agent
    True
    >>> org.user_by_name(org.demo.username) is org.demo
    True
    >>> Organisation(users=20, seed=7, anchor=date(2026, 11, 2)).now.isoformat()
    '2026-11-02T09:00:00+00:00'
"""

from __future__ import annotations

import base64
import random
import threading
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["ANCHOR_HOUR", "Agent", "Organisation", "ReasonCode", "Team", "User", "anchor_datetime", "ascii_fold",
           "today_utc"]

#: The hour (UTC) of the anchor day that is "now" for generated data.
ANCHOR_HOUR = 9


def today_utc() -> date:
    """Today's date in UTC: the default anchor of the lab's calendar."""
    return datetime.now(UTC).date()


def anchor_datetime(day: date | datetime | str | None = None) -> datetime:
    """"Now" for the lab's data: ``ANCHOR_HOUR``:00 UTC on ``day`` (a date, a datetime whose UTC date is used,
    or ISO text ``YYYY-MM-DD``); today (UTC) when None.

    Example::

        >>> anchor_datetime("2026-11-02").isoformat()
        '2026-11-02T09:00:00+00:00'
    """
    if day is None:
        day = today_utc()
    elif isinstance(day, str):
        day = date.fromisoformat(day.strip())
    elif isinstance(day, datetime):
        day = (day if day.tzinfo else day.replace(tzinfo=UTC)).astimezone(UTC).date()
    elif not isinstance(day, date):
        raise TypeError(f"anchor= takes a date, a datetime or 'YYYY-MM-DD', got {type(day).__name__}")
    return datetime(day.year, day.month, day.day, ANCHOR_HOUR, tzinfo=UTC)


FIRST_NAMES = [
    "Jun Hao", "Wendy", "Amélie", "José", "Zoë", "Øystein", "Siobhán", "Łukasz", "Ngọc Anh", "Ana",
    "Priya", "Mohammed", "Chloé", "Björn", "Aoife", "Hiroshi", "Fatima", "Li", "Olga", "Kwame",
    "Sofía", "Mateus", "Ingrid", "Tomás", "Yuki", "Aarav", "Grace", "Noah", "Emma", "Lucas",
    "Mia", "Oliver", "Leila", "Ravi", "Hannah", "Diego", "Sara", "Jonas", "Elif", "Marek",
]
LAST_NAMES = [
    "Kam", "Tan", "O'Brien", "Müller", "García", "Nakamura", "D'Souza", "Kowalski", "Nguyễn", "Smith",
    "Okafor", "Johansson", "Dubois", "Rossi", "Patel", "Kim", "Haddad", "Ivanova", "Costa", "Fischer",
    "Murphy", "Silva", "Chen", "Larsen", "Novák", "Yılmaz", "Brown", "Wilson", "Lefèvre", "Andersen",
    "Mensah", "Sato", "Petrov", "Kaur", "López", "Schmidt", "Hughes", "Moreau", "Wang", "Åberg",
]
DEVICE_MODELS = [
    ("Cisco 8845", "SEP"), ("Cisco 8865", "SEP"), ("Cisco 7841", "SEP"), ("Cisco Unified Client Services Framework", "CSF"),
    ("Cisco Dual Mode for iPhone", "TCT"), ("Cisco Dual Mode for Android", "BOT"), ("Cisco Webex Desk Pro", "SEP"),
]
TEAM_NAMES = ["Billing & Payments", "Technical Support", "Sales <Inbound>", "Customer Care", "Retention",
              "Onboarding", "Claims", "VIP Desk"]
NOT_READY_REASONS = [(1, "Lunch"), (2, "Break"), (3, "Meeting"), (4, "Training"), (5, "Coaching"),
                     (6, "Outbound work"), (7, "System issue")]
LOGOUT_REASONS = [(20, "End of shift"), (21, "Sick"), (22, "Personal")]
AGENT_STATES = ["READY", "NOT_READY", "TALKING", "WORK", "LOGOUT", "RESERVED", "HOLD"]
AGENT_STATE_WEIGHTS = [30, 30, 20, 5, 10, 3, 2]
MEETING_TITLES = ["Weekly ops sync", "Q&A: <roadmap>", "1:1", "Customer review", "Sprint planning",
                  "Incident retro", "Vendor call", "All hands", "Design review", "Training: Finesse"]
SITE_NAME = "acme"
SITE_DOMAIN = "acme.example"
SITE_TIMEZONE = ("GMT+08:00, Singapore (Singapore)", 45, 480)  # name, XML API timeZoneID, offset minutes


#: Voicemail reaches this far back (seconds).
VOICEMAIL_SPAN = 90 * 86400


def _recent_age(uniform: int) -> int:
    """A uniform draw in ``[0, VOICEMAIL_SPAN)`` bent towards 0 (monotone, so the order of draws is kept)."""
    return uniform * uniform // VOICEMAIL_SPAN


def ascii_fold(text: str) -> str:
    """``"Øystein Müller"`` → ``"oysteinmuller"`` (for user names and e-mail addresses)."""
    text = text.replace("Ø", "O").replace("ø", "o").replace("Ł", "L").replace("ł", "l").replace("ı", "i")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(slots=True)
class User:
    """One person of the organisation (CUCM end user, Unity subscriber, Webex person)."""

    index: int
    id: str  #: CUCM pkid
    username: str
    first_name: str
    last_name: str
    extension: str
    email: str | None
    mobile: str | None
    phone: str
    department: str
    title: str
    cuc_object_id: str
    callhandler_id: str
    webex_id: str
    has_devices: bool
    is_agent: bool = False

    @property
    def display_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"

    @property
    def directory_uri(self) -> str:
        """SIP URI as CUCM shows it."""
        return f"{self.username}@{SITE_DOMAIN}"


@dataclass(slots=True)
class ReasonCode:
    """A Finesse reason code."""

    id: int
    code: int
    label: str
    category: str  #: NOT_READY or LOGOUT
    for_all: bool = True


@dataclass(slots=True)
class Team:
    """A Finesse team."""

    id: str
    name: str
    agent_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Agent:
    """A Finesse agent: a user plus its contact-centre state (mutable)."""

    user: User
    login_id: str
    team_id: str
    roles: tuple[str, ...]
    state: str
    reason_code_id: int
    state_change_time: datetime
    extension: str
    dialogs: list[dict[str, Any]] = field(default_factory=list)


class Organisation:
    """The synthetic directory plus lazily generated per-user data, deterministic for ``(seed, anchor)``.

    ``anchor`` is the day the calendar is built around (default: today, UTC); :attr:`anchor` is that date and
    :attr:`now` its ``ANCHOR_HOUR``:00 UTC, the "now" of every generated timestamp. Every relative fact (how
    many meetings a user hosts, which voicemail is read, how long ago it arrived) is the same whatever the
    day; only the dates move with the anchor (and which of a user's meetings fall in the anchor's week).
    """

    def __init__(self, users: int = 200, seed: int = 7, *, anchor: date | datetime | str | None = None) -> None:
        if not 1 <= users <= 200_000:
            raise ValueError("users must be between 1 and 200,000")
        self.seed = seed
        self.size = users
        self.site_name = SITE_NAME
        self.site_domain = SITE_DOMAIN
        self.site_timezone = SITE_TIMEZONE
        self.now = anchor_datetime(anchor)
        self.anchor: date = self.now.date()
        #: Monday 00:00 UTC of the anchor's ISO week (meetings "this week" start from here)
        self.week_start = datetime(self.anchor.year, self.anchor.month, self.anchor.day,
                                   tzinfo=UTC) - timedelta(days=self.anchor.weekday())
        self._lock = threading.RLock()
        rng = random.Random(f"org:{seed}")
        ext_base = 2000 if users <= 7000 else 200000
        departments = ["Sales & Marketing", "R&D", "Support", "Finance", "Operations", "Legal", "HR", "IT"]
        titles = ["Engineer", "Manager", "Analyst", "Agent", "Director", "Specialist", "Consultant"]
        self.users: list[User] = []
        self._by_name: dict[str, User] = {}
        self._by_cuc: dict[str, User] = {}
        self._by_webex: dict[str, User] = {}
        self._by_email: dict[str, User] = {}
        nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
        seen: dict[str, int] = {}
        for i in range(users):
            first = FIRST_NAMES[rng.randrange(nf)]
            last = LAST_NAMES[rng.randrange(nl)]
            if i == 0:
                first, last = "Jun Hao", "Kam"
            base = ascii_fold(first.split()[0])[:1] + ascii_fold(last)
            n = seen.get(base, 0)
            name = base if n == 0 else f"{base}{n + 1}"
            while name in self._by_name:  # e.g. "jkam2" taken by a base that ends in a digit
                n += 1
                name = f"{base}{n + 1}"
            seen[base] = n + 1
            r = rng.random()
            email = None if (r < 0.08 and i) else f"{name}@{SITE_DOMAIN}"
            mobile = None if (rng.random() < 0.3 and i) else f"+1408555{(1000 + i) % 10000:04d}"
            ext = str(ext_base + i + 1)
            webex_uuid = _uuid(rng)
            user = User(
                index=i, id=_uuid(rng), username=name, first_name=first, last_name=last, extension=ext,
                email=email, mobile=mobile, phone=f"+1408526{int(ext) % 10000:04d}",
                department=departments[rng.randrange(len(departments))],
                title=titles[rng.randrange(len(titles))],
                cuc_object_id=_uuid(rng), callhandler_id=_uuid(rng),
                webex_id=base64.urlsafe_b64encode(f"ciscospark://us/PEOPLE/{webex_uuid}".encode()).decode().rstrip("="),
                has_devices=(rng.random() >= 0.05 or i == 0),
                is_agent=(i == 0 or rng.random() < 0.10),
            )
            self.users.append(user)
            self._by_name[name] = user
            self._by_cuc[user.cuc_object_id] = user
            self._by_webex[user.webex_id] = user
            if email:
                self._by_email[email] = user
        self.demo = self.users[0]
        self._build_contact_centre(rng)
        self._devices: dict[int, list[dict[str, Any]]] = {}
        self._mailboxes: dict[int, dict[str, list[dict[str, Any]]]] = {}
        self._meetings: dict[int, list[dict[str, Any]]] = {}
        self._speed_dials: dict[int, list[dict[str, Any]]] = {}
        self.sorted_users = sorted(self.users, key=lambda u: (u.last_name.casefold(), u.first_name.casefold(),
                                                                u.username))

    # -- look-ups ---------------------------------------------------------------------------------
    def user_by_name(self, username: str) -> User | None:
        """The user with this CUCM user id / Unity alias, case-insensitively."""
        return self._by_name.get(username) or self._by_name.get(username.lower())

    def user_by_cuc_id(self, object_id: str) -> User | None:
        """The user with this Unity Connection ObjectId."""
        return self._by_cuc.get(object_id)

    def user_by_webex_id(self, person_id: str) -> User | None:
        """The user with this Webex person id."""
        return self._by_webex.get(person_id)

    def user_by_email(self, email: str) -> User | None:
        """The user with this e-mail address."""
        return self._by_email.get(email.lower())

    def check_password(self, username: str, password: str) -> User | None:
        """The user when ``password`` is right for ``username`` (lab rule: one shared user password)."""
        user = self.user_by_name(username) or self.user_by_email(username)
        return user if user is not None and password == self._user_password else None

    _user_password = "lab-pass-1"

    def set_user_password(self, password: str) -> None:
        """Change the shared password of every synthetic user."""
        self._user_password = password

    # -- CUCM -------------------------------------------------------------------------------------
    def devices(self, user: User) -> list[dict[str, Any]]:
        """The user's phones and soft clients (0 for ~5 % of users, else 1–3)."""
        with self._lock:
            cached = self._devices.get(user.index)
            if cached is None:
                rng = random.Random(f"dev:{self.seed}:{user.index}")
                cached = []
                count = 0 if not user.has_devices else rng.choice([1, 1, 2, 2, 3])
                for k in range(count):
                    model, prefix = DEVICE_MODELS[rng.randrange(len(DEVICE_MODELS))]
                    name = (f"{prefix}{rng.getrandbits(48):012X}" if prefix == "SEP"
                            else f"{prefix}{user.username.upper()}"[:15] + (str(k) if k else ""))
                    cached.append({
                        "id": _uuid(rng), "name": name, "description": f"{user.display_name} {model}",
                        "model": model, "protocol": "SIP", "lineNumber": user.extension,
                        "type": "Phone", "provision": "NONE",
                    })
                self._devices[user.index] = cached
            return cached

    def speed_dials(self, user: User) -> list[dict[str, Any]]:
        """Speed dials: up to 4 colleagues."""
        with self._lock:
            cached = self._speed_dials.get(user.index)
            if cached is None:
                rng = random.Random(f"sd:{self.seed}:{user.index}")
                cached = []
                for pos in range(1, rng.randrange(0, 5) + 1):
                    other = self.users[rng.randrange(self.size)]
                    cached.append({"index": pos, "number": other.extension, "label": other.display_name})
                self._speed_dials[user.index] = cached
            return cached

    # -- Unity Connection -------------------------------------------------------------------------
    def mailbox(self, user: User) -> dict[str, list[dict[str, Any]]]:
        """Folders ``inbox``, ``sent``, ``deleted`` → messages (0–50 over the last 90 days in the inbox).

        Arrivals lean towards the anchor (about one in ten in the last day, a quarter in the last week), and
        the newest message of every inbox arrived in the last 12 hours before :attr:`now`."""
        with self._lock:
            box = self._mailboxes.get(user.index)
            if box is None:
                rng = random.Random(f"vm:{self.seed}:{user.index}")
                inbox = []
                ages: list[int] = []  # seconds before self.now
                for _ in range(rng.randrange(0, 51) if user.index else 12):
                    sender = self.users[rng.randrange(self.size)]
                    ages.append(_recent_age(rng.randrange(VOICEMAIL_SPAN)))
                    duration = rng.randrange(2000, 180000)
                    external = rng.random() < 0.3
                    inbox.append({
                        "MsgId": f"0:{_uuid(rng)}",
                        "Subject": (f"Message from {sender.display_name} ({sender.extension})" if not external
                                    else "Message from +1 415 555 0100"),
                        "Read": rng.random() < 0.6, "Dispatch": False, "Secure": False,
                        "Priority": rng.choices(["Normal", "Urgent", "Low"], [85, 10, 5])[0],
                        "Sensitivity": "Normal",
                        "From": None if external else {"DisplayName": sender.display_name,
                                                       "SmtpAddress": sender.email or "",
                                                       "DtmfAccessId": sender.extension},
                        "CallerId": {"CallerNumber": "+14155550100" if external else sender.extension,
                                     "CallerName": "" if external else sender.display_name},
                        "ArrivalTime": 0,  # below, once the newest message is known
                        "Size": duration * 8, "Duration": duration, "FromSub": not external, "MsgType": "Voice",
                    })
                if ages:  # the newest message arrived this morning (order kept: it only gets newer)
                    newest = min(range(len(ages)), key=ages.__getitem__)
                    ages[newest] %= 12 * 3600
                for msg, age in zip(inbox, ages):
                    msg["ArrivalTime"] = int((self.now - timedelta(seconds=age)).timestamp() * 1000)
                inbox.sort(key=lambda m: m["ArrivalTime"], reverse=True)
                for n, msg in enumerate(reversed(inbox), start=1):
                    msg["IMAPUid"] = n
                box = {"inbox": inbox, "sent": [], "deleted": []}
                self._mailboxes[user.index] = box
            return box

    # -- Finesse ----------------------------------------------------------------------------------
    def _build_contact_centre(self, rng: random.Random) -> None:
        self.reason_codes: list[ReasonCode] = (
            [ReasonCode(id=code, code=code, label=label, category="NOT_READY") for code, label in NOT_READY_REASONS]
            + [ReasonCode(id=code, code=code, label=label, category="LOGOUT") for code, label in LOGOUT_REASONS]
        )
        agents_users = [u for u in self.users if u.is_agent]
        n_teams = max(1, min(len(TEAM_NAMES) * 50, len(agents_users) // 10 or 1))
        self.teams: dict[str, Team] = {}
        for t in range(n_teams):
            name = TEAM_NAMES[t % len(TEAM_NAMES)] + ("" if t < len(TEAM_NAMES) else f" {t // len(TEAM_NAMES) + 1}")
            self.teams[str(5000 + t)] = Team(id=str(5000 + t), name=name)
        self.agents: dict[str, Agent] = {}
        self.agent_by_username: dict[str, Agent] = {}
        team_ids = list(self.teams)
        for k, user in enumerate(agents_users):
            login_id = str(1001001 + k)
            team_id = team_ids[k % len(team_ids)]
            state = "NOT_READY" if user.index == 0 else rng.choices(AGENT_STATES, AGENT_STATE_WEIGHTS)[0]
            reason = -1
            if state == "NOT_READY":
                reason = NOT_READY_REASONS[rng.randrange(len(NOT_READY_REASONS))][0]
            agent = Agent(
                user=user, login_id=login_id, team_id=team_id,
                roles=("Agent", "Supervisor") if k % 12 == 0 else ("Agent",),
                state=state, reason_code_id=reason,
                state_change_time=self.now - timedelta(seconds=rng.randrange(3600)),
                extension=user.extension,
            )
            if state in ("TALKING", "HOLD", "RESERVED"):
                agent.dialogs.append(self._make_dialog(rng, agent))
            self.agents[login_id] = agent
            self.agent_by_username[user.username] = agent
            self.teams[team_id].agent_ids.append(login_id)
        self.demo_agent = self.agents["1001001"]

    def _make_dialog(self, rng: random.Random, agent: Agent) -> dict[str, Any]:
        caller = f"+1415555{rng.randrange(10000):04d}"
        start = self.now - timedelta(seconds=rng.randrange(30, 900))
        state = {"TALKING": "ACTIVE", "HOLD": "HELD", "RESERVED": "ALERTING"}[agent.state]
        return {
            "id": str(rng.randrange(16_000_000, 17_000_000)),
            "fromAddress": caller, "toAddress": agent.extension, "state": "ALERTING" if state == "ALERTING" else "ACTIVE",
            "mediaType": "Voice", "startTime": start,
            "queueName": ["Billing", "Support", "Sales"][rng.randrange(3)], "queueNumber": str(7000 + rng.randrange(3)),
            "callvariables": [("callVariable1", f"ACCT-{rng.randrange(10**6):06d}"), ("callVariable2", "Gold & Silver"),
                              ("user.language", "en-US")],
            "participants": [(caller, "ACTIVE", "UNKNOWN"), (agent.extension, state, agent.login_id)],
        }

    def agent(self, key: str) -> Agent | None:
        """An agent by loginId or by user name."""
        return self.agents.get(key) or self.agent_by_username.get(key)

    def reason_code(self, code_id: int) -> ReasonCode | None:
        """A reason code by id."""
        return next((rc for rc in self.reason_codes if rc.id == code_id), None)

    # -- Webex ------------------------------------------------------------------------------------
    def meetings(self, user: User) -> list[dict[str, Any]]:
        """Meetings the user hosts (0–20, from 60 days ago to 30 days ahead), oldest first.

        Every third one falls on a working day (08:00–17:30 UTC) of the anchor's week, so "this week" always
        has meetings, some ended and some to come; the demo user's first one is later on the anchor day."""
        with self._lock:
            cached = self._meetings.get(user.index)
            if cached is None:
                rng = random.Random(f"mtg:{self.seed}:{user.index}")
                cached = []
                for k in range(rng.randrange(0, 21) if user.index else 15):
                    slot = rng.randrange(-60 * 48, 30 * 48)  # half hours from now
                    if k == 0 and user.index == 0:  # later today: 10:00 to 14:30 UTC
                        start = self.now + timedelta(minutes=30 * (2 + slot % 10))
                    elif k % 3 == 0:  # this week: day slot // 20 of Monday–Friday, half hour slot % 20 from 08:00
                        start = self.week_start + timedelta(days=(slot // 20) % 5, hours=8, minutes=30 * (slot % 20))
                    else:
                        start = self.now + timedelta(minutes=30 * slot)
                    minutes = rng.choice([15, 30, 30, 45, 60, 90])
                    end = start + timedelta(minutes=minutes)
                    key = str(rng.randrange(10**9, 10**10))
                    mid = f"{rng.getrandbits(128):032x}"
                    if end < self.now:
                        state = "ended"
                    elif start <= self.now:
                        state = "inProgress"
                    else:
                        state = "scheduled"
                    cached.append({
                        "id": mid, "meetingNumber": key, "title": MEETING_TITLES[rng.randrange(len(MEETING_TITLES))],
                        "meetingType": "meeting", "state": state, "start": start, "end": end,
                        "durationMinutes": minutes, "hostEmail": user.email or f"{user.username}@{SITE_DOMAIN}",
                        "hostUserId": user.webex_id, "hostDisplayName": user.display_name,
                        "participants": rng.randrange(1, 40),
                        "webLink": f"https://{SITE_NAME}.webex.com/{SITE_NAME}/j.php?MTID=m{mid[:16]}",
                    })
                cached.sort(key=lambda m: m["start"])
                self._meetings[user.index] = cached
            return cached
