"""Contract: ux.Unity (CUPI + CUMI) against the lab; ground truth from lab.org."""

from __future__ import annotations

import asyncio
import base64
import logging

import httpx
import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.lab.person import Person
from ucexplore.services.unity import CUPI_PAGE, cupi_query, cupi_sort
from ucexplore.transport import RetryPolicy

JSON = {"Accept": "application/json"}
USER_COLUMNS = ["ObjectId", "Alias", "FirstName", "LastName", "DisplayName", "EmailAddress", "DtmfAccessId"]


# -- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cuc(lab):
    """CUPI as the lab administrator (Basic)."""
    with ux.Unity(lab.urls["unity"], auth=lab.admin, progress=False) as client:
        yield client


@pytest.fixture(scope="module")
def unity_flow(lab, sign_in):
    flow = ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    return flow


@pytest.fixture(scope="module")
def me(lab, unity_flow):
    """CUMI as the demo user through Unity Connection SSO."""
    with ux.Unity(lab.urls["unity"], auth=unity_flow, progress=False) as client:
        yield client


def by_alias(lab):
    return sorted(lab.org.users, key=lambda u: u.username)


def unique_alias(lab) -> str:
    """An alias no other alias starts with (a startswith query matches exactly one user)."""
    names = [u.username for u in lab.org.users]
    return next(n for n in sorted(names) if sum(1 for m in names if m.startswith(n)) == 1)


def inbox(lab, user=None):
    return lab.org.mailbox(user or lab.org.demo)["inbox"]


# -- query building (pure) --------------------------------------------------------------------------------
def test_cupi_query_and_sort_building():
    cols = {"alias": "alias", "last_name": "lastname"}
    assert cupi_query(None, {"alias": "j"}, cols) == "(alias startswith j)"
    assert cupi_query(None, {"last_name": "Nguyễn"}, cols) == "(lastname startswith Nguyễn)"
    assert cupi_query("alias is jkam", {}, cols) == "(alias is jkam)"
    assert cupi_query("  ", {"alias": None}, cols) is None
    with pytest.raises(ValueError, match="one search criterion"):
        cupi_query(None, {"alias": "j", "last_name": "K"}, cols)
    with pytest.raises(ValueError, match="one search criterion"):
        cupi_query("(alias is x)", {"alias": "j"}, cols)
    with pytest.raises(ValueError, match="not a CUPI query"):
        cupi_query("alias = j", {}, cols)
    assert cupi_sort("alias") == "(alias asc)" and cupi_sort("-alias") == "(alias desc)"
    assert cupi_sort("alias DESC") == "(alias desc)" and cupi_sort(None) is None


