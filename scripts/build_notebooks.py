#!/usr/bin/env python3
"""Build the notebooks under ``notebooks/`` from the cell sources in this file.

Every notebook is written without outputs, execution counts or widget state, with stable cell ids, so a
rebuild of unchanged sources is byte-identical. Workshop exercises are written twice: the learner's copy
(``notebooks/workshop/NN-….ipynb``, the answer left as ``...``) and the filled-in copy
(``notebooks/workshop/solutions/NN-….ipynb``).

    .venv/bin/python scripts/build_notebooks.py            # (re)write every notebook in notebooks/
    .venv/bin/python scripts/build_notebooks.py --check    # exit 1 when git's notebooks differ from the script

``--check`` compares the script's notebooks with **what git holds** (the index: the last commit plus anything
staged), never with the files you have open: running the notebooks in JupyterLab saves outputs into the
files in ``notebooks/``, and that must not make the check fail. A notebook this script has just rewritten
but that is not in git yet also passes, with a note to ``git add`` it. Outside a git checkout ``--check``
compares the files in ``notebooks/`` and says so.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


@dataclass
class Cell:
    kind: str  # "markdown" | "code"
    source: str
    solution: str | None = None  # code cells of exercises: the filled-in version


def md(text: str) -> Cell:
    return Cell("markdown", dedent(text).strip("\n"))


def code(text: str) -> Cell:
    return Cell("code", dedent(text).strip("\n"))


def exercise(todo: str, solution: str) -> Cell:
    """A code cell that differs between the learner's notebook and the solutions."""
    return Cell("code", dedent(todo).strip("\n"), dedent(solution).strip("\n"))


SETUP = code("""
    import ucexplore as ux
    from ucexplore.notebook import ux_env, sign_in

    env = ux_env()  # servers from the UCX_* variables, or the built-in lab started in this kernel
""")

# ==========================================================================================================
# 00 — start here
# ==========================================================================================================

START_HERE = [
    md("""
        # Start here: sign in, then get your first DataFrame

        **ucexplore** signs you in to Cisco collaboration servers through your organisation's single sign-on
        (SSO). It then gives you CUCM, Unity Connection, Finesse, Webex and WebDialer data as pandas DataFrames.

        Run the cells from top to bottom (Shift+Enter). If no server is configured, the first cell starts the
        **ucexplore lab** inside this notebook. The lab is a local emulator of those servers and of their
        identity provider, with a synthetic organisation of 200 people. You need no Cisco equipment.
    """),
    code("""
        import ucexplore as ux
        from ucexplore.notebook import ux_env, sign_in

        env = ux_env()  # your servers (UCX_* variables), or the built-in lab started right here
        env
    """),
    md("""
        ## 1. Sign in

        Run the next cell. It shows a sign-in widget:

        1. Click **Open sign-in page**. A new browser tab opens CUCM, which sends you on to your identity
           provider (IdP).
        2. Sign in there as you always do. In the lab, use the demo user listed above. Every lab user has the
           same password, shown masked above. To read it, run `env.demo_password(reveal=True)` in a new cell,
           then clear that cell's output (or delete the cell) before you save: a saved notebook keeps its
           outputs. (`ucexplore lab` also prints it when it starts.)
        3. You land on the *redirect page*. Click its **Copy** button and paste into the widget's box (the
           page removes the token from its address bar once it has read it, so the button is the way). The
           widget signs you in as soon as you paste.

        The token comes back inside the address you paste. ucexplore keeps it in Python only: it is never
        printed or stored in the notebook, and the paste box is emptied at once.
    """),
    code("""
        flow = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(flow)  # = ux.login(flow); a headless run against the lab signs in by script
    """),
    code("""
        uds = ux.UDS(env.cucm_url, auth=flow, verify=env.verify)
        uds.users(last="Ka")
    """),
    md("""
        That is your first DataFrame: every user whose last name starts with "Ka", from CUCM's User Data
        Service (UDS). The columns have the API's own field names, so you can look them up in Cisco's
        documentation.

        If you run a data cell before you finish signing in, it raises `NotSignedIn`, and the error tells you
        which cell to go back to. "Run All" is therefore safe. Run the cell again after you sign in.

        Only Python holds the token. Its `repr` shows who it belongs to and when it expires, never the token:
    """),
    code("""
        flow.token
    """),
    code("""
        users = uds.users(last="K")
        users.attrs["ucexplore"]  # provenance: where the rows came from (secrets removed)
    """),
    md("""
        `ux.sessions()` shows one status line for every service you signed in to in this kernel:
        the user, the issuer, and when the token expires or refreshes.
    """),
    code("""
        ux.sessions()
    """),
    md("""
        ## What lives where

        | you want | use | notebook |
        |---|---|---|
        | sign in | `ux.CucmSSO`, `ux.UnitySSO`, `ux.FinesseSSO`, `ux.WebexOAuth` + `ux.login(flow)` | this one |
        | the CUCM directory, a user's phones | `ux.UDS` | `01-cucm-uds-directory` |
        | voicemail (CUMI) and provisioning (CUPI) | `ux.Unity` | `02-unity-voicemail` |
        | agents, teams, calls, agent state | `ux.Finesse` | `03-finesse-contact-centre` |
        | people and meetings (and the retired XML API) | `ux.Webex`, `ux.WebexXML` | `04-webex-meetings` |
        | click-to-dial | `ux.WebDialer` | `05-webdialer-click-to-dial` |
        | one report across products | `ux.report(...)`, `ux.explore(client)` | `06-cross-product-report` |
        | a hands-on lab with checks | exercises and solutions | `workshop/` |

        In the package: `ucexplore/auth/` holds the sign-in flows, `ucexplore/services/` one client per
        product, `ucexplore/widgets/` the sign-in widget, the status bar and the Explorer, and `ucexplore/lab/`
        the emulator. `ucexplore/notebook.py` holds the small helpers these notebooks start with.

        ## Pointing at real servers

        Set the server addresses before you start Jupyter. The same notebooks then run against them:

        ```bash
        export UCX_CUCM_URL=https://cucm.example.com:8443
        export UCX_UNITY_URL=https://cuc.example.com
        export UCX_FINESSE_URL=https://finesse.example.com:8445
        export UCX_WEBEX_CLIENT_ID=C0ffee...                   # your integration on developer.webex.com
        export UCX_REDIRECT_URI=https://app.example.com/cb     # registered with every server
        export UCX_CA_PATH=/etc/ssl/corp-ca.pem                # if the servers use a private CA
        export UCX_DEMO_USER=jdoe                              # your own user id: "my" data in the notebooks
        export UCX_DEMO_AGENT_ID=1001001                       # your Finesse agent id, if you are an agent
        jupyter lab
        ```

        You can also pass everything in Python:
        `ux.CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb", verify="corp-ca.pem")`,
        then `ux.UDS("https://cucm.example.com:8443", auth=flow, verify="corp-ca.pem")`. TLS verification is
        always on. Give `verify=` the path of your CA's PEM file; there is no `verify=False` shortcut.
        `ucexplore check --url …` finds out why a server does not verify.

        The redirect URI must be registered on the server (CUCM: *Enterprise Parameters › SSO Configuration ›
        Redirect URIs for Third Party SSO Client*). The lab registers its own callback page.

        ## Next

        Open `01-cucm-uds-directory.ipynb`. If you are here for a workshop, open `workshop/01-…`.
    """),
]

