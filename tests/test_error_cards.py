"""First contact: a ucexplore error in a notebook is a short card (what failed, what to do, where), not a
traceback wall; ``ux.debug(True)`` brings the traceback back; hints fit the call; frames keep their columns.

The card tests execute a real notebook in a real kernel (nbclient), with the lab started inside the kernel.
"""

from __future__ import annotations

import re
import sys
import traceback

import nbformat
import pytest
from nbclient import NotebookClient

import ucexplore as ux
from ucexplore.errors import InvalidArgument, NotSignedIn, UcError

ANSI = re.compile(r"\x1b\[[0-9;]*m")

CELLS = [
    "import ucexplore as ux\n"
    "lab = ux.lab.start(users=40, products=('cucm', 'unity'))\n"
    "flow = ux.CucmSSO(lab.urls['cucm'], redirect_uri=lab.redirect_uri)\n"
    "uds = ux.UDS(lab.urls['cucm'], auth=flow, progress=False)",
    "uds.users()",  # NotSignedIn: the first error a learner meets
    "ux.UDS(lab.urls['unity'], auth=lab.admin, progress=False).users()",  # the wrong product's port
    "ux.UDS(lab.urls['cucm'], auth=lab.admin, progress=False).users(lst='K')",  # a mistyped filter
    "ux.debug(True)\nuds.users()",  # the full traceback, on request
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("cards"))}})
    client.execute()
    return nb


def error_of(nb, index: int) -> tuple[str, list[str]]:
    (out,) = [o for o in nb.cells[index].outputs if o.output_type == "error"]
    text = ANSI.sub("", "\n".join(out.traceback))
    return out.ename, text.splitlines()


def test_not_signed_in_is_a_short_card_that_names_the_fix(executed):
    ename, lines = error_of(executed, 1)
    assert ename == "NotSignedIn" and len(lines) <= 12, lines
    assert lines[0] == "NotSignedIn: CUCM is not signed in yet"
    text = "\n".join(lines)
    assert "sign_in(flow)" in text and "ux.login(flow)" in text and "flow.authorize_url" in text
    assert "/ssosp/oauth/authorize?" not in text  # no 300-character URL
    assert "where: UDS GET" in text and "/cucm-uds/users" in text
    assert "Traceback" not in text and "run_sync" not in text and "concurrent" not in text


def test_an_api_error_from_the_wrong_port_says_the_server_is_not_that_product(executed):
    ename, lines = error_of(executed, 2)
    text = "\n".join(lines)
    assert ename == "ApiError" and len(lines) <= 12, lines
    assert "does not look like UDS" in text and "check the user id" not in text
    assert "Traceback" not in text


def test_a_mistyped_filter_is_a_card_with_a_suggestion(executed):
    ename, lines = error_of(executed, 3)
    text = "\n".join(lines)
    assert ename == "InvalidArgument" and len(lines) <= 12, lines
    assert "did you mean 'last'?" in text and "accepts" in text


def test_debug_brings_the_full_traceback_back(executed):
    ename, lines = error_of(executed, 4)
    assert ename == "NotSignedIn" and len(lines) > 12
    assert any("Traceback" in line or "File " in line or "Cell In" in line for line in lines)


def test_plain_scripts_keep_their_normal_traceback():
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    try:
        flow.ensure_fresh()
    except NotSignedIn as exc:
        text = "".join(traceback.format_exception(exc))
    assert text.startswith("Traceback") and "ensure_fresh" in text  # nothing replaces Python's own printout


def test_the_card_never_shows_a_token(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    tok = sign_in(flow)
    uds = ux.UDS(lab.urls["cucm"], auth=flow, progress=False)
    with pytest.raises(UcError) as info:
        uds.user("nobody-" + tok.access_token[:8])
    card = "\n".join(info.value._render_traceback_())
    assert tok.access_token not in card and len(card.splitlines()) <= 12


def test_rows_kept_on_a_failed_pull_are_reachable_from_a_notebook(lab):
    lab.set_faults("cucm", freeze_after=2)
    uds = ux.UDS(lab.urls["cucm"], auth=lab.admin, timeout=0.5, max_concurrency=2, progress=False)
    try:
        with pytest.raises(UcError):
            uds.users()
    finally:
        lab.set_faults(None)
    err = ux.last_error()
    assert err is not None and err.partial is not None and len(err.partial) > 0
    assert "ux.last_error().partial" in str(err)


def test_limit_minus_one_says_what_limit_takes(lab):
    uds = ux.UDS(lab.urls["cucm"], auth=lab.admin, progress=False)
    with pytest.raises(ValueError, match="limit= takes a whole number of rows, 0 or more") as info:
        uds.users(limit=-1)
    assert isinstance(info.value, InvalidArgument)
    assert uds.transport.stats["requests"] == 0


def test_a_finesse_agent_has_its_usual_columns_in_every_state(lab, sign_in):
    flow = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    sign_in(flow)
    fin = ux.Finesse(lab.urls["finesse"], auth=flow, progress=False)
    agent = lab.demo_agent_id
    fin.set_state(agent, "READY")
    ready = fin.user(agent)
    assert ready["state"] == "READY" and "reasonCode.label" in ready.index  # present, empty
    fin.set_state(agent, "NOT_READY", reason_code_id=int(fin.reason_codes().iloc[0]["id"]))
    not_ready = fin.user(agent)
    usual = list(ux.Finesse.endpoints()["user"].columns)
    assert "reasonCode.label" in usual
    assert list(ready.index[: len(usual)]) == list(not_ready.index[: len(usual)]) == usual


def test_every_endpoint_declares_its_usual_columns():
    missing = [f"{cls.__name__}.{name}" for cls in (ux.UDS, ux.Unity, ux.Finesse, ux.Webex, ux.WebexXML)
               for name, fetch in cls.endpoints().items() if not fetch.columns]
    assert missing == []


def test_the_progress_bar_leaves_a_plain_text_summary(tmp_path, lab):
    code = (
        "import ucexplore as ux\n"
        f"uds = ux.UDS({lab.urls['cucm']!r}, auth={lab.admin!r})\n"
        "df = uds.users()\n"
        "len(df)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), outputs
    texts = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert any(re.fullmatch(r"UDS /cucm-uds/users: \d+ pages in [\d.]+ s", t.strip("'")) for t in texts), texts
    assert lab.admin[1] not in str(outputs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
