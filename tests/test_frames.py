"""ucexplore.frames: dtypes, column order, empty results, provenance."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

import pandas as pd
import pytest

from ucexplore.frames import Timestamp, coerce_values, parse_tz, provenance, to_frame, to_series
from ucexplore.redact import register_secret

UTC_NS = "datetime64[ns, UTC]"


def test_booleans_plain_nullable_and_inferred() -> None:
    df = to_frame(
        [{"a": "true", "b": "false", "c": "True"}, {"a": "false", "b": None, "c": "FALSE"}],
        dtypes={"a": "bool"},
    )
    assert df["a"].dtype == bool and df["a"].tolist() == [True, False]
    assert str(df["b"].dtype) == "boolean" and df["b"].isna().tolist() == [
        False,
        True,
    ]  # inferred, with a gap
    assert df["c"].dtype == bool and df["c"].tolist() == [True, False]


def test_booleans_are_not_inferred_from_other_text_or_numbers() -> None:
    df = to_frame([{"x": "true", "y": 1, "z": "yes"}, {"x": "maybe", "y": 0, "z": "no"}])
    assert df["x"].dtype != bool and df["x"].tolist() == ["true", "maybe"]
    assert df["y"].tolist() == [1, 0] and df["y"].dtype != bool
    assert df["z"].tolist() == ["yes", "no"]


def test_str_dtype_suppresses_bool_inference() -> None:
    df = to_frame([{"flag": "true"}], dtypes={"flag": "str"})
    assert df["flag"].tolist() == ["true"]


def test_integers_are_nullable_int64() -> None:
    df = to_frame([{"n": "30"}, {"n": ""}, {"n": None}, {"n": "-1"}, {"n": 7}], dtypes={"n": "int"})
    assert str(df["n"].dtype) == "Int64"
    assert df["n"].tolist()[0] == 30 and df["n"].isna().tolist() == [False, True, True, False, False]
    assert df["n"].iloc[3] == -1 and df["n"].iloc[4] == 7


def test_non_numeric_values_are_kept_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ucexplore.frames")
    df = to_frame([{"n": "12"}, {"n": "twelve"}], dtypes={"n": "int"})
    assert df["n"].tolist() == ["12", "twelve"]
    assert any("not numbers" in r.getMessage() for r in caplog.records)


def test_leading_zeros_survive_when_not_declared_int() -> None:
    df = to_frame([{"directoryNumber": "0123"}])
    assert df["directoryNumber"].iloc[0] == "0123"


def test_epoch_milliseconds_cumi() -> None:
    df = to_frame([{"ArrivalTime": "1717400000000"}, {"ArrivalTime": ""}], dtypes={"ArrivalTime": "epoch_ms"})
    assert str(df["ArrivalTime"].dtype) == UTC_NS
    assert df["ArrivalTime"].iloc[0] == pd.Timestamp("2024-06-03T07:33:20Z")
    assert pd.isna(df["ArrivalTime"].iloc[1])


def test_iso_timestamps_finesse_and_webex_with_offsets() -> None:
    df = to_frame(
        [{"t": "2024-06-03T08:15:02.411Z"}, {"t": "2024-06-03T09:30:00+08:00"}, {"t": None}],
        dtypes={"t": "datetime"},
    )
    assert str(df["t"].dtype) == UTC_NS
    assert df["t"].iloc[0] == pd.Timestamp("2024-06-03T08:15:02.411Z")
    assert df["t"].iloc[1] == pd.Timestamp("2024-06-03T01:30:00Z")
    assert pd.isna(df["t"].iloc[2])


def test_webex_xml_dates_in_the_site_zone() -> None:
    recs = [{"startDate": "06/10/2024 09:30:00"}, {"startDate": "12/02/2020 14:15:00"}]
    sg = to_frame(recs, dtypes={"startDate": "mdy"}, tz="Asia/Singapore")
    assert str(sg["startDate"].dtype) == UTC_NS
    assert sg["startDate"].iloc[0] == pd.Timestamp("2024-06-10T01:30:00Z")
    ny = to_frame(recs, dtypes={"startDate": Timestamp(format="%m/%d/%Y %H:%M:%S", tz="America/New_York")})
    assert ny["startDate"].iloc[0] == pd.Timestamp("2024-06-10T13:30:00Z")  # EDT, -4
    assert ny["startDate"].iloc[1] == pd.Timestamp("2020-12-02T19:15:00Z")  # EST, -5
    offset = to_frame(recs, dtypes={"startDate": "mdy"}, tz="+05:30")
    assert offset["startDate"].iloc[0] == pd.Timestamp("2024-06-10T04:00:00Z")


def test_webex_xml_dates_with_a_per_row_zone_column() -> None:
    recs = [
        {"startDate": "06/10/2024 09:30:00", "timeZone": "GMT+08:00, Singapore (Singapore)"},
        {"startDate": "06/10/2024 09:30:00", "timeZone": "GMT-05:00, Eastern (New York)"},
        {"startDate": "", "timeZone": "GMT+01:00, Paris"},
    ]
    df = to_frame(recs, dtypes={"startDate": Timestamp(format="%m/%d/%Y %H:%M:%S", tz_column="timeZone")})
    assert str(df["startDate"].dtype) == UTC_NS
    assert df["startDate"].iloc[0] == pd.Timestamp("2024-06-10T01:30:00Z")
    assert df["startDate"].iloc[1] == pd.Timestamp("2024-06-10T14:30:00Z")
    assert pd.isna(df["startDate"].iloc[2])


def test_unparseable_timestamps_are_kept_as_text() -> None:
    df = to_frame([{"t": "2024-06-03T08:15:02Z"}, {"t": "yesterday"}], dtypes={"t": "datetime"})
    assert df["t"].tolist() == ["2024-06-03T08:15:02Z", "yesterday"]


def test_category_for_small_enumerations() -> None:
    df = to_frame(
        [{"state": "READY"}, {"state": "NOT_READY"}, {"state": "READY"}, {"state": ""}],
        dtypes={"state": "category"},
    )
    assert str(df["state"].dtype) == "category"
    assert set(df["state"].cat.categories) == {"READY", "NOT_READY"} and pd.isna(df["state"].iloc[3])


def test_columns_first_then_extras_in_first_seen_order() -> None:
    df = to_frame([{"z": 1, "id": "a"}, {"id": "b", "extra": "x"}], columns=("id", "userName"))
    assert list(df.columns) == ["id", "userName", "z", "extra"]
    assert df["userName"].isna().all() and df.shape == (2, 4)


def test_empty_result_keeps_columns_and_dtypes() -> None:
    df = to_frame(
        [],
        columns=("id", "inactive", "wrapUpTimer", "stateChangeTime", "state"),
        dtypes={"inactive": "bool", "wrapUpTimer": "int", "stateChangeTime": "datetime", "state": "category"},
    )
    assert df.shape == (0, 5) and list(df.columns) == [
        "id",
        "inactive",
        "wrapUpTimer",
        "stateChangeTime",
        "state",
    ]
    assert df["inactive"].dtype == bool and str(df["wrapUpTimer"].dtype) == "Int64"
    assert str(df["stateChangeTime"].dtype) == UTC_NS and str(df["state"].dtype) == "category"


def test_list_cells_stay_lists() -> None:
    df = to_frame([{"roles.role": ["Agent", "Supervisor"]}, {"roles.role": []}])
    assert df["roles.role"].tolist() == [["Agent", "Supervisor"], []]


def test_provenance_in_attrs_without_secrets() -> None:
    secret = "frames-secret-token-777"
    register_secret(secret)
    prov = provenance(
        service="uds",
        host="cucm:8443",
        path="/cucm-uds/users",
        params={"last": "Ka", "access_token": secret, "note": f"x {secret}"},
        total=130,
        auth="Bearer token for jkam",
    )
    df = to_frame([{"id": "1"}, {"id": "2"}], provenance=prov)
    attrs = df.attrs["ucexplore"]
    assert attrs["service"] == "uds" and attrs["host"] == "cucm:8443" and attrs["path"] == "/cucm-uds/users"
    assert attrs["total"] == 130 and attrs["rows"] == 2 and attrs["auth"] == "Bearer token for jkam"
    assert attrs["params"]["last"] == "Ka" and attrs["params"]["access_token"] == "*****"
    assert pd.Timestamp(attrs["fetched_at"]).tzinfo is not None
    assert secret not in repr(df.attrs)


def test_series_for_one_object() -> None:
    s = to_series(
        {
            "loginId": "1001",
            "wrapUpTimer": "30",
            "stateChangeTime": "2024-06-03T08:15:02.411Z",
            "roles.role": ["Agent"],
        },
        dtypes={"wrapUpTimer": "int", "stateChangeTime": "datetime"},
        provenance=provenance(service="finesse", host="fin:8445", path="/finesse/api/User/1001"),
    )
    assert s["loginId"] == "1001" and s["wrapUpTimer"] == 30
    assert s["stateChangeTime"] == pd.Timestamp("2024-06-03T08:15:02.411Z")
    assert s["roles.role"] == ["Agent"]
    assert s.attrs["ucexplore"]["rows"] == 1


def test_parse_tz_forms() -> None:
    assert parse_tz(None) is UTC
    assert parse_tz("GMT-05:00, Eastern (New York)").utcoffset(None) == timedelta(hours=-5)
    assert parse_tz(330).utcoffset(None) == timedelta(minutes=330)
    assert parse_tz("+0530").utcoffset(None) == timedelta(minutes=330)
    assert str(parse_tz("Asia/Singapore")) == "Asia/Singapore"
    with pytest.raises(ValueError):
        parse_tz("Mars/Olympus_Mons")


def test_unknown_dtype_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        coerce_values(["1"], "integerish")


def test_memory_of_typed_frame_is_not_larger_than_json_normalize() -> None:
    """The design goal (≤ 1.5× json_normalize) on a UDS-like sample."""
    records = [
        {
            "@uri": f"https://cucm:8443/cucm-uds/user/u{i}",
            "id": f"id-{i}",
            "userName": f"u{i}",
            "lastName": f"L{i % 50}",
            "enableDoNotDisturb": "false",
            "homeCluster": "true",
        }
        for i in range(2000)
    ]
    ours = to_frame(records).memory_usage(deep=True).sum()
    theirs = pd.json_normalize(records).memory_usage(deep=True).sum()
    assert ours <= 1.5 * theirs
