"""Reports on the lab: each built-in report's tables against the lab's ground truth, the HTML page (escaped,
self-contained, provenance and generation time in the footer, renders in headless Chromium), the workbook
(one sheet per table with every row), no credential anywhere, and ``ucexplore report --lab directory``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.audit import audit
from ucexplore.reports import Chart, Report, Section, Table
from ucexplore.reports.build import scrub
from ucexplore.reports.export import sheet_names, write_csv, write_xlsx

CHROMIUM = "/usr/bin/chromium"


# -- clients ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flows(lab, sign_in):
    cucm = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    unity = ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri)
    finesse = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    for flow in (cucm, unity, finesse):
        sign_in(flow)
    return {"cucm": cucm, "unity": unity, "finesse": finesse}


@pytest.fixture(scope="module")
def secrets(lab, flows):
    """Every credential text that must never appear in a report or workbook."""
    out = [lab.demo_user[1], lab.admin[1]]
    for flow in flows.values():
        out.append(flow.token.access_token)
        if flow.token.refresh_token:
            out.append(flow.token.refresh_token)
    return out


@pytest.fixture(scope="module")
def uds(lab, flows):
    return ux.UDS(lab.urls["cucm"], auth=flows["cucm"], progress=False)


@pytest.fixture(scope="module")
def uds_admin(lab):
    return ux.UDS(lab.urls["cucm"], auth=lab.admin, progress=False)


def sheet_rows(path: Path) -> dict[str, int]:
    """Sheet → data rows, read the way pandas reads a workbook (and checked against openpyxl's own count)."""
    sheets = pd.read_excel(path, sheet_name=None)
    wb = openpyxl.load_workbook(path)
    assert {ws.title: ws.max_row - 1 for ws in wb.worksheets} == {k: len(v) for k, v in sheets.items()}
    return {k: len(v) for k, v in sheets.items()}


def html_tables(page: str) -> dict[str, int]:
    """data-name → data-rows of every report table in the page."""
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'<table class=ucx-report-table data-name="([^"]+)" data-rows=(\d+)>', page)
    }


# -- directory ----------------------------------------------------------------------------------------------
def test_directory_report_matches_the_lab(lab, uds, uds_admin, secrets, tmp_path):
    org = lab.org
    before = datetime.now(UTC).replace(microsecond=0)
    r = ux.report("directory", uds=uds, uds_admin=uds_admin, devices="all", out=tmp_path / "dir.html")
    no_email = sorted(u.username for u in org.users if not u.email)
    no_mobile = sorted(u.username for u in org.users if not u.mobile)
    no_devices = sorted(u.username for u in org.users if not org.devices(u))
    devices = sum(len(org.devices(u)) for u in org.users)
    expected = {
        "No email": len(no_email),
        "No mobile": len(no_mobile),
        "No devices": len(no_devices),
        "Devices": devices,
        "Users": org.size,
    }
    assert r.row_counts == expected
    assert sorted(r.tables["No email"]["userName"]) == no_email
    assert sorted(r.tables["No devices"]["userName"]) == no_devices
    assert (
        r.html_path == (tmp_path / "dir.html").resolve() and r.xlsx_path == (tmp_path / "dir.xlsx").resolve()
    )

    page = r.html_path.read_text(encoding="utf-8")
    assert html_tables(page) == expected
    assert all(name in page for name in no_email)
    assert page.count("data:image/png;base64,") == 2  # completeness and devices per user
    footer = page[page.index("<footer") :]
    assert "Where the data came from" in footer and "/cucm-uds/users" in footer
    assert "/cucm-uds/user/{user_id}/devices × 300 calls" in footer
    stamp = re.search(r"Generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", footer)
    assert stamp and datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) >= before

    assert sheet_rows(r.xlsx_path) == {**expected, "About": sheet_rows(r.xlsx_path)["About"]}
    assert list(sheet_rows(r.xlsx_path)) == [*expected, "About"]
    assert audit([r.html_path, r.xlsx_path], known=secrets) == []


def test_directory_without_an_administrator_says_how_to_check_devices(lab, uds, tmp_path):
    r = ux.report("directory", uds=uds, devices=5, out=None)
    assert r.html_path is None and "No devices" not in r.row_counts
    notes = " ".join(r.sections[0].notes)
    assert "could not be read for" in notes and "admin=" in notes and "random sample of 5" in notes
    assert "admin=" in r.to_html()