# ==========================================================================================================
# 01 — CUCM UDS directory
# ==========================================================================================================

CUCM_UDS = [
    md("""
        # CUCM directory with UDS

        CUCM's **User Data Service** (UDS, `/cucm-uds/…`) is the directory that Jabber and Webex App search.
        Anyone may search it. A signed-in user also sees their own settings, phones and speed dials. Below you
        search with filters, cap the number of rows, chart the directory and read one user's phones.
    """),
    SETUP,
    code("""
        flow = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(flow)
    """),
    code("""
        uds = ux.UDS(env.cucm_url, auth=flow, verify=env.verify)
        uds.version()
    """),
    md("""
        ## Search filters

        Each filter is a case-insensitive *starts with*: `last`, `first`, `number`, `email`, `uri`,
        `displayname`, and `name` (first and last name in either order). UDS sends at most 64 users per page.
        `users()` fetches every page for you.
    """),
    code("""
        uds.users(last="Ka")[["userName", "displayName", "phoneNumber", "email"]]
    """),
    code("""
        uds.users(first="jun", last="k")[["userName", "firstName", "lastName", "phoneNumber"]]
    """),
    code("""
        uds.users(number="201")[["userName", "displayName", "phoneNumber"]]
    """),
    md("""
        ## `limit=`: how many rows in total

        `limit=` caps the **total** number of rows. It is not the page size. The provenance in `df.attrs`
        records how many rows the server had (`total`) and how many you got (`rows`).
    """),
    code("""
        first_100 = uds.users(limit=100)
        len(first_100), first_100.attrs["ucexplore"]["total"], first_100.attrs["ucexplore"]["rows"]
    """),
    code("""
        everyone = uds.users()  # every page
        len(everyone)
    """),
    md("""
        ## Directory hygiene, and a chart

        Two common questions: who has no e-mail address or mobile number? And how are last names spread over
        the alphabet?
    """),
    code("""
        hygiene = everyone.assign(no_email=everyone["email"].isna(), no_mobile=everyone["mobileNumber"].isna())
        hygiene[["no_email", "no_mobile"]].sum()
    """),
    code("""
        ax = everyone["lastName"].str[0].value_counts().sort_index().plot.bar(
            title="Users by first letter of the last name", xlabel="", ylabel="users", figsize=(9, 3))
    """),
    md("""
        ## One user: settings, phones, speed dials

        These resources live under `/cucm-uds/user/<id>`. An end user may read only their own. Nested fields
        are flattened with dots, as in `primaryExtension.directoryNumber`.
    """),
    code("""
        me = uds.user(env.demo_user)
        me[["userName", "displayName", "department", "title", "primaryExtension.directoryNumber"]]
    """),
    code("""
        uds.devices(env.demo_user)[["name", "model", "protocol", "lineNumber"]]
    """),
    code("""
        uds.speed_dials(env.demo_user)
    """),
    md("""
        Another user's phones are refused, and the error explains why. Errors never contain a token.
    """),
    code("""
        someone_else = everyone.loc[everyone["userName"] != env.demo_user, "userName"].iloc[0]
        try:
            uds.devices(someone_else)
        except ux.ApiError as exc:
            print(exc)
    """),
    md("""
        ## Async

        Every call has an async twin, so you can run several at once:
    """),
    code("""
        import asyncio

        ka, ko = await asyncio.gather(uds.users_async(last="Ka"), uds.users_async(last="Ko"))
        len(ka), len(ko)
    """),
]

