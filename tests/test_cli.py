"""The ucexplore command: `lab` prints URLs and accounts (never a token) and stops cleanly; `login` reads the
paste without echo, verifies the token with one call, and prints no secret."""

from __future__ import annotations

import getpass
import signal
import subprocess
import sys

import httpx

from ucexplore.cli import main
from ucexplore.lab.person import Person
from ports import free_port_block


def test_lab_command_serves_and_prints_accounts_without_tokens(tmp_path):
    base = free_port_block()
    proc = subprocess.Popen([sys.executable, "-m", "ucexplore.cli", "lab", "--users", "40", "--port-base", str(base)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while len(lines) < 14:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "users" in line and "seed" in line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{base + 1}" in text and "redirect_uri" in text and "demo user" in text
        assert httpx.get(f"http://127.0.0.1:{base}/health").json()["users"] == 40
        assert "access_token" not in text and "Bearer" not in text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "lab stopped" in out


def test_the_main_job_lab_with_jupyterlab_opens_start_here(tmp_path):
    """What `make run` runs: the lab and JupyterLab, whose URL opens the start-here notebook; Ctrl-C stops both."""
    import os
    import time

    base = free_port_block(7)
    env = {**os.environ, "JUPYTER_PORT": str(base + 6), "BROWSER": "true", "JUPYTER_RUNTIME_DIR": str(tmp_path),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "ucexplore", "lab", "--users", "20", "--port-base", str(base),
                             "--jupyter"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120  # a liveness bound for a busy runner, not a speed requirement
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "/lab/tree/00-start-here.ipynb" in line:
                break
        text = "".join(seen)
        assert "starting JupyterLab on 00-start-here.ipynb" in text, text[-2000:]
        assert "/lab/tree/00-start-here.ipynb" in text, text[-2000:]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    text = "".join(seen) + out
    assert "internal error" not in text and "Traceback" not in text, text[-2000:]
    assert "lab stopped" in text


def test_login_finesse_verifies_and_prints_no_secret(lab, monkeypatch, capsys):
    from ucexplore.auth.flows import FinesseSSO

    user, password = lab.demo_user
    person = Person(user, password)
    landed = {}

    def fake_getpass(prompt=""):
        url = FinesseSSO(lab.urls["finesse"], agent_id=user).authorize_url
        landed["json"] = person.sign_in(url)
        return landed["json"]

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    code = main(["login", "finesse", lab.urls["finesse"], "--agent-id", user])
    printed = capsys.readouterr()
    out = printed.out
    assert code == 0, out + printed.err
    assert "Verified: Finesse agent" in out and "The token was not stored" in out and "--store" in out
    import json

    secret = json.loads(landed["json"])
    assert secret["token"] not in out and secret["refresh_token"] not in out
    person.close()


def test_learner_accounts_are_distinct_real_users(lab):
    from ucexplore.cli import learner_accounts

    text = learner_accounts(lab, 12)
    names = [line.split()[0] for line in text.splitlines()[3:]]
    assert len(names) == len(set(names)) == 12
    assert all(lab.org.check_password(n, lab.demo_user[1]) for n in names)
    assert lab.demo_user[0] not in names
