"""Every notebook, executed headless against one lab, the way CI and a workshop dry run would.

**What is tested is what the builder makes and what git holds, never the files in ``notebooks/``.** ``make
run`` opens JupyterLab on the checkout, and JupyterLab saves the notebooks a person runs (outputs, widget
state, edits) in place; none of that may change what this suite checks. So the notebooks executed here are
rendered in memory by ``scripts/build_notebooks.py`` (which builds them from its own cell sources), the
"committed" checks read git's version (``git show :notebooks/…``, the index), and a notebook counts as built
when git holds the builder's output (or the file is byte-for-byte the builder's output, rebuilt but not yet
added). ``test_saved_runs_and_edits_in_the_checkout_do_not_break_the_checks`` proves it on a scratch checkout
whose notebooks were all run and saved.

One lab is started for the module. Each notebook runs in its own kernel through nbclient, with the lab's
``lab.env()`` plus ``UCX_HEADLESS=1`` in the kernel's environment (``env={**os.environ, ...}`` without the
caller's own ``UCX_*``: never papermill parameters, which would be written into the result).
``ucexplore.notebook.sign_in`` then signs in through the lab IdP's form by script and hands the landed address
to the LoginWidget.

Widget state is **stored** (nbclient's default, and the hard case: the saved file holds every widget model),
and each saved result is checked for the text of every token, refresh token, code and session ticket the lab
issued during the run, for the lab's passwords, and with ``ucexplore.audit``. Every file a notebook writes
must land in the output folder (``output/`` next to it).

Notebooks run two at a time (this machine has 2 cores); the two that change the demo agent's Finesse state
take turns so that one's read-back never sees the other's change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent


def load_builder(root: Path = ROOT):
    """``scripts/build_notebooks.py`` of the checkout at ``root``, imported from its path."""
    path = root / "scripts" / "build_notebooks.py"
    name = f"_ucx_build_notebooks_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def built_texts(root: Path = ROOT) -> dict[Path, str]:
    """Relative path → the notebook text the builder of ``root`` makes (in memory; no file is read)."""
    builder = load_builder(root)
    return {rel: builder.render(nb) for rel, nb in builder.notebooks().items()}


BUILT = built_texts()  #: what the tests execute and compare git with
ALL = sorted(BUILT)
SOLUTIONS = [p for p in ALL if p.parts[:2] == ("workshop", "solutions")]
EXERCISES = [p for p in ALL if p.parts[0] == "workshop" and len(p.parts) == 2]
WRITERS = [p for p in ALL if p.name == "06-cross-product-report.ipynb"]  #: notebooks that write report files
#: notebooks that change the demo agent's Finesse state: never run at the same time
FINESSE_STATE = {Path("03-finesse-contact-centre.ipynb"), Path("workshop/solutions/04-agent-state.ipynb")}
START = Path("00-start-here.ipynb")
WEBEX = Path("04-webex-meetings.ipynb")
WORKSHOP_1 = Path("workshop/solutions/01-sign-in-and-search.ipynb")
INTERACTIVE = Path("interactive") / START  #: the start page run without the scripted sign-in
WORKERS = 2
CELL_TIMEOUT = 120


# ----------------------------------------------------------------------------------------------------------
# what git holds
# ----------------------------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def is_git_checkout(root: Path) -> bool:
    r = _git(root, "rev-parse", "--show-toplevel")
    return r is not None and r.returncode == 0 and Path(r.stdout.decode().strip()).resolve() == root.resolve()


def git_notebooks(root: Path) -> set[Path]:
    """Notebooks git tracks under notebooks/ (a user's Untitled.ipynb or checkpoints are not among them)."""
    r = _git(root, "ls-files", "-z", "--", "notebooks")
    names = r.stdout.decode().split("\0") if r is not None and r.returncode == 0 else []
    return {Path(n).relative_to("notebooks") for n in names
            if n.endswith(".ipynb") and ".ipynb_checkpoints" not in Path(n).parts}


def git_text(root: Path, rel: Path) -> str | None:
    """``notebooks/<rel>`` as git holds it (the index: the last commit plus staged changes); None if absent."""
    r = _git(root, "show", f":notebooks/{rel.as_posix()}")
    return r.stdout.decode("utf-8") if r is not None and r.returncode == 0 else None


def committed_text(root: Path, rel: Path, built: str) -> tuple[str | None, str]:
    """(text, where it came from) of the notebook the checkout at ``root`` commits for ``rel``: git's version;
    or, when git does not hold the builder's output yet but the file is exactly that output (rebuilt, not yet
    added), the builder's output. A file a person saved (outputs, edits) is never what is checked."""
    held = git_text(root, rel)
    if held == built:
        return held, "git"
    path = root / "notebooks" / rel
    if path.is_file() and path.read_bytes() == built.encode("utf-8"):
        return built, "rebuilt, not yet in git"
    return held, "git"


def committed_problems(root: Path, rel: Path, built: str) -> list[str]:
    """Everything wrong with what the checkout at ``root`` commits for notebook ``rel``."""
    text, where = committed_text(root, rel, built)
    if text is None:
        return [f"{rel}: not in git (run scripts/build_notebooks.py, then git add notebooks/)"]
    problems = []
    raw = json.loads(text)
    if "widgets" in raw.get("metadata", {}):
        problems.append(f"{rel} ({where}): saved widget state")
    for i, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            if cell.get("outputs") != []:
                problems.append(f"{rel} ({where}): cell {i} has outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"{rel} ({where}): cell {i} has an execution count")
        if "widgets" in cell.get("metadata", {}):
            problems.append(f"{rel} ({where}): cell {i} has widget metadata")
    if text != built:
        problems.append(f"{rel}: git's version differs from scripts/build_notebooks.py (rebuild, then git add)")
    return problems


def _need_git() -> None:
    if not is_git_checkout(ROOT):
        pytest.skip("not a git checkout: the committed notebooks can only be checked in one")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p) for p in paths]


