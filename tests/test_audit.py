"""ucexplore audit: finds credentials in notebooks (outputs and widget state), HTML, XLSX and logs."""

from __future__ import annotations

import json
import secrets
import zipfile

from ucexplore.audit import audit, scan_text
from ucexplore.cli import main


def _nb(outputs, widgets=None):
    nb = {"cells": [{"cell_type": "code", "source": "flow.complete(x)", "outputs": outputs, "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if widgets:
        nb["metadata"]["widgets"] = widgets
    return json.dumps(nb)


def test_patterns_each_detected():
    tok = secrets.token_urlsafe(32)
    samples = {
        "access_token in URL": f"https://x/cb#access_token={tok}&expires_in=3600",
        "bearer header": f"Authorization: Bearer {tok}",  # was "Bearer header": kinds are lower case now
        "session ticket": f"<serv:sessionTicket>{tok}</serv:sessionTicket>",
        "token field": json.dumps({"token": tok}),
        "refresh token": f"refresh_token={tok}",
        "JWT": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqa2FtIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
        "authorization code in URL": f"https://x/cb?code={tok}&state=abc",
    }
    for kind, text in samples.items():
        kinds = {f.kind for f in scan_text(text)}
        assert kind in kinds, (kind, kinds)
        assert all(tok not in f.excerpt for f in scan_text(text))  # findings never repeat the secret


def test_safe_text_passes():
    clean = ("user jkam signed in; expires 2026-11-28T10:00:00Z; id a3c1e2f0-1111-4c4c-9a9a-000000000001; "
             "access_token=*****; Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmNkZWYxMjM0NTY3ODkwYWJjZGVm; "
             "IPY_MODEL_0f3c9a1b2c3d4e5f60718293a4b5c6d7; "
             "https://webexapis.com/v1/authorize?code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&"
             "state=Xk2pQ9vLm4Rt7sWz1aBcDeFgHiJkLmNoPqRsTuVw")
    assert scan_text(clean) == []


def test_image_buffers_and_inline_libraries_are_not_findings(tmp_path):
    tok = secrets.token_urlsafe(32)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg" * 3
    widgets = {"application/vnd.jupyter.widget-state+json": {"state": {
        "a": {"model_name": "ImageModel", "state": {}, "buffers": [{"data": png, "path": ["value"]}]}}}}
    nb = tmp_path / "img.ipynb"
    nb.write_text(_nb([{"output_type": "display_data", "data": {
        "text/html": "<script>" + ("var q='Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBaZyXwVuTs';" * 600) + "</script>"}}],
        widgets=widgets))
    assert audit([nb]) == []
    leaky = tmp_path / "leak.ipynb"
    leaky.write_text(_nb([{"output_type": "display_data", "data": {"text/html": f"<b>{tok}</b>"}}], widgets=widgets))
    assert [f.kind for f in audit([leaky])] == ["token-like string"]


def test_notebook_widget_state_xlsx_and_cli(tmp_path, capsys):
    tok = secrets.token_urlsafe(32)
    clean = tmp_path / "clean.ipynb"
    clean.write_text(_nb([{"output_type": "stream", "name": "stdout", "text": "200 rows\n"}]))
    leaky = tmp_path / "leaky.ipynb"
    leaky.write_text(_nb([], widgets={"state": {"m1": {"state": {"value": tok}}}}))
    book = tmp_path / "r.xlsx"
    with zipfile.ZipFile(book, "w") as zf:
        zf.writestr("xl/sharedStrings.xml", f"<sst><si><t>Bearer {tok}</t></si></sst>")
    assert audit([clean]) == []
    found = audit([tmp_path])
    assert {f.path for f in found} == {str(leaky), str(book)}
    assert any("metadata.widgets" in f.where for f in found)
    assert main(["audit", str(clean)]) == 0
    assert main(["audit", str(tmp_path)]) == 1
    assert tok not in capsys.readouterr().out
