"""ucexplore check against the lab: TLS that verifies with the lab CA, fails without it, and a dead port."""

from __future__ import annotations

import socket

from ucexplore.check import check_environment, check_server
from ucexplore.cli import main
from ucexplore.lab import start


def test_environment_lists_packages():
    names = {c.name: c for c in check_environment()}
    assert names["version"].ok and names["httpx"].ok and names["pandas"].ok


def test_https_server_with_and_without_ca(capsys):
    with start(users=10, https=True, products=("idp",)) as lab:
        url = lab.urls["idp"]
        good = {c.name: c for c in check_server(url, ca=lab.ca_path)}
        assert good["dns"].ok and good["reachable"].ok and good["tls"].ok and good["clock"].ok
        assert "ucexplore lab CA" in good["tls"].detail
        bad = {c.name: c for c in check_server(url)}
        assert not bad["tls"].ok and "verify=" in bad["tls"].fix
        assert main(["check", "--url", url, "--ca", lab.ca_path]) == 0
        assert main(["check", "--url", url]) == 1
        assert "does not verify" in capsys.readouterr().out


def test_dead_port_says_what_to_do():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    result = {c.name: c for c in check_server(f"http://127.0.0.1:{port}")}
    assert not result["reachable"].ok and "port" in result["reachable"].fix
