"""A person signs in through a real browser: JupyterLab + ipywidgets + Debian Chromium + Playwright + the lab.

The notebook builds a ``CucmSSO`` flow from environment variables (inherited by the kernel from the JupyterLab
server process), shows ``ux.login(flow)`` and ``ux.sessions()``, and pulls users. Run All first hits
``NotSignedIn`` (rendered with its hint); then the person clicks "Open sign-in page", signs in on the lab IdP in
the new tab, first pastes what the address bar shows (the callback page removed the token from it: the widget
says to use the Copy button), then clicks Copy on the callback page and pastes that, runs the data cell, and saves
the notebook with widget state saving switched on. The saved file must contain the widget state but no token
and no password. A second sign-in widget, for a server nobody listens on, says it cannot reach it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file, whatever pytest's import mode
from jupyterlab_helper import CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookUI, sign_in_in_new_tab  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"),
]

NOTEBOOK = "sign-in.ipynb"
HAS_UDS = importlib.util.find_spec("ucexplore.services.uds") is not None

SETUP = """\
import os
import ucexplore as ux

flow = ux.CucmSSO(os.environ["UCX_CUCM_URL"], redirect_uri=os.environ["UCX_REDIRECT_URI"])"""
LOGIN = """\
w = ux.login(flow)
w"""
SESSIONS = "ux.sessions()"
if HAS_UDS:
    DATA = """\
df = ux.UDS(os.environ["UCX_CUCM_URL"], auth=flow).users(limit=5)
print(f"rows: {len(df)}")
print("status ticking:", w._kernel.task is not None and not w._kernel.task.done())"""
else:  # until the UDS client lands: the same token on an authenticated UDS resource
    DATA = """\
import httpx
r = httpx.get(f"{os.environ['UCX_CUCM_URL']}/cucm-uds/user/{os.environ['UCX_DEMO_USER']}",
              headers={"Authorization": flow.ensure_fresh().authorization()})
r.raise_for_status()
print(f"rows: {r.text.count('<userName>')}")
print("status ticking:", w._kernel.task is not None and not w._kernel.task.done())"""
NOWHERE = """\
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()  # nobody listens there
nowhere = ux.login(ux.CucmSSO(f"https://127.0.0.1:{port}", redirect_uri=os.environ["UCX_REDIRECT_URI"]))
nowhere"""
LOGIN_CELL = 1
NOWHERE_CELL = 3  # before the data cell: Run All stops at its NotSignedIn
DATA_CELL = 4
EXPECTED_ROWS = "rows: 5" if HAS_UDS else "rows: 1"


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, LOGIN, SESSIONS, NOWHERE, DATA)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)


def _wait_for_saved(path: Path, must_contain: list[str], timeout: float) -> str:
    """The saved notebook text once it contains every string in ``must_contain`` (polls; a failure guard)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8")
        if all(s in text for s in must_contain):
            return text
        time.sleep(0.25)
    missing = [s for s in must_contain if s not in text]
    raise AssertionError(f"the saved notebook lacks {missing}")


@pytest.fixture
def cucm_lab():
    """A lab with the IdP and CUCM only, started in this test process (the kernel reaches it over loopback)."""
    from ucexplore.lab import start

    with start(users=60, seed=7, products=("idp", "cucm")) as running:
        yield running


