"""app.core.outbound against real local HTTP servers: refused address ranges (by the addresses
a name resolves to, every one), the allow-list, no redirects (the secret never reaches another
host), the secret bound to its base URL, no proxy, and a timeout always."""

import socket
import threading
import time
import urllib.error

import pytest

from app.core import outbound
from app.core.outbound import Client, Policy, RedirectRefused, Refused, address_kind
from tests.httprecorder import recording

SECRET = "s3cret-token-value"
LOOPBACK_ALLOWED = Policy(frozenset({"127.0.0.1"}))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "reserved"),  # documentation range
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_kinds(address, kind):
    assert address_kind(address) == kind


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254",
        "http://127.0.0.1:{port}",
        "http://10.0.0.1",
        "http://[::1]:{port}",
        "http://localhost:{port}",
    ],
)
def test_default_rules_refuse_loopback_link_local_and_private_and_nothing_is_sent(url):
    with recording() as server:
        client = Client(url.format(port=server.port), SECRET, timeout=2)
        with pytest.raises(Refused) as refused:
            client.open("GET", "/latest/meta-data/")
        assert server.seen == []
    assert refused.value.kind in ("link-local", "loopback", "private")
    assert "OUTBOUND_ALLOWED_HOSTS" in str(refused.value)


def test_a_host_on_the_allow_list_is_reached_with_its_secret():
    with recording() as server:
        with Client(server.url, SECRET, timeout=2, rules=LOOPBACK_ALLOWED).open("GET", "/health") as response:
            assert response.status == 200
        by_name = Client(f"http://localhost:{server.port}", None, timeout=2, rules=Policy(frozenset({"localhost"})))
        by_name.open("GET", "/by-name").close()
    assert [s.path for s in server.seen] == ["/health", "/by-name"]
    assert server.authorizations() == [f"Bearer {SECRET}", None]


def test_allow_private_lets_private_ranges_through_but_never_loopback_or_link_local():
    rules = Policy(allow_private=True)
    rules.check_address("plant-b.lan", "10.20.0.5")
    rules.check_address("plant-b.lan", "fd12::5")
    for address in ("127.0.0.1", "169.254.169.254", "::1", "fe80::1"):
        with pytest.raises(Refused):
            rules.check_address("plant-b.lan", address)
    with pytest.raises(Refused, match="OUTBOUND_ALLOW_PRIVATE"):
        Policy().check_address("plant-b.lan", "10.20.0.5")


def _fake_dns(monkeypatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """getaddrinfo answering the names in `answers` with their next answer (the last one repeats),
    as a rebinding DNS would; returns the names looked up, in order."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        looked_up.append(host)
        addresses = answers[host][min(len(looked_up), len(answers[host])) - 1]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_every_resolved_address_is_checked(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.test": [["93.184.216.34", "127.0.0.1"]]})
    with recording() as server:
        with pytest.raises(Refused) as refused:
            Client(f"http://mixed.test:{server.port}", SECRET, timeout=2).open("GET", "/")
        assert server.seen == []
    assert refused.value.address == "127.0.0.1"


class _Recording(Policy):
    def check_address(self, host: str, address: str) -> None:
        self.checked.append((host, address))


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup(monkeypatch):
    """The DNS answers 127.0.0.1 first and 127.0.0.2 (where nothing listens) after: a client that
    checked one lookup and connected through another would miss the server."""
    looked_up = _fake_dns(monkeypatch, {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    rules = _Recording()
    object.__setattr__(rules, "checked", [])
    with recording() as server:
        Client(f"http://rebind.test:{server.port}", SECRET, timeout=2, rules=rules).open("GET", "/x").close()
    assert looked_up == ["rebind.test"] and rules.checked == [("rebind.test", "127.0.0.1")]
    assert server.seen[0].headers["Host"] == f"rebind.test:{server.port}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_not_followed_and_the_secret_never_gets_there(status):
    with recording() as elsewhere, recording(redirect_to=elsewhere.url, status=status) as site:
        client = Client(site.url, SECRET, timeout=2, rules=LOOPBACK_ALLOWED)
        with pytest.raises(RedirectRefused) as refused:
            client.open("POST" if status in (307, 308) else "GET", "/health", data=b"{}" if status >= 307 else None)
        assert site.authorizations() == [f"Bearer {SECRET}"]
        assert elsewhere.seen == []  # nothing at all, so no Authorization header either
    assert refused.value.status == status and refused.value.location == f"{elsewhere.url}/health"
    assert "do not follow redirects" in str(refused.value)


def test_a_same_host_redirect_is_refused_too():
    with recording() as server:
        server.redirect_to = server.url + "/moved"
        with pytest.raises(RedirectRefused):
            Client(server.url, SECRET, timeout=2, rules=LOOPBACK_ALLOWED).open("GET", "/health")
    assert [s.path for s in server.seen] == ["/health"]


@pytest.mark.parametrize("path", ["http://evil.example/x", "//evil.example/x", "evil", "@evil.example/x"])
def test_the_secret_goes_only_to_the_base_url(path):
    client = Client("http://127.0.0.1:9", SECRET, timeout=2, rules=LOOPBACK_ALLOWED)
    with pytest.raises(ValueError):
        client.open("GET", path)


def test_environment_proxies_are_not_used(monkeypatch):
    with recording() as proxy, recording() as server:
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        Client(server.url, SECRET, timeout=2, rules=LOOPBACK_ALLOWED).open("GET", "/direct").close()
        assert proxy.seen == [] and [s.path for s in server.seen] == ["/direct"]


def test_a_timeout_always():
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:9", SECRET, timeout=0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts the connection, never answers
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises((urllib.error.URLError, TimeoutError)):
            Client(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.3, rules=LOOPBACK_ALLOWED).open(
                "GET", "/"
            )
    finally:
        for sock in [*accepted, listener]:
            sock.close()
    assert time.monotonic() - started < 3


@pytest.mark.config(OUTBOUND_ALLOWED_HOSTS=["Plant-B.example", "[::1]"], OUTBOUND_ALLOW_PRIVATE=True)
def test_the_app_policy_reads_the_settings(app):
    rules = outbound.policy(["docs.example"])
    assert rules.allowed_hosts == {"plant-b.example", "::1", "docs.example"} and rules.allow_private is True