def test_directory_sample_is_bounded(lab, uds, uds_admin):
    r = ux.report("directory", uds=uds, uds_admin=uds_admin, devices=25, out=None)
    checked = r.sections[0].pulls[0]
    assert checked["calls"] == 25 and checked["path"].endswith("/devices")
    assert "random sample of 25 of 300" in " ".join(r.sections[0].notes)


# -- voicemail ----------------------------------------------------------------------------------------------
def test_voicemail_report_matches_the_mailbox(lab, flows, secrets, tmp_path):
    unity = ux.Unity(lab.urls["unity"], auth=flows["unity"], progress=False)
    r = ux.report("voicemail", unity=unity, out=tmp_path / "vm.html")
    inbox = lab.org.mailbox(lab.org.demo)["inbox"]
    unread = sorted((m for m in inbox if not m["Read"]), key=lambda m: m["ArrivalTime"])
    longest = sorted(inbox, key=lambda m: m["Duration"], reverse=True)[:10]
    counts = r.row_counts
    assert counts["Messages"] == len(inbox) and counts["Unread backlog"] == len(unread)
    assert counts["Longest messages"] == min(10, len(inbox))
    per_day = r.tables["Messages per day"]
    assert per_day["messages"].sum() == len(inbox) and per_day["unread"].sum() == len(unread)
    backlog = r.tables["Unread backlog"]
    assert list(backlog["ArrivalTime"]) == sorted(backlog["ArrivalTime"])  # oldest first
    assert list(r.tables["Longest messages"]["Seconds"]) == [round(m["Duration"] / 1000, 1) for m in longest]
    facts = dict(r.sections[0].facts)
    assert facts["Messages"] == len(inbox) and facts["Unread"].startswith(f"{len(unread)} (")
    page = r.html_path.read_text(encoding="utf-8")
    assert html_tables(page)["Unread backlog"] == len(unread)
    assert "/vmrest/mailbox/folders/inbox/messages" in page
    assert list(sheet_rows(r.xlsx_path))[:4] == [
        "Messages per day",
        "Unread backlog",
        "Longest messages",
        "Messages",
    ]
    assert audit([r.html_path, r.xlsx_path], known=secrets) == []


# -- contact centre ------------------------------------------------------------------------------------------
def test_contact_centre_report_as_administrator(lab, flows, secrets, tmp_path):
    fin = ux.Finesse(lab.urls["finesse"], auth=flows["finesse"], progress=False)
    admin = ux.Finesse(lab.urls["finesse"], auth=lab.admin, progress=False)
    r = ux.report("contact-centre", finesse=fin, finesse_admin=admin, out=tmp_path / "cc.html")
    org = lab.org
    agents = list(org.agents.values())
    assert r.row_counts["Agents"] == len(agents)
    by_state = dict(zip(r.tables["By state"]["state"], r.tables["By state"]["agents"]))
    truth: dict[str, int] = {}
    for a in agents:
        truth[a.state] = truth.get(a.state, 0) + 1
    assert by_state == truth
    teams = r.tables["Team sizes"]
    assert teams["agents"].sum() == len(agents)
    assert dict(zip(teams["teamId"], teams["agents"])) == {
        t.id: len(t.agent_ids) for t in org.teams.values() if t.agent_ids
    }
    not_ready = [a for a in agents if a.state == "NOT_READY"]
    assert r.tables["By reason code"]["agents"].sum() == len(not_ready)
    labels = {org.reason_code(a.reason_code_id).label for a in not_ready if org.reason_code(a.reason_code_id)}
    assert labels <= set(r.tables["By reason code"]["reason code"])
    assert audit([r.html_path, r.xlsx_path], known=secrets) == []


def test_contact_centre_report_as_supervisor_sees_its_team(lab, flows):
    fin = ux.Finesse(lab.urls["finesse"], auth=flows["finesse"], progress=False)
    r = ux.report("contact-centre", finesse=fin, out=None)
    team = lab.org.teams[lab.org.demo_agent.team_id]
    assert r.row_counts["Agents"] == len(team.agent_ids)
    assert list(r.tables["Team sizes"]["teamId"]) == [team.id]


