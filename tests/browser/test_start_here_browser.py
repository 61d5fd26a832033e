"""The start-here notebook as a learner meets it, in a real browser (JupyterLab + Debian Chromium + Playwright).

Run All before signing in: the first data cell fails with a short ``NotSignedIn`` card that names the cell to
run (no traceback wall). The learner then signs in through the widget (the lab IdP in a new tab, the Copy
button's address pasted back), runs the data cell again and gets the DataFrame. The notebook is the one git
holds, never the working copy a user may have saved. Screenshots of the error card and of the signed-in
notebook are kept under ``build/test-artifacts/`` (or ``$UCX_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from jupyterlab_helper import CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookUI, sign_in_in_new_tab  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"),
]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/00-start-here.ipynb"
ARTIFACTS = Path(os.environ.get("UCX_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")


def committed_notebook() -> str:
    """The start-here notebook as git holds it (the working copy may hold a user's outputs or edits)."""
    try:
        return subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{NOTEBOOK}"], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): the file itself
        return (REPO / NOTEBOOK).read_text(encoding="utf-8")


@pytest.fixture
def cucm_lab():
    from ucexplore.lab import start

    with start(users=60, seed=7, products=("idp", "cucm")) as running:
        yield running


def _code_cell_index(text: str, needle: str) -> int:
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source)


def test_run_all_shows_a_short_card_then_the_learner_signs_in(cucm_lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    lab = cucm_lab
    expect.set_options(timeout=60_000)  # a failure guard on a busy runner, not a speed requirement
    user, password = lab.demo_user
    text = committed_notebook()
    data_cell = _code_cell_index(text, "uds.users(")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in lab.env().items()}
    env.pop("UCX_HEADLESS", None)  # a person at the keyboard: the widget waits for them
    with JupyterLab(tmp_path, env=env) as jl:
        (jl.root / "00-start-here.ipynb").write_text(text, encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1100})
            page = context.new_page()
            page.set_default_timeout(60_000)
            try:
                ui = NotebookUI(page)
                page.goto(jl.url("lab/tree/00-start-here.ipynb", reset=True))
                ui.wait_ready()
                ui.run_all(until=".ucx-login .ucx-login-open a")

                # the first data cell: a card, not a traceback wall
                out = ui.cell(data_cell).locator(".jp-OutputArea-output")
                expect(out.first).to_contain_text("NotSignedIn: CUCM is not signed in yet")
                card = out.first.inner_text()
                assert "sign_in(flow)" in card and "ux.debug(True)" in card
                assert "Traceback" not in card and "run_sync" not in card
                assert len([line for line in card.splitlines() if line.strip()]) <= 12, card
                ui.cell(data_cell).screenshot(path=str(ARTIFACTS / "start-here-error-card.png"))

                # sign in through the widget, as the notebook tells the learner to
                link = ui.panel.locator(".ucx-login-open a")
                idp = sign_in_in_new_tab(context, link, user, password)
                landed = idp.locator("#ucx-callback-url").input_value()
                idp.close()
                page.bring_to_front()
                ui.panel.locator(".ucx-login-paste input").fill(landed)
                ui.panel.locator("button.ucx-login-submit").click()
                expect(ui.panel.locator(".ucx-login-status").first).to_contain_text("Signed in")

                # the same data cell now gives the DataFrame
                ui.run_cell(data_cell)
                expect(out.first).not_to_contain_text("NotSignedIn")
                expect(out.first).to_contain_text("userName")
                page.screenshot(path=str(ARTIFACTS / "start-here-signed-in.png"), full_page=True)
                assert landed not in page.content() and password not in page.content()
            finally:
                context.close()
                browser.close()
    assert (ARTIFACTS / "start-here-error-card.png").stat().st_size > 1000
