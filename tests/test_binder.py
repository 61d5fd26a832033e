"""The binder/ folder: pinned requirements that install this repo, Python 3.11, a start script that serves
the lab and hands over with exec "$@"; validated by a repo2docker dry run (no Docker engine needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def test_requirements_are_pinned_and_install_the_repo():
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert "." in lines
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^\s]*", ln) for ln in lines if ln != ".")
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_start_serves_the_lab_then_execs(tmp_path):
    script = (BINDER / "start").read_text()
    assert script.rstrip().endswith('exec "$@"')
    env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    probe = ("import httpx,os,time\n"
             "for _ in range(300):\n"
             "    try:\n"
             "        r = httpx.get(os.environ['UCX_IDP_URL'] + '/health'); break\n"
             "    except httpx.HTTPError: time.sleep(0.1)\n"
             "print(r.json()['status'], os.environ['UCX_CUCM_URL'])\n")
    try:
        out = subprocess.run(["bash", str(BINDER / "start"), sys.executable, "-c", probe], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["ok", "http://127.0.0.1:9101"]
    finally:
        subprocess.run(["pkill", "-f", "ucexplore lab --port-base 9100"], check=False)


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
