"""Contract: ux.Finesse against the lab; ground truth from lab.org (agents, teams, reason codes)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.lab.person import Person
from ucexplore.transport import RetryPolicy

TEAM_COLUMNS = ["loginId", "loginName", "firstName", "lastName", "extension", "state", "stateChangeTime"]


# -- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fin_flow(lab, sign_in):
    flow = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    sign_in(flow)
    return flow


@pytest.fixture(scope="module")
def fin(lab, fin_flow):
    """The demo agent (a supervisor of its team) through Finesse SSO."""
    with ux.Finesse(lab.urls["finesse"], auth=fin_flow, progress=False) as client:
        yield client


@pytest.fixture(scope="module")
def admin(lab):
    with ux.Finesse(lab.urls["finesse"], auth=lab.admin, progress=False) as client:
        yield client


@pytest.fixture()
def demo_state(lab):
    """Put the demo agent back as it was after a state test."""
    agent = lab.org.demo_agent
    saved = (agent.state, agent.reason_code_id, agent.state_change_time)
    yield agent
    agent.state, agent.reason_code_id, agent.state_change_time = saved


def ts(dt: datetime) -> pd.Timestamp:
    """The lab renders times with millisecond precision."""
    return pd.Timestamp(dt).tz_convert("UTC").floor("ms")


def other_team_agent(lab):
    demo = lab.org.demo_agent
    return next(a for a in lab.org.agents.values() if a.team_id != demo.team_id)


# -- reading -----------------------------------------------------------------------------------------------
def test_system_info_without_sign_in(lab, fin):
    with ux.Finesse(lab.urls["finesse"], progress=False) as anonymous:
        info = anonymous.system_info()
    assert info["status"] == "IN_SERVICE" and info["deploymentType"] == "UCCX"
    assert info["timezoneOffset"] == lab.org.site_timezone[2] == 480
    assert isinstance(info["currentTimestamp"], pd.Timestamp) and info["currentTimestamp"].tzinfo is not None
    assert info["ctiServers.ctiServer"][0]["host"] == info["primaryNode.host"]
    assert fin.system_info()["systemAuthMode"] == "HYBRID"


def test_user_matches_org(lab, fin):
    a = lab.org.demo_agent
    s = fin.user(a.login_id)
    assert isinstance(s, pd.Series)
    assert (s["loginId"], s["loginName"], s["firstName"], s["lastName"]) == (
        a.login_id,
        a.user.username,
        a.user.first_name,
        a.user.last_name,
    )
    assert s["extension"] == a.extension and s["teamId"] == a.team_id
    assert s["teamName"] == lab.org.teams[a.team_id].name == "Billing & Payments"
    assert s["roles.role"] == ["Agent", "Supervisor"] and isinstance(s["roles.role"], list)
    assert s["state"] == a.state and s["stateChangeTime"] == ts(a.state_change_time)
    if a.reason_code_id >= 0:
        rc = lab.org.reason_code(a.reason_code_id)
        assert s["reasonCodeId"] == rc.id and s["reasonCode.id"] == rc.id
        assert s["reasonCode.label"] == rc.label and s["reasonCode.category"] == rc.category
    assert s["wrapUpTimer"] == 30 and s["teams.Team"][0]["id"] == a.team_id
    by_name = fin.user(a.user.username)
    assert by_name["loginId"] == a.login_id
    assert s.attrs["ucexplore"]["path"] == f"/finesse/api/User/{a.login_id}"


def test_lone_role_is_still_a_list(lab):
    plain = next(a for a in lab.org.agents.values() if a.roles == ("Agent",) and a.state != "LOGOUT")
    with ux.Finesse(lab.urls["finesse"], auth=(plain.login_id, lab.demo_user[1]), progress=False) as f:
        s = f.user(plain.login_id)
    assert s["roles.role"] == ["Agent"] and "teams.Team" not in s.index


def test_team_one_row_per_agent(lab, fin):
    a = lab.org.demo_agent
    team = lab.org.teams[a.team_id]
    df = fin.team(a.team_id)
    assert list(df["loginId"]) == team.agent_ids and df["loginId"].is_unique
    assert list(df.columns[: len(TEAM_COLUMNS)]) == TEAM_COLUMNS
    assert set(df["teamId"]) == {team.id} and set(df["teamName"]) == {"Billing & Payments"}
    assert str(df["state"].dtype) == "category"
    assert str(df["stateChangeTime"].dtype) == "datetime64[ns, UTC]"
    for _, row in df.iterrows():
        agent = lab.org.agents[row["loginId"]]
        assert row["state"] == agent.state and row["stateChangeTime"] == ts(agent.state_change_time)
        assert (row["firstName"], row["lastName"]) == (agent.user.first_name, agent.user.last_name)
        if agent.reason_code_id >= 0:
            assert row["reasonCode.label"] == lab.org.reason_code(agent.reason_code_id).label
    assert df.attrs["ucexplore"]["rows"] == len(team.agent_ids)


def test_team_names_with_markup_characters_round_trip(lab, admin):
    for team in lab.org.teams.values():
        df = admin.team(team.id)
        assert set(df["teamName"]) == {team.name}
        assert set(df["loginId"]) == set(team.agent_ids)
    assert any("&" in t.name for t in lab.org.teams.values())
    all_agents = admin.users()
    assert set(all_agents["loginId"]) == set(lab.org.agents)
    assert str(all_agents["state"].dtype) == "category"
    by_id = all_agents.set_index("loginId")
    for agent in lab.org.agents.values():
        assert by_id.loc[agent.login_id, "firstName"] == agent.user.first_name  # Unicode names


def test_dialogs_one_row_per_call_with_call_variables(lab, admin):
    agent = next(a for a in lab.org.agents.values() if a.dialogs)
    truth = agent.dialogs[0]
    df = admin.dialogs(agent.login_id)
    assert len(df) == len(agent.dialogs) == 1
    row = df.iloc[0]
    assert row["id"] == truth["id"] and row["fromAddress"] == truth["fromAddress"]
    assert row["toAddress"] == agent.extension and row["mediaProperties.queueName"] == truth["queueName"]
    for name, value in truth["callvariables"]:
        assert row[f"callvariables.{name}"] == value  # "Gold & Silver" round-trips
    parts = row["participants"]
    assert isinstance(parts, list) and len(parts) == len(truth["participants"])
    assert [p["mediaAddress"] for p in parts] == [p[0] for p in truth["participants"]]
    assert all(isinstance(p["actions.action"], list) for p in parts)
    assert str(df["state"].dtype) == "category"
    one = admin.dialog(truth["id"])
    assert one["id"] == truth["id"] and one["callvariables.callVariable1"] == truth["callvariables"][0][1]
    assert isinstance(one["participants"], list)


def test_no_dialogs_is_an_empty_frame_with_columns(lab, fin):
    assert not lab.org.demo_agent.dialogs
    df = fin.dialogs(lab.demo_agent_id)
    assert df.empty and {"id", "state", "fromAddress", "participants"} <= set(df.columns)


def test_reason_codes(lab, fin):
    nr = fin.reason_codes()
    want = [rc for rc in lab.org.reason_codes if rc.category == "NOT_READY"]
    assert list(nr["id"]) == [rc.id for rc in want] and list(nr["label"]) == [rc.label for rc in want]
    assert str(nr["id"].dtype) == "Int64" and nr["forAll"].dtype == bool
    logout = fin.reason_codes("LOGOUT")
    assert set(logout["id"]) == {rc.id for rc in lab.org.reason_codes if rc.category == "LOGOUT"}
    everything = fin.reason_codes(category="ALL")
    assert len(everything) == len(lab.org.reason_codes)
    mine = fin.user_reason_codes(lab.demo_agent_id, "LOGOUT")
    assert list(mine["id"]) == list(logout["id"])
    assert fin.reason_code(2)["label"] == lab.org.reason_code(2).label
    with pytest.raises(ux.ApiError) as info:
        fin.reason_codes("LUNCH")
    assert info.value.error_type == "Invalid Input"


def test_queues(lab, fin):
    df = fin.queues(lab.demo_agent_id)
    assert len(df) >= 1 and str(df["statistics.callsInQueue"].dtype) == "Int64"
    assert str(df["statistics.startTimeOfLongestCallInQueue"].dtype) == "datetime64[ns, UTC]"
    q = df["uri"].iloc[0].rsplit("/", 1)[-1]
    assert fin.queue(q)["name"] == df["name"].iloc[0]


def test_raw_records(lab, fin):
    rec = fin.user(lab.demo_agent_id, raw=True)
    assert (
        isinstance(rec, dict) and rec["loginId"] == lab.demo_agent_id and isinstance(rec["roles.role"], list)
    )
    rows = fin.team(lab.org.demo_agent.team_id, raw=True, limit=2)
    assert isinstance(rows, list) and len(rows) == 2 and all(isinstance(r, dict) for r in rows)


# -- state changes -----------------------------------------------------------------------------------------
def test_set_state_ready_then_not_ready_with_reason(lab, fin, demo_state):
    agent = demo_state
    ready = fin.set_state(agent.login_id, "READY")
    assert isinstance(ready, pd.Series) and ready["state"] == "READY" and ready["reasonCodeId"] == -1
    assert agent.state == "READY"
    before = ready["stateChangeTime"]
    nr = fin.set_state(agent.login_id, "NOT_READY", reason_code_id=2)
    assert nr["state"] == "NOT_READY" and nr["reasonCodeId"] == 2
    assert nr["reasonCode.label"] == lab.org.reason_code(2).label and nr["reasonCode.category"] == "NOT_READY"
    assert nr["stateChangeTime"] >= before
    assert (agent.state, agent.reason_code_id) == ("NOT_READY", 2)
    # the team view agrees
    row = fin.team(agent.team_id).set_index("loginId").loc[agent.login_id]
    assert row["state"] == "NOT_READY" and row["reasonCode.id"] == 2


def test_invalid_transition_is_an_api_error_with_finesse_fields(lab, fin, demo_state):
    agent = demo_state
    out = fin.set_state(agent.login_id, "LOGOUT", reason_code_id=20)
    assert out["state"] == "LOGOUT"
    with pytest.raises(ux.ApiError) as info:
        fin.set_state(agent.login_id, "READY")
    err = info.value
    assert err.status == 400 and err.error_type == "Invalid State" and err.error_data == "READY"
    assert "LOGOUT" in err.code and "LOGIN" in str(err)
    back = fin.set_state(agent.login_id, "LOGIN")  # the agent's own extension is looked up
    assert back["state"] == "NOT_READY"
    with pytest.raises(ux.ApiError) as info:
        fin.set_state(agent.login_id, "NOT_READY", reason_code_id=21)  # a LOGOUT code
    assert info.value.error_type == "Invalid Input" and info.value.error_data == "21"
    assert "reason_codes" in str(info.value)
    with pytest.raises(ValueError):
        fin.set_state(agent.login_id, "TALKING")
    with pytest.raises(ValueError):
        fin.set_state(agent.login_id, "READY", reason_code_id=2)


def test_api_errors_carry_type_message_and_data(lab, fin):
    with pytest.raises(ux.ApiError) as info:
        fin.user("9999999")
    err = info.value
    assert err.status == 404 and err.error_type == "Not Found" and err.error_data == "9999999"
    assert "loginId" in str(err)
    stranger = other_team_agent(lab)
    with pytest.raises(ux.ApiError) as info:
        fin.user(stranger.login_id)
    assert info.value.status == 401 and info.value.error_type == "Invalid Supervisor"
    assert info.value.code == "UNAUTHORIZED" and info.value.error_data == lab.demo_agent_id
    with pytest.raises(ux.ApiError) as info:
        fin.team(stranger.team_id)
    assert info.value.error_type == "Invalid Supervisor"


def test_not_allowed_401_does_not_refresh_the_token(lab, fin, fin_flow):
    issuer = lab.ctx.issuers["finesse"]
    before = (issuer.refresh_count, fin_flow.refresh_count, fin.transport.stats.get("requests", 0))
    stranger = other_team_agent(lab)
    for _ in range(3):
        with pytest.raises(ux.ApiError):
            fin.user(stranger.login_id)
    assert (issuer.refresh_count, fin_flow.refresh_count) == before[:2]  # a refusal is not a token problem
    assert fin.transport.stats["requests"] - before[2] == 3  # and was not re-sent


def test_basic_auth_login_id_or_name(lab):
    plain = [a for a in lab.org.agents.values() if a.roles == ("Agent",)][-1]
    for who in (plain.login_id, plain.user.username):
        with ux.Finesse(lab.urls["finesse"], auth=(who, lab.demo_user[1]), progress=False) as f:
            assert f.user(plain.login_id)["loginName"] == plain.user.username
    with (
        ux.Finesse(lab.urls["finesse"], auth=(plain.login_id, "wrong-pass-123"), progress=False) as f,
        pytest.raises(ux.ApiError) as info,
    ):
        f.user(plain.login_id)
    assert info.value.status == 401 and info.value.error_type == "Authorization Failure"
    assert "wrong-pass-123" not in str(info.value)
    other = next(a for a in lab.org.agents.values() if a is not plain)
    with (
        ux.Finesse(lab.urls["finesse"], auth=(plain.login_id, lab.demo_user[1]), progress=False) as f,
        pytest.raises(ux.ApiError) as info,
    ):
        f.user(other.login_id)
    assert info.value.error_type == "Invalid Authorization User Specified"
    assert "only itself" in str(info.value)


def test_sync_inside_running_loop_and_async_twins(lab, fin, demo_state):
    async def main():
        inside = fin.user(lab.demo_agent_id)  # the sync method inside a running loop
        user, team, codes = await asyncio.gather(
            fin.user_async(lab.demo_agent_id),
            fin.team_async(demo_state.team_id),
            fin.reason_codes_async(category="LOGOUT"),
        )
        changed = await fin.set_state_async(lab.demo_agent_id, "READY")
        return inside, user, team, codes, changed

    inside, user, team, codes, changed = asyncio.run(main())
    assert inside["loginId"] == user["loginId"] == lab.demo_agent_id
    assert len(team) == len(lab.org.teams[demo_state.team_id].agent_ids)
    assert set(codes["category"]) == {"LOGOUT"} and changed["state"] == "READY"


# -- token refresh -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_lab():
    from ucexplore.lab import start

    with start(users=40, seed=3, products=("finesse",), token_ttl={"finesse": 4}) as running:
        yield running


def test_refresh_once_at_75_percent_even_with_ten_concurrent_calls(short_lab):
    lab = short_lab
    issuer = lab.ctx.issuers["finesse"]
    flow = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    with Person(*lab.demo_user) as person:
        tok = flow.complete(person.sign_in(flow.authorize_url))
    assert tok.refreshable and round(tok.lifetime) == 4
    with ux.Finesse(lab.urls["finesse"], auth=flow, progress=False) as fin:
        assert fin.user(lab.demo_agent_id)["loginId"] == lab.demo_agent_id
        assert issuer.refresh_count == 0 and flow.refresh_count == 0  # young token: no refresh
        wait = (tok.refresh_at - datetime.now(UTC)).total_seconds() + 0.15
        time.sleep(max(0.0, wait))
        assert tok.needs_refresh

        async def burst():
            return await asyncio.gather(*(fin.user_async(lab.demo_agent_id) for _ in range(10)))

        results = asyncio.run(burst())
        assert [r["loginId"] for r in results] == [lab.demo_agent_id] * 10
        assert issuer.refresh_count == 1 and flow.refresh_count == 1
        assert flow.token is not tok and not flow.token.needs_refresh
        assert fin.team(lab.org.demo_agent.team_id)["loginId"].is_unique  # the new token works
        assert issuer.refresh_count == 1


# -- faults ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fault_lab():
    from ucexplore.lab import start

    with start(users=400, seed=9, products=("finesse",)) as running:
        running.set_faults("finesse", rate_429=0.2, rate_503=0.1, truncate_rate=0.1, retry_after=0)
        yield running


def test_faults_lose_no_rows_and_state_changes_survive(fault_lab):
    lab = fault_lab
    patient = RetryPolicy(attempts=15, backoff=0.001, max_backoff=0.01)
    with ux.Finesse(lab.urls["finesse"], auth=lab.admin, progress=False, retry=patient) as admin:
        for _ in range(3):
            everyone = admin.users()
            assert set(everyone["loginId"]) == set(lab.org.agents) and everyone["loginId"].is_unique
            for team in lab.org.teams.values():
                assert list(admin.team(team.id)["loginId"]) == team.agent_ids
            assert len(admin.reason_codes(category="ALL")) == len(lab.org.reason_codes)
        markup = next(t for t in lab.org.teams.values() if "<" in t.name)  # "Sales <Inbound>"
        assert set(admin.team(markup.id)["teamName"]) == {markup.name}
        queues = admin.queues(markup.agent_ids[0])
        assert "VIP <Gold>" in set(queues["name"])
        admin_stats = dict(admin.transport.stats)
    agent = lab.org.demo_agent
    with ux.Finesse(
        lab.urls["finesse"], auth=(agent.login_id, lab.demo_user[1]), progress=False, retry=patient
    ) as fin:
        for state, reason in (("READY", None), ("NOT_READY", 3), ("READY", None), ("NOT_READY", 1)):
            out = fin.set_state(agent.login_id, state, reason_code_id=reason)
            assert out["state"] == state and agent.state == state
        assert out["reasonCodeId"] == 1
    counters = lab.fault_counters["finesse"].as_dict()
    assert counters["429"] > 0 and counters["503"] > 0 and counters["truncated"] > 0
    assert admin_stats["retries"] > 0


# -- secrets -----------------------------------------------------------------------------------------------
def test_no_secret_in_errors_logs_or_attrs(lab, caplog):
    flow = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    with Person(*lab.demo_user) as person:
        tok = flow.complete(person.sign_in(flow.authorize_url))
    caplog.set_level(logging.DEBUG)  # every logger from here on: the data calls, the refresh
    frames, errors = [], []
    with ux.Finesse(lab.urls["finesse"], auth=flow, progress=False) as fin:
        frames += [fin.user(lab.demo_agent_id), fin.team(lab.org.demo_agent.team_id), fin.reason_codes()]
        refreshed = flow.refresh()
        frames.append(fin.queues(lab.demo_agent_id))
        for call in (
            lambda: fin.user("9999999"),
            lambda: fin.user(other_team_agent(lab).login_id),
            lambda: fin.set_state(lab.demo_agent_id, "NOT_READY", reason_code_id=21),
        ):
            with pytest.raises(ux.UcError) as info:
                call()
            errors.append(info.value)
        texts = [repr(fin), repr(flow), str(flow), repr(tok), repr(refreshed)]
    with (
        ux.Finesse(lab.urls["finesse"], auth=(lab.demo_agent_id, "bad-password-42"), progress=False) as bad,
        pytest.raises(ux.ApiError) as info,
    ):
        bad.user(lab.demo_agent_id)
        errors.append(info.value)
    secrets = [
        tok.access_token,
        tok.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
        "bad-password-42",
        lab.admin[1],
    ]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(f.attrs) for f in frames] + [f.to_string() for f in frames]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records
    for text in texts:
        for secret in secrets:
            assert secret not in text
