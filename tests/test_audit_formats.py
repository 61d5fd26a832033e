"""ucexplore audit against the real token formats and file formats: a table of crafted leaks that must each be
found (exit 1, secret never printed), and a table of ordinary content that must not be."""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any, Callable

import nbformat
import openpyxl
import pytest

from ucexplore.audit import Finding, audit, format_table, scan_file, scan_text
from ucexplore.cli import main
from ucexplore.lab.tokens import Issuer, pkce_s256

# -- the credential shapes --------------------------------------------------------------------------------


def cucm_token() -> str:
    """What CUCM and Unity hand out: base64 of ``<key id>:<uuid>`` (``MjpjMTAzNDk4NC00…``)."""
    return base64.b64encode(f"{secrets.randbelow(9) + 1}:{uuid.uuid4()}".encode()).decode().rstrip("=")


def webex_token() -> str:
    """A Webex access/refresh token: 64 base64 characters, ``_``, a region tag, ``_``, the org uuid (106)."""
    head = base64.b64encode(f"{uuid.uuid4()}{uuid.uuid4()}".encode()).decode()[:64]
    return f"{head}_PF84_{uuid.uuid4()}"


def lab_token() -> str:
    """A token as the embedded lab mints it."""
    return Issuer("cucm", ttl=60).issue("jkam").access_token


def hex_token() -> str:
    """An opaque hex token: no entropy rule flags hex (ids look the same), only its context can."""
    return secrets.token_hex(16)


def password() -> str:
    return "Pw-" + secrets.token_hex(4)


# -- file builders: each takes (folder, secret) and returns the path to audit --------------------------------

Builder = Callable[[Path, str], Path]


def _write_notebook(path: Path, source: str = "x", outputs: list | None = None,
                    widgets: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.from_dict(o) for o in outputs or []]
    nb.cells = [nbformat.v4.new_markdown_cell("# report"), cell]
    if widgets is not None:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "version_major": 2, "version_minor": 0, "state": widgets}}
    nbformat.write(nb, str(path))
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def _write_har(path: Path, request: dict, response: dict | None = None) -> Path:
    entry = {"request": {"method": "GET", "url": "https://cucm.example.com/cucm-uds/users", "headers": [],
                         "cookies": [], "queryString": [], **request},
             "response": {"status": 200, "headers": [], "cookies": [], "content": {"text": "{}"},
                          **(response or {})}}
    first = {"request": {"url": "https://cucm.example.com/"}}
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [first, entry]}}))
    return path


def text_file(name: str, content: Callable[[str], str]) -> Builder:
    return lambda d, s: _write(d / name, content(s))


def notebook(source: Callable[[str], str] = lambda s: "x", outputs: Callable[[str], list] = lambda s: [],
             widgets: Callable[[str], dict] | None = None) -> Builder:
    return lambda d, s: _write_notebook(d / "n.ipynb", source(s), outputs(s), widgets(s) if widgets else None)


def workbook(sheets: Callable[[str], dict]) -> Builder:
    return lambda d, s: _write_xlsx(d / "r.xlsx", sheets(s))


def har(request: Callable[[str], dict]) -> Builder:
    return lambda d, s: _write_har(d / "s.har", request(s))


def in_folder(build: Builder, sub: str = "") -> Builder:
    """Audit the folder (the file type or folder is what a folder scan used to skip)."""
    def built(d: Path, s: str) -> Path:
        (d / sub).mkdir(exist_ok=True)
        build(d / sub, s)
        return d
    return built


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _display(mime: str, value: object) -> dict:
    return {"output_type": "display_data", "data": {mime: value}, "metadata": {}}


def _itables(rows: list[list[str]]) -> str:
    """An itables table (offline mode): the rows are JSON inside a large inline ``<script>``."""
    import pandas as pd
    from itables import to_html_datatable

    html = to_html_datatable(pd.DataFrame(rows, columns=["user", "value"]), connected=False, maxBytes=0)
    assert len(html) > 20_000  # the size the old audit dropped unscanned
    return html


def _table_with(row: list[str], n: int = 1500) -> str:
    return _itables([[f"user{i}", str(uuid.uuid4())] for i in range(n)] + [row])


def _state(model: str, **state: Any) -> dict:
    return {"m1": {"model_name": model, "state": {"_model_name": model, **state}}}


