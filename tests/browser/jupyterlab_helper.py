"""Run an isolated JupyterLab for a browser test, and drive its notebook UI with Playwright.

Follows the recipe in ``notebook-testing.md`` §4: per-run ``JUPYTER_*`` directories (no saved workspace, no
shared settings), ``--allow-root``, a token, a temporary root directory, the news toast disabled, and selectors
scoped to the visible notebook panel. Widget state saving (``saveState``) can be switched on, as a user might.

Example::

    >>> with JupyterLab(tmp_path, env=lab.env(), save_widget_state=True) as jl:   # doctest: +SKIP
    ...     page.goto(jl.url("lab/tree/demo.ipynb", reset=True))
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "JupyterLab", "NotebookUI"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterLab:
    """A ``jupyter lab`` server in its own process group with its own Jupyter directories under ``base``."""

    def __init__(self, base: Path, *, env: dict[str, str] | None = None, save_widget_state: bool = False,
                 startup_timeout: float = 60.0) -> None:
        self.base = Path(base)
        self.root = self.base / "notebooks"
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.extra_env = dict(env or {})
        self.save_widget_state = save_widget_state
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / "jupyterlab.log"

    # -- set-up -----------------------------------------------------------------------------------------
    def _dirs(self) -> dict[str, str]:
        names = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
                 "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
                 "IPYTHONDIR": "ipython"}
        out = {}
        for var, sub in names.items():
            path = self.base / "jupyter" / sub
            path.mkdir(parents=True, exist_ok=True)
            out[var] = str(path)
        return out

    def _write_settings(self, dirs: dict[str, str]) -> None:
        labconfig = Path(dirs["JUPYTER_CONFIG_DIR"]) / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        # same effect as `jupyter labextension disable …:announcements`, but in this run's config dir only
        (labconfig / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        settings = Path(dirs["JUPYTERLAB_SETTINGS_DIR"])
        widgets = settings / "@jupyter-widgets" / "jupyterlab-manager"
        widgets.mkdir(parents=True, exist_ok=True)
        (widgets / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": self.save_widget_state}))
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def start(self) -> "JupyterLab":
        """Start the server and wait until its REST API answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        dirs = self._dirs()
        self._write_settings(dirs)
        env = {**os.environ, **self.extra_env, **dirs, "PYTHONUNBUFFERED": "1"}
        env.pop("JUPYTER_PATH", None)
        cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.api("status"), timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    # -- addresses ----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> str:
        return f"{self.base_url}/api/{path}?token={self.token}"

    def url(self, path: str, *, reset: bool = False) -> str:
        """A page URL with the token (``reset`` ignores any saved workspace)."""
        return f"{self.base_url}/{path}?{'reset&' if reset else ''}token={self.token}"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # -- tear-down ----------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Shut down kernels through the API, then the server (SIGTERM, then SIGKILL to its group)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                for kernel in httpx.get(self.api("kernels"), timeout=5).json():
                    httpx.delete(self.api(f"kernels/{kernel['id']}"), timeout=10)
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def __enter__(self) -> "JupyterLab":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class NotebookUI:
    """The visible notebook panel of a JupyterLab page (Playwright sync API)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.panel = page.locator(PANEL)

    def wait_ready(self, timeout: float = 60_000) -> None:
        """Notebook shown and the kernel really connected (toolbar indicator *and* status bar say idle)."""
        page = self.page
        page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=timeout)
        page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout)
        page.locator(".jp-StatusBar-Widget").filter(has_text="| Idle").first.wait_for(timeout=timeout)

    def menu(self, menu: str, command: str) -> None:
        """Click a main-menu item by its command id, e.g. ``menu("Run", "runmenu:run-all")``."""
        self.page.click(f"li.lm-MenuBar-item:has-text('{menu}')")
        self.page.click(f".lm-Menu-item[data-command='{command}']")

    def cell(self, index: int) -> Any:
        return self.panel.locator(".jp-Cell").nth(index)

    def run_all(self, *, until: str, timeout: float = 60_000) -> None:
        """Run All, and once more if the first cell was never run (pitfall 4); wait for ``until`` to show."""
        for attempt in range(2):
            self.menu("Run", "runmenu:run-all")
            try:
                self.panel.locator(until).first.wait_for(timeout=timeout / 2)
                return
            except Exception:  # noqa: BLE001 - retried once below
                prompt = self.cell(0).locator(".jp-InputPrompt").inner_text()
                if attempt or "[ ]" not in prompt.replace("\xa0", " "):
                    raise
        raise AssertionError("unreachable")

    def run_cell(self, index: int) -> None:
        """Select cell ``index`` (command mode) and run it without advancing."""
        self.cell(index).locator(".jp-InputPrompt").first.click()
        self.menu("Run", "notebook:run-cell")

    def save(self) -> None:
        """Save with Ctrl+S (focus in the notebook)."""
        self.cell(0).locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Control+s")


def sign_in_in_new_tab(context: Any, link: Any, user: str, password: str) -> Any:
    """Click the widget's sign-in ``link`` (it opens a new tab), sign in on the lab IdP's form and return the
    callback page, once it shows the address to copy."""
    with context.expect_page() as new_tab:
        link.click()
    idp = new_tab.value
    idp.wait_for_load_state()
    idp.fill("#username", user)
    idp.fill("#password", password)
    idp.click("#ucx-idp-submit")
    idp.wait_for_url("**/callback**")
    idp.locator("#ucx-callback-url").wait_for()
    idp.wait_for_function("document.getElementById('ucx-callback-url').value !== ''")
    return idp
