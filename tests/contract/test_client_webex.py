"""ux.Webex against the lab's Webex REST API: Link paging with limit, filters, me/person, meetings with
from/to, participants, rooms, typed columns, error bodies with tracking ids, sync/async, secrets, and
429/503/truncation faults. Ground truth comes from ``lab.org``."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta, timezone

import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.errors import ApiError, RateLimited
from ucexplore.lab.person import Person
from ucexplore.services.webex import MEETING_COLUMNS, PERSON_COLUMNS
from ucexplore.transport import RetryPolicy

TRACKING = re.compile(r"^ROUTER_[0-9A-F-]{36}$")
FAST = RetryPolicy(attempts=10, backoff=0.001, max_backoff=0.01, max_wait=2.0, max_total=30.0)


# -- fixtures --------------------------------------------------------------------------------------------
def make_flow(lab, scopes=("spark:all",)):
    return ux.WebexOAuth(
        lab.webex_client_id,
        client_secret=lab.webex_client_secret,
        redirect_uri=lab.redirect_uri,
        scopes=list(scopes),
        base_url=lab.urls["webex"] + "/v1",
    )


def email_of(user) -> str:
    return user.email or f"{user.username}@acme.example"


@pytest.fixture(scope="module")
def flow(lab, sign_in):
    f = make_flow(lab)
    sign_in(f)
    return f


@pytest.fixture(scope="module")
def wx(lab, flow):
    client = ux.Webex(auth=flow, base_url=lab.urls["webex"] + "/v1", progress=False)
    yield client
    client.close()


@pytest.fixture(scope="module")
def org(lab):
    return lab.org


def requests_of(client, call):
    before = client.transport.stats["requests"]
    result = call()
    return result, client.transport.stats["requests"] - before


def truth_meetings(org, user, since=None, until=None):
    return [
        m
        for m in org.meetings(user)
        if (since is None or m["start"] >= since) and (until is None or m["start"] < until)
    ]


# -- people ----------------------------------------------------------------------------------------------
def test_me_is_the_signed_in_person_as_a_typed_series(wx, org) -> None:
    me = wx.me()
    assert isinstance(me, pd.Series)
    assert me["id"] == org.demo.webex_id
    assert me["emails"] == [org.demo.email]  # a list, not flattened
    assert me["displayName"] == org.demo.display_name
    assert isinstance(me["created"], pd.Timestamp) and me["created"].tzinfo is not None
    assert me.attrs["ucexplore"]["path"] == "/people/me"


def test_people_every_page_in_the_servers_order(wx, org) -> None:
    df, n = requests_of(wx, lambda: wx.people())
    assert list(df["id"]) == [u.webex_id for u in org.sorted_users]
    assert n == 3  # 300 people, 100 a page, Link rel="next" followed one after another
    assert df.attrs["ucexplore"]["pages"] == 3 and df.attrs["ucexplore"]["rows"] == 300
    assert str(df["created"].dtype) == "datetime64[ns, UTC]"
    assert str(df["lastActivity"].dtype) == "datetime64[ns, UTC]"
    assert str(df["status"].dtype) == "category"
    assert all(isinstance(e, list) and len(e) == 1 for e in df["emails"])
    assert list(df.columns[: len(PERSON_COLUMNS)]) == list(PERSON_COLUMNS)


def test_people_limit_is_the_total_rows_two_pages_of_100(wx, org) -> None:
    df, n = requests_of(wx, lambda: wx.people(limit=150))
    assert len(df) == 150 and n == 2
    assert list(df["id"]) == [u.webex_id for u in org.sorted_users[:150]]


def test_people_max_is_the_page_size_and_lost_params_survive_paging(wx, org) -> None:
    df, n = requests_of(wx, lambda: wx.people(max=25, limit=60))
    assert len(df) == 60 and n == 3
    prefix = "a"
    want = [u.webex_id for u in org.sorted_users if u.display_name.casefold().startswith(prefix)]
    assert len(want) > 5
    df, n = requests_of(wx, lambda: wx.people(display_name=prefix, max=5))
    assert list(df["id"]) == want and n == -(-len(want) // 5)


def test_people_filters_email_prefix_alias_and_ids(wx, org) -> None:
    target = org.users[7]
    one = wx.people(email=email_of(target))
    assert list(one["id"]) == [target.webex_id]
    prefix = target.display_name[:4]
    want = [u.webex_id for u in org.sorted_users if u.display_name.casefold().startswith(prefix.casefold())]
    assert list(wx.people(display_name=prefix)["id"]) == want
    assert list(wx.people(displayName=prefix)["id"]) == want
    ids = [org.users[3].webex_id, org.users[9].webex_id]
    assert list(wx.people(id=ids)["id"]) == ids
    assert list(wx.people(id=ids[0])["id"]) == ids[:1]


def test_people_unicode_names_round_trip(wx, org) -> None:
    unicode_users = [u for u in org.users if not u.display_name.isascii()]
    assert unicode_users
    for user in unicode_users[:3]:
        df = wx.people(display_name=user.display_name)
        assert user.webex_id in list(df["id"])
        assert user.display_name in list(df["displayName"])


def test_empty_result_has_the_usual_columns_and_dtypes(wx) -> None:
    df = wx.people(display_name="Zzzz-nobody")
    assert len(df) == 0 and list(df.columns) == list(PERSON_COLUMNS)
    assert str(df["created"].dtype) == "datetime64[ns, UTC]"
    assert df.attrs["ucexplore"]["rows"] == 0
    assert len(wx.people(limit=0)) == 0


def test_person_by_id_and_raw_records(wx, org) -> None:
    user = org.users[42]
    p = wx.person(user.webex_id)
    assert p["displayName"] == user.display_name and p["emails"] == [email_of(user)]
    raw = wx.people(limit=3, raw=True)
    assert isinstance(raw, list) and len(raw) == 3 and isinstance(raw[0]["created"], str)


def test_unknown_person_is_an_api_error_with_the_tracking_id(wx) -> None:
    with pytest.raises(ApiError) as info:
        wx.person("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub2JvZHk")
    err = info.value
    assert err.status == 404 and TRACKING.match(err.tracking_id or "")
    assert err.server_message == "The requested resource could not be found."
    assert err.tracking_id in str(err) and "no such id" in str(err)


# -- meetings --------------------------------------------------------------------------------------------
def test_meetings_typed_and_equal_to_ground_truth(wx, org) -> None:
    df = wx.meetings()
    truth = org.meetings(org.demo)
    assert list(df["id"]) == [m["id"] for m in truth]
    assert list(df["start"]) == [pd.Timestamp(m["start"]) for m in truth]
    assert list(df["end"]) == [pd.Timestamp(m["end"]) for m in truth]
    assert str(df["start"].dtype) == "datetime64[ns, UTC]" and str(df["state"].dtype) == "category"
    assert list(df["state"].astype(str)) == [m["state"] for m in truth]
    assert list(df.columns[: len(MEETING_COLUMNS)]) == list(MEETING_COLUMNS)


def _window(org, kind):
    """A window around the lab's anchor (``org.now``: today, UTC), written the way ``kind`` says."""
    lo = (org.now - timedelta(days=32)).replace(hour=0)  # midnight UTC, 32 days back
    hi = (org.now + timedelta(days=13)).replace(hour=0)
    if kind == "aware datetimes":
        return lo.astimezone(timezone(timedelta(hours=8))), hi
    if kind == "naive datetimes":  # naive: UTC
        return lo.replace(tzinfo=None), hi.replace(tzinfo=None)
    if kind == "ISO text":
        return f"{lo:%Y-%m-%d}T00:00:00Z", f"{hi:%Y-%m-%d}T00:00:00+01:00"
    return lo.date(), pd.Timestamp(f"{hi:%Y-%m-%d}", tz="UTC")  # a date and a Timestamp