# each case: (id, secret factory, builder, the kind to report)
LEAKS: list[tuple[str, Callable[[], str], Builder, str]] = [
    ("cucm token printed in a notebook", cucm_token,
     notebook(outputs=lambda s: [_stream(f"{s}\n")]), "cucm/unity token"),
    ("unity token in an HTML report cell", cucm_token,
     text_file("r.html", lambda s: f"<table><tr><td>jkam</td><td>{s}</td></tr></table>"), "cucm/unity token"),
    ("cucm token in application/json output", cucm_token,
     notebook(outputs=lambda s: [_display("application/json", {"grant": {"value": s}})]), "cucm/unity token"),
    ("webex token in a notebook repr", webex_token,
     notebook(outputs=lambda s: [_display("text/plain", f"'{s}'")]), "webex access token"),
    ("webex token in a log", webex_token,
     text_file("run.log", lambda s: f"INFO signed in, using {s} for /v1/people\n"), "webex access token"),
    ("webex token in a CSV", webex_token,
     text_file("t.csv", lambda s: f"user,credential\njkam,{s}\n"), "webex access token"),
    ("webex refresh token in JSON", webex_token,
     text_file("t.json", lambda s: json.dumps({"refresh_token": s, "expires_in": 7776000})),
     "webex access token"),
    ("password in a JSON string in widget state", password,
     notebook(widgets=lambda s: _state("TextareaModel", value=json.dumps({"user": "jkam", "password": s}))),
     "password field"),
    ("Password widget value in widget state", password,
     notebook(widgets=lambda s: _state("PasswordModel", value=s)), "password field"),
    ("access_token key in widget state", hex_token,
     notebook(widgets=lambda s: _state("TextModel", access_token=s)), "token field"),
    ("bearer header in itables data", lab_token,
     notebook(outputs=lambda s: [_display("text/html", _table_with(["jkam", f"Bearer {s}"]))]),
     "bearer header"),
    ("cucm token in itables data", cucm_token,
     notebook(outputs=lambda s: [_display("text/html", _table_with(["jkam", s]))]), "cucm/unity token"),
    ("lab token in itables data (HTML file)", lab_token,
     text_file("t.html", lambda s: _table_with(["jkam", s])), "token-like string"),
    ("webex token in an xlsx cell of the second sheet", webex_token,
     workbook(lambda s: {"About": [["a", "b"]], "Users": [["user", "note"], ["jkam", s]]}),
     "webex access token"),
    ("cucm token in an xlsx cell", cucm_token,
     workbook(lambda s: {"Users": [["user", "note"], ["jkam", s]]}), "cucm/unity token"),
    ("password column in an xlsx sheet", password,
     workbook(lambda s: {"Users": [["user", "password"], ["jkam", s]]}), "password field"),
    ("python repr of a password dict", password,
     notebook(outputs=lambda s: [_display("text/plain", repr({"user": "jkam", "password": s}))]),
     "password field"),
    ("python repr of an access_token dict", hex_token,
     notebook(outputs=lambda s: [_stream(repr({"access_token": s, "expires_in": 3600}) + "\n")]),
     "token field"),
    ("HTML entity access_token&#61;", hex_token,
     text_file("r.html", lambda s: f'<a href="https://app.example.com/cb#access_token&#61;{s}">back</a>'),
     "access_token in URL"),
    ("HTML entities &quot;token&quot;", hex_token,
     text_file("r.html", lambda s: f"<pre>{{&quot;token&quot;: &quot;{s}&quot;}}</pre>"), "token field"),
    ("URL-encoded access_token%3D", hex_token,
     text_file("run.log", lambda s: f"GET /login?next=https%3A%2F%2Fapp%2Fcb%23access_token%3D{s}%26x%3D1\n"),
     "access_token in URL"),
    ("JSON escaped in a JavaScript string", hex_token,
     text_file("r.html", lambda s: f"<script>var cfg = JSON.parse({json.dumps(json.dumps({'token': s}))})"),
     "token field"),
    ('auth="<token>" in cell source', hex_token,
     notebook(source=lambda s: f'client = ux.Webex(auth="{s}")'), "auth credential"),
    ("auth='Bearer …' in cell source", hex_token,
     notebook(source=lambda s: f"client = ux.Webex(auth='Bearer {s}')"), "bearer header"),
    ("lab token pasted into a code cell", lab_token,
     notebook(source=lambda s: f'tok = "{s}"\nclient = ux.Cucm(base, auth=tok)'), "token-like string"),
    ("old output in .ipynb_checkpoints", lab_token,
     in_folder(notebook(outputs=lambda s: [_stream(f"Authorization: Bearer {s}\n")]), ".ipynb_checkpoints"),
     "bearer header"),
    ("password literal in a .py file", password,
     in_folder(text_file("settings.py", lambda s: f'PASSWORD = "{s}"\n')), "password field"),
    ("bearer header in a .md file", lab_token,
     in_folder(text_file("NOTES.md", lambda s: f"curl -H 'Authorization: Bearer {s}' https://x\n")),
     "bearer header"),
    ("Authorization header in a .har", lab_token,
     in_folder(har(lambda s: {"headers": [{"name": "Authorization", "value": f"Bearer {s}"}]})),
     "bearer header"),
    ("session cookie in a .har", hex_token,
     in_folder(har(lambda s: {"cookies": [{"name": "JSESSIONID", "value": s}]})), "session cookie"),
    ("password in a .har form post", password,
     in_folder(har(lambda s: {"method": "POST", "postData": {
         "mimeType": "application/x-www-form-urlencoded", "text": f"user=jkam&password={s}",
         "params": [{"name": "user", "value": "jkam"}, {"name": "password", "value": s}]}})),
     "password field"),
    ("access_token in a .har query string", hex_token,
     in_folder(har(lambda s: {"queryString": [{"name": "access_token", "value": s}]})),
     "access_token in URL"),
    ("session ticket in an XML log", lab_token,
     text_file("xml.log", lambda s: f"<serv:sessionTicket>{s}</serv:sessionTicket>\n"), "session ticket"),
    ("Basic credentials in a log", password,
     text_file("run.log", lambda s: "Authorization: Basic " + _b64(f"jkam:{s}".encode())),
     "basic credentials"),
    ("lab token in a traceback's message", lab_token,
     notebook(outputs=lambda s: [{"output_type": "error", "ename": "SSOError", "evalue": "expired",
                                  "traceback": ["\x1b[0;31mSSOError\x1b[0m", f"token {s} expired"]}]),
     "token-like string"),
    ("lab token printed in a notebook", lab_token,
     notebook(outputs=lambda s: [_stream(f"token {s}\n")]), "token-like string"),
]


