"""The Explorer in a real browser: JupyterLab + ipywidgets + Debian Chromium + Playwright + the lab.

The notebook's kernel reaches a lab started by this test (its URLs come through the environment), signs in by
script through the lab IdP's form (the sign-in UI has its own browser test) and shows ``ux.explore(uds)``.
Before anything is fetched there is no broken-image icon where the chart will be, only a short text, and long
hints wrap inside the widget. In the browser a person picks ``users``, types a filter, clicks Fetch, sees the
rows in the table (itables: sortable and searchable) and a chart of a column that is not an id, picks another
column to chart, and exports CSV into the output folder (``$UCX_OUTPUT_DIR``), which the result line names: the
file on disk has as many rows as the server reported for that filter.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper beside this file, whatever pytest's import mode
from jupyterlab_helper import CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookUI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
    ),
]

NOTEBOOK = "explore.ipynb"
SETUP = """\
import os
import ucexplore as ux
from ucexplore.lab.person import Person

flow = ux.CucmSSO(os.environ["UCX_CUCM_URL"], redirect_uri=os.environ["UCX_REDIRECT_URI"])
person = Person(os.environ["UCX_DEMO_USER"], os.environ["UCX_DEMO_PASSWORD"])
flow.complete(person.sign_in(flow.authorize_url))    # the lab IdP form, by script
uds = ux.UDS(os.environ["UCX_CUCM_URL"], auth=flow)
print("signed in:", flow.signed_in)"""
EXPLORE = """\
ex = ux.explore(uds)  # exports go to the output folder: $UCX_OUTPUT_DIR here
ex"""


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, EXPLORE)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def cucm_lab():
    """A lab with the IdP and CUCM only, started in this test process (the kernel reaches it on loopback)."""
    from ucexplore.lab import start

    with start(users=120, seed=5, products=("idp", "cucm")) as running:
        yield running


def test_explorer_fetches_users_shows_rows_and_exports_csv(cucm_lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    lab = cucm_lab
    prefix = "K"
    import ucexplore as ux

    expected = sorted(
        ux.UDS(lab.urls["cucm"], progress=False).users(last=prefix)["userName"]
    )  # anonymous search
    assert expected, "the lab should have users whose last name starts with K"
    exports = tmp_path / "exports"
    exports.mkdir()
    expect.set_options(timeout=60_000)  # a failure guard on a busy 2-core runner, not a speed requirement
    with JupyterLab(tmp_path / "jl", env={**lab.env(), "UCX_OUTPUT_DIR": str(exports)}) as jl:
        _write_notebook(jl.root / NOTEBOOK)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1100})
            page = context.new_page()
            page.set_default_timeout(60_000)
            try:
                ui = NotebookUI(page)
                page.goto(jl.url(f"lab/tree/{NOTEBOOK}", reset=True))
                ui.wait_ready()
                ui.run_all(until=".ucx-explorer .ucx-explorer-fetch")
                expect(ui.cell(0).locator(".jp-OutputArea-output").first).to_contain_text("signed in: True")
                explorer = ui.panel.locator(".ucx-explorer")

                # nothing fetched yet: no image at all where the chart goes (no broken-image icon), a short text
                chart = explorer.locator("img.ucx-explorer-chart")
                expect(chart).to_be_hidden()
                expect(explorer.locator(".ucx-explorer-chart-caption")).to_contain_text("appears here after Fetch")
                broken = explorer.evaluate(
                    "e => [...e.querySelectorAll('img')].filter(i => i.offsetParent !== null"
                    " && !(i.complete && i.naturalWidth > 0)).length")
                assert broken == 0

                # a long hint wraps inside the widget instead of running past its edge
                help_text = explorer.locator(".ucx-explorer-help .ucx-wrap")
                style = help_text.evaluate("e => [getComputedStyle(e).whiteSpace, getComputedStyle(e).overflowWrap]")
                assert style == ["normal", "anywhere"]
                help_text.evaluate("e => { e.textContent = 'a long hint '.repeat(40) + 'x'.repeat(300); }")
                box, row = help_text.bounding_box(), explorer.locator(".ucx-explorer-resource-row").bounding_box()
                assert box and row and box["x"] + box["width"] <= row["x"] + row["width"] + 1, (box, row)
                assert box["height"] > 40  # more than one line

                # pick the users resource, type a filter, fetch
                resource = explorer.locator(".ucx-explorer-resource select")
                resource.select_option(
                    label=next(
                        o for o in resource.locator("option").all_inner_texts() if o.startswith("users")
                    )
                )
                last = explorer.locator(".ucx-explorer-filter-last input")
                last.fill(prefix)
                explorer.locator("button.ucx-explorer-fetch").click()
                status = explorer.locator(".ucx-explorer-status")
                expect(status).to_contain_text(f"{len(expected)} rows")
                expect(explorer.locator(".ucx-explorer-error")).to_have_text("")

                # the rows are in the table: itables made it interactive (sortable, searchable)
                table = explorer.locator(".ucx-explorer-table")
                expect(table).to_contain_text(expected[0])
                expect(table.locator(".dt-container")).to_have_count(1)  # the DataTables wrapper
                expect(table.locator(".dt-container input[type=search]")).to_have_count(1)
                expect(table.locator("th.dt-orderable-asc, th.dt-orderable-desc").first).to_be_visible()
                page.screenshot(path=str(tmp_path / "explorer-rows.png"), full_page=True)

                # a chart, of a column that is not an id; then of a chosen column
                expect(chart).to_be_visible()
                column = explorer.locator(".ucx-explorer-chart-column select").input_value()
                assert column not in ("id", "userName", "@uri", "email"), column
                explorer.locator(".ucx-explorer-chart-column select").select_option("lastName")
                expect(explorer.locator(".ucx-explorer-chart-caption")).to_contain_text("value counts")
                expect(chart).to_have_count(1)
                expect(chart).to_be_visible()
                assert chart.evaluate("i => i.complete && i.naturalWidth > 0")

                # export CSV: the result line names the file
                explorer.locator("button.ucx-explorer-export-csv").click()
                result = explorer.locator(".ucx-explorer-export-result")
                expect(result).to_contain_text("uds-users.csv")
                expect(result).to_contain_text(f"{len(expected)} rows")
                expect(result).to_contain_text(f"in the output folder {exports.resolve()}")
                page.screenshot(path=str(tmp_path / "explorer-export.png"), full_page=True)
            finally:
                context.close()
                browser.close()

    path = exports / "uds-users.csv"
    assert path.exists(), list(exports.iterdir())
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(expected)
    assert sorted(r["userName"] for r in rows) == expected
