"""Every notebook, executed headless against one lab, the way CI and a workshop dry run would.

One lab is started for the module. Each notebook runs in its own kernel through nbclient, with the lab's
``lab.env()`` plus ``UCX_HEADLESS=1`` in the kernel's environment (``env={**os.environ, ...}``: never
papermill parameters, which would be written into the result). ``ucexplore.notebook.sign_in`` then signs in
through the lab IdP's form by script and hands the landed address to the LoginWidget.

Widget state is **stored** (nbclient's default, and the hard case: the saved file holds every widget model),
and each saved result is checked for the text of every token, refresh token, code and session ticket the lab
issued during the run, for the lab's passwords, and with ``ucexplore.audit``.

Notebooks run two at a time (this machine has 2 cores); the two that change the demo agent's Finesse state
take turns so that one's read-back never sees the other's change.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
ALL = sorted(p.relative_to(NB_DIR) for p in NB_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
SOLUTIONS = [p for p in ALL if p.parts[:2] == ("workshop", "solutions")]
EXERCISES = [p for p in ALL if p.parts[0] == "workshop" and len(p.parts) == 2]
WRITERS = [p for p in ALL if p.name == "06-cross-product-report.ipynb"]  #: notebooks that write report files
#: notebooks that change the demo agent's Finesse state: never run at the same time
FINESSE_STATE = {Path("03-finesse-contact-centre.ipynb"), Path("workshop/solutions/04-agent-state.ipynb")}
START = Path("00-start-here.ipynb")
INTERACTIVE = Path("interactive") / START  #: the start page run without the scripted sign-in
WORKERS = 2
CELL_TIMEOUT = 120


def _ids(paths: list[Path]) -> list[str]:
    return [str(p) for p in paths]


@dataclass
class Run:
    path: Path  #: the saved result (outputs and widget state)
    workdir: Path  #: the kernel's working directory (reports and exports land here)
    seconds: float
    error: str | None = None
    nb: object = None
    outputs: str = ""  #: every output's text, joined (for ✔/✘ assertions)
    widget_models: int = 0


@dataclass
class Results:
    runs: dict[Path, Run] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    issued: dict[str, int] = field(default_factory=dict)  #: issuer → access tokens issued during the run
    wall: float = 0.0


def _output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
            if "evalue" in out:
                parts.append(str(out["evalue"]))
            for mime, val in (out.get("data") or {}).items():
                if mime.startswith("text/"):
                    parts.append(val if isinstance(val, str) else "".join(val))
    return "\n".join(parts)


def _lab_secrets(lab) -> set[str]:
    """Every credential the lab knows of: live and expired tokens, refresh tokens, codes, tickets, passwords."""
    found: set[str] = set()
    for issuer in lab.ctx.issuers.values():
        for token, grant in list(issuer._tokens.items()):
            found.add(token)
            if grant.refresh_token:
                found.add(grant.refresh_token)
        found.update(issuer._refresh)
        found.update(issuer._codes)
    found.update(lab.ctx.xml_session_tickets)
    found.update({lab.demo_user[1], lab.admin[1], lab.webex_client_secret})
    return {s for s in found if s}


async def _execute(rel: Path, env: dict[str, str], out_dir: Path, gate: asyncio.Semaphore,
                   finesse: asyncio.Lock, *, as_name: Path | None = None, allow_errors: bool = False) -> Run:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NB_DIR / rel, as_version=4)
    name = as_name or rel
    workdir = out_dir / "cwd" / name.with_suffix("")
    workdir.mkdir(parents=True, exist_ok=True)
    saved = out_dir / "executed" / name
    saved.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(workdir)}})
    assert client.store_widget_state, "the hard case: widget state must be saved"
    error = None
    async with gate:
        lock = finesse if rel in FINESSE_STATE else None
        if lock is not None:
            await lock.acquire()
        t0 = time.perf_counter()
        try:
            await client.async_execute(env=env)
        except CellExecutionError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported per notebook
            error = f"{type(exc).__name__}: {exc}"
        finally:
            seconds = time.perf_counter() - t0
            if lock is not None:
                lock.release()
    nbformat.write(nb, saved)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return Run(saved, workdir, seconds, error, nb, _output_text(nb), len(state.get("state", {})))


async def _execute_all(env: dict[str, str], out_dir: Path) -> dict[Path, Run]:
    gate, finesse = asyncio.Semaphore(WORKERS), asyncio.Lock()
    order = sorted(ALL, key=lambda p: (p not in WRITERS, str(p)))  # the longest first
    jobs = [_execute(rel, env, out_dir, gate, finesse) for rel in order]
    # and the start page as a person meets it: nobody signs in, so data cells must point back at the widget
    jobs.append(_execute(START, {**env, "UCX_HEADLESS": "0"}, out_dir, gate, finesse, as_name=INTERACTIVE,
                         allow_errors=True))
    runs = await asyncio.gather(*jobs)
    return dict(zip([*order, INTERACTIVE], runs))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Results:
    from ucexplore.lab import start

    out_dir = tmp_path_factory.mktemp("notebooks")
    with start(users=200, seed=7) as lab:
        env = {**os.environ, **lab.env(), "UCX_HEADLESS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
               "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        t0 = time.perf_counter()
        runs = asyncio.run(_execute_all(env, out_dir))
        wall = time.perf_counter() - t0
        secrets = _lab_secrets(lab)
        issued = {name: len(issuer._tokens) for name, issuer in lab.ctx.issuers.items()}
    print(f"\nexecuted {len(runs)} notebooks in {wall:.1f} s wall: "
          + ", ".join(f"{p} {r.seconds:.1f}s" for p, r in runs.items()), file=sys.stderr)
    return Results(runs, secrets, issued, wall)


# ----------------------------------------------------------------------------------------------------------
# the committed notebooks
# ----------------------------------------------------------------------------------------------------------


def test_there_are_notebooks():
    names = {str(p) for p in ALL}
    for expected in ("00-start-here.ipynb", "01-cucm-uds-directory.ipynb", "02-unity-voicemail.ipynb",
                     "03-finesse-contact-centre.ipynb", "04-webex-meetings.ipynb",
                     "05-webdialer-click-to-dial.ipynb", "06-cross-product-report.ipynb"):
        assert expected in names
    assert len(EXERCISES) >= 4
    assert sorted(p.name for p in EXERCISES) == sorted(p.name for p in SOLUTIONS)


@pytest.mark.parametrize("rel", ALL, ids=_ids(ALL))
def test_committed_without_outputs_or_widget_state(rel):
    raw = json.loads((NB_DIR / rel).read_text(encoding="utf-8"))
    assert "widgets" not in raw.get("metadata", {}), "saved widget state: rebuild with scripts/build_notebooks.py"
    for i, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
        assert "widgets" not in cell.get("metadata", {})


def test_committed_notebooks_match_the_build_script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_notebooks
    finally:
        sys.path.pop(0)
    built = {str(rel): build_notebooks.render(nb) for rel, nb in build_notebooks.notebooks().items()}
    assert sorted(built) == sorted(str(p) for p in ALL), "a notebook is not built by scripts/build_notebooks.py"
    stale = [rel for rel, text in built.items() if (NB_DIR / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"edited by hand or not rebuilt: {stale} (run scripts/build_notebooks.py)"


# ----------------------------------------------------------------------------------------------------------
# executed headless against the lab
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ALL, ids=_ids(ALL))
def test_executes_without_error(results, rel):
    run = results.runs[rel]
    assert run.error is None, f"{rel} failed:\n{run.error}"
    assert "NotSignedIn" not in run.outputs


@pytest.mark.parametrize("rel", ALL, ids=_ids(ALL))
def test_saved_result_holds_no_secret(results, rel):
    from ucexplore.audit import audit

    run = results.runs[rel]
    text = run.path.read_text(encoding="utf-8")
    leaked = [s for s in results.secrets if s in text]
    assert not leaked, f"{len(leaked)} lab credential(s) in the saved result of {rel}"
    findings = audit([run.path], known=results.secrets)
    assert not findings, "\n".join(map(str, findings))


@pytest.mark.parametrize("rel", WRITERS, ids=_ids(WRITERS))
def test_files_a_notebook_writes_hold_no_secret(results, rel):
    from ucexplore.audit import audit

    written = [p for p in results.runs[rel].workdir.rglob("*") if p.is_file()]
    assert {p.suffix for p in written} >= {".html", ".xlsx", ".csv"}, written
    findings = audit([results.runs[rel].workdir], known=results.secrets)
    assert not findings, "\n".join(map(str, findings))


def test_the_lab_issued_credentials(results):
    # the secret scan is not vacuous: every product signed in, through the IdP form, during the run
    assert all(n >= 2 for n in results.issued.values()), results.issued
    assert len(results.secrets) > sum(results.issued.values())


def test_without_a_person_data_cells_raise_not_signed_in_with_the_pointer(results):
    run = results.runs[INTERACTIVE]
    errors = [o for c in run.nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and {o.ename for o in errors} == {"NotSignedIn"}, [o.ename for o in errors]
    assert "ux.login(flow)" in errors[0].evalue and "/ssosp/oauth/authorize" in errors[0].evalue
    assert "Not signed in." in run.outputs  # the widget waits for a person; nothing blocked
    text = run.path.read_text(encoding="utf-8")
    assert not [s for s in results.secrets if s in text]


def test_widget_state_was_saved(results):
    # the hard case really happened: the sign-in widgets' models are in the saved files
    start = results.runs[START]
    assert start.widget_models > 5
    state = json.dumps(start.nb.metadata["widgets"])
    assert "ucx-login" in state and "Signed in" in state


@pytest.mark.parametrize("rel", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solutions_pass_their_checks(results, rel):
    out = results.runs[rel].outputs
    assert "✔" in out, out[-2000:]
    assert "✘" not in out and "not done yet" not in out and "could not check" not in out, out[-2000:]


@pytest.mark.parametrize("rel", EXERCISES, ids=_ids(EXERCISES))
def test_unsolved_exercises_say_not_done_yet(results, rel):
    out = results.runs[rel].outputs
    assert "not done yet" in out
    assert "✔" not in out and "✘" not in out


def test_whole_run_is_quick(results):
    assert results.wall < 150, f"{results.wall:.0f} s"


# ----------------------------------------------------------------------------------------------------------
# ucexplore.notebook in process (no kernel): env, sign-in, and the checks' wrong-answer paths
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helper_lab():
    """A small lab of its own, and ucexplore.notebook pointed at it as a kernel with its UCX_* would be."""
    from ucexplore import notebook
    from ucexplore.lab import start

    with start(users=30, seed=3) as lab:
        saved = notebook._ENV
        notebook._ENV = notebook._env_from(lab.env())
        try:
            yield lab
        finally:
            notebook._ENV = saved
            for key in [k for k in notebook._PEOPLE if k[0] == lab.redirect_uri]:
                notebook._PEOPLE.pop(key).close()


def test_env_reads_the_lab_variables_and_never_shows_the_password(helper_lab):
    from ucexplore.notebook import ux_env

    env = ux_env()
    assert env.cucm_url == helper_lab.urls["cucm"] and env.webex_url == helper_lab.urls["webex"] + "/v1"
    assert env.is_lab and not env.started_lab and env.verify is True and env.webex_site == "acme"
    assert env.demo_credentials() == helper_lab.demo_user and env.admin_credentials() == helper_lab.admin
    shown = repr(env) + env._repr_html_() + repr(env.rows())
    assert helper_lab.demo_user[1] not in shown and helper_lab.admin[1] not in shown


def test_ux_env_starts_a_lab_when_no_server_is_configured(monkeypatch):
    from ucexplore import notebook

    for var in [v for v in os.environ if v.startswith("UCX_")]:
        monkeypatch.delenv(var)
    monkeypatch.setattr(notebook, "_ENV", None)
    env = notebook.ux_env(users=10)
    try:
        assert env.started_lab and env.is_lab and env.cucm_url == env.lab.urls["cucm"]
        assert notebook.ux_env() is env  # re-running the first cell does not start a second lab
    finally:
        env.lab.stop()


def test_headless_sign_in_fills_the_idp_form_once_then_sso(helper_lab, monkeypatch):
    from ucexplore import notebook

    monkeypatch.setenv("UCX_HEADLESS", "1")
    monkeypatch.setattr(notebook, "_FLOWS", {})
    env = notebook.ux_env()
    cucm, unity = env.cucm_sso(), env.unity_sso()
    w1, w2 = notebook.sign_in(cucm), notebook.sign_in(unity)
    try:
        assert w1.signed_in and w2.signed_in and w1.error is None
        assert helper_lab.ctx.issuers["cucm"].validate(cucm.token.access_token).subject == env.demo_user
        assert notebook._person(env).forms_filled == 1  # the second product went straight through (SSO)
    finally:  # leave no signed-in flow behind for other tests' session bars
        for w in (w1, w2):
            w.sign_out()
            w.close()


def test_interactive_sign_in_only_shows_the_widget(helper_lab, monkeypatch):
    from ucexplore import notebook

    monkeypatch.setenv("UCX_HEADLESS", "0")
    monkeypatch.setattr(notebook, "_FLOWS", {})
    t0 = time.perf_counter()
    w = notebook.sign_in(notebook.ux_env().cucm_sso())
    assert not w.signed_in and time.perf_counter() - t0 < 5
    w.close()


def test_checks_say_right_against_the_organisation(helper_lab, capsys):
    # the checks' HTTP ground truth agrees with the lab's organisation model
    import pandas as pd

    from ucexplore import notebook

    org, me = helper_lab.org, helper_lab.org.demo
    inbox = [m for m in org.mailbox(me)["inbox"] if not m["Read"]]
    oldest = pd.Timestamp(min(m["ArrivalTime"] for m in inbox), unit="ms", tz="UTC")
    notebook.check_directory_count(sum(u.last_name.casefold().startswith("k") for u in org.users))
    notebook.check_my_devices([d["name"] for d in org.devices(me)])
    notebook.check_unread_voicemail(len(inbox), oldest)
    notebook.check_unread_voicemail(len(inbox), oldest.tz_localize(None).isoformat())  # naive text = UTC
    out = capsys.readouterr().out
    assert out.count("✔") == 4 and "✘" not in out, out
    notebook.check_unread_voicemail(len(inbox), oldest + pd.Timedelta(days=1))
    out = capsys.readouterr().out
    assert out.startswith("✘") and "hint:" in out


def test_checks_grade_wrong_answers_with_a_hint_and_never_raise(helper_lab, capsys, monkeypatch):
    from ucexplore import notebook

    monkeypatch.setattr(notebook, "_FLOWS", {})
    for call in (lambda: notebook.check_directory_count(1), lambda: notebook.check_directory_count("many"),
                 lambda: notebook.check_directory_count(10_000), lambda: notebook.check_my_devices("SEP1"),
                 lambda: notebook.check_my_devices(["SEPNOTMINE"]), lambda: notebook.check_unread_voicemail(999),
                 lambda: notebook.check_agent_state("Break")):
        call()
        out = capsys.readouterr().out
        assert out.startswith("✘") and "\n  hint: " in out, out
    notebook.check_scheduled_meetings(3)
    assert "sign in to Webex first" in capsys.readouterr().out
    for answer in (..., None):
        notebook.check_directory_count(answer)
        assert "not done yet" in capsys.readouterr().out
    monkeypatch.setattr(notebook._ENV, "cucm_url", "http://127.0.0.1:9")  # nothing listens there
    notebook.check_directory_count(3)
    assert capsys.readouterr().out.startswith("? could not check")