@pytest.mark.parametrize("factory, build, kind", [c[1:] for c in LEAKS], ids=[c[0] for c in LEAKS])
def test_leak_is_found_and_masked(tmp_path, capsys, factory, build, kind):
    secret = factory()
    target = build(tmp_path, secret)
    found = audit([target])
    assert kind in {f.kind for f in found}, [str(f) for f in found]
    assert all(secret not in str(f) and secret[:8] not in str(f) for f in found)
    capsys.readouterr()
    assert main(["audit", str(target)]) == 1
    out = capsys.readouterr()
    assert secret not in out.out + out.err
    assert kind in out.out


# -- ordinary content: no findings -------------------------------------------------------------------------

CODE = """\
from getpass import getpass
import os
flow = ux.CucmSSO(base, redirect_uri=redirect)
token = flow.token
tok = flow.complete(landed)
client = ux.Cucm(base, auth=flow)
renewed = refresh(refresh_token=old.refresh_token, client_id=cid)
session = login(user, password=get_password_from_vault())
again = login(user, password=getpass())
grant = dict(access_token=tok.access_token, expires_in=tok.expires_in)
pw = os.environ["UCX_PASSWORD"]
password = os.environ.get("UCX_PASSWORD")
headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
self.password = password
login(password=password, token=None)
"""


def _png(n: int = 4000) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(n)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _webex_id(kind: str = "PEOPLE") -> str:
    return base64.urlsafe_b64encode(f"ciscospark://us/{kind}/{uuid.uuid4()}".encode()).decode().rstrip("=")


def _sign_in_link() -> str:
    challenge = pkce_s256(secrets.token_urlsafe(48))
    return (f"https://webexapis.com/v1/authorize?client_id=C{secrets.token_hex(32)}&response_type=code"
            f"&code_challenge={challenge}&code_challenge_method=S256&state={secrets.token_urlsafe(24)}")


def _itables_bundle_notebook(d: Path) -> Path:
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    bundle = generate_init_offline_itables_html(options.dt_bundle)
    table = _itables([[f"user{i}", _webex_id()] for i in range(1500)])
    return _write_notebook(d / "n.ipynb", CODE, [_display("text/html", bundle), _display("text/html", table)])