# -- CUPI: paging, lone objects, empty results ------------------------------------------------------------
def test_users_every_page_matches_org(lab, cuc):
    df = cuc.users()
    truth = by_alias(lab)
    assert len(df) == lab.org.size == 300
    assert list(df["Alias"]) == [u.username for u in truth]  # server order (by alias), pages in order
    assert df["ObjectId"].is_unique
    assert list(df["ObjectId"]) == [u.cuc_object_id for u in truth]
    prov = df.attrs["ucexplore"]
    assert prov["total"] == 300 and prov["rows"] == 300 and prov["pages"] == -(-300 // CUPI_PAGE)
    assert prov["service"] == "unity" and prov["path"] == "/vmrest/users"
    # every value came as a string: coerced
    assert str(df["CreationTime"].dtype) == "datetime64[ns, UTC]"
    assert df["Inactive"].dtype == bool and df["ListInDirectory"].dtype == bool
    assert str(df["Language"].dtype) == "Int64" and df["Language"].iloc[0] == 1033
    assert df["DtmfAccessId"].tolist() == [u.extension for u in truth]  # kept as text (extensions)
    assert list(df.columns[: len(USER_COLUMNS)]) == USER_COLUMNS


@pytest.mark.parametrize("limit", [0, 1, 7, CUPI_PAGE - 1, CUPI_PAGE, CUPI_PAGE + 1, 250, 300, 1000])
def test_users_limit_is_total_rows(lab, cuc, limit):
    cuc.transport.reset_stats()
    df = cuc.users(limit=limit)
    want = min(limit, 300)
    assert len(df) == want
    assert list(df["Alias"]) == [u.username for u in by_alias(lab)][:want]
    assert list(df.columns[: len(USER_COLUMNS)]) == USER_COLUMNS
    pages = 0 if limit == 0 else -(-want // CUPI_PAGE)
    assert cuc.transport.stats["requests"] == pages


def test_lone_object_json_is_one_row(lab, cuc):
    alias = unique_alias(lab)
    raw = httpx.get(
        f"{lab.urls['unity']}/vmrest/users",
        auth=lab.admin,
        headers=JSON,
        params={"query": f"(alias startswith {alias})"},
    ).json()
    assert raw["@total"] == "1" and isinstance(raw["User"], dict)  # the quirk really is exercised
    df = cuc.users(alias=alias)
    u = lab.org.user_by_name(alias)
    assert len(df) == 1 and df.loc[0, "ObjectId"] == u.cuc_object_id
    assert df.loc[0, "DisplayName"] == u.display_name
    assert df["IsVmEnrolled"].dtype == bool and str(df["CreationTime"].dtype) == "datetime64[ns, UTC]"
    assert df.attrs["ucexplore"]["total"] == 1


def test_empty_result_has_usual_columns_and_dtypes(lab, cuc):
    raw = httpx.get(
        f"{lab.urls['unity']}/vmrest/users",
        auth=lab.admin,
        headers=JSON,
        params={"query": "(alias startswith zzzz)"},
    ).json()
    assert raw == {"@total": "0"}
    df = cuc.users(alias="zzzz")
    assert df.empty and set(USER_COLUMNS) <= set(df.columns)
    assert df["Inactive"].dtype == bool and str(df["CreationTime"].dtype) == "datetime64[ns, UTC]"
    assert df.attrs["ucexplore"]["total"] == 0 and df.attrs["ucexplore"]["params"] == {
        "query": "(alias startswith zzzz)"
    }


def test_raw_query_positional_keyword_and_sort(lab, cuc):
    truth = [u.username for u in by_alias(lab) if u.username.startswith("j")]
    assert truth, "the seed should have aliases starting with j"
    a = cuc.users("(alias startswith j)")
    b = cuc.users(alias="j")
    c = cuc.users(query="alias startswith J")
    assert list(a["Alias"]) == list(b["Alias"]) == list(c["Alias"]) == truth
    desc = cuc.users(alias="j", sort="-alias")
    assert list(desc["Alias"]) == truth[::-1]
    exact = cuc.users(f"(alias is {lab.demo_user[0]})")
    assert list(exact["Alias"]) == [lab.demo_user[0]]
    ext = cuc.users(dtmf_access_id=lab.org.demo.extension)
    assert lab.org.demo.cuc_object_id in set(ext["ObjectId"])


def test_one_criterion_only_is_refused_before_any_request(cuc):
    cuc.transport.reset_stats()
    with pytest.raises(ValueError, match="one search criterion"):
        cuc.users(alias="j", last_name="K")
    with pytest.raises(ValueError, match="one search criterion"):
        cuc.users("(alias startswith j)", first_name="A")
    with pytest.raises(TypeError, match="has no parameter .nickname."):
        cuc.users(nickname="j")
    assert cuc.transport.stats["requests"] == 0


def test_user_series_matches_org(lab, cuc):
    u = lab.org.users[7]
    s = cuc.user(u.cuc_object_id)
    assert isinstance(s, pd.Series)
    assert s["Alias"] == u.username and s["DisplayName"] == u.display_name
    assert s["DtmfAccessId"] == u.extension and s["CallHandlerObjectId"] == u.callhandler_id
    assert isinstance(s["CreationTime"], pd.Timestamp) and s["CreationTime"].tzinfo is not None
    assert not s["Inactive"] and s["ListInDirectory"]
    assert s.attrs["ucexplore"]["path"] == f"/vmrest/users/{u.cuc_object_id}"


def test_unicode_and_ampersand_round_trip(lab, cuc):
    df = cuc.users().set_index("ObjectId")
    for u in lab.org.users:
        row = df.loc[u.cuc_object_id]
        assert (row["FirstName"], row["LastName"], row["Department"]) == (
            u.first_name,
            u.last_name,
            u.department,
        )
    accented = next(u for u in lab.org.users if not u.last_name.isascii())
    hits = cuc.users(last_name=accented.last_name)
    assert accented.cuc_object_id in set(hits["ObjectId"])
    assert set(hits["LastName"]) == {accented.last_name}
    handlers = cuc.call_handlers(display_name="Sales & Support")
    assert list(handlers["DisplayName"]) == ["Sales & Support"]
    dls = cuc.distribution_lists(display_name="Sales & Marketing")
    assert list(dls["DisplayName"]) == ["Sales & Marketing"]


def test_call_handlers_and_distribution_lists(lab, cuc):
    handlers = cuc.call_handlers()
    assert handlers["ObjectId"].is_unique
    user_handlers = handlers[handlers["RecipientSubscriberObjectId"].notna()]
    assert set(user_handlers["ObjectId"]) == {u.callhandler_id for u in lab.org.users}
    assert handlers["IsPrimary"].dtype == bool and handlers["Undeletable"].dtype == bool
    assert handlers.attrs["ucexplore"]["total"] == len(handlers) > 300
    one = cuc.call_handler(lab.org.demo.callhandler_id)
    assert one["DisplayName"] == lab.org.demo.display_name
    dls = cuc.distribution_lists()
    departments = {u.department for u in lab.org.users}
    assert len(dls) == 2 + len(departments)
    assert set(departments) <= set(dls["DisplayName"])
    everyone = dls.loc[dls["Alias"] == "allvoicemailusers", "ObjectId"].iloc[0]
    members = cuc.distribution_list_members(everyone)
    assert len(members) == 300 and set(members["MemberUserObjectId"]) == {
        u.cuc_object_id for u in lab.org.users
    }
    assert len(cuc.distribution_list_members(everyone, alias="j")) == sum(
        1 for u in lab.org.users if u.username.startswith("j")
    )
    assert cuc.version()["name"] == "vmrest"


def test_xml_bodies_read_the_same(lab, cuc):
    with ux.Unity(
        lab.urls["unity"], auth=lab.admin, progress=False, headers={"Accept": "application/xml"}
    ) as x:
        jx = cuc.users(limit=250)
        xx = x.users(limit=250)
        assert xx.attrs["ucexplore"]["total"] == 300
        pd.testing.assert_frame_equal(jx[sorted(jx.columns)], xx[sorted(xx.columns)])
        alias = unique_alias(lab)
        assert list(x.users(alias=alias)["Alias"]) == [alias]
        empty = x.users(alias="zzzz")
        assert empty.empty and set(USER_COLUMNS) <= set(empty.columns)
        u = lab.org.demo
        pd.testing.assert_series_equal(x.user(u.cuc_object_id), cuc.user(u.cuc_object_id))
        msgs = x.messages(user_object_id=u.cuc_object_id)
        assert len(msgs) == len(inbox(lab)) and str(msgs["ArrivalTime"].dtype) == "datetime64[ns, UTC]"


def test_raw_records_are_the_decoded_strings(cuc):
    recs = cuc.users(limit=3, raw=True)
    assert isinstance(recs, list) and len(recs) == 3
    assert all(isinstance(v, str) for r in recs for v in r.values())
    one = cuc.user(recs[0]["ObjectId"], raw=True)
    assert isinstance(one, dict) and one["Inactive"] == "false"


# -- CUPI errors ------------------------------------------------------------------------------------------
def test_cupi_error_body_becomes_api_error(cuc):
    with pytest.raises(ux.ApiError) as info:
        cuc.user("00000000-0000-0000-0000-000000000000")
    err = info.value
    assert err.status == 404 and err.code == "NOT_FOUND" and "No User found" in err.server_message
    assert "ObjectId" in str(err)
    with pytest.raises(ux.ApiError) as info:
        cuc.users("(nosuchcolumn is x)")
    assert info.value.status == 400 and info.value.code == "INVALID_PARAMETER"
    assert "unknown column" in info.value.server_message and "one criterion" in str(info.value)


def test_cupi_needs_an_administrator(me):
    with pytest.raises(ux.ApiError) as info:
        me.users()
    assert info.value.status == 403 and info.value.code == "FORBIDDEN"
    assert "administrator" in str(info.value)


def test_wrong_password_says_what_to_check(lab):
    with (
        ux.Unity(lab.urls["unity"], auth=(lab.admin[0], "not-the-password"), progress=False) as bad,
        pytest.raises(ux.ApiError) as info,
    ):
        bad.users(limit=1)
    assert info.value.status == 401 and info.value.code == "UNAUTHORIZED"
    assert "administrator" in str(info.value) and "not-the-password" not in str(info.value)


# -- CUMI -------------------------------------------------------------------------------------------------
def test_own_mailbox_matches_org(lab, me):
    truth = {m["MsgId"]: m for m in inbox(lab)}
    df = me.messages()
    assert len(df) == len(truth) > 0 and df.attrs["ucexplore"]["total"] == len(truth)
    assert set(df["MsgId"]) == set(truth)
    assert str(df["ArrivalTime"].dtype) == "datetime64[ns, UTC]"
    assert str(df["Duration"].dtype) == "Int64" and df["Read"].dtype == bool
    for _, row in df.iterrows():
        m = truth[row["MsgId"]]
        assert row["ArrivalTime"] == pd.Timestamp(m["ArrivalTime"], unit="ms", tz="UTC")
        assert int(row["ArrivalTime"].value // 1_000_000) == m["ArrivalTime"]
        assert row["Duration"] == m["Duration"] and row["Read"] == m["Read"]
        assert row["Subject"] == m["Subject"] and row["Priority"] == m["Priority"]
        if m["From"]:
            assert row["From.DisplayName"] == m["From"]["DisplayName"]
        else:
            assert pd.isna(row["From.DisplayName"])
        assert row["CallerId.CallerNumber"] == m["CallerId"]["CallerNumber"]
    # server order: unread first, newest first
    keys = [(m["Read"], -m["ArrivalTime"]) for m in (truth[i] for i in df["MsgId"])]
    assert keys == sorted(keys)
    folders = me.folders().set_index("DisplayName")
    for name, msgs in lab.org.mailbox(lab.org.demo).items():
        assert folders.loc[name, "MessageCount"] == len(msgs)
    box = me.mailbox()
    assert box["DisplayName"] == lab.org.demo.display_name
    size = sum(m["Size"] for msgs in lab.org.mailbox(lab.org.demo).values() for m in msgs)
    assert box["CurrentSizeInBytes"] == size


def test_messages_filters_limit_and_empty_folder(lab, me):
    msgs = inbox(lab)
    unread = me.messages(read=False)
    assert set(unread["MsgId"]) == {m["MsgId"] for m in msgs if not m["Read"]}
    urgent = me.messages(priority="urgent")
    assert set(urgent["MsgId"]) == {m["MsgId"] for m in msgs if m["Priority"] == "Urgent"}
    oldest = me.messages(sortkey="arrivaltime", sortorder="ascending", limit=3)
    assert list(oldest["MsgId"]) == [m["MsgId"] for m in sorted(msgs, key=lambda m: m["ArrivalTime"])][:3]
    sent = me.messages("sent")
    assert sent.empty and {"MsgId", "ArrivalTime", "From.DisplayName"} <= set(sent.columns)
    assert str(sent["ArrivalTime"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ux.ApiError) as info:
        me.messages("outbox")
    assert info.value.status == 404


def test_message_detail(lab, me):
    m = inbox(lab)[0]
    s = me.message(m["MsgId"])
    assert s["MsgId"] == m["MsgId"] and s["ArrivalTime"] == pd.Timestamp(
        m["ArrivalTime"], unit="ms", tz="UTC"
    )
    attachments = s["Attachments.Attachment"]
    assert isinstance(attachments, list) and attachments[0]["contentType"] == "audio/wav"
    assert s["Recipients.Recipient"][0]["Address.UserGuid"] == lab.org.demo.cuc_object_id


def test_end_user_basic_auth_reads_own_mailbox(lab):
    with ux.Unity(lab.urls["unity"], auth=lab.demo_user, progress=False) as basic:
        df = basic.messages()
    assert set(df["MsgId"]) == {m["MsgId"] for m in inbox(lab)}


def test_admin_reads_a_mailbox_with_user_object_id(lab, cuc):
    other = next(u for u in lab.org.users[1:] if len(inbox(lab, u)) > 5)
    df = cuc.messages(user_object_id=other.cuc_object_id)
    assert set(df["MsgId"]) == {m["MsgId"] for m in inbox(lab, other)}
    same = cuc.messages(userobjectid=other.cuc_object_id, limit=2)  # the wire name works too
    assert len(same) == 2
    assert cuc.mailbox(user_object_id=other.cuc_object_id)["DisplayName"] == other.display_name
    with pytest.raises(ux.ApiError) as info:
        cuc.messages()
    assert info.value.status == 400 and "userobjectid" in info.value.server_message


def test_cross_user_mailbox_is_refused(lab, me):
    other = lab.org.users[3]
    with pytest.raises(ux.ApiError) as info:
        me.messages(user_object_id=other.cuc_object_id)
    assert info.value.status == 403 and info.value.code == "FORBIDDEN"
    assert "own mailbox" in info.value.server_message


def test_cucm_token_is_refused_with_a_unity_sso_hint(lab, sign_in):
    cucm = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    tok = sign_in(cucm)
    for auth in (tok, cucm):
        with (
            ux.Unity(lab.urls["unity"], auth=auth, progress=False) as wrong,
            pytest.raises(ux.ApiError) as info,
        ):
            wrong.messages()
        err = info.value
        assert err.status == 401 and err.code == "UNAUTHORIZED"
        assert "UnitySSO" in str(err) and "Unity Connection" in str(err)
        assert tok.access_token not in str(err) and tok.access_token not in repr(err)


# -- sync/async -------------------------------------------------------------------------------------------
def test_sync_call_inside_a_running_loop_and_async_twin(lab, cuc, me):
    async def main():
        inside = cuc.users(limit=5)  # the sync method, called while this loop runs
        users, msgs = await asyncio.gather(cuc.users_async(alias="j"), me.messages_async(read=True))
        return inside, users, msgs

    inside, users, msgs = asyncio.run(main())
    assert list(inside["Alias"]) == [u.username for u in by_alias(lab)][:5]
    assert list(users["Alias"]) == [u.username for u in by_alias(lab) if u.username.startswith("j")]
    assert set(msgs["MsgId"]) == {m["MsgId"] for m in inbox(lab) if m["Read"]}


# -- faults -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fault_lab():
    from ucexplore.lab import start

    with start(users=450, seed=5, products=("unity",)) as running:
        running.set_faults("unity", rate_429=0.2, rate_503=0.1, truncate_rate=0.1, retry_after=0)
        yield running


def test_faults_lose_and_duplicate_no_rows(fault_lab):
    patient = RetryPolicy(attempts=15, backoff=0.001, max_backoff=0.01)
    org = fault_lab.org
    with ux.Unity(fault_lab.urls["unity"], auth=fault_lab.admin, progress=False, retry=patient) as cuc:
        for _ in range(3):
            df = cuc.users()
            assert len(df) == 450 and df["ObjectId"].is_unique
            assert list(df["Alias"]) == sorted(u.username for u in org.users)
            assert len(cuc.users(limit=333)) == 333
        busiest = max(org.users[:60], key=lambda u: len(org.mailbox(u)["inbox"]))
        msgs = cuc.messages(user_object_id=busiest.cuc_object_id)
        assert set(msgs["MsgId"]) == {m["MsgId"] for m in org.mailbox(busiest)["inbox"]}
        assert msgs["MsgId"].is_unique
        stats = dict(cuc.transport.stats)
    counters = fault_lab.fault_counters["unity"].as_dict()
    assert counters["429"] > 0 and counters["503"] > 0 and counters["truncated"] > 0
    assert stats["retries"] >= counters["429"] + counters["503"]


# -- secrets ----------------------------------------------------------------------------------------------
def test_no_secret_in_errors_logs_or_attrs(lab, caplog):
    flow = ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri)
    person = Person(*lab.demo_user)
    try:
        tok = flow.complete(person.sign_in(flow.authorize_url))
    finally:
        person.close()
    caplog.set_level(logging.DEBUG)  # every logger (httpx, httpcore too) from here on: the data calls
    basic = base64.b64encode(f"{lab.admin[0]}:{lab.admin[1]}".encode()).decode()
    secrets = [tok.access_token, lab.admin[1], lab.demo_user[1], basic]
    frames, errors = [], []
    with (
        ux.Unity(lab.urls["unity"], auth=flow, progress=False) as me,
        ux.Unity(lab.urls["unity"], auth=lab.admin, progress=False) as cuc,
    ):
        frames += [me.messages(), me.mailbox(), cuc.users(limit=3)]
        for call in (
            lambda: me.users(),
            lambda: cuc.user("nope"),
            lambda: me.messages(user_object_id=lab.org.users[2].cuc_object_id),
        ):
            with pytest.raises(ux.UcError) as info:
                call()
            errors.append(info.value)
        texts = [repr(me), repr(cuc), repr(me.credentials)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(f.attrs) for f in frames]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records, "DEBUG logging should have produced records"
    for text in texts:
        for secret in secrets:
            assert secret not in text
