"""First contact with the command line: no bad input ends in a traceback, on any verb.

A usage error exits 2 with argparse's usage block and one ``ucexplore VERB: error: …`` line; a failure at run
time (a bad paste, a busy port, a UcError) prints what failed and what to do and exits 1; an unexpected error is
one "internal error" line (its traceback only with UCX_DEBUG=1); Ctrl-C exits 130 quietly. Every option has
plain-text help. The lab leaves no temporary folder behind.

Every command runs as ``python -m ucexplore …`` in a subprocess of its own (its own session, so that getpass
reads the piped stdin and never the terminal of whoever runs the tests). Nothing reaches beyond loopback: the
URLs below are either refused before any connection or point at 127.0.0.1. Lab processes are started on free
ports found here and stopped with a signal sent to that process only.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ports import free_port_block

TRACEBACK = "Traceback (most recent call last)"


def _env(**extra: str) -> dict[str, str]:
    """This environment without the UCX_* variables a developer may have set (they would change the results)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UCX_")}
    env.update(extra)
    return env


def _restore_sigint() -> None:  # pragma: no cover - runs in the child
    # a shell's background job starts with SIGINT ignored, and Python then never raises KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60,
         module: str = "ucexplore") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], check=False, capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else _env(),
                          input=stdin if stdin is not None else "", start_new_session=True)


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60,
                          env=env if env is not None else _env(), start_new_session=True,
                          stdin=subprocess.DEVNULL)