def _widgets_notebook(d: Path) -> Path:
    buffers = [{"encoding": "base64", "path": ["value"], "data": _b64(_png())}]
    widgets = {uuid.uuid4().hex: {"model_name": "ImageModel", "state": {"format": "png"}, "buffers": buffers},
               uuid.uuid4().hex: {"model_name": "PasswordModel", "state": {
                   "_model_name": "PasswordModel", "value": "", "description": "Password"}},
               uuid.uuid4().hex: {"model_name": "VBoxModel", "state": {"children": [
                   f"IPY_MODEL_{uuid.uuid4().hex}", f"IPY_MODEL_{uuid.uuid4().hex}"]}}}
    view = _display("application/vnd.jupyter.widget-view+json", {"model_id": uuid.uuid4().hex})
    return _write_notebook(d / "n.ipynb", outputs=[view], widgets=widgets)


def _embedded_widgets_html(d: Path) -> Path:
    import ipywidgets as W
    from ipywidgets.embed import embed_minimal_html

    views = [W.Text(value="jkam"), W.Password(value=""), W.Image(value=_png(), format="png"),
             W.HTML("<b>ok</b>")]
    embed_minimal_html(str(d / "w.html"), views=views, title="widgets")
    return d / "w.html"


def _benign_log(d: Path) -> Path:
    cursor = base64.urlsafe_b64encode(b'{"o":10,"f":"ab12"}').decode().rstrip("=")
    return _write(d / "run.log", "\n".join([
        f"person {_webex_id()} org {uuid.uuid4()} room {_webex_id('ROOM')}",
        f'Link: <https://webexapis.com/v1/people?max=10&cursor={cursor}>; rel="next"',
        f"client_id=C{secrets.token_hex(32)} widget IPY_MODEL_{uuid.uuid4().hex}"]))


CLEAN: list[tuple[str, Callable[[Path], Path]]] = [
    ("ordinary code in a cell", lambda d: _write_notebook(d / "n.ipynb", CODE)),
    ("ordinary code in a .py file", lambda d: _write(d / "m.py", CODE)),
    ("ordinary code in a .md file", lambda d: _write(d / "m.md", f"Sign in:\n\n```python\n{CODE}```\n")),
    ("ordinary code in a traceback", lambda d: _write_notebook(d / "n.ipynb", outputs=[{
        "output_type": "error", "ename": "SSOError", "evalue": "the sign-in expired",
        "traceback": ["\x1b[0;31m---------\x1b[0m", *CODE.splitlines()]}])),
    ("PKCE challenge and OAuth state in a sign-in link", lambda d: _write(d / "run.log", _sign_in_link())),
    ("base64 images and fonts in HTML", lambda d: _write(d / "r.html", (
        f'<img src="data:image/png;base64,{_b64(_png())}">'
        f"<style>@font-face{{src:url(data:font/woff2;base64,{_b64(os.urandom(3000))})}}</style>"))),
    ("itables bundle and benign table data", _itables_bundle_notebook),
    ("saved widget state with image buffers and model refs", _widgets_notebook),
    ("ipywidgets embedded HTML", _embedded_widgets_html),
    ("Webex ids, uuids and cursors in a log", _benign_log),
    ("redacted and placeholder values", lambda d: _write(d / "t.json", json.dumps({
        "access_token": "*****", "refresh_token": "<refresh token>", "password": "", "token_type": "Bearer",
        "expires_in": 3600, "auth": "oauth", "credentials": "include", "nextPageToken": "", "token": None}))),
    ("prose about authentication", lambda d: _write(d / "README.md", (
        "Basic authentication sends a password; Bearer tokens expire. Set UCX_PASSWORD=... or "
        "password=<yours>.\nThe token field holds an access token; see `ucexplore login --help`.\n"))),
    ("a benign HAR", lambda d: _write_har(
        d / "s.har", {"headers": [{"name": "Accept", "value": "application/json"}],
                      "queryString": [{"name": "max", "value": "100"}]},
        {"content": {"mimeType": "application/json", "text": json.dumps({"items": [{"id": _webex_id()}]})}})),
    ("a benign workbook", lambda d: _write_xlsx(d / "r.xlsx", {
        "UDS users": [["userName", "id", "token_type", "password"],
                      *[[f"user{i}", str(uuid.uuid4()), "Bearer", "*****"] for i in range(50)]],
        "About": [["path", "/cucm-uds/users"], ["params", "last=K"]]})),
]


@pytest.mark.parametrize("build", [c[1] for c in CLEAN], ids=[c[0] for c in CLEAN])
def test_ordinary_content_is_clean(tmp_path, capsys, build):
    target = build(tmp_path)
    assert audit([target]) == []
    assert main(["audit", str(target)]) == 0
    assert "no credentials found" in capsys.readouterr().out