def test_sign_in_through_a_real_browser_and_save_without_secrets(cucm_lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    lab = cucm_lab
    expect.set_options(timeout=60_000)  # a failure guard on a busy 2-core runner, not a speed requirement
    user, password = lab.demo_user
    with JupyterLab(tmp_path, env=lab.env(), save_widget_state=True) as jl:
        nb_path = jl.root / NOTEBOOK
        _write_notebook(nb_path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            # the callback page's Copy button writes the clipboard; the test reads it back
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.urls["idp"])
            page = context.new_page()
            page.set_default_timeout(60_000)
            try:
                ui = NotebookUI(page)
                page.goto(jl.url(f"lab/tree/{NOTEBOOK}", reset=True))
                ui.wait_ready()

                # Run All: the widgets appear; the data cell refuses with a NotSignedIn that says what to do
                ui.run_all(until=".ucx-login .ucx-login-open a")
                login = ui.cell(LOGIN_CELL).locator(".ucx-login")
                data_out = ui.cell(DATA_CELL).locator(".jp-OutputArea-output")
                expect(data_out.first).to_contain_text("NotSignedIn")
                expect(data_out.first).to_contain_text("ux.login(flow)")
                status = login.locator(".ucx-login-status")
                expect(status).to_contain_text("Not signed in")
                expect(login.locator(".ucx-login-help")).to_contain_text("click Copy on the page you land on")
                expect(ui.panel.locator(".ucx-sessions")).to_contain_text("No signed-in sessions")

                # the widget for a server nobody listens on says so (checked in the background when shown),
                # and its sign-in link stays there; the lab's widget says nothing of the kind
                nowhere = ui.cell(NOWHERE_CELL).locator(".ucx-login")
                unreachable = nowhere.locator(".ucx-login-unreachable")
                expect(unreachable).to_contain_text("Cannot reach 127.0.0.1:")
                expect(unreachable).to_contain_text("(connection refused): check the URL, the VPN, or start the lab")
                expect(nowhere.locator(".ucx-login-open a")).to_have_attribute("href", re.compile(
                    r"^https://127\.0\.0\.1:\d+/ssosp/oauth/authorize\?"))
                assert unreachable.locator(".ucx-wrap").evaluate("e => getComputedStyle(e).whiteSpace") == "normal"
                expect(login.locator(".ucx-login-unreachable")).to_have_text("")
                page.screenshot(path=str(tmp_path / "run-all.png"), full_page=True)

                link = login.locator(".ucx-login-open a")
                href = link.get_attribute("href") or ""
                assert href.startswith(lab.urls["cucm"] + "/ssosp/oauth/authorize?")
                assert link.get_attribute("target") == "_blank"
                assert "noopener" in (link.get_attribute("rel") or "")

                # the sign-in page opens in a new tab; the person signs in on the lab IdP
                idp = sign_in_in_new_tab(context, link, user, password)
                landed = idp.locator("#ucx-callback-url").input_value()
                address_bar = idp.url  # the page removed the token from it once it had read it
                assert "#" not in address_bar and "access_token" not in address_bar, address_bar
                # the Copy button puts the whole address on the clipboard
                idp.click("#ucx-copy")
                expect(idp.locator("#ucx-copied")).to_contain_text("Copied")
                try:
                    copied = idp.evaluate("navigator.clipboard.readText()")
                except Exception:  # noqa: BLE001 - a headless clipboard without permission: read the box
                    copied = landed
                assert copied == landed
                idp.screenshot(path=str(tmp_path / "callback.png"))
                token = parse_qs(urlsplit(landed).fragment)["access_token"][0]
                grant = lab.ctx.issuers["cucm"].validate(token)
                assert grant is not None and grant.subject == user
                idp.close()

                # back in the notebook: pasting the address bar says to use the Copy button
                page.bring_to_front()
                paste = login.locator(".ucx-login-paste input")
                errors = login.locator(".ucx-login-error")
                paste.fill(address_bar)
                expect(errors).to_contain_text("carries no sign-in result")
                expect(errors).to_contain_text("click Copy on that page, then paste here")
                expect(status).to_contain_text("Not signed in")
                expect(paste).to_have_value("")
                # what Copy gave: signed in
                paste.fill(copied)
                login.locator("button.ucx-login-submit").click()
                expect(status).to_contain_text("Signed in")
                expect(status).to_contain_text("cucm")
                expect(status).to_contain_text("expires in")
                expect(paste).to_have_value("")  # emptied by the kernel
                expect(errors).to_have_text("")
                expect(ui.panel.locator(".ucx-sessions .ucx-session-row")).to_contain_text("CUCM")
                expect(ui.panel.locator(".ucx-sessions .ucx-session-row")).to_contain_text("sign in again then")
                assert token not in page.content()

                # the data cell now works
                ui.run_cell(DATA_CELL)
                expect(data_out.first).to_contain_text(EXPECTED_ROWS)
                expect(data_out.first).to_contain_text("status ticking: True")
                page.screenshot(path=str(tmp_path / "notebook.png"), full_page=True)

                # save with widget state (saveState: true) and read the file from disk
                wanted = [EXPECTED_ROWS, "application/vnd.jupyter.widget-state+json", "ucx-login-status",
                          "Signed in"]
                ui.save()
                try:
                    saved = _wait_for_saved(nb_path, wanted, timeout=20)
                except AssertionError:  # the shortcut did not reach the notebook: save from the menu
                    ui.menu("File", "docmanager:save")
                    saved = _wait_for_saved(nb_path, wanted, timeout=40)
            finally:
                context.close()
                browser.close()

    nb = json.loads(saved)
    widget_state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["state"].get("_model_name") == "PasswordModel" or m.get("model_name") == "PasswordModel"
               for m in widget_state.values())
    for secret, what in ((token, "the access token"), (token[:16], "the start of the access token"),
                         (landed, "the pasted address"), (password, "the password")):
        assert secret not in saved, f"{what} was saved into the notebook"
    from ucexplore.audit import scan_file

    # ucexplore's own audit must not find the token or password either (nor flag widget model ids)
    leaks = scan_file(nb_path, known=[token, password])
    assert not leaks, [str(f) for f in leaks]