# ==========================================================================================================
# 02 — Unity Connection voicemail
# ==========================================================================================================

UNITY = [
    md("""
        # Unity Connection: voicemail (CUMI) and provisioning (CUPI)

        Unity Connection has its own SSO sign-in. A CUCM token is not valid here. Signed in as yourself, you
        read **your own mailbox** through CUMI. An administrator reads users, call handlers and distribution
        lists through **CUPI**, with HTTP Basic.
    """),
    SETUP,
    code("""
        flow = ux.UnitySSO(env.unity_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(flow)
    """),
    code("""
        cuc = ux.Unity(env.unity_url, auth=flow, verify=env.verify)
        cuc.folders()
    """),
    code("""
        msgs = cuc.messages()  # the inbox; ArrivalTime is a UTC timestamp
        msgs[["Subject", "Read", "Priority", "ArrivalTime", "Duration", "CallerId.CallerNumber"]].head(10)
    """),
    md("""
        ## The backlog

        How much is waiting, how old is the oldest unread message, and is any of it urgent?
    """),
    code("""
        unread = msgs[~msgs["Read"]]
        {
            "unread": len(unread),
            "urgent unread": int((unread["Priority"] == "Urgent").sum()),
            "oldest unread": unread["ArrivalTime"].min(),
            "minutes of audio": round(float(unread["Duration"].sum()) / 60000, 1),
        }
    """),
    code("""
        weekly = msgs.groupby(msgs["ArrivalTime"].dt.strftime("%G-W%V"))["MsgId"].count()
        ax = weekly.plot.bar(title="Voicemails per week", xlabel="", ylabel="messages", figsize=(9, 3))
    """),
    md("""
        The server can filter too: `read=False` asks Unity for unread messages only.
    """),
    code("""
        len(cuc.messages(read=False)) == len(unread)
    """),
    md("""
        ## Administrators: CUPI with HTTP Basic

        CUPI does not take an end user's SSO token. It wants an administrator's user name and password. The
        notebook reads them from `UCX_ADMIN_USER` / `UCX_ADMIN_PASSWORD`; in the lab it uses the lab's
        administrator. The password stays in Python and is never shown.

        CUPI searches take one criterion: `alias="j"` means `(alias startswith j)`. You can also pass a raw
        query such as `"(alias is jkam)"`.
    """),
    code("""
        cupi = ux.Unity(env.unity_url, auth=env.admin_credentials(), verify=env.verify)
        cupi.users(alias="j")[["Alias", "DisplayName", "DtmfAccessId"]]
    """),
    code("""
        cupi.call_handlers(limit=10)[["DisplayName", "DtmfAccessId", "IsPrimary"]]
    """),
    code("""
        cupi.distribution_lists()[["Alias", "DisplayName", "IsPublic"]]
    """),
    md("""
        An administrator can also read another user's mailbox, which helps with a team's backlog. Pass the
        user's `ObjectId` as `user_object_id=`:
    """),
    code("""
        someone = cupi.users(alias="a", limit=1).iloc[0]
        theirs = cupi.messages(user_object_id=someone["ObjectId"])
        someone["Alias"], len(theirs), int((~theirs["Read"]).sum())
    """),
]

# ==========================================================================================================
# 03 — Finesse contact centre
# ==========================================================================================================