# -- the command's output and edge cases -------------------------------------------------------------------


def test_table_has_file_where_kind_and_masked_excerpt(tmp_path, capsys):
    tok, pw = webex_token(), password()
    nb = _write_notebook(tmp_path / "n.ipynb", f'login(password="{pw}")', [_stream(f"{tok}\n")])
    book = _write_xlsx(tmp_path / "r.xlsx", {"Users": [["user", "note"], ["jkam", cucm_token()]]})
    log = _write(tmp_path / "a.log", f"ok\nticket <sessionTicket>{lab_token()}</sessionTicket>\n")
    assert main(["audit", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["file", "where", "kind", "excerpt"]
    assert any(str(nb) in ln and "cell 2 source" in ln and "password field" in ln for ln in lines)
    assert any(str(nb) in ln and "cell 2 output" in ln and "webex access token" in ln and
               f"{tok[:4]}…(106 chars)" in ln for ln in lines)
    assert any(str(book) in ln and "sheet Users!B2" in ln and "cucm/unity token" in ln for ln in lines)
    assert any(str(log) in ln and "line 2" in ln and "session ticket" in ln for ln in lines)
    assert "3 file(s)" in lines[-1] and tok not in out and pw not in out


def test_har_entries_are_numbered(tmp_path):
    tok = lab_token()
    path = _write_har(tmp_path / "s.har", {"headers": [{"name": "Authorization", "value": f"Bearer {tok}"}]})
    assert [(f.where, f.kind) for f in scan_file(path)] == [("har entry 2", "bearer header")]


def test_unreadable_files_are_one_line_each(tmp_path, capsys):
    (tmp_path / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    (tmp_path / "broken.xlsx").write_bytes(os.urandom(200))
    (tmp_path / "broken.har").write_text("not json", encoding="utf-8")
    assert main(["audit", str(tmp_path)]) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    rows = [ln for ln in printed.out.splitlines() if "unreadable file" in ln]
    assert len(rows) == 3 and {r.split()[0] for r in rows} == {
        str(tmp_path / n) for n in ("broken.ipynb", "broken.xlsx", "broken.har")}


def test_a_corrupt_notebook_is_still_scanned_as_text(tmp_path):
    tok = lab_token()
    path = _write(tmp_path / "cut.ipynb", f'{{"cells": [{{"outputs": [{{"text": "Bearer {tok}"')
    assert {f.kind for f in scan_file(path)} == {"unreadable file", "bearer header"}


def test_missing_path_exits_2(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nope.ipynb")]) == 2
    assert "nope.ipynb" in capsys.readouterr().err


def test_folder_walk_skips_tool_folders_but_not_checkpoints(tmp_path):
    tok = lab_token()
    for folder in (".git", ".venv", "node_modules", "__pycache__", "env"):
        (tmp_path / folder).mkdir()
        _write(tmp_path / folder / "x.py", f'TOKEN = "Bearer {tok}"\n')
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")  # a virtual environment by another name
    assert audit([tmp_path]) == []
    (tmp_path / ".ipynb_checkpoints").mkdir()
    _write(tmp_path / ".ipynb_checkpoints" / "x.py", f'TOKEN = "Bearer {tok}"\n')
    assert [f.kind for f in audit([tmp_path])] == ["bearer header"]


def test_known_secrets_and_code_mode():
    secret = "s3cr3t-short"
    assert [f.kind for f in scan_text(f"value {secret} here", known=[secret])] == ["known secret"]
    # a bare value is a keyword argument in code, a value in a log
    assert scan_text("login(password=hunter2x)", code=True) == []
    assert [f.kind for f in scan_text("login user=jkam password=hunter2x")] == ["password field"]
    assert [f.kind for f in scan_text("password=swordfish password=monkey123")] == ["password field"] * 2
    assert scan_text("login(password=password, token=access_token) password=user_password") == []
    # in a URL it is a value even in code
    assert [f.kind for f in scan_text('get("https://x/cb?access_token=abcdef123456")', code=True)] == [
        "access_token in URL"]


def test_format_table_aligns_columns():
    table = format_table([Finding("a.log", "line 1", "JWT", "eyJh…(40 chars)"),
                          Finding("longer/b.log", "line 10", "bearer header", "abcd…(43 chars)")])
    header, first, second = table.splitlines()
    assert header.index("where") == first.index("line 1") == second.index("line 10")
    assert header.index("excerpt") == first.index("eyJh") == second.index("abcd")