def _text(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def _usage_error(result: subprocess.CompletedProcess[str], verb: str, *fragments: str) -> str:
    """Exit 2, no traceback, the usage then one ``ucexplore VERB: error: …`` line holding every fragment."""
    text = _text(result)
    assert result.returncode == 2, text
    assert TRACEBACK not in text and "Traceback" not in text, text
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("usage: "), result.stderr
    last = lines[-1]
    assert last.startswith(f"{verb}: error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in {last!r}"
    return last


def _failure(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 1) -> str:
    """Exit 1 (or ``code``), no traceback, every fragment in what was printed."""
    text = _text(result)
    assert result.returncode == code, text
    assert "Traceback" not in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return text


def _closed_port() -> int:
    """A loopback port nothing listens on (bound by us, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# =============================================================================================================
# the top level: help, no verb, unexpected errors, Ctrl-C
# =============================================================================================================


def _parsers() -> list[argparse.ArgumentParser]:
    from ucexplore.cli import _build_parser

    top, _, _ = _build_parser()
    found = [top]
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += list(action.choices.values())
    return found


def test_every_option_of_every_verb_has_plain_text_help():
    parsers = _parsers()
    assert {p.prog for p in parsers} >= {"ucexplore", "ucexplore lab", "ucexplore login", "ucexplore report",
                                         "ucexplore check", "ucexplore audit"}
    for parser in parsers:
        assert "``" not in (parser.description or "") and "``" not in (parser.epilog or ""), parser.prog
        for action in parser._actions:
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help is not argparse.SUPPRESS, f"{parser.prog} {name} has no help"
            assert "``" not in action.help, f"{parser.prog} {name}: reST in its help: {action.help!r}"
            if isinstance(action, argparse._SubParsersAction):
                for verb in action._choices_actions:
                    assert verb.help and "``" not in verb.help, f"{parser.prog} {verb.dest}"
        assert "``" not in parser.format_help(), parser.prog


@pytest.mark.parametrize("verb", ["", "lab", "login", "report", "check", "audit"])
def test_help_of_each_verb_is_plain_text(verb):
    out = _cli(*([verb] if verb else []), "--help")
    assert out.returncode == 0 and "Traceback" not in _text(out)
    assert "``" not in out.stdout and "usage: ucexplore" in out.stdout


def test_no_verb_and_an_unknown_verb_are_usage_errors():
    _usage_error(_cli(), "ucexplore", "required")
    _usage_error(_cli("bogus"), "ucexplore", "invalid choice")


_PATCHED = ("import sys, ucexplore.check as c\n"
            "def boom():\n"
            "    {body}\n"
            "c.check_environment = boom\n"
            "from ucexplore.cli import main\n"
            "sys.exit(main(['check']))\n")


def test_an_unexpected_error_is_one_line_and_its_traceback_comes_with_ucx_debug():
    code = _PATCHED.format(body="raise ZeroDivisionError('division by zero')")
    out = _python(code)
    text = _failure(out)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines == [("ucexplore: internal error: ZeroDivisionError: division by zero "
                      "(run with UCX_DEBUG=1 for the traceback)")], out.stderr
    assert out.stdout == "" and text
    debug = _python(code, env=_env(UCX_DEBUG="1"))
    assert debug.returncode == 1 and TRACEBACK in debug.stderr and "ZeroDivisionError" in debug.stderr
    assert "internal error" in debug.stderr


def test_an_unexpected_error_message_is_redacted():
    secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQtMTIzNDU2Nzg5MA.c2lnbmF0dXJlLTk4NzY1NDMyMTA"
    out = _python(_PATCHED.format(body=f"raise RuntimeError('Authorization: Bearer {secret} was refused')"))
    _failure(out, "internal error: RuntimeError")
    assert secret not in _text(out)


def test_a_uc_error_is_its_message_and_exit_1():
    out = _python(_PATCHED.format(
        body="from ucexplore.errors import ConnectionFailed; raise ConnectionFailed('cucm did not answer', "
             "hint='check the VPN')"))
    _failure(out)
    assert [ln for ln in out.stderr.splitlines() if ln.strip()] == ["ucexplore check: cucm did not answer",
                                                                    "→ check the VPN"]


def test_ctrl_c_exits_130_quietly():
    out = _python(_PATCHED.format(body="raise KeyboardInterrupt"))
    assert out.returncode == 130 and out.stderr == "" and out.stdout == ""


def test_a_console_that_cannot_show_arrows_gets_no_traceback():
    env = _env(PYTHONIOENCODING="ascii")
    out = _cli("login", "cucm", "https://cucm.example.com:8443", env=env)
    _usage_error(out, "ucexplore login", "--redirect-uri")
    checked = _cli("check", env=env)
    _failure(checked, "No server was checked", code=0)
    helped = _cli("login", "--help", env=env)
    assert helped.returncode == 0 and "Traceback" not in _text(helped) and "Enterprise Parameters" in helped.stdout


def test_python_m_ucexplore_cli_behaves_the_same():
    _usage_error(_cli("check", "--url", "127.0.0.1:9101", module="ucexplore.cli"), "ucexplore check", "scheme")


# =============================================================================================================
# check
# =============================================================================================================


def test_check_url_without_a_scheme_is_refused_at_parse_time():
    out = _cli("check", "--url", "127.0.0.1:9101")
    last = _usage_error(out, "ucexplore check", "--url", "needs a scheme: http://127.0.0.1:9101 or https://")
    assert "[FAIL]" not in out.stdout and "dns" not in last


@pytest.mark.parametrize("url,fragment", [
    ("ftp://127.0.0.1", "is not supported"),
    ("https://", "has no host"),
    ("http://127.0.0.1:99999", "port"),
    ("https://admin:hunter2@127.0.0.1", "user name or password"),
    ("", "empty"),
])
def test_check_refuses_other_bad_urls(url, fragment):
    out = _cli("check", "--url", url)
    _usage_error(out, "ucexplore check", fragment)
    assert "hunter2" not in _text(out)


def test_check_without_a_server_says_none_was_checked():
    out = _cli("check")
    text = _failure(out, "No server was checked", "--url", "UCX_CUCM_URL", code=0)
    assert not re.search(r"^all checks passed", out.stdout, re.MULTILINE), text
    assert "Python and packages: all checks passed" in out.stdout


def test_check_reports_a_bad_url_in_the_environment_without_connecting():
    out = _cli("check", env=_env(UCX_CUCM_URL="127.0.0.1:9101"))
    _failure(out, "UCX_CUCM_URL", "needs a scheme", "No server was checked")
    assert ":80" not in out.stdout


@pytest.mark.parametrize("value,fragment", [("0", "more than 0"), ("-3", "more than 0"), ("soon", "not a number"),
                                            ("inf", "finite")])
def test_check_timeout_must_be_a_positive_number(value, fragment):
    _usage_error(_cli("check", "--timeout", value), "ucexplore check", "--timeout", fragment)


def test_check_ca_must_be_a_pem_file(tmp_path):
    _usage_error(_cli("check", "--ca", str(tmp_path / "missing.pem")), "ucexplore check", "--ca", "does not exist")
    _usage_error(_cli("check", "--ca", str(tmp_path)), "ucexplore check", "is a folder")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    _usage_error(_cli("check", "--ca", str(junk)), "ucexplore check", "PEM")


def test_check_a_closed_port_is_a_failed_check_not_a_traceback():
    port = _closed_port()
    out = _cli("check", "--url", f"http://127.0.0.1:{port}", "--timeout", "2")
    _failure(out, "reachable", "1 problem(s)")


# =============================================================================================================
# login
# =============================================================================================================


def test_login_without_the_server_url_is_a_usage_error():
    for product in ("cucm", "unity", "finesse"):
        _usage_error(_cli("login", product), "ucexplore login", "needs the server URL", f"ucexplore login {product} ")


def test_login_cucm_as_the_readme_shows_it_asks_for_the_redirect_uri_in_cli_words():
    out = _cli("login", "cucm", "https://cucm.example.com:8443")
    last = _usage_error(out, "ucexplore login", "--redirect-uri https://", "UCX_REDIRECT_URI",
                        "Enterprise Parameters")
    assert "redirect_uri=" not in _text(out) and "ValueError" not in _text(out), last


def test_login_unity_and_webex_ask_for_what_they_need():
    _usage_error(_cli("login", "unity", "https://127.0.0.1:1"), "ucexplore login", "--redirect-uri")
    _usage_error(_cli("login", "webex"), "ucexplore login", "--client-id", "UCX_WEBEX_CLIENT_ID")
    _usage_error(_cli("login", "webex", "--client-id", "C1"), "ucexplore login", "--redirect-uri",
                 "redirect URIs")


@pytest.mark.parametrize("args,fragment", [
    (["finesse", "notaurl"], "with its scheme"),
    (["finesse", "finesse.example.com:8445"], "needs a scheme: http://finesse.example.com:8445"),
    (["cucm", "https://127.0.0.1:1", "--redirect-uri", "cb"], "--redirect-uri: needs a scheme"),
    (["cucm", "https://127.0.0.1:1", "--redirect-uri", "https://a/cb#x"], "no #fragment"),
    (["cucm", "https://127.0.0.1:1", "--redirect-uri", "https://a/cb", "--ca", "/no/such/ca.pem"], "--ca"),
    (["sip", "https://127.0.0.1:1"], "invalid choice"),
])
def test_login_refuses_bad_arguments_at_parse_time(args, fragment):
    _usage_error(_cli("login", *args), "ucexplore login", fragment)


def test_login_a_token_or_a_sign_in_result_on_the_command_line_is_not_echoed():
    token = "MjpkZTkxYjNmYS0wYzU2LTQxYTgtYjE2Ni1kYjNlYzQ1NmQ3ZWQ"
    out = _cli("login", "cucm", token)
    _usage_error(out, "ucexplore login", "does not look like a host name")
    landed = f"https://app.example.com/cb#access_token={token}&state=abc"
    out2 = _cli("login", "cucm", landed)
    _usage_error(out2, "ucexplore login", "without ?query or #fragment")
    assert token not in _text(out) + _text(out2)


def test_login_a_bad_redirect_uri_in_the_environment_is_named():
    out = _cli("login", "cucm", "https://127.0.0.1:1", env=_env(UCX_REDIRECT_URI="app.example.com/cb"))
    _usage_error(out, "ucexplore login", "UCX_REDIRECT_URI")


def test_login_a_bad_paste_is_its_message_and_exit_1():
    url = f"http://127.0.0.1:{_closed_port()}"  # nothing is contacted: the paste is refused before any call
    out = _cli("login", "cucm", url, "--redirect-uri", "https://app.example.com/cb",
               stdin="garbage!\nstill garbage!\nno\n")
    text = _failure(out, "That did not work", "ucexplore login: that does not look like an access token")
    assert text.count("That did not work") == 3


def test_login_with_nothing_pasted_stops_at_once():
    url = f"http://127.0.0.1:{_closed_port()}"
    out = _cli("login", "finesse", url, "--agent-id", "jkam", stdin="")
    text = _failure(out, "nothing was pasted")
    assert "That did not work" not in text


def test_login_store_without_a_keyring_speaks_command_line():
    env = _env(PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    out = _cli("login", "finesse", f"http://127.0.0.1:{_closed_port()}", "--store", env=env)
    text = _failure(out, "--store", "run without --store")
    assert "store=False" not in text


def test_login_cucm_without_user_says_signed_in_but_not_verified(lab, monkeypatch, capsys):
    """In process (a scripted person signs in through the lab IdP): the end of a successful login."""
    import getpass

    from ucexplore.cli import main
    from ucexplore.lab.person import Person

    person = Person(*lab.demo_user)

    def fake_getpass(prompt: str = "") -> str:
        printed = capsys.readouterr().out
        return person.sign_in(re.search(r"(http\S+/ssosp/oauth/authorize\S+)", printed).group(1))

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    try:
        code = main(["login", "cucm", lab.urls["cucm"], "--redirect-uri", lab.redirect_uri])
    finally:
        person.close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Signed in; not verified (pass --user <your user id> to check the token against UDS)" in out
    assert "Verified: not verified" not in out and "for this process only" not in out
    assert "The token was not stored" in out and "--store" in out and "store=False" not in out


# =============================================================================================================
# lab
# =============================================================================================================


@pytest.mark.parametrize("args,fragment", [
    (["--token-ttl", "cucm"], "is not PRODUCT=SECONDS"),
    (["--token-ttl", "foo=10"], "unknown product 'foo'"),
    (["--token-ttl", "cucm=soon"], "whole number of seconds"),
    (["--token-ttl", "cucm=0"], "out of range"),
    (["--users", "5"], "from 10 to 100,000"),
    (["--users", "200000"], "from 10 to 100,000"),
    (["--users", "many"], "not a whole number"),
    (["--products", "bogus"], "unknown product 'bogus'"),
    (["--products", ","], "no product named"),
    (["--rate-429", "1.5"], "between 0 and 1"),
    (["--rate-503", "-0.1"], "between 0 and 1"),
    (["--truncate-rate", "2"], "between 0 and 1"),
    (["--latency-ms", "-5"], "0 or more"),
    (["--jitter-ms", "nan"], "finite"),
    (["--retry-after", "-1"], "0 or more"),
    (["--port-base", "70000"], "from 1 to 65530"),
    (["--port-base", "0"], "from 1 to 65530"),
    (["--learners", "-1"], "out of range"),
    (["--seed", "x"], "not a whole number"),
])
def test_lab_options_are_checked_at_parse_time(args, fragment):
    _usage_error(_cli("lab", *args), "ucexplore lab", fragment)


def test_lab_more_learners_than_users_is_a_usage_error():
    _usage_error(_cli("lab", "--users", "10", "--learners", "10", "--port-base", str(free_port_block())),
                 "ucexplore lab", "--learners 10", "--users 11")


def test_lab_on_an_address_this_machine_does_not_have_is_one_line():
    # 192.0.2.1 is TEST-NET-1: binding it fails locally (no packet is sent anywhere)
    out = _cli("lab", "--host", "192.0.2.1", "--users", "10", "--products", "cucm", "--port-base", str(free_port_block()))
    _failure(out, "--host 192.0.2.1 is not an address of this machine")
    assert len([ln for ln in out.stderr.splitlines() if ln.strip()]) == 1, out.stderr


def test_lab_host_must_not_be_empty():
    _usage_error(_cli("lab", "--host", " "), "ucexplore lab", "--host")


def test_lab_on_a_busy_port_is_one_line(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        out = _cli("lab", "--users", "10", "--products", "cucm", "--port-base", str(port),
                   env=_env(TMPDIR=str(tmp_path)))
    finally:
        busy.close()
    _failure(out)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"ucexplore lab: port {port} (idp) is already in use — is another `ucexplore lab` "
                               "running? pass --port-base "), lines
    assert list(tmp_path.iterdir()) == []


def _serve(*args: str, tmp: Path, last: str = "users") -> tuple[subprocess.Popen[str], str]:
    """Start ``ucexplore lab`` on a free port block (TMPDIR=tmp) and read its summary up to the line ``last``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucexplore", "lab", "--users", "10", "--products", "cucm",
         "--port-base", str(free_port_block()), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(TMPDIR=str(tmp)),
        preexec_fn=_restore_sigint if os.name == "posix" else None)  # noqa: PLW1509 - only resets a signal
    lines: list[str] = []
    assert proc.stdout is not None
    for _ in range(40):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip().startswith(last):
            break
    return proc, "".join(lines)


def _stop(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - only our own process
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return proc.returncode, out


@pytest.mark.skipif(os.name != "posix", reason="signals and TMPDIR as on POSIX")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_lab_https_removes_its_temporary_folder_when_stopped(tmp_path, sig):
    proc, summary = _serve("--https", tmp=tmp_path, last="CA certificate")
    try:
        assert "ucexplore lab is running" in summary, summary
        ca = re.search(r"CA certificate\s+(\S+)", summary).group(1)
        assert Path(ca).exists() and Path(ca).parent.parent == tmp_path
        assert Path(ca).parent.name.startswith("ucexplore-lab-")
    finally:
        code, rest = _stop(proc, sig)
    assert code == 0 and "lab stopped" in rest and "Traceback" not in rest, rest
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="signals and TMPDIR as on POSIX")
def test_lab_over_http_makes_no_temporary_folder(tmp_path):
    proc, summary = _serve(tmp=tmp_path)
    try:
        assert "ucexplore lab is running" in summary, summary
        assert list(tmp_path.iterdir()) == []
    finally:
        code, rest = _stop(proc, signal.SIGINT)
    assert code == 0 and "lab stopped" in rest and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == []


# =============================================================================================================
# report and audit
# =============================================================================================================


@pytest.mark.parametrize("args,fragment", [
    (["bogus"], "unknown report 'bogus'"),
    (["directory", "--users", "5", "--lab"], "from 10 to 100,000"),
    (["directory", "--cucm", "cucm.example.com:8443"], "needs a scheme"),
    (["directory", "--devices", "some"], "a number of users"),
    (["directory", "--ca", "/no/such/ca.pem"], "does not exist"),
    (["directory", "--redirect-uri", "cb"], "needs a scheme"),
])
def test_report_refuses_bad_arguments_at_parse_time(args, fragment):
    _usage_error(_cli("report", *args), "ucexplore report", fragment)


def test_report_out_must_be_a_file_name(tmp_path):
    _usage_error(_cli("report", "directory", "--lab", "--out", str(tmp_path)), "ucexplore report", "is a folder")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _usage_error(_cli("report", "directory", "--lab", "--out", str(blocker / "r.html")), "ucexplore report",
                 "is a file, not a folder")


def test_report_missing_servers_and_sign_in_details_are_usage_errors():
    _usage_error(_cli("report", "directory"), "ucexplore report", "--cucm URL", "--lab")
    _usage_error(_cli("report", "directory", "--cucm", "https://127.0.0.1:1"), "ucexplore report",
                 "--redirect-uri")
    _usage_error(_cli("report", "contact-centre", "--finesse", "https://127.0.0.1:1"), "ucexplore report",
                 "--agent-id")
    _usage_error(_cli("report", "directory", env=_env(UCX_CUCM_URL="cucm:8443")), "ucexplore report",
                 "$UCX_CUCM_URL")


def test_audit_paths():
    _usage_error(_cli("audit"), "ucexplore audit", "required")
    _usage_error(_cli("audit", ""), "ucexplore audit", "empty path")
    out = _cli("audit", "/no/such/folder/anywhere")
    _failure(out, "no such file or folder", code=2)