@pytest.mark.parametrize("kind", ["aware datetimes", "naive datetimes", "ISO text", "date and Timestamp"])
def test_meetings_from_to_accept_datetimes_dates_and_text(wx, org, kind) -> None:
    def utc(v):
        return pd.Timestamp(v).tz_localize("UTC") if pd.Timestamp(v).tzinfo is None else pd.Timestamp(v)

    since, until = _window(org, kind)
    lo, hi = utc(since).to_pydatetime(), utc(until).to_pydatetime()
    want = truth_meetings(org, org.demo, lo, hi)
    assert want  # the window around today holds meetings: the comparison below is not vacuous
    df = wx.meetings(from_=since, to=until)
    assert list(df["id"]) == [m["id"] for m in want]
    assert df.attrs["ucexplore"]["params"]["from"].endswith("Z")


def test_meetings_state_filter_limit_and_bad_date(wx, org) -> None:
    ended = [m["id"] for m in org.meetings(org.demo) if m["state"] == "ended"]
    assert list(wx.meetings(state="ended")["id"]) == ended
    assert list(wx.meetings(state="ended", limit=3, max=2)["id"]) == ended[:3]
    with pytest.raises(ValueError, match="from_"):
        wx.meetings(from_="last tuesday")


def test_meeting_errors_carry_the_servers_message_and_tracking_id(wx) -> None:
    with pytest.raises(ApiError) as info:
        wx.meetings(meeting_type="webinar")
    err = info.value
    assert err.status == 400 and err.server_message.startswith("Invalid meetingType")
    assert TRACKING.match(err.tracking_id or "") and "ISO-8601" in str(err)
    with pytest.raises(ApiError) as info:
        wx.meetings(host_email="someone.else@acme.example")
    assert info.value.status == 403 and "administrator" in str(info.value)