FINESSE = [
    md("""
        # Finesse: agents, teams, calls and agent state

        Finesse signs in through Cisco IdS. The sign-in page answers with a small JSON text, holding a token
        and a **refresh token**, and you paste that text back. Finesse tokens are short-lived. ucexplore
        refreshes them by itself once 75 % of the lifetime has passed.
    """),
    SETUP,
    code("""
        flow = ux.FinesseSSO(env.finesse_url, agent_id=env.demo_agent_id, verify=env.verify)
        sign_in(flow)
    """),
    code("""
        fin = ux.Finesse(env.finesse_url, auth=flow, verify=env.verify)
        agent = env.demo_agent_id
        me = fin.user(agent)
        me[["loginId", "loginName", "state", "reasonCode.label", "teamId", "teamName", "roles.role"]]
    """),
    md("""
        ## Refresh

        You can also refresh by hand. The new token replaces the old one in the flow, and the refresh token
        rotates. Neither is ever printed. (`flow.refresh_url()` builds the browser variant of the refresh: it
        shows masked, and `.reveal()` gives the address to open; do not print that.)
    """),
    code("""
        before = flow.token.expires_at
        flow.refresh(flow.token)
        before, flow.token.expires_at, flow.token.needs_refresh
    """),
    md("""
        ## Team, calls and reason codes

        The demo agent is also a supervisor, so it can read its team: one row per agent, with the state as a
        category.
    """),
    code("""
        team = fin.team(me["teamId"])
        team[["loginId", "firstName", "lastName", "state"]]
    """),
    code("""
        ax = team["state"].value_counts().plot.barh(title=f"{me['teamName']}: agent states", figsize=(7, 3))
    """),
    code("""
        import pandas as pd

        calls = pd.concat([fin.dialogs(a) for a in team["loginId"]], ignore_index=True)
        calls.filter(regex="^(id|fromAddress|toAddress|state|mediaProperties.queueName|callvariables)")
    """),
    code("""
        fin.reason_codes(category="ALL")[["id", "category", "code", "label"]]
    """),
    md("""
        ## Change your state, and read it back

        Finesse accepts the change (HTTP 202) and applies it a moment later. `set_state` waits for it and
        returns the agent as Finesse then reports it. Reading the agent again shows the same state. (If you
        are logged out, `fin.set_state(agent, "LOGIN")` comes first. During a call, Finesse keeps the change as
        `pendingState` until the call ends.)
    """),
    code("""
        fin.set_state(agent, "READY")[["state", "stateChangeTime"]]
    """),
    code("""
        codes = fin.reason_codes()  # NOT_READY codes
        lunch = codes.loc[codes["label"] == "Lunch", "id"].iloc[0]
        fin.set_state(agent, "NOT_READY", reason_code_id=lunch)[["state", "reasonCode.label"]]
    """),
    code("""
        fin.user(agent)[["state", "reasonCode.label", "stateChangeTime"]]  # read back from the server
    """),
]

# ==========================================================================================================
# 04 — Webex meetings
# ==========================================================================================================

WEBEX = [
    md("""
        # Webex: people and meetings

        Webex uses a standard OAuth **authorization code** flow, made safe for a notebook by **PKCE**. The
        sign-in link carries a random `state` and the hash of a secret (`code_challenge`). The address you
        paste back carries a one-time `code`. ucexplore checks the `state`, then trades the code and the secret
        (the `code_verifier`, which never leaves Python) for a token. Because of PKCE, a notebook needs no
        client secret.
    """),
    SETUP,
    code("""
        flow = ux.WebexOAuth(env.webex_client_id, redirect_uri=env.redirect_uri,
                             scopes=["spark:all"],  # the legacy XML section below needs spark:all
                             base_url=env.webex_url, verify=env.verify)
        sign_in(flow)
    """),
    code("""
        wx = ux.Webex(auth=flow, base_url=env.webex_url, verify=env.verify)
        wx.me()[["displayName", "emails", "status"]]
    """),
    code("""
        wx.people(display_name="Sara")[["displayName", "emails", "status"]]
    """),
    md("""
        ## Meetings

        `meetings()` follows Webex's `Link: rel="next"` pages for you. `start` and `end` are UTC timestamps,
        and `state` is a category.
    """),
    code("""
        mtg = wx.meetings()
        mtg[["title", "state", "start", "end"]].head(10)
    """),
    code("""
        mtg["state"].value_counts()
    """),
    md("""
        ## This week

        `from_` and `to` ask the server for the meetings that start in a window (`to` is exclusive). The lab
        builds its calendar around today, so this week has meetings: some have ended, some are still to come.
    """),
    code("""
        import pandas as pd

        today = pd.Timestamp.now(tz="UTC").normalize()
        monday = today - pd.Timedelta(days=today.dayofweek)
        this_week = wx.meetings(from_=monday, to=monday + pd.Timedelta(days=7))
        this_week[["title", "state", "start", "end"]]
    """),
    code("""
        minutes = (mtg["end"] - mtg["start"]).dt.total_seconds() / 60
        ax = minutes.groupby(mtg["start"].dt.strftime("%G-W%V")).sum().plot.bar(
            title="Meeting minutes per week", xlabel="", ylabel="minutes", figsize=(9, 3))
    """),
    code("""
        ended = mtg[mtg["state"] == "ended"]
        wx.meeting_participants(ended["id"].iloc[-1])[["displayName", "email", "joinedTime", "leftTime"]]
    """),
    md("""
        ---
        ## ⚠️ Legacy: the Webex Meetings XML API (retired by Cisco in 2024)

        **Do not build anything new on this API.** Cisco retired the XML API in 2024. Use the REST calls
        above. This section exists for old notebooks and scripts that still read `LstsummaryMeeting`, so that
        you can compare their results with REST while you migrate.

        The XML API signs in with a *session ticket*. ucexplore gets one from your Webex REST token
        (`AuthenticateUser`), so there is no password to type. Dates are in the site's time zone. Failures
        arrive inside HTTP 200 answers, and ucexplore raises them as errors.
    """),
    code("""
        wxml = ux.WebexXML(env.webex_xml_url, site_name=env.webex_site, webex_id=env.demo_user, auth=flow,
                           verify=env.verify)
        legacy = wxml.meetings()
        legacy.head()
    """),
    code("""
        len(legacy), len(mtg)  # the same meetings, seen through both APIs
    """),
]