# -- a combined report, rendering ----------------------------------------------------------------------------
def test_report_renders_in_headless_chromium(lab, flows, uds, uds_admin, secrets, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    unity = ux.Unity(lab.urls["unity"], auth=flows["unity"], progress=False)
    fin = ux.Finesse(lab.urls["finesse"], auth=flows["finesse"], progress=False)
    r = ux.report(
        ["directory", "voicemail", "contact-centre"],
        uds=uds,
        uds_admin=uds_admin,
        unity=unity,
        finesse=fin,
        devices=40,
        out=tmp_path / "all.html",
    )
    assert r.title == "UC report" and len(r.sections) == 3
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda req: requests.append(req.url))
            page.on(
                "console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(r.html_path.as_uri())
            page.wait_for_load_state("load")
            assert page.title() == "UC report"
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert len(widths) == len([c for s in r.sections for c in s.charts]) and all(
                w > 0 for w in widths
            )
            shown = page.evaluate(
                "Object.fromEntries(Array.from(document.querySelectorAll("
                "'table.ucx-report-table')).map(t => [t.dataset.name, t.tBodies[0].rows.length]))"
            )
            for name, rows in r.row_counts.items():
                assert shown[name] == (min(rows, 200) or 1), name  # an empty table shows one "no rows" line
            assert page.locator("footer.ucx-report-footer").inner_text().count("fetched") >= 1
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert all(u.startswith("file://") for u in requests), requests  # self-contained: nothing else loaded
    assert problems == []
    assert audit([r.html_path, r.xlsx_path], known=secrets) == []


# -- your own pulls ------------------------------------------------------------------------------------------
def test_custom_pulls_escaped_charted_and_with_provenance(tmp_path):
    df = pd.DataFrame(
        {
            "name": ["<script>alert(1)</script>", "Tom & Jerry", '=HYPERLINK("http://x")'],
            "state": ["READY", "NOT_READY", "READY"],
            "when": pd.to_datetime(["2026-11-01 10:00", "2026-11-02 11:00", None], utc=True),
            "phone": ["+14085551000", "-1", "+cmd|' /C calc'!A0"],
        }
    )
    df.attrs["ucexplore"] = {
        "service": "finesse",
        "host": "fin.example.com:8445",
        "path": "/finesse/api/Users",
        "params": {"category": "ALL", "token": "*****"},
        "rows": 3,
        "fetched_at": "2026-11-28T10:00:00+00:00",
        "auth": "Basic admin",
    }
    r = ux.report(
        {"Agents": df},
        charts={"Agents": ["state", "when"]},
        out=tmp_path / "mine.html",
        title="Agents <today>",
    )
    page = r.html_path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Tom &amp; Jerry" in page and "Agents &lt;today&gt;" in page
    assert page.count("data:image/png;base64,") == 2
    assert "fin.example.com:8445" in page and "category=ALL" in page and "2026-11-28T10:00:00" in page
    assert "Content-Security-Policy" in page and "<script" not in page.lower()
    wb = openpyxl.load_workbook(r.xlsx_path)
    assert wb.sheetnames == ["Agents", "About"]
    cell = wb["Agents"]["A4"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"  # text, never a formula
    assert wb["Agents"]["C2"].value == datetime(2026, 11, 1, 10, 0)  # written as UTC
    with pytest.raises(ValueError, match="no column"):
        ux.report({"Agents": df}, charts={"Agents": "nope"}, out=None)


def test_csv_is_formula_safe_but_keeps_phone_numbers(tmp_path):
    path = write_csv(
        pd.DataFrame({"v": ["=1+1", "@SUM(A1)", "+14085551000", "-12", "+cmd|x", "plain"]}),
        tmp_path / "x.csv",
    )
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["v", "'=1+1", "'@SUM(A1)", "+14085551000", "-12", "'+cmd|x", "plain"]


def test_sheet_names_are_valid_and_unique(tmp_path):
    names = sheet_names(["a/b", "A/B", "x" * 40, "[odd]:*?"])
    assert names == ["a-b", "A-B~2", "x" * 31, "-odd----"]
    path = write_xlsx({n: pd.DataFrame({"a": [1]}) for n in ("a/b", "A/B")}, tmp_path / "s.xlsx")
    assert openpyxl.load_workbook(path).sheetnames == ["a-b", "A-B~2"]


def test_report_from_sections_and_registered_secrets_are_masked(tmp_path):
    from ucexplore.redact import forget_secret, register_secret

    secret = "Zm9vYmFyLXNlY3JldC10b2tlbi10ZXh0LTEyMzQ"
    register_secret(secret)
    try:
        df = pd.DataFrame({"note": [f"leaked {secret}", "Basic training on Tuesday"]})
        assert scrub(f"x {secret}") == "x *****"
        section = Section(
            "Hand-made",
            text="built by hand",
            facts=[("rows", 2)],
            charts=[Chart("c", b"\x89PNG\r\n\x1a\nnot really")],
            tables=[Table("Notes", df)],
        )
        r = Report("Mine", [section]).write(tmp_path / "s.html")
        page = r.html_path.read_text(encoding="utf-8")
        assert secret not in page and "Basic training on Tuesday" in page  # data is not over-redacted
        assert "No provenance recorded" in page
        assert audit([r.html_path, r.xlsx_path], known=[secret]) == []
    finally:
        forget_secret(secret)


def test_report_errors_say_what_to_pass():
    with pytest.raises(TypeError, match=r"uds=ux\.UDS"):
        ux.report("directory", out=None)
    with pytest.raises(ValueError, match="built-in reports are directory, voicemail, contact-centre"):
        ux.report("payroll", out=None)
    with pytest.raises(TypeError, match="built-in report name"):
        ux.report(42, out=None)


# -- the command line ----------------------------------------------------------------------------------------
def test_cli_report_on_the_lab(tmp_path, capsys, monkeypatch):
    from ucexplore.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["report", "--lab", "directory", "--out", "report.html", "--users", "60"]) == 0
    out = capsys.readouterr().out
    html_path, xlsx_path = tmp_path / "report.html", tmp_path / "report.xlsx"
    assert html_path.exists() and xlsx_path.exists()
    assert f"report:   {html_path}" in out and f"workbook: {xlsx_path}" in out
    counts = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"^  (\S.*?)\s+([\d,]+) rows$", out, re.MULTILINE)
    }
    assert counts["Users"] == 60 and set(counts) == {
        "No email",
        "No mobile",
        "No devices",
        "Devices",
        "Users",
    }
    assert {k: v for k, v in sheet_rows(xlsx_path).items() if k != "About"} == counts
    assert "signing in as" in out and "through the lab IdP form" in out
    assert audit([html_path, xlsx_path]) == []
    for word in ("access_token", "Bearer "):
        assert word not in out


