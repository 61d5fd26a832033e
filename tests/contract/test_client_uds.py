"""Contract: ux.UDS against the lab's CUCM, with the synthetic organisation (``lab.org``) as ground truth."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

import ucexplore as ux
from ucexplore.lab import start
from ucexplore.lab.cucm import CLUSTER_FQDN, CLUSTER_SERVERS, CUCM_BUILD, UDS_SCHEMA_VERSION
from ucexplore.lab.person import Person
from ucexplore.transport import RetryPolicy

USER_COLUMNS = [
    "id",
    "userName",
    "firstName",
    "lastName",
    "displayName",
    "phoneNumber",
    "mobileNumber",
    "email",
    "directoryUri",
]
FAST = RetryPolicy(attempts=12, backoff=0.01, max_backoff=0.05, max_wait=0.1)


# ------------------------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    return flow


@pytest.fixture(scope="module")
def uds(lab, flow):
    with ux.UDS(lab.urls["cucm"], auth=flow, progress=False) as client:
        yield client


@pytest.fixture(scope="module")
def anon(lab):
    with ux.UDS(lab.urls["cucm"], progress=False) as client:
        yield client


@pytest.fixture(scope="module")
def admin(lab):
    with ux.UDS(lab.urls["cucm"], auth=lab.admin, progress=False) as client:
        yield client


def me(lab):
    return lab.org.demo


def names(lab, pred) -> list[str]:
    """Ground truth: the user names matching ``pred``, in the directory's order."""
    return [u.username for u in lab.org.sorted_users if pred(u)]


def starts(value, prefix: str) -> bool:
    return (value or "").casefold().startswith(prefix.casefold())


def number_match(u, q: str) -> bool:
    return starts(u.phone, q) or starts(u.phone.lstrip("+"), q) or starts(u.extension, q)


def name_match(u, q: str) -> bool:
    if q.count(" ") == 1:
        x, y = q.split(" ")
        return (
            (starts(u.first_name, x) and starts(u.last_name, y))
            or (starts(u.last_name, x) and starts(u.first_name, y))
            or starts(u.last_name, q)
            or starts(u.first_name, q)
            or starts(u.display_name, q)
        )
    return starts(u.display_name, q)