# ==========================================================================================================
# 05 — WebDialer
# ==========================================================================================================

WEBDIALER = [
    md("""
        # WebDialer: click-to-dial

        WebDialer makes your own desk phone or soft client place a call. Think of a "call" button in a report.
        It runs on CUCM and uses the same CUCM sign-in as UDS. The credential travels inside the SOAP body.
        ucexplore builds that body for you and never logs it.
    """),
    SETUP,
    code("""
        flow = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(flow)
    """),
    code("""
        wd = ux.WebDialer(env.cucm_url, auth=flow, verify=env.verify)
        wd.is_cluster_user(env.demo_user), wd.profile()
    """),
    md("""
        ## Call a colleague

        Look the colleague up in the directory (UDS), then dial their number from your phone. If you do not
        name a phone, WebDialer uses the first one in your profile.
    """),
    code("""
        uds = ux.UDS(env.cucm_url, auth=flow, verify=env.verify)
        directory = uds.users(limit=10)
        colleague = directory[directory["userName"] != env.demo_user].iloc[0]
        colleague[["displayName", "phoneNumber"]]
    """),
    code("""
        wd.make_call(colleague["phoneNumber"], user_id=env.demo_user)
    """),
    code("""
        wd.end_call(user_id=env.demo_user)
    """),
    md("""
        ## Only from your own phone

        You cannot dial from someone else's phone unless you have proxy rights. The refusal is an `ApiError`
        that carries WebDialer's own response code and a hint:
    """),
    code("""
        try:
            wd.make_call("2002", user_id=colleague["userName"])
        except ux.ApiError as exc:
            print(exc)
    """),
]

# ==========================================================================================================
# 06 — cross-product report
# ==========================================================================================================