def test_cli_report_needs_servers_without_lab(monkeypatch, capsys):
    from ucexplore.cli import main

    for var in ("UCX_CUCM_URL", "UCX_UNITY_URL", "UCX_FINESSE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SystemExit, match=r"--cucm URL"):
        main(["report", "directory"])


def test_cli_report_on_servers_waits_for_a_person(lab, capsys, monkeypatch, tmp_path):
    """Without --lab the sign-in link is printed and the paste read without echo (here: a scripted person)."""
    import getpass

    from ucexplore.cli import main
    from ucexplore.lab.person import Person

    person = Person(*lab.demo_user)
    pasted: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        printed = capsys.readouterr().out
        url = re.search(r"(http\S+/ssosp/oauth/authorize\S+)", printed).group(1)
        pasted.append(person.sign_in(url))
        return pasted[-1]

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.chdir(tmp_path)
    try:
        code = main(
            [
                "report",
                "directory",
                "--cucm",
                lab.urls["cucm"],
                "--redirect-uri",
                lab.redirect_uri,
                "--devices",
                "0",
                "--no-xlsx",
            ]
        )
    finally:
        person.close()
    assert code == 0 and len(pasted) == 1
    out = capsys.readouterr().out
    assert "report:   " in out and "workbook:" not in out and (tmp_path / "report.html").exists()
    token = re.search(r"access_token=([^&]+)", pasted[0]).group(1)
    assert token not in out and audit([tmp_path / "report.html"], known=[token]) == []