def _source(rel: Path) -> str:
    """Every cell source of the builder's notebook ``rel``, joined."""
    return "\n".join(c.source for c in nbformat.reads(BUILT[rel], as_version=4).cells)


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

    nb = nbformat.reads(BUILT[rel], as_version=4)  # the builder's notebook, never the file in notebooks/
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
    with start(users=200, seed=7) as lab:  # the size and seed of the notebooks' own lab (ux_env, ucexplore lab)
        mine = {k: v for k, v in os.environ.items() if not k.startswith("UCX_")}  # not the caller's lab or folder
        env = {**mine, **lab.env(), "UCX_HEADLESS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
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
def test_committed_without_outputs_or_widget_state_and_as_built(rel):
    _need_git()
    problems = committed_problems(ROOT, rel, BUILT[rel])
    assert not problems, "\n".join(problems)


def test_every_notebook_git_holds_is_built_by_the_script():
    _need_git()
    extra = sorted(git_notebooks(ROOT) - set(BUILT))
    assert not extra, f"in git but not built by scripts/build_notebooks.py: {extra}"


def _user_saved(path: Path, n: int) -> None:
    """What JupyterLab leaves after a person ran ``path`` and saved it: outputs, counts, widget state, edits."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran cell {i}\n"),
                        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=i + 1)]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                            "version_minor": 0}}
    if n % 3 == 0:  # and some are edited too
        nb.cells.append(nbformat.v4.new_code_cell("my_own_experiment = 1"))
    nbformat.write(nb, path)


def _commit(repo: Path, message: str, *paths: str) -> None:
    for args in (["add", "--", *(paths or ["."])], ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false",
                                 "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", message]):
        r = _git(repo, *args)
        assert r is not None and r.returncode == 0, r.stderr if r is not None else "git is not installed"


def test_saved_runs_and_edits_in_the_checkout_do_not_break_the_checks(tmp_path):
    # a scratch checkout: this builder and its notebooks, committed; then a person runs every notebook in
    # JupyterLab (`make run`) and saves them, edits some, makes a new one; checkpoints and exports appear
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "build_notebooks.py", repo / "scripts")
    assert _git(repo, "init", "-q").returncode == 0
    subprocess.run([sys.executable, str(repo / "scripts" / "build_notebooks.py")], check=True, capture_output=True)
    _commit(repo, "notebooks")
    folder = repo / "notebooks"
    for n, rel in enumerate(ALL):
        _user_saved(folder / rel, n)
    shutil.copy2(folder / START, folder / "Untitled.ipynb")
    (folder / ".ipynb_checkpoints").mkdir()
    shutil.copy2(folder / START, folder / ".ipynb_checkpoints" / "00-start-here-checkpoint.ipynb")
    (folder / "output").mkdir()
    (folder / "output" / "uds-users.csv").write_text("userName\njkam\n", encoding="utf-8")
    assert (folder / START).read_text(encoding="utf-8") != BUILT[START]  # the files really changed

    # the checks of this module, run on that checkout, pass
    assert built_texts(repo) == BUILT  # and the notebooks executed are the builder's, whatever the files hold
    assert all(not committed_problems(repo, rel, BUILT[rel]) for rel in ALL)
    assert git_notebooks(repo) == set(ALL)  # Untitled.ipynb and checkpoints are not in git
    check = [sys.executable, str(repo / "scripts" / "build_notebooks.py"), "--check"]
    r = subprocess.run(check, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr

    # control: a notebook git holds goes stale (committed with outputs) -> both checks fail
    _commit(repo, "a run committed by mistake", f"notebooks/{START}")
    assert committed_problems(repo, START, BUILT[START])
    r = subprocess.run(check, capture_output=True, text=True, check=False)
    assert r.returncode == 1 and "00-start-here.ipynb" in r.stderr
    # ... and a rebuild that is not yet added passes with a note, as in the maintainer's work flow
    subprocess.run([sys.executable, str(repo / "scripts" / "build_notebooks.py")], check=True, capture_output=True)
    r = subprocess.run(check, capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "not in git yet" in r.stderr, r.stderr
    assert not committed_problems(repo, START, BUILT[START])


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


@pytest.mark.parametrize("rel", ALL, ids=_ids(ALL))
def test_a_notebook_writes_files_only_into_the_output_folder(results, rel):
    workdir = results.runs[rel].workdir
    stray = [str(p.relative_to(workdir)) for p in workdir.rglob("*")
             if p.is_file() and p.relative_to(workdir).parts[0] != "output"]
    assert not stray, f"{rel} wrote next to itself (in a checkout: into the repository): {stray}"


@pytest.mark.parametrize("rel", WRITERS, ids=_ids(WRITERS))
def test_files_a_notebook_writes_hold_no_secret(results, rel):
    from ucexplore.audit import audit

    written = [p for p in (results.runs[rel].workdir / "output").rglob("*") if p.is_file()]
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
    assert "ux.login(flow)" in errors[0].evalue and "flow.authorize_url" in errors[0].evalue  # no long URL
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
    """A lab of its own, the notebooks' size and seed (200 users, seed 7), and ucexplore.notebook pointed at it
    as a kernel with its UCX_* would be."""
    from ucexplore import notebook
    from ucexplore.lab import start

    with start(users=200, seed=7) as lab:
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


def test_env_says_how_to_get_the_demo_password_and_keeps_it_masked_until_asked(helper_lab):
    # the password a person types into the lab's sign-in page: in the notebook, not only in a terminal banner
    from ucexplore.notebook import ux_env
    from ucexplore.redact import Secret

    env, password = ux_env(), helper_lab.demo_user[1]
    masked = env.demo_password()
    assert isinstance(masked, Secret) and masked.reveal() == password
    assert password not in repr(masked) + str(masked) + f"{masked}"
    assert env.demo_password(reveal=True) == password
    shown = env._repr_html_() + repr(env.rows())
    assert "demo password" in shown and "env.demo_password(reveal=True)" in shown and password not in shown
    for thing in (env, masked):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(thing)


def test_the_start_page_shows_where_the_password_is_and_never_the_password(results):
    run = results.runs[START]
    assert "env.demo_password(reveal=True)" in _source(START)  # the sign-in step says how to read it
    assert "demo password" in run.outputs and "env.demo_password(reveal=True)" in run.outputs  # env's table
    text = run.path.read_text(encoding="utf-8")
    assert not [s for s in results.secrets if s in text]


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


def _block_20(org) -> int:
    """Ground truth of exercise 1 from the organisation model: a number (extension or phone) starting "20"."""
    return sum(u.extension.startswith("20") or u.phone.startswith("20") or u.phone.lstrip("+").startswith("20")
               for u in org.users)


def test_checks_say_right_against_the_organisation(helper_lab, capsys):
    # the checks' HTTP ground truth agrees with the lab's organisation model
    import pandas as pd

    from ucexplore import notebook

    org, me = helper_lab.org, helper_lab.org.demo
    inbox = [m for m in org.mailbox(me)["inbox"] if not m["Read"]]
    oldest = pd.Timestamp(min(m["ArrivalTime"] for m in inbox), unit="ms", tz="UTC")
    notebook.check_directory_count(_block_20(org))  # exercise 1's own question is the default
    notebook.check_directory_count(sum(u.last_name.casefold().startswith("k") for u in org.users), last="K")
    notebook.check_my_devices([d["name"] for d in org.devices(me)])
    notebook.check_unread_voicemail(len(inbox), oldest)
    notebook.check_unread_voicemail(len(inbox), oldest.tz_localize(None).isoformat())  # naive text = UTC
    out = capsys.readouterr().out
    assert out.count("✔") == 5 and "✘" not in out, out
    notebook.check_unread_voicemail(len(inbox), oldest + pd.Timedelta(days=1))
    out = capsys.readouterr().out
    assert out.startswith("✘") and "hint:" in out


def test_exercise_1_pages_at_the_notebooks_lab_size(helper_lab, results):
    # the paging lesson: at the size the notebooks use (200 users) the search takes more than one UDS page
    from ucexplore.notebook import DIRECTORY_QUESTION, UDS_PAGE, _truth_users_total, ux_env

    truth = _truth_users_total(ux_env(), DIRECTORY_QUESTION)
    assert truth == _block_20(helper_lab.org) > UDS_PAGE == helper_lab.config.uds_page_cap
    source = _source(Path("workshop/01-sign-in-and-search.ipynb"))
    assert 'uds.users(number=...)' in source and "check_directory_count(answer, number=\"20\")" in source
    out = results.runs[WORKSHOP_1].outputs
    assert f"✔ {truth} users have a number starting with '20' (UDS sent them in 2 pages of at most 64)." in out


def _graded(call, capsys) -> tuple[str, str]:
    call()
    out = capsys.readouterr().out
    assert out.startswith("✘") and "\n  hint: " in out, out
    head, _, hint = out.partition("\n  hint: ")
    return head, hint


def test_exercise_1_hints_name_the_usual_mistake(helper_lab, capsys):
    from ucexplore import notebook

    truth, everyone = _block_20(helper_lab.org), helper_lab.org.size
    cases = {
        64: ("one page of 64", "you counted only the first 1"),  # a raw request, max=64: the first page
        50: ("too few", "limit= caps the total number of rows"),  # len(uds.users(number="20", limit=50))
        0: ("0 is not right", "case-insensitive 'starts with'"),  # an exact or case-sensitive filter
        truth - 1: ("one short", "df.index.max()"),  # the last index label
        truth + 1: ("one too many", "len(df) already counts every row"),
        everyone: ("the whole directory", "put the filter in the search"),
        truth + 30: ("too many", "starts with"),
    }
    for answer, (head_says, hint_says) in cases.items():
        head, hint = _graded(lambda answer=answer: notebook.check_directory_count(answer), capsys)
        assert head_says in head and hint_says in hint, (answer, head, hint)
        assert "uds.users(number='20')" in hint or answer in (truth - 1, truth + 1), (answer, hint)


def test_checks_grade_wrong_answers_with_a_hint_and_never_raise(helper_lab, capsys, monkeypatch):
    from ucexplore import notebook

    monkeypatch.setattr(notebook, "_FLOWS", {})
    for call in (lambda: notebook.check_directory_count(1), lambda: notebook.check_directory_count("many"),
                 lambda: notebook.check_directory_count(10_000), lambda: notebook.check_my_devices("SEP1"),
                 lambda: notebook.check_my_devices(["SEPNOTMINE"]), lambda: notebook.check_unread_voicemail(999),
                 lambda: notebook.check_agent_state("Break")):
        _graded(call, capsys)
    org = helper_lab.org

    def counts(user):
        box = org.mailbox(user)["inbox"]
        return len(box), sum(not m["Read"] for m in box)

    # someone whose inbox has read and unread messages in different numbers (all lab users share a password)
    someone = next(u for u in org.users[1:] if counts(u)[1] > 1 and 2 * counts(u)[1] != counts(u)[0])
    monkeypatch.setattr(notebook, "_ENV", dataclasses.replace(notebook._ENV, demo_user=someone.username))
    total, unread = counts(someone)
    for answer, says in ((total, "every message in the inbox"), (total - unread, "counts the read"),
                         (unread - 1, "one short")):
        _, hint = _graded(lambda answer=answer: notebook.check_unread_voicemail(answer), capsys)
        assert says in hint, (answer, hint)
    notebook.check_unread_voicemail(unread)
    assert capsys.readouterr().out.startswith("✔")
    monkeypatch.undo()
    monkeypatch.setattr(notebook, "_FLOWS", {})
    notebook.check_scheduled_meetings(3)
    assert "sign in to Webex first" in capsys.readouterr().out
    for answer in (..., None):
        notebook.check_directory_count(answer)
        assert "not done yet" in capsys.readouterr().out
    monkeypatch.setattr(notebook._ENV, "cucm_url", "http://127.0.0.1:9")  # nothing listens there
    notebook.check_directory_count(3)
    assert capsys.readouterr().out.startswith("? could not check")


def test_meeting_check_names_the_first_page_mistake(helper_lab, capsys, monkeypatch):
    from ucexplore import notebook

    monkeypatch.setenv("UCX_HEADLESS", "1")
    monkeypatch.setattr(notebook, "_FLOWS", {})
    w = notebook.sign_in(notebook.ux_env().webex_oauth())
    try:
        mine = helper_lab.org.meetings(helper_lab.org.demo)
        first_page = sum(m["state"] == "scheduled" for m in mine[:notebook.WEBEX_MEETINGS_PAGE])
        truth = sum(m["state"] == "scheduled" for m in mine)
        wrong = first_page if first_page != truth else notebook.WEBEX_MEETINGS_PAGE
        assert len(mine) > notebook.WEBEX_MEETINGS_PAGE and wrong != truth
        _, hint = _graded(lambda: notebook.check_scheduled_meetings(wrong), capsys)
        assert "10 meetings per page" in hint
        notebook.check_scheduled_meetings(truth)
        assert capsys.readouterr().out.startswith("✔")
    finally:
        w.sign_out()
        w.close()


# ----------------------------------------------------------------------------------------------------------
# where files go: the output folder, never the repository
# ----------------------------------------------------------------------------------------------------------


def test_report_without_out_writes_into_the_output_folder(tmp_path, monkeypatch):
    import pandas as pd

    import ucexplore as ux

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UCX_OUTPUT_DIR", raising=False)
    r = ux.report({"Data": pd.DataFrame({"a": [1, 2]})})
    assert r.html_path == (tmp_path / "output" / "report.html").resolve() and r.xlsx_path.parent == r.html_path.parent
    monkeypatch.setenv("UCX_OUTPUT_DIR", str(tmp_path / "elsewhere"))
    assert ux.report(pd.DataFrame({"a": [1]})).html_path.parent == (tmp_path / "elsewhere").resolve()
    mine = ux.report(pd.DataFrame({"a": [1]}), out=tmp_path / "mine.html")  # a path given is kept
    assert mine.html_path == (tmp_path / "mine.html").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "mine.html", "mine.xlsx", "output"]


def test_notebook_06_names_the_output_folder():
    source = _source(Path("06-cross-product-report.ipynb"))
    assert "ux.output_dir()" in source and 'out="reports/' not in source and 'folder="reports"' not in source


# ----------------------------------------------------------------------------------------------------------
# the lab's calendar: anchored on today (UTC), deterministic for (seed, day)
# ----------------------------------------------------------------------------------------------------------


def test_the_calendar_is_anchored_on_today_and_fixed_for_a_seed_and_day():
    from datetime import UTC, datetime

    from ucexplore.lab.config import LabConfig
    from ucexplore.lab.org import ANCHOR_HOUR, Organisation

    today = datetime.now(UTC).date()
    org = Organisation(users=50, seed=7)
    assert org.anchor == today and LabConfig().anchor_date == today
    assert org.now == datetime(today.year, today.month, today.day, ANCHOR_HOUR, tzinfo=UTC)
    day = date(2026, 11, 2)
    a, b = Organisation(users=50, seed=7, anchor=day), Organisation(users=50, seed=7, anchor=day)
    assert a.now == datetime(2026, 11, 2, ANCHOR_HOUR, tzinfo=UTC) and a.anchor == day
    for u in (0, 1, 17):
        assert a.mailbox(a.users[u]) == b.mailbox(b.users[u]) and a.meetings(a.users[u]) == b.meetings(b.users[u])
    # another day: the same organisation, its voicemail as old as ever, its dates moved with the anchor
    c = Organisation(users=50, seed=7, anchor=day + timedelta(days=30))
    ages = [[o.now.timestamp() * 1000 - m["ArrivalTime"] for m in o.mailbox(o.demo)["inbox"]] for o in (a, c)]
    assert ages[0] == ages[1] and a.mailbox(a.demo) != c.mailbox(c.demo)
    assert len(a.meetings(a.users[3])) == len(c.meetings(c.users[3]))


@pytest.mark.parametrize("offset", range(7))
def test_meetings_this_week_past_and_future_and_recent_voicemail(offset):
    # every weekday: this week has meetings, some ended, some to come; the inbox has arrivals this morning
    from ucexplore.lab.org import Organisation

    day = date.today() + timedelta(days=offset)
    org = Organisation(users=200, seed=7, anchor=day)
    week_end = org.week_start + timedelta(days=7)
    assert org.week_start.weekday() == 0 and org.week_start <= org.now < week_end
    mine = org.meetings(org.demo)
    assert any(org.week_start <= m["start"] < week_end for m in mine)
    assert any(m["state"] == "ended" for m in mine) and any(m["state"] == "scheduled" for m in mine)
    assert any(m["start"].date() == day and m["start"] > org.now for m in mine)  # later today
    everyone = [m for u in org.users[:50] for m in org.meetings(u)]
    assert sum(org.week_start <= m["start"] < week_end for m in everyone) >= 20
    newest = max(m["ArrivalTime"] for m in org.mailbox(org.demo)["inbox"])
    assert 0 <= org.now.timestamp() * 1000 - newest <= 12 * 3600 * 1000
    for u in org.users[:50]:
        for m in org.mailbox(u)["inbox"]:
            assert 0 <= org.now.timestamp() * 1000 - m["ArrivalTime"] < 90 * 86400 * 1000


def test_a_lab_can_be_pinned_to_a_day():
    from ucexplore.lab import start

    with start(users=20, seed=7, products=("idp",), anchor=date(2026, 11, 2)) as lab:
        assert lab.org.anchor == date(2026, 11, 2) and lab.config.anchor_date == date(2026, 11, 2)
        assert lab.org.now.isoformat() == "2026-11-02T09:00:00+00:00"


def test_notebook_04_finds_meetings_this_week(results):
    run = results.runs[WEBEX]
    cells = [c for c in run.nb.cells if c.cell_type == "code" and "this_week = wx.meetings(" in c.source]
    assert len(cells) == 1
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in cells[0].outputs)
    assert shown and "Empty DataFrame" not in shown, shown


# ----------------------------------------------------------------------------------------------------------
# running the notebooks unattended is documented where the workshop dry run is
# ----------------------------------------------------------------------------------------------------------


def test_the_headless_run_is_documented():
    text = (ROOT / "notebooks" / "workshop" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Running the notebooks unattended"):]
    for needle in ("UCX_HEADLESS=1", "jupyter execute", "nbmake", "papermill", "waits for a person",
                   "NotSignedIn", "output/"):
        assert needle in section, needle