REPORT = [
    md("""
        # One view across products

        The same person exists in CUCM, Unity Connection, Finesse and Webex. This notebook joins them. First
        comes a "my day" card for the signed-in user: their phones, voicemail backlog, agent state and next
        meetings. Then comes a team sheet for a supervisor, and finally a report file and the Explorer.

        With SSO you sign in to the identity provider **once**. The other three sign-in pages then go straight
        through, so each one costs only a paste.
    """),
    SETUP,
    code("""
        cucm = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(cucm)
    """),
    code("""
        unity = ux.UnitySSO(env.unity_url, redirect_uri=env.redirect_uri, verify=env.verify)
        sign_in(unity)
    """),
    code("""
        finesse = ux.FinesseSSO(env.finesse_url, agent_id=env.demo_agent_id, verify=env.verify)
        sign_in(finesse)
    """),
    code("""
        webex = ux.WebexOAuth(env.webex_client_id, redirect_uri=env.redirect_uri, base_url=env.webex_url,
                              verify=env.verify)
        sign_in(webex)
    """),
    code("""
        uds = ux.UDS(env.cucm_url, auth=cucm, verify=env.verify)
        cuc = ux.Unity(env.unity_url, auth=unity, verify=env.verify)
        fin = ux.Finesse(env.finesse_url, auth=finesse, verify=env.verify)
        wx = ux.Webex(auth=webex, base_url=env.webex_url, verify=env.verify)
        ux.sessions()
    """),
    md("""
        ## My day
    """),
    code("""
        import pandas as pd

        devices = uds.devices(env.demo_user)
        voicemail = cuc.messages()
        agent = fin.user(env.demo_agent_id)
        meetings = wx.meetings()
        upcoming = meetings[meetings["state"] == "scheduled"].sort_values("start")

        my_day = pd.Series({
            "user": env.demo_user,
            "phones": ", ".join(devices["name"]),
            "unread voicemail": int((~voicemail["Read"]).sum()),
            "oldest unread": voicemail.loc[~voicemail["Read"], "ArrivalTime"].min(),
            "agent state": agent["state"],
            "reason": agent.get("reasonCode.label"),
            "meetings scheduled": len(upcoming),
            "next meeting": upcoming["start"].min(),
        })
        my_day.to_frame("value")
    """),
    md("""
        ## A supervisor's team sheet

        We start from the Finesse team and join each agent to the CUCM directory (phone, e-mail) on the user
        name. Each agent's e-mail address then finds them in Webex. The result has one row per agent, with
        columns from three products.
    """),
    code("""
        team = fin.team(agent["teamId"])[["loginId", "loginName", "state"]]
        directory = uds.users()[["userName", "displayName", "phoneNumber", "email"]]
        sheet = team.merge(directory, left_on="loginName", right_on="userName", how="left").drop(columns="userName")
        sheet.head()
    """),
    code("""
        people = wx.people()[["displayName", "emails", "status"]].explode("emails")
        sheet = sheet.merge(people.rename(columns={"emails": "email", "status": "webex status"})
                            .drop(columns="displayName"), on="email", how="left")
        sheet[["loginId", "displayName", "state", "phoneNumber", "webex status"]]
    """),
    md("""
        An administrator can add each agent's voicemail backlog from Unity Connection (CUPI finds the
        mailbox, CUMI counts it):
    """),
    code("""
        cupi = ux.Unity(env.unity_url, auth=env.admin_credentials(), verify=env.verify)
        boxes = cupi.users()[["Alias", "ObjectId"]]

        def unread_for(alias):
            oid = boxes.loc[boxes["Alias"] == alias, "ObjectId"]
            return int(len(cupi.messages(user_object_id=oid.iloc[0], read=False))) if len(oid) else None

        sheet["unread voicemail"] = sheet["loginName"].map(unread_for)
        sheet[["displayName", "state", "webex status", "unread voicemail"]]
    """),
    md("""
        ## A report file

        `ux.report(...)` writes your tables to one HTML page and an Excel workbook beside it, with charts.
        Every table carries its provenance, and the report contains no secret. The built-in reports
        (`"directory"`, `"voicemail"`, `"contact-centre"`) take the clients instead of tables.

        Files go to the output folder, `ux.output_dir()`: `output/` next to this notebook, or the folder named
        by `UCX_OUTPUT_DIR`. Git ignores it, so reports and exports never end up in the repository.
    """),
    code("""
        r = ux.report({"My day": my_day.to_frame("value"), "Team": sheet, "Voicemail": voicemail},
                      charts={"Team": "state", "Voicemail": "ArrivalTime"},
                      title="Team sheet", out=ux.output_dir() / "team-sheet.html")
        print(r.summary())
    """),
    code("""
        r = ux.report(["directory", "voicemail", "contact-centre"], uds=uds, unity=cuc, finesse=fin,
                      out=ux.output_dir() / "built-in.html")
        r.row_counts
    """),
    md("""
        ## The Explorer

        `ux.explore(client)` is a point-and-click view of any client. Pick a resource, fill in its filters,
        click **Fetch**, then sort, chart or export the rows. In a script, the same steps are method calls.
    """),
    code("""
        ex = ux.explore(uds, resource="users", folder=ux.output_dir())  # exports go to the output folder
        ex
    """),
    code("""
        ex.set_filters(last="Ka")  # what typing into the filter boxes does
        found = await ex.fetch()   # what the Fetch button does
        len(found), ex.export("csv").name
    """),
]

# ==========================================================================================================
# workshop
# ==========================================================================================================

WS_SETUP = code("""
    import ucexplore as ux
    from ucexplore.notebook import ux_env, sign_in, check_directory_count, check_my_devices, \\
        check_unread_voicemail, check_agent_state, check_scheduled_meetings

    env = ux_env()
""")

