"""The binder/ folder: pinned requirements that install this repo, Python 3.11, a start script that serves
the lab and hands over with exec "$@"; validated by a repo2docker dry run (no Docker engine needed).

The start script is run on a free port base of its own (``UCX_LAB_PORT_BASE``), in a session of its own, and
only the lab it started is stopped: a user's lab on the usual ports (``make run``) is never hit or killed."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ports import free_port_block

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def test_requirements_are_pinned_and_install_the_repo():
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert "." in lines
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^\s]*", ln) for ln in lines if ln != ".")
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def _stop(pid: int, session: int) -> None:
    """Terminate ``pid`` if it is still the process this test started (it is in the test's own session)."""
    try:
        if os.getsid(pid) != session:
            return  # gone, and the number reused by someone else's process: not ours to touch
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_start_serves_the_lab_then_execs(tmp_path):
    # its own ports and its own processes only: a user's lab on 9100 (make run) is neither hit nor stopped
    script = (BINDER / "start").read_text()
    assert script.rstrip().endswith('exec "$@"')
    base = free_port_block()
    env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "UCX_LAB_PORT_BASE": str(base)}
    probe = ("import httpx,os,time\n"
             "for _ in range(300):\n"
             "    try:\n"
             "        r = httpx.get(os.environ['UCX_IDP_URL'] + '/health'); break\n"
             "    except httpx.HTTPError: time.sleep(0.1)\n"
             "print(r.json()['status'], os.environ['UCX_CUCM_URL'], os.getpid())\n")
    # a session of its own: the lab the script leaves running in the background can be told apart from
    # every other process by its session id, which is this Popen's pid
    proc = subprocess.Popen(["bash", str(BINDER / "start"), sys.executable, "-c", probe], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    pid_file = tmp_path / ".ucexplore-lab.pid"
    try:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        status, cucm, probe_pid = out.split()
        assert (status, cucm) == ("ok", f"http://127.0.0.1:{base + 1}")
        assert int(probe_pid) == proc.pid  # exec "$@": the probe replaced the script's shell
        lab_pid = int(pid_file.read_text())
        assert os.getsid(lab_pid) == proc.pid  # the lab is the one this test started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if pid_file.exists():
            _stop(int(pid_file.read_text()), proc.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(lab_pid, 0)


def test_no_test_touches_a_process_or_a_lab_port_it_did_not_start():
    # the class of bug, not only this file: pkill/killall match other people's processes by name, and the
    # lab's fixed ports (9100-9105, `ucexplore lab` and `make run`) belong to the user's own lab
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            kills_by_name = re.search(r"""["'](pkill|killall)["']|\bpkill\b\s+-|os\.killpg\(\s*0""", code)
            fixed_port = re.search(r"--port-base[\"',\s]+910\d|port_base\s*=\s*910\d|127\.0\.0\.1:910\d/health", code)
            if kills_by_name or fixed_port:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_repo2docker_dry_run():
    r2d_venv = ROOT / ".venv" / "r2d"
    r2d = r2d_venv / "bin" / "repo2docker"
    if not r2d.exists():
        subprocess.run([sys.executable, "-m", "venv", str(r2d_venv)], check=True)
        subprocess.run([str(r2d_venv / "bin" / "pip"), "install", "-q", "jupyter-repo2docker"], check=True)
    out = subprocess.run([str(r2d), "--no-build", "--no-run", "--debug", str(ROOT)], capture_output=True,
                         text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-2000:]
    assert 'binder/requirements.txt' in text and "R2D_ENTRYPOINT" in text and "python=3.11" in text


def test_start_exports_what_the_notebooks_read():
    from ucexplore.lab import start

    script = (BINDER / "start").read_text()
    with start(users=10, seed=7, products=("idp",)) as lab:
        expected = {k: v for k, v in lab.env().items() if not k.endswith("_URL") and k != "UCX_REDIRECT_URI"}
    for key, value in expected.items():
        assert f"{key}={value}" in script, key
