"""ux.WebexXML against the lab's Webex Meetings XML API: the REST-token → session-ticket exchange,
LstsummaryMeeting paging (startFrom/maximumNum) and dateScope, site-zone dates → UTC, FAILURE envelopes
inside HTTP 200 → ApiError, 000015 → empty, 000045 → retried, and no ticket/token/password anywhere.
Ground truth comes from ``lab.org``."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.errors import ApiError, RateLimited
from ucexplore.services.webex_xml import MEETING_COLUMNS
from ucexplore.transport import RetryPolicy

FAST = RetryPolicy(attempts=12, backoff=0.001, max_backoff=0.01, max_wait=0.5, max_total=30.0)
SITE_TZ = timezone(timedelta(hours=8))


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


def in_order(meetings):
    """The lab's (and STARTTIME's) order."""
    return sorted(meetings, key=lambda m: (m["start"], m["meetingNumber"]))


def keys(meetings):
    return [m["meetingNumber"] for m in meetings]


def requests_of(client, call):
    before = client.transport.stats["requests"]
    result = call()
    return result, client.transport.stats["requests"] - before


@pytest.fixture(scope="module")
def org(lab):
    return lab.org


@pytest.fixture(scope="module")
def flow(lab, sign_in):
    f = make_flow(lab)
    sign_in(f)
    return f


@pytest.fixture(scope="module")
def wxml(lab, flow, org):
    client = ux.WebexXML(
        lab.urls["webex_xml"], site_name=org.site_name, webex_id=org.demo.email, auth=flow, progress=False
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def busy_host(org):
    """A user with many meetings, one of them titled with & and <."""
    return max(
        org.users, key=lambda u: (any("&" in m["title"] for m in org.meetings(u)), len(org.meetings(u)))
    )


@pytest.fixture(scope="module")
def pw_client(lab, org, busy_host):
    client = ux.WebexXML(
        lab.urls["webex_xml"],
        site_name=org.site_name,
        auth=(email_of(busy_host), lab.demo_user[1]),
        progress=False,
    )
    yield client
    client.close()


# -- the ticket exchange -------------------------------------------------------------------------------------
def test_the_rest_token_is_exchanged_for_a_session_ticket_once(lab, wxml, org) -> None:
    before = {t for t, (who, _) in lab.ctx.xml_session_tickets.items() if who == org.demo.username}
    df = wxml.meetings()
    df2 = wxml.meetings()
    tickets = {t for t, (who, _) in lab.ctx.xml_session_tickets.items() if who == org.demo.username}
    assert len(tickets - before) <= 1 and wxml._ticket in tickets  # one exchange, then the cached ticket
    assert keys(in_order(org.meetings(org.demo))) == list(df["meetingKey"]) == list(df2["meetingKey"])
    info = wxml.authenticate()
    assert set(info) == {"siteName", "webExID", "expires_at"} and info["webExID"] == org.demo.email
    assert info["expires_at"] > datetime.now(UTC) and wxml._ticket not in repr(info)
    assert "session ticket for" in repr(wxml) and wxml._ticket not in repr(wxml)


def test_webex_id_is_read_from_the_flow_and_a_full_url_is_accepted(lab, flow, org) -> None:
    with ux.WebexXML(
        lab.urls["webex_xml"] + "/WBXService/XMLService", site_name="acme", auth=flow, progress=False
    ) as client:
        assert client.base_url == lab.urls["webex_xml"]
        df = client.meetings(limit=3)
        assert client.webex_id == org.demo.email and len(df) == 3


def test_a_refused_ticket_is_renewed_once(lab, wxml, org) -> None:
    wxml.meetings(limit=1)
    old = wxml._ticket
    lab.ctx.xml_session_tickets.pop(old)  # the site forgets it (expired, signed out elsewhere)
    df = wxml.meetings()
    assert wxml._ticket != old and len(df) == len(org.meetings(org.demo))


def test_a_token_without_spark_all_is_refused_with_a_scope_hint(lab, sign_in, org) -> None:
    f = make_flow(lab, scopes=("spark:people_read",))
    sign_in(f)
    with (
        ux.WebexXML(
            lab.urls["webex_xml"], site_name="acme", webex_id=org.demo.email, auth=f, progress=False
        ) as client,
        pytest.raises(ApiError) as info,
    ):
        client.meetings()
    err = info.value
    assert err.code == "000001" and err.status == 200 and "spark:all" in str(err)
    assert f.token.access_token not in str(err)


# -- paging and ground truth --------------------------------------------------------------------------------
def test_paging_with_a_small_maximum_num_matches_ground_truth(pw_client, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    assert len(truth) > 12
    df, n = requests_of(pw_client, lambda: pw_client.meetings(maximum_num=5))
    assert list(df["meetingKey"]) == keys(truth)
    assert n == math.ceil(len(truth) / 5)
    assert df.attrs["ucexplore"]["total"] == len(truth) and df.attrs["ucexplore"]["pages"] == n
    # site-zone MM/DD/YYYY HH:MM:SS → UTC equal to the ground truth
    assert str(df["startDate"].dtype) == "datetime64[ns, UTC]"
    assert list(df["startDate"]) == [pd.Timestamp(m["start"]) for m in truth]
    assert list(df["duration"]) == [m["durationMinutes"] for m in truth]
    assert str(df["duration"].dtype) == "Int64" and str(df["status"].dtype) == "category"
    assert df["hostJoined"].dtype == bool
    assert list(df["confName"]) == [m["title"] for m in truth]
    assert "Q&A: <roadmap>" in set(df["confName"])  # & and < round-trip
    assert str(pw_client.timezone) == "Asia/Singapore"


def test_limit_caps_rows_and_pages(pw_client, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    df, n = requests_of(pw_client, lambda: pw_client.meetings(maximum_num=5, limit=7))
    assert list(df["meetingKey"]) == keys(truth)[:7] and n == 2
    assert len(pw_client.meetings(limit=0)) == 0


def test_raw_records_have_namespaces_stripped(pw_client) -> None:
    raw = pw_client.meetings(limit=2, raw=True)
    assert len(raw) == 2 and all(":" not in k for k in raw[0])
    assert {"meetingKey", "confName", "startDate", "timeZone"} <= set(raw[0])
    assert len(raw[0]["startDate"]) == 19  # MM/DD/YYYY HH:MM:SS as sent


def test_date_scope_from_aware_naive_pair_and_site_text(pw_client, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    lo = truth[3]["start"]
    hi = truth[-3]["start"]
    want = keys(m for m in truth if lo <= m["start"] <= hi)  # the lab: startDateStart/End inclusive
    cases = [
        {"start_from": lo.astimezone(timezone(timedelta(hours=-5))), "start_to": hi},
        {"start_from": lo.replace(tzinfo=None), "start_to": hi.replace(tzinfo=None)},  # naive = UTC
        {"start_from": (lo, hi)},
        {
            "start_from": lo.astimezone(SITE_TZ).strftime("%m/%d/%Y %H:%M:%S"),
            "start_to": hi.astimezone(SITE_TZ).strftime("%m/%d/%Y %H:%M:%S"),
        },  # site-zone text as is
    ]
    for kw in cases:
        assert list(pw_client.meetings(**kw)["meetingKey"]) == want, kw
    with pytest.raises(TypeError, match="paging is automatic"):
        pw_client.meetings(start_from=11)


def test_date_scope_before_the_zone_is_known_reads_it_first(lab, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    since = truth[5]["start"]
    with ux.WebexXML(
        lab.urls["webex_xml"], site_name="acme", progress=False, auth=(email_of(busy_host), lab.demo_user[1])
    ) as client:
        assert client.timezone is None
        df = client.meetings(start_from=since)
    assert list(df["meetingKey"]) == keys(m for m in truth if m["start"] >= since)


def test_timezone_argument_is_the_sites_zone(lab, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    auth = (email_of(busy_host), lab.demo_user[1])
    for tz, shift in (("Asia/Singapore", 0), ("+08:00", 0), ("UTC", 8)):
        with ux.WebexXML(
            lab.urls["webex_xml"], site_name="acme", auth=auth, timezone=tz, progress=False
        ) as client:
            df = client.meetings(limit=3)
        want = [pd.Timestamp(m["start"]) + pd.Timedelta(hours=shift) for m in truth[:3]]
        assert list(df["startDate"]) == want, tz


def test_order_by_and_direction(pw_client, org, busy_host) -> None:
    truth = in_order(org.meetings(busy_host))
    by_name = sorted(truth, key=lambda m: m["title"].casefold())
    assert list(pw_client.meetings(order_by="CONFNAME", maximum_num=4)["meetingKey"]) == keys(by_name)
    newest = sorted(truth, key=lambda m: m["start"], reverse=True)
    assert list(pw_client.meetings(order_ad="DESC")["meetingKey"]) == keys(newest)


def test_authenticate_swaps_a_password_for_a_ticket(lab, org, busy_host) -> None:
    with ux.WebexXML(
        lab.urls["webex_xml"], site_name="acme", progress=False, auth=(email_of(busy_host), lab.demo_user[1])
    ) as client:
        assert "password of" in repr(client)
        info = client.authenticate()
        assert info["webExID"] == email_of(busy_host) and "ticket in use" in repr(client)
        ticket = client._ticket
        # the ticket (not the password) works on its own
    with ux.WebexXML(
        lab.urls["webex_xml"], site_name="acme", webex_id=email_of(busy_host), auth=ticket, progress=False
    ) as by_ticket:
        assert len(by_ticket.meetings()) == len(org.meetings(busy_host))


# -- FAILURE envelopes --------------------------------------------------------------------------------------
def test_wrong_password_is_030002_with_a_credentials_hint(lab, org) -> None:
    with (
        ux.WebexXML(
            lab.urls["webex_xml"], site_name="acme", progress=False, auth=(org.demo.email, "not-the-pass-9<&")
        ) as client,
        pytest.raises(ApiError) as info,
    ):
        client.meetings()
    err = info.value
    assert err.status == 200 and err.code == "030002" and err.server_message == "Incorrect user or password"
    assert "030002" in str(err) and "site_name=" in str(err) and "not-the-pass-9" not in str(err)


def test_bad_ticket_is_030002_with_a_ticket_hint(lab, org) -> None:
    ticket = "AAABm-made-up-ticket-1234567890"
    with (
        ux.WebexXML(
            lab.urls["webex_xml"], site_name="acme", webex_id=org.demo.email, auth=ticket, progress=False
        ) as client,
        pytest.raises(ApiError) as info,
    ):
        client.meetings()
    assert (
        info.value.code == "030002" and "session ticket" in str(info.value) and ticket not in str(info.value)
    )


def test_values_are_xml_escaped_in_the_security_context(lab) -> None:
    with (
        ux.WebexXML(
            lab.urls["webex_xml"], site_name="acme", progress=False, auth=("a&b<c>'\"ø@acme.example", "x<y&z")
        ) as client,
        pytest.raises(ApiError) as info,
    ):
        client.meetings()
    assert info.value.code == "030002"  # not 999999 "not a well-formed XML document"


def test_other_failures_map_to_api_errors(lab, org, pw_client, busy_host) -> None:
    with (
        ux.WebexXML(
            lab.urls["webex_xml"],
            site_name="nosuchsite",
            progress=False,
            auth=(org.demo.email, lab.demo_user[1]),
        ) as client,
        pytest.raises(ApiError) as info,
    ):
        client.meetings()
    assert info.value.code == "000006" and "site_name=" in str(info.value)
    with pytest.raises(ApiError) as info:
        pw_client.meetings(host_webex_id=org.demo.email)  # someone else's meetings, not an admin
    assert info.value.code == "000001" and "administrator" in str(info.value)
    with pytest.raises(ApiError) as info:
        pw_client.meetings(order_by="PRIORITY")
    assert info.value.code == "999999" and "orderBy" in info.value.server_message


def test_no_record_found_is_an_empty_frame_with_the_usual_columns(pw_client) -> None:
    df = pw_client.meetings(start_to=datetime(2001, 1, 1, tzinfo=UTC))
    assert len(df) == 0 and list(df.columns) == list(MEETING_COLUMNS)
    assert str(df["startDate"].dtype) == "datetime64[ns, UTC]" and str(df["duration"].dtype) == "Int64"
    assert df.attrs["ucexplore"]["rows"] == 0


# -- sync/async, secrets ------------------------------------------------------------------------------------
def test_sync_inside_a_running_loop_and_the_async_twin(pw_client, wxml, org, busy_host) -> None:
    async def inside():
        return pw_client.meetings(limit=4)

    assert len(asyncio.run(inside())) == 4

    async def both():
        return await asyncio.gather(
            pw_client.meetings_async(maximum_num=3), wxml.meetings_async(), wxml.authenticate_async()
        )

    a, b, info = asyncio.run(both())
    assert list(a["meetingKey"]) == keys(in_order(org.meetings(busy_host)))
    assert list(b["meetingKey"]) == keys(in_order(org.meetings(org.demo)))
    assert info["webExID"] == org.demo.email


def test_no_ticket_token_or_password_in_logs_errors_repr_or_attrs(lab, flow, wxml, pw_client, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ucexplore")
    frames = [wxml.meetings(), pw_client.meetings(maximum_num=4)]
    wxml.authenticate()
    errors = []
    for call in (
        lambda: pw_client.meetings(order_by="BAD"),
        lambda: ux.WebexXML(
            lab.urls["webex_xml"],
            site_name="acme",
            webex_id="x@acme.example",
            auth=wxml._ticket,
            progress=False,
        ).meetings(),
    ):
        try:
            call()
        except ApiError as exc:
            errors.append(exc)
    assert len(errors) == 2
    secrets = [wxml._ticket, flow.token.access_token, flow.token.refresh_token, lab.demo_user[1]]
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(wxml), repr(pw_client), wxml.auth_description, pw_client.auth_description]
    texts += [repr(f.attrs) for f in frames] + [frames[0].to_csv()]
    for secret in secrets:
        assert secret and not any(secret in t for t in texts), secret[:3]


# -- faults: 000045 inside HTTP 200, 503, truncation -----------------------------------------------------
@pytest.fixture(scope="module")
def fault_lab():
    with ux.lab.start(users=60, seed=5, products=("webex_xml",)) as running:
        yield running


@pytest.fixture(scope="module")
def admin_client(fault_lab):
    with ux.WebexXML(
        fault_lab.urls["webex_xml"], site_name="acme", auth=fault_lab.admin, retry=FAST, progress=False
    ) as client:
        yield client


def all_meetings(org):
    return in_order([m for u in org.users for m in org.meetings(u)])


def test_throttled_000045_is_retried_and_no_row_is_lost(fault_lab, admin_client) -> None:
    truth = keys(all_meetings(fault_lab.org))
    assert len(truth) > 300
    admin_client.transport.reset_stats()
    fault_lab.set_faults("webex_xml", rate_429=0.3, retry_after=0)
    try:
        df = admin_client.meetings(maximum_num=40)
    finally:
        fault_lab.set_faults("webex_xml")
    assert list(df["meetingKey"]) == truth  # none lost, none duplicated, in order
    assert fault_lab.fault_counters["webex_xml"].too_many >= 1
    assert admin_client.transport.stats["rate_limited_waits"] >= 1


def test_503_and_truncated_bodies_are_retried(fault_lab, admin_client) -> None:
    truth = keys(all_meetings(fault_lab.org))
    fault_lab.set_faults("webex_xml", rate_503=0.2, truncate_rate=0.2, retry_after=0)
    try:
        df = admin_client.meetings(maximum_num=25)
    finally:
        fault_lab.set_faults("webex_xml")
    assert list(df["meetingKey"]) == truth


def test_000045_for_good_is_rate_limited(fault_lab, admin_client) -> None:
    fault_lab.set_faults("webex_xml", rate_429=1.0, retry_after=0)
    try:
        with pytest.raises(RateLimited) as info:
            admin_client.meetings(limit=5)
    finally:
        fault_lab.set_faults("webex_xml")
    err = info.value
    assert err.code == "000045" and err.status == 200 and fault_lab.admin[1] not in str(err)