WORKSHOP: dict[str, list[Cell]] = {
    "01-sign-in-and-search": [
        md("""
            # Exercise 1: sign in and search the directory (15 min)

            **You will learn:** how the SSO hand-off works (open, sign in, paste), how to make a client, and how
            `users()` gives you every page of a search as one DataFrame (UDS sends at most 64 users a page).

            Run each cell with Shift+Enter. Cells marked **✏️ Your turn** are yours to fill in: replace the `...`.
            The last cell checks your answer against the lab.
        """),
        WS_SETUP,
        md("""
            ## Sign in to CUCM

            Click **Open sign-in page** and sign in as the demo user. Then paste the address you land on into the
            box.
        """),
        code("""
            flow = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
            sign_in(flow)
        """),
        code("""
            uds = ux.UDS(env.cucm_url, auth=flow, verify=env.verify)
            uds.users(last="Ka").head()
        """),
        md("""
            ## ✏️ Your turn

            The 20xx extension block is moving to a new site. **How many users have a number that starts with
            "20"?**

            Tip: `uds.users(number=...)` searches by the start of a user's numbers (extension or phone number),
            and `len(df)` counts rows. UDS sends at most 64 users per page, so this search takes more than one
            page; `users()` fetches every page for you.
        """),
        exercise(
            """
            answer = ...  # the number of users whose number starts with "20"
            """,
            """
            block = uds.users(number="20")
            answer = len(block)
            answer, block.attrs["ucexplore"]["total"]  # rows fetched, and the server's own count
            """,
        ),
        code("""
            check_directory_count(answer, number="20")
        """),
    ],
    "02-my-devices": [
        md("""
            # Exercise 2: your phones (15 min)

            **You will learn:** the resources under `/cucm-uds/user/<id>` that only *you* may read; Series and
            DataFrames; how to turn a column into a Python list.
        """),
        WS_SETUP,
        code("""
            flow = ux.CucmSSO(env.cucm_url, redirect_uri=env.redirect_uri, verify=env.verify)
            sign_in(flow)
        """),
        code("""
            uds = ux.UDS(env.cucm_url, auth=flow, verify=env.verify)
            me = uds.user(env.demo_user)  # one object → a pandas Series
            me[["userName", "displayName", "primaryExtension.directoryNumber"]]
        """),
        md("""
            ## ✏️ Your turn

            **Which devices (phones and soft clients) do you have?** Give their names as a list.

            Tip: `uds.devices(user_id)` takes your CUCM user id (`env.demo_user`). `df["name"].tolist()` turns a
            column into a list.
        """),
        exercise(
            """
            answer = ...  # a list of your device names
            """,
            """
            mine = uds.devices(env.demo_user)
            answer = mine["name"].tolist()
            mine[["name", "model"]]
            """,
        ),
        code("""
            check_my_devices(answer)
        """),
        md("""
            **Going further:** try `uds.devices(...)` for someone else's user id. What does the error tell you?
        """),
    ],
    "03-voicemail-backlog": [
        md("""
            # Exercise 3: your voicemail backlog (20 min)

            **You will learn:** Unity Connection's own SSO sign-in (a CUCM token is not valid there), CUMI
            messages, boolean filtering and timestamps in pandas.
        """),
        WS_SETUP,
        code("""
            flow = ux.UnitySSO(env.unity_url, redirect_uri=env.redirect_uri, verify=env.verify)
            sign_in(flow)
        """),
        code("""
            cuc = ux.Unity(env.unity_url, auth=flow, verify=env.verify)
            msgs = cuc.messages()
            msgs[["Subject", "Read", "ArrivalTime"]].head()
        """),
        md("""
            ## ✏️ Your turn

            1. **How many messages in your inbox are unread?**
            2. **When did the oldest unread message arrive?**

            Tip: `msgs["Read"]` is a boolean column, and `~` turns True into False. `msgs[mask]` keeps the rows
            where `mask` is True. `.min()` of a timestamp column is the earliest one.
        """),
        exercise(
            """
            unread = ...  # how many unread messages
            oldest = ...  # when the oldest unread message arrived
            """,
            """
            unread_msgs = msgs[~msgs["Read"]]
            unread = len(unread_msgs)
            oldest = unread_msgs["ArrivalTime"].min()
            unread, oldest
            """,
        ),
        code("""
            check_unread_voicemail(unread, oldest)
        """),
    ],
    "04-agent-state": [
        md("""
            # Exercise 4: go on a break (20 min)

            **You will learn:** the Finesse sign-in, whose token refreshes by itself; reason codes; changing an
            agent's state and reading it back from the server.
        """),
        WS_SETUP,
        code("""
            flow = ux.FinesseSSO(env.finesse_url, agent_id=env.demo_agent_id, verify=env.verify)
            sign_in(flow)
        """),
        code("""
            fin = ux.Finesse(env.finesse_url, auth=flow, verify=env.verify)
            agent = env.demo_agent_id
            fin.user(agent)[["loginId", "state", "reasonCode.label"]]
        """),
        code("""
            fin.reason_codes()  # the NOT_READY reason codes
        """),
        md("""
            ## ✏️ Your turn

            1. Find the **id** of the reason code labelled **"Break"**.
            2. Put yourself **NOT_READY** with that reason code.

            Tip: `df.loc[df["label"] == "Break", "id"].iloc[0]`. Then use
            `fin.set_state(agent, "NOT_READY", reason_code_id=...)`.
        """),
        exercise(
            """
            break_id = ...  # the id of the "Break" reason code
            # then change your state here
            """,
            """
            codes = fin.reason_codes()
            break_id = codes.loc[codes["label"] == "Break", "id"].iloc[0]
            fin.set_state(agent, "NOT_READY", reason_code_id=break_id)[["state", "reasonCode.label"]]
            """,
        ),
        code("""
            check_agent_state(break_id)  # reads your state back from Finesse
        """),
    ],
    "05-meeting-load": [
        md("""
            # Exercise 5: your meeting load (20 min)

            **You will learn:** the Webex OAuth sign-in with PKCE, pages that follow `Link` headers, and
            counting with pandas.
        """),
        WS_SETUP,
        code("""
            flow = ux.WebexOAuth(env.webex_client_id, redirect_uri=env.redirect_uri, base_url=env.webex_url,
                                 verify=env.verify)
            sign_in(flow)
        """),
        code("""
            wx = ux.Webex(auth=flow, base_url=env.webex_url, verify=env.verify)
            wx.me()[["displayName", "emails"]]
        """),
        md("""
            ## ✏️ Your turn

            **How many of the meetings you host are still scheduled** (their `state` is `"scheduled"`)?

            Tip: `wx.meetings()` lists every meeting you host. Webex sends them a page at a time, and ucexplore
            follows the pages. `(df["state"] == "scheduled").sum()` counts the rows that match.
        """),
        exercise(
            """
            answer = ...  # how many meetings are still scheduled
            """,
            """
            mtg = wx.meetings()
            answer = int((mtg["state"] == "scheduled").sum())
            mtg["state"].value_counts()
            """,
        ),
        code("""
            check_scheduled_meetings(answer)
        """),
    ],
}