def test_one_meeting_and_its_participants(wx, org) -> None:
    ended = next(m for m in org.meetings(org.demo) if m["state"] == "ended")
    one = wx.meeting(ended["id"])
    assert one["title"] == ended["title"] and one["start"] == pd.Timestamp(ended["start"])
    parts = wx.meeting_participants(ended["id"])
    assert len(parts) == min(ended["participants"], org.size)
    assert parts["email"].iloc[0] == org.demo.email and bool(parts["host"].iloc[0])
    assert str(parts["joinedTime"].dtype) == "datetime64[ns, UTC]"
    assert list(wx.meeting_participants(meeting_id=ended["id"], max=3)["id"]) == list(parts["id"])
    with pytest.raises(TypeError):
        wx.meeting_participants()


def test_ampersand_angle_and_unicode_titles_round_trip(lab, sign_in, org) -> None:
    host = next(u for u in org.users if any("&" in m["title"] for m in org.meetings(u)))
    f = make_flow(lab)
    sign_in(f, user=host.username, password=lab.demo_user[1])
    with ux.Webex(auth=f, base_url=lab.urls["webex"] + "/v1", progress=False) as client:
        df = client.meetings()
        assert list(df["title"]) == [m["title"] for m in org.meetings(host)]
        assert "Q&A: <roadmap>" in set(df["title"])
        assert client.me()["displayName"] == host.display_name
        rooms = client.rooms()
    assert len(rooms) >= 2 and str(rooms["lastActivity"].dtype) == "datetime64[ns, UTC]"


def test_rooms_and_type_filter(wx) -> None:
    rooms = wx.rooms()
    assert len(rooms) == 5 and set(rooms["type"].astype(str)) <= {"direct", "group"}
    groups = wx.rooms(type="group")
    assert set(groups["id"]) == set(rooms.loc[rooms["type"] == "group", "id"])


# -- auth kinds, sync/async --------------------------------------------------------------------------------
def test_token_and_bearer_string_auth(lab, flow, org) -> None:
    base = lab.urls["webex"] + "/v1"
    for auth in (flow.token, flow.token.access_token):
        with ux.Webex(auth=auth, base_url=base, progress=False) as client:
            assert client.me()["id"] == org.demo.webex_id
    with ux.Webex(auth=flow, base_url=lab.urls["webex"], progress=False) as client:  # /v1 added
        assert client.base_url.endswith("/v1") and client.me()["id"] == org.demo.webex_id