class Older(httpx.AsyncBaseTransport):
    """A CUCM that only knows the older ``userExtensions`` path (and counts what it was asked)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("/extensions"):
            return httpx.Response(
                404,
                content=b"<html><title>HTTP Status 404</title></html>",
                headers={"content-type": "text/html"},
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# ------------------------------------------------------------------------------------------------------------
# anonymous resources
# ------------------------------------------------------------------------------------------------------------
def test_version_anonymous(anon) -> None:
    v = anon.version()
    assert v["version"] == CUCM_BUILD and v["@version"] == UDS_SCHEMA_VERSION
    assert v["capabilities.usersResourceAuthEnabled"] == False
    assert v.attrs["ucexplore"]["path"] == "/cucm-uds/version"


def test_servers(anon) -> None:
    df = anon.servers()
    assert df["server"].tolist() == list(CLUSTER_SERVERS)


def test_cluster_user_found_and_not_found(anon, lab) -> None:
    found = anon.cluster_user(username=me(lab).username)
    assert bool(found["result@found"]) is True
    assert found["homeCluster"] == CLUSTER_FQDN
    assert found["result@uri"].endswith(f"/cucm-uds/user/{me(lab).username}")
    by_mail = anon.cluster_user(email=me(lab).email)
    assert bool(by_mail["result@found"]) is True
    missing = anon.cluster_user(username="no-such-user")
    assert bool(missing["result@found"]) is False


def test_cluster_user_without_a_parameter_is_415_with_hint(anon) -> None:
    with pytest.raises(ux.ApiError) as info:
        anon.cluster_user()
    assert info.value.status == 415
    assert "username=" in str(info.value)


# ------------------------------------------------------------------------------------------------------------
# users(): filters, paging, limit, raw
# ------------------------------------------------------------------------------------------------------------
def test_full_pull_is_every_user_in_five_pages(uds, lab) -> None:
    uds.transport.reset_stats()
    df = uds.users()
    assert len(df) == 300 == lab.org.size
    assert df["userName"].tolist() == names(lab, lambda u: True)
    assert df["id"].is_unique
    assert set(df["id"]) == {u.id for u in lab.org.users}
    assert list(df.columns[: len(USER_COLUMNS)]) == USER_COLUMNS
    prov = df.attrs["ucexplore"]
    assert prov["pages"] == 5 and prov["total"] == 300 and prov["rows"] == 300
    assert uds.transport.stats["requests"] == 5


def test_last_k_matches_ground_truth(uds, lab) -> None:
    df = uds.users(last="K")
    expected = names(lab, lambda u: starts(u.last_name, "k"))
    assert len(expected) > 0
    assert df["userName"].tolist() == expected
    assert df["userName"].is_unique
    assert uds.users(last="k")["userName"].tolist() == expected  # case-insensitive


def pick(lab):
    u = lab.org.users[7]
    return u


@pytest.mark.parametrize(
    "key",
    ["last", "first", "name", "name2", "number", "numberLast", "email", "uri", "displayname"],
)
def test_every_filter_matches_ground_truth(uds, lab, key) -> None:
    u = pick(lab)
    if key == "last":
        q, pred = u.last_name[:2], lambda x: starts(x.last_name, u.last_name[:2])
    elif key == "first":
        q, pred = u.first_name[:2], lambda x: starts(x.first_name, u.first_name[:2])
    elif key == "name":
        q, pred = u.first_name.split(" ")[0][:3], None
    elif key == "name2":
        key, q, pred = "name", f"{u.last_name[:2]} {u.first_name.split(' ')[0][:1]}", None
    elif key == "number":
        q, pred = u.extension[:3], lambda x: number_match(x, u.extension[:3])
    elif key == "numberLast":
        q = u.last_name[:1]
        pred = lambda x: number_match(x, q) or starts(x.last_name, q)
    elif key == "email":
        q, pred = u.email[:3], lambda x: starts(x.email, u.email[:3])
    elif key == "uri":
        q, pred = "sip:" + u.directory_uri[:3], lambda x: starts(x.directory_uri, u.directory_uri[:3])
    else:
        q, pred = u.display_name[:4], lambda x: starts(x.display_name, u.display_name[:4])
    if pred is None:
        pred = lambda x: name_match(x, q)
    df = uds.users(**{key: q})
    expected = names(lab, pred)
    assert u.username in expected
    assert df["userName"].tolist() == expected
    assert df.attrs["ucexplore"]["params"] == {key: q}


def test_filters_combine(uds, lab) -> None:
    df = uds.users(last="K", first="J")
    assert df["userName"].tolist() == names(
        lab, lambda u: starts(u.last_name, "k") and starts(u.first_name, "j")
    )


def test_unknown_filter_is_a_type_error(uds) -> None:
    with pytest.raises(TypeError, match="displayname"):
        uds.users(department="R&D")


def test_empty_one_many(uds, lab) -> None:
    empty = uds.users(last="zzzz-nobody")
    assert empty.empty and list(empty.columns) == USER_COLUMNS
    one = uds.users(email=me(lab).email)
    assert one["userName"].tolist() == [me(lab).username]
    many = uds.users(first="a")
    assert len(many) == len(names(lab, lambda u: starts(u.first_name, "a"))) > 1


def test_unicode_and_markup_round_trip(uds, lab) -> None:
    df = uds.users(last="Mü")
    expected = names(lab, lambda u: starts(u.last_name, "mü"))
    assert expected and df["userName"].tolist() == expected
    assert all(x.startswith("Mü") for x in df["lastName"])
    apostrophe = uds.users(last="O'B")
    assert apostrophe["lastName"].tolist() == [
        u.last_name for u in lab.org.sorted_users if starts(u.last_name, "o'b")
    ]
    nothing = uds.users(last="a&b<c>", first="x y")  # reserved characters reach the server intact
    assert nothing.empty and list(nothing.columns) == USER_COLUMNS
    user = uds.user(me(lab).username)
    assert user["department"] == me(lab).department  # "R&D"


def test_limit_70_is_two_pages(uds, lab) -> None:
    uds.transport.reset_stats()
    df = uds.users(limit=70)
    assert len(df) == 70
    assert df["userName"].tolist() == names(lab, lambda u: True)[:70]
    assert uds.transport.stats["requests"] == 2
    assert df.attrs["ucexplore"]["pages"] == 2


@pytest.mark.parametrize("limit,pages", [(0, 0), (1, 1), (64, 1), (65, 2), (200, 4), (1000, 5)])
def test_limit_caps_total_rows(uds, lab, limit, pages) -> None:
    uds.transport.reset_stats()
    df = uds.users(limit=limit)
    assert df["userName"].tolist() == names(lab, lambda u: True)[:limit]
    assert uds.transport.stats["requests"] == pages


def test_limit_with_filter(uds, lab) -> None:
    expected = names(lab, lambda u: starts(u.first_name, "a"))
    assert uds.users(first="a", limit=3)["userName"].tolist() == expected[:3]


def test_limit_is_validated(uds) -> None:
    with pytest.raises(TypeError):
        uds.users(limit=-1)


def test_raw_returns_records(uds, lab) -> None:
    records = uds.users(last="K", raw=True)
    assert isinstance(records, list) and all(isinstance(r, dict) for r in records)
    assert [r["userName"] for r in records] == names(lab, lambda u: starts(u.last_name, "k"))
    one = uds.user(me(lab).username, raw=True)
    assert isinstance(one, dict) and one["accountType@useLdapAuth"] == "true"


# ------------------------------------------------------------------------------------------------------------
# the signed-in user's own subtree
# ------------------------------------------------------------------------------------------------------------
def test_user_series_flattens_with_dots(uds, lab) -> None:
    u = me(lab)
    s = uds.user(u.username)
    assert s["userName"] == u.username and s["id"] == u.id and s["displayName"] == u.display_name
    assert s["primaryExtension.directoryNumber"] == u.extension
    assert s["primaryExtension.routePartition"] == "PT_Internal"
    assert s["accountType"] == "ldap" and bool(s["accountType@useLdapAuth"]) is True
    assert s["enableDoNotDisturb"] == False and s["homeCluster"] == True
    assert s["devices@uri"].endswith(f"/cucm-uds/user/{u.username}/devices")
    # attributes only where they carry data: none for plain elements
    assert "primaryExtension.directoryNumber@uri" not in s.index
    assert not [k for k in s.index if k.endswith("@")]
    assert s.attrs["ucexplore"]["path"] == f"/cucm-uds/user/{u.username}"


def test_user_with_token_and_basic(lab, flow) -> None:
    u = me(lab)
    with ux.UDS(lab.urls["cucm"], auth=flow.token, progress=False) as by_token:
        assert by_token.user(u.username)["email"] == u.email
    with ux.UDS(lab.urls["cucm"], auth=lab.demo_user, progress=False) as basic:
        assert basic.user(u.username)["email"] == u.email
        assert basic.devices(u.username)["name"].tolist() == [d["name"] for d in lab.org.devices(u)]


def test_devices(uds, lab) -> None:
    u = me(lab)
    df = uds.devices(u.username)
    truth = lab.org.devices(u)
    assert df["name"].tolist() == [d["name"] for d in truth]
    assert df["model"].tolist() == [d["model"] for d in truth]
    assert df["lineNumber"].tolist() == [u.extension] * len(truth)
    assert str(df["deviceProfile"].dtype) == "bool"
    one = uds.device(u.username, truth[0]["id"])
    assert one["name"] == truth[0]["name"]


def test_devices_empty_keeps_columns(admin, lab) -> None:
    nobody = next(u for u in lab.org.users if not lab.org.devices(u))
    df = admin.devices(nobody.username)
    assert df.empty
    assert {"id", "name", "model", "lineNumber", "deviceProfile"} <= set(df.columns)


def test_speed_dials(uds, admin, lab) -> None:
    u = me(lab)
    with_dials = next(x for x in lab.org.users if len(lab.org.speed_dials(x)) > 1)
    for client, who in ((uds, u), (admin, with_dials)):
        df = client.speed_dials(who.username)
        truth = lab.org.speed_dials(who)
        assert df["index"].tolist() == [sd["index"] for sd in truth]
        assert df["number"].tolist() == [sd["number"] for sd in truth]
        assert df["label"].tolist() == [sd["label"] for sd in truth]
        assert str(df["index"].dtype) == "Int64"
    assert len(admin.speed_dials(with_dials.username)) > 1


def test_extensions(uds, lab) -> None:
    u = me(lab)
    df = uds.extensions(u.username)
    assert df["directoryNumber"].tolist() == [u.extension]
    devices = df["associatedDevices.device"].iloc[0]
    assert [d["@name"] for d in devices] == [d["name"] for d in lab.org.devices(u)]


def test_extensions_falls_back_to_user_extensions(lab) -> None:
    u = me(lab)
    older = Older()
    with ux.UDS(lab.urls["cucm"], auth=lab.demo_user, http_transport=older, progress=False) as client:
        df = client.extensions(u.username)
        assert df["directoryNumber"].tolist() == [u.extension]
        assert older.paths[-2:] == [
            f"/cucm-uds/user/{u.username}/extensions",
            f"/cucm-uds/user/{u.username}/userExtensions",
        ]
        client.extensions(u.username)  # remembered: straight to the older path
        assert older.paths[-1].endswith("/userExtensions") and len(older.paths) == 3


def test_extensions_404_for_unknown_user_is_not_masked(admin) -> None:
    with pytest.raises(ux.ApiError) as info:
        admin.extensions("no-such-user")
    assert info.value.status == 404
    assert "/extensions" in info.value.url


def test_subscribed_services_round_trip_markup(uds, lab) -> None:
    df = uds.subscribed_services(me(lab).username)
    row = df[df["name"] == "Sales & Marketing Dashboard"]
    assert len(row) == 1
    assert row["url"].iloc[0] == "http://dash.lab.local/phone?dept=sales&view=<today>"


def test_remote_destinations_typed(uds, lab) -> None:
    df = uds.remote_destinations(me(lab).username)
    assert df["destination"].tolist() == [me(lab).mobile]
    assert str(df["answerTooSoonTimer"].dtype) == "Int64" and int(df["answerTooSoonTimer"].iloc[0]) == 1500
    assert str(df["isMobilePhone"].dtype) == "bool"


def test_remote_destinations_empty(admin, lab) -> None:
    nobody = next(u for u in lab.org.users if not u.mobile)
    df = admin.remote_destinations(nobody.username)
    assert df.empty and "destination" in df.columns


def test_credential_status_typed(lab) -> None:
    with ux.UDS(lab.urls["cucm"], auth=lab.demo_user, progress=False) as basic:
        df = basic.credential_status(me(lab).username)
    assert df["credentialType"].tolist() == ["password", "pin"]
    assert str(df["failedLoginAttempts"].dtype) == "Int64"
    assert str(df["timeChanged"].dtype) == "datetime64[ns, UTC]"
    assert str(df["lastSuccessfulLoginTime"].dtype) == "datetime64[ns, UTC]"
    assert df["lastSuccessfulLoginIpAddress"].iloc[0] == "127.0.0.1"  # the Basic login just made
    assert str(df["locked"].dtype) == "bool"


# ------------------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------------------
def test_another_users_subtree_is_401_with_hint(uds, lab, flow) -> None:
    other = lab.org.users[1].username
    with pytest.raises(ux.ApiError) as info:
        uds.user(other)
    err = info.value
    assert err.status == 401
    assert "own" in err.hint and "user id" in err.hint
    assert flow.token.access_token not in str(err)
    with pytest.raises(ux.ApiError) as info:
        uds.devices(other)
    assert info.value.status == 401


def test_admin_reads_anyone(admin, lab) -> None:
    other = lab.org.users[1]
    assert admin.user(other.username)["userName"] == other.username


def test_anonymous_subtree_is_401_with_hint(anon, lab) -> None:
    with pytest.raises(ux.ApiError) as info:
        anon.user(me(lab).username)
    assert info.value.status == 401 and "auth=" in info.value.hint


def test_wrong_password_is_401_without_the_password(lab) -> None:
    with (
        ux.UDS(lab.urls["cucm"], auth=(me(lab).username, "not-the-password"), progress=False) as bad,
        pytest.raises(ux.ApiError) as info,
    ):
        bad.user(me(lab).username)
    assert info.value.status == 401
    assert "not-the-password" not in str(info.value) and "not-the-password" not in repr(info.value)


def test_unknown_user_is_404_with_hint(admin) -> None:
    with pytest.raises(ux.ApiError) as info:
        admin.user("no-such-user")
    assert info.value.status == 404 and "user id" in info.value.hint


def test_not_signed_in_flow(lab) -> None:
    fresh = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    with (
        ux.UDS(lab.urls["cucm"], auth=fresh, progress=False) as client,
        pytest.raises(ux.NotSignedIn) as info,
    ):
        client.user(me(lab).username)
    assert "ux.login" in str(info.value)


# ------------------------------------------------------------------------------------------------------------
# sync inside a running loop, async twins
# ------------------------------------------------------------------------------------------------------------
def test_sync_call_inside_a_running_loop(uds, lab) -> None:
    async def main():
        return uds.users(last="K")

    df = asyncio.run(main())
    assert df["userName"].tolist() == names(lab, lambda u: starts(u.last_name, "k"))


def test_async_twins(lab, flow) -> None:
    async def main():
        async with ux.UDS(lab.urls["cucm"], auth=flow, progress=False) as client:
            return await asyncio.gather(
                client.users_async(last="K"),
                client.user_async(me(lab).username),
                client.devices_async(me(lab).username),
                client.extensions_async(me(lab).username),
            )

    users, user, devices, extensions = asyncio.run(main())
    assert users["userName"].tolist() == names(lab, lambda u: starts(u.last_name, "k"))
    assert user["userName"] == me(lab).username
    assert len(devices) == len(lab.org.devices(me(lab)))
    assert extensions["directoryNumber"].tolist() == [me(lab).extension]


# ------------------------------------------------------------------------------------------------------------
# secrets
# ------------------------------------------------------------------------------------------------------------
def test_no_token_in_logs_attrs_or_errors(uds, lab, flow, caplog) -> None:
    secret = flow.token.access_token
    password = lab.demo_user[1]
    caplog.set_level(logging.DEBUG)
    df = uds.users(last="K")
    s = uds.user(me(lab).username)
    with ux.UDS(lab.urls["cucm"], auth=lab.demo_user, progress=False) as basic:
        basic.devices(me(lab).username)
        with pytest.raises(ux.ApiError) as info:
            basic.user(lab.org.users[1].username)
    errors = [info.value]
    with pytest.raises(ux.ApiError) as info2:
        uds.user(lab.org.users[1].username)
    errors.append(info2.value)
    text = "\n".join(r.getMessage() for r in caplog.records) + repr(df.attrs) + repr(s.attrs)
    text += "".join(str(e) + repr(e) for e in errors) + repr(uds)
    assert caplog.records  # DEBUG logging was on
    assert secret not in text and password not in text


# ------------------------------------------------------------------------------------------------------------
# token expiry mid-session (a lab whose CUCM tokens live 2 s)
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_lab():
    with start(users=40, seed=3, products=("cucm",), token_ttl={"cucm": 2}) as running:
        yield running


def test_token_expiry_mid_session_says_how_to_sign_in(short_lab) -> None:
    flow = ux.CucmSSO(short_lab.urls["cucm"], redirect_uri=short_lab.redirect_uri)
    with Person(*short_lab.demo_user) as person:
        flow.complete(person.sign_in(flow.authorize_url))
    secret = flow.token.access_token
    user = short_lab.org.demo.username
    with ux.UDS(short_lab.urls["cucm"], auth=flow, progress=False) as client:
        assert client.user(user)["userName"] == user
        while not flow.token.expired:
            time.sleep(0.1)
        with pytest.raises(ux.TokenExpired) as info:
            client.devices(user)
    text = str(info.value)
    assert "expired" in text and "ux.login(flow)" in text and "sign in" in text
    assert secret not in text


def test_server_side_expiry_becomes_token_expired(short_lab) -> None:
    """The server drops the token a moment before the client's clock says so: still TokenExpired."""
    flow = ux.CucmSSO(short_lab.urls["cucm"], redirect_uri=short_lab.redirect_uri)
    with Person(*short_lab.demo_user) as person:
        tok = flow.complete(person.sign_in(flow.authorize_url))
    while not tok.expired:  # the client's clock started after the server's: the server has dropped it too
        time.sleep(0.1)
    lenient = ux.Token(tok.access_token, expires_in=3)  # a client that believes it has 3 s left
    user = short_lab.org.demo.username
    with (
        ux.UDS(short_lab.urls["cucm"], auth=lenient, progress=False) as client,
        pytest.raises(ux.TokenExpired) as info,
    ):
        client.user(user)
    assert "sign in" in str(info.value) and tok.access_token not in str(info.value)