# ==========================================================================================================


def _notebook(cells: list[Cell], stem: str, solved: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    slug = stem.replace("/", "-")
    for i, cell in enumerate(cells):
        cid = f"{slug}-{i:02d}"[-64:]
        if cell.kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source, id=cid))
        else:
            src = cell.solution if (solved and cell.solution is not None) else cell.source
            nb.cells.append(nbformat.v4.new_code_cell(src, id=cid))
    return nb


def notebooks() -> dict[Path, nbformat.NotebookNode]:
    """Relative path → notebook, for every notebook this script writes."""
    out: dict[Path, nbformat.NotebookNode] = {}
    for name, cells in [
        ("00-start-here", START_HERE),
        ("01-cucm-uds-directory", CUCM_UDS),
        ("02-unity-voicemail", UNITY),
        ("03-finesse-contact-centre", FINESSE),
        ("04-webex-meetings", WEBEX),
        ("05-webdialer-click-to-dial", WEBDIALER),
        ("06-cross-product-report", REPORT),
    ]:
        out[Path(f"{name}.ipynb")] = _notebook(cells, name)
    for name, cells in WORKSHOP.items():
        out[Path("workshop") / f"{name}.ipynb"] = _notebook(cells, f"workshop/{name}")
        out[Path("workshop") / "solutions" / f"{name}.ipynb"] = _notebook(cells, f"solutions/{name}", solved=True)
    return out


def render(nb: nbformat.NotebookNode) -> str:
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


# ==========================================================================================================
# --check: the script's notebooks against what git holds
# ==========================================================================================================


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """``git -C root …``, or None when git cannot run here."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def is_git_checkout(root: Path = ROOT) -> bool:
    """True when ``root`` is the top of a git work tree that git can read."""
    r = _git(root, "rev-parse", "--show-toplevel")
    if r is None or r.returncode != 0:
        return False
    return Path(r.stdout.decode().strip()).resolve() == root.resolve()


def git_notebooks(root: Path = ROOT) -> set[Path]:
    """The notebooks git tracks under ``notebooks/``, relative to it (untracked ones, e.g. Untitled.ipynb, and
    checkpoints are not in it)."""
    r = _git(root, "ls-files", "-z", "--", "notebooks")
    if r is None or r.returncode != 0:
        return set()
    names = [n for n in r.stdout.decode().split("\0") if n.endswith(".ipynb")]
    return {Path(n).relative_to("notebooks") for n in names if ".ipynb_checkpoints" not in Path(n).parts}


def git_text(rel: Path, root: Path = ROOT) -> str | None:
    """The text git holds for ``notebooks/<rel>`` (the index: last commit plus staged changes), None if none."""
    r = _git(root, "show", f":notebooks/{Path(rel).as_posix()}")
    return r.stdout.decode("utf-8") if r is not None and r.returncode == 0 else None


def check(root: Path = ROOT) -> tuple[list[str], list[str]]:
    """(problems, notes): problems make ``--check`` fail; notes are said and pass."""
    built = {rel: render(nb) for rel, nb in notebooks().items()}
    folder = root / "notebooks"
    problems: list[str] = []
    notes: list[str] = []
    if not is_git_checkout(root):
        notes.append(f"{root} is not a git checkout: comparing the files in notebooks/ instead (a notebook saved "
                     "with outputs counts as changed there)")
        for rel, text in built.items():
            path = folder / rel
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                problems.append(f"{rel}: the file differs from the script")
        return problems, notes
    for rel in sorted(git_notebooks(root) - set(built)):
        problems.append(f"{rel}: in git but not built by this script (git rm it, or add it here)")
    for rel, text in built.items():
        held = git_text(rel, root)
        if held == text:
            continue
        path = folder / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            notes.append(f"{rel}: rebuilt, not in git yet (git add notebooks/{rel.as_posix()})")
            continue
        problems.append(f"{rel}: " + ("not in git" if held is None else "git's version differs from the script"))
    return problems, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the notebooks git holds differ from this script (your saved runs "
                             "in notebooks/ do not count)")
    args = parser.parse_args(argv)
    if args.check:
        problems, notes = check()
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        if problems:
            print("out of date (run scripts/build_notebooks.py, then git add notebooks/):\n  "
                  + "\n  ".join(problems), file=sys.stderr)
            return 1
        return 0
    for rel, nb in notebooks().items():
        path = NOTEBOOKS / rel
        text = render(nb)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote notebooks/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