def test_sync_inside_a_running_loop_and_the_async_twin(wx, org) -> None:
    async def inside() -> pd.DataFrame:
        return wx.people(limit=5)

    assert len(asyncio.run(inside())) == 5

    async def both():
        return await asyncio.gather(wx.people_async(limit=120), wx.meetings_async(state="ended"))

    people, meetings = asyncio.run(both())
    assert list(people["id"]) == [u.webex_id for u in org.sorted_users[:120]]
    assert len(meetings) == sum(m["state"] == "ended" for m in org.meetings(org.demo))


def test_flow_token_is_refreshed_automatically() -> None:
    with ux.lab.start(users=20, seed=3, products=("webex",), token_ttl={"webex": 2}) as small:
        f = make_flow(small)
        with Person(*small.demo_user) as person:
            first = f.complete(person.sign_in(f.authorize_url))
        with ux.Webex(auth=f, base_url=small.urls["webex"] + "/v1", progress=False) as client:
            assert client.me()["id"] == small.org.demo.webex_id
            time.sleep(1.7)  # past 75 % of the 2 s lifetime
            assert len(client.people()) == 20
        assert f.refresh_count >= 1 and f.token is not first


def test_no_token_text_in_logs_errors_repr_or_attrs(lab, wx, flow, caplog) -> None:
    secrets = [flow.token.access_token, flow.token.refresh_token, lab.webex_client_secret]
    caplog.set_level(logging.DEBUG, logger="ucexplore")
    df = wx.people(limit=120)
    errors = []
    for call in (lambda: wx.person("nope"), lambda: wx.meetings(state="bogus")):
        try:
            call()
        except ApiError as exc:
            errors.append(exc)
    assert len(errors) == 2
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    texts += [repr(wx), repr(df.attrs), repr(wx.me().attrs), repr(flow)]
    for secret in secrets:
        assert not any(secret in t for t in texts)


# -- faults: retries lose and duplicate nothing -----------------------------------------------------------
@pytest.fixture(scope="module")
def fault_lab():
    with ux.lab.start(users=250, seed=5, products=("webex",)) as running:
        yield running


@pytest.fixture(scope="module")
def fault_client(fault_lab):
    f = make_flow(fault_lab)
    with Person(*fault_lab.demo_user) as person:
        f.complete(person.sign_in(f.authorize_url))
    with ux.Webex(auth=f, base_url=fault_lab.urls["webex"] + "/v1", retry=FAST, progress=False) as client:
        yield client


def test_429_with_retry_after_is_waited_out_and_no_row_is_lost(fault_lab, fault_client) -> None:
    truth = [u.webex_id for u in fault_lab.org.sorted_users]
    fault_client.transport.reset_stats()
    fault_client.transport.retry_log.clear()
    fault_lab.set_faults("webex", rate_429=0.35, retry_after=1)
    try:
        df = fault_client.people(max=50)
    finally:
        fault_lab.set_faults("webex")
    assert list(df["id"]) == truth  # none lost, none duplicated, server order
    waits = [d for kind, d in fault_client.transport.retry_log if kind == "rate_limited"]
    assert fault_lab.fault_counters["webex"].too_many >= 1
    assert fault_client.transport.stats["rate_limited_waits"] == len(waits) >= 1
    assert all(d == 1.0 for d in waits)  # Retry-After: 1 honoured


def test_503_and_truncated_bodies_are_retried(fault_lab, fault_client) -> None:
    org = fault_lab.org
    fault_lab.set_faults("webex", rate_503=0.2, truncate_rate=0.2, retry_after=0)
    try:
        df = fault_client.people(max=20)
        meetings = fault_client.meetings(max=3)
    finally:
        fault_lab.set_faults("webex")
    assert list(df["id"]) == [u.webex_id for u in org.sorted_users]
    assert list(meetings["id"]) == [m["id"] for m in org.meetings(org.demo)]


def test_rate_limited_for_good_raises_with_the_servers_fields(fault_lab, fault_client) -> None:
    fault_lab.set_faults("webex", rate_429=1.0, retry_after=0)
    try:
        with pytest.raises(RateLimited) as info:
            fault_client.people()
    finally:
        fault_lab.set_faults("webex")
    err = info.value
    assert err.status == 429 and TRACKING.match(err.tracking_id or "")
    assert fault_client.credentials.flow.token.access_token not in str(err)