# ------------------------------------------------------------------------------------------------------------
# faults: 20 % 503 and 10 % truncated bodies lose and duplicate nothing
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fault_lab():
    with start(users=300, seed=11, products=("cucm",)) as running:
        yield running


def test_faulty_pull_equals_clean_pull(fault_lab) -> None:
    flow = ux.CucmSSO(fault_lab.urls["cucm"], redirect_uri=fault_lab.redirect_uri)
    with Person(*fault_lab.demo_user) as person:
        flow.complete(person.sign_in(flow.authorize_url))
    with ux.UDS(fault_lab.urls["cucm"], auth=flow, retry=FAST, progress=False) as client:
        clean = client.users()
        clean_k = client.users(last="K")
        clean_user = client.user(fault_lab.org.demo.username)
        fault_lab.set_faults("cucm", rate_503=0.2, truncate_rate=0.1, retry_after=0.01)
        try:
            counters = fault_lab.fault_counters["cucm"]
            client.transport.reset_stats()
            for _ in range(30):  # until both kinds of fault have been seen (a handful of pulls)
                df = client.users()
                assert df.equals(clean)
                assert df["id"].is_unique and len(df) == 300
                assert client.users(last="K").equals(clean_k)
                assert client.user(fault_lab.org.demo.username).equals(clean_user)
                if counters.busy and counters.truncated:
                    break
            assert counters.busy > 0 and counters.truncated > 0
            stats = client.transport.stats
            assert stats["busy_waits"] > 0 and stats["parse_retries"] > 0
        finally:
            fault_lab.set_faults("cucm")


def test_persistent_503_is_server_busy_with_hint(fault_lab) -> None:
    fault_lab.set_faults("cucm", rate_503=1.0, retry_after=0.01)
    try:
        with (
            ux.UDS(
                fault_lab.urls["cucm"], retry=RetryPolicy(attempts=2, max_wait=0.05), progress=False
            ) as client,
            pytest.raises(ux.ServerBusy) as info,
        ):
            client.users(last="K")
    finally:
        fault_lab.set_faults("cucm")
    assert info.value.status == 503 and "max_concurrency" in info.value.hint
