"""Every outbound HTTP call goes through here: a client bound to one base URL and its secret.

The rules (settings in docs/operations.md, "Outbound HTTP"):

- Addresses: a host name is resolved once, EVERY address it resolves to is checked, and the
  connection goes to a checked address (no second lookup that a rebinding DNS could answer
  differently). Only public addresses pass, unless the host is on the allow-list
  (`OUTBOUND_ALLOWED_HOSTS`, plus a capability's own list such as `DOCSYNC_ALLOWED_HOSTS`), or
  `OUTBOUND_ALLOW_PRIVATE` lets the private ranges through (10/8, 172.16/12, 192.168/16,
  100.64/10, fc00::/7; never loopback, link-local, multicast or reserved ones).
- Redirects are never followed: a 3xx answer with a Location is `RedirectRefused`, naming where
  it pointed, so a secret never reaches a host it was not set for (fix the base URL instead).
- The secret goes only to the client's own base URL: a path is joined to it, never a URL.
- No proxy from the environment (HTTP(S)_PROXY would bypass the address check).
- A timeout always.

urllib.request (the standard library) does the HTTP; this module gives it its own connection
classes (through `HTTPConnection`'s `_create_connection` hook), its own redirect handler and no
proxy handler, and leaves the rest to it: errors come out as urllib's `HTTPError` / `URLError`.
"""

import functools
import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT = 30.0

# what OUTBOUND_ALLOW_PRIVATE lets through; everything else that is not global stays refused
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class OutboundError(Exception):
    """An outbound call refused by the rules (never sent, or its answer not followed)."""


class Refused(OutboundError):
    """The host, or an address it resolves to, is not allowed."""

    def __init__(self, message: str, host: str, address: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.host, self.address, self.kind = host, address, kind


class RedirectRefused(OutboundError):
    """The answer was a redirect; outbound calls never follow one."""

    def __init__(self, message: str, status: int, location: str) -> None:
        super().__init__(message)
        self.status, self.location = status, location


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def address_kind(address: str) -> str | None:
    """None for a public (global) address, else what it is: loopback, link-local, private, ..."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
    ):
        if flag:
            return kind
    if any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version):
        return "private"
    if not ip.is_global or ip.is_reserved or getattr(ip, "is_site_local", False):
        return "reserved"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Policy:
    """Which hosts outbound calls may reach. Hosts on `allowed_hosts` may have any address."""

    allowed_hosts: frozenset[str] = frozenset()
    allow_private: bool = False

    def check_address(self, host: str, address: str) -> None:
        host = normalize_host(host)
        if host in self.allowed_hosts:
            return
        kind = address_kind(address)
        if kind is None or (kind == "private" and self.allow_private):
            return
        hint = "OUTBOUND_ALLOW_PRIVATE or " if kind == "private" else ""
        raise Refused(
            f"{host} resolves to {address}, a {kind} address; outbound calls refuse it "
            f"unless {hint}OUTBOUND_ALLOWED_HOSTS names the host.",
            host,
            address,
            kind,
        )

    def check_literal(self, host: str) -> None:
        """What can be told without DNS (when a URL is saved): an IP literal's range."""
        host = normalize_host(host)
        if _is_ip(host):
            self.check_address(host, host)

    def resolve(self, host: str, port: int) -> list[tuple]:
        """getaddrinfo() once; every address checked; the (family, type, proto, sockaddr) to connect to."""
        infos = socket.getaddrinfo(normalize_host(host), port, type=socket.SOCK_STREAM)
        for *_, sockaddr in infos:
            self.check_address(host, sockaddr[0])
        return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]

    def connect(self, host: str, port: int, timeout: float, source_address: Any = None) -> socket.socket:
        """A connected socket to a checked address of `host` (tried in getaddrinfo's order)."""
        error: OSError | None = None
        for family, kind, proto, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError(f"no address for {host}")


def policy(extra_hosts: Iterable[str] = ()) -> Policy:
    """The app's policy (OUTBOUND_ALLOWED_HOSTS, OUTBOUND_ALLOW_PRIVATE), with a capability's own hosts."""
    from flask import current_app

    config = current_app.config
    hosts = {normalize_host(h) for h in [*config.get("OUTBOUND_ALLOWED_HOSTS", ()), *extra_hosts] if h.strip()}
    return Policy(frozenset(hosts), bool(config.get("OUTBOUND_ALLOW_PRIVATE", False)))


# --- urllib plumbing --------------------------------------------------------------------------


def _pin(connection: http.client.HTTPConnection, rules: Policy) -> None:
    # http.client opens its socket through this attribute; HTTPS then wraps it with the host's
    # name, so certificates are still checked against the name, not the address
    connection._create_connection = lambda address, timeout, source_address=None: rules.connect(
        address[0], address[1], timeout, source_address
    )


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, rules: Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pin(self, rules)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, rules: Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _pin(self, rules)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, rules: Policy) -> None:
        super().__init__()
        self.rules = rules

    def http_open(self, req):
        return self.do_open(functools.partial(_CheckedHTTPConnection, rules=self.rules), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, rules: Policy) -> None:
        super().__init__()
        self.rules = rules

    def https_open(self, req):
        return self.do_open(functools.partial(_CheckedHTTPSConnection, rules=self.rules), req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("Location") or headers.get("URI")
        if not location:
            return None  # not a redirect after all: urllib's default handler raises it as an HTTPError
        fp.close()
        target = urllib.parse.urljoin(req.full_url, location)
        raise RedirectRefused(
            f"{origin(req.full_url)} answered {code} to {target}; outbound calls do not follow redirects "
            "(correct the URL instead).",
            code,
            target,
        )

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def build_opener(rules: Policy) -> urllib.request.OpenerDirector:
    """http and https only, checked addresses, no redirects, no proxies."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _HTTPHandler(rules),
        _HTTPSHandler(rules),
        urllib.request.HTTPDefaultErrorHandler(),
        _NoRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, normalize_host(parts.hostname or ""), parts.port or default


# --- base URLs, when they are saved -----------------------------------------------------------


def check_base_url(url: str, allowed_hosts: Iterable[str], rules: Policy, setting: str) -> str:
    """The normalised base URL of an endpoint (a remote site, the helpdesk), or InvalidInput naming
    `base_url`: http(s), a host, no credentials, query or fragment; the host on `allowed_hosts`
    (the capability's `setting`) when that list is not empty; an IP literal `rules` allow (a name
    is checked on every call, when it is resolved)."""
    from app.core.errors import InvalidInput

    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        raise InvalidInput("Not a valid URL.", {"field": "base_url"}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("The base URL needs http:// or https:// and a host.", {"field": "base_url"})
    if parts.username or parts.password:
        raise InvalidInput("The base URL must not carry credentials; set the token instead.", {"field": "base_url"})
    if parts.query or parts.fragment:
        raise InvalidInput("The base URL takes no query or fragment.", {"field": "base_url"})
    allowed = list(allowed_hosts)
    if allowed and parts.hostname.lower() not in allowed:
        raise InvalidInput(
            f"Host {parts.hostname} is not on the allow-list ({setting}).", {"field": "base_url", "allowed": allowed}
        )
    try:
        rules.check_literal(parts.hostname)
    except Refused as exc:
        raise InvalidInput(str(exc), {"field": "base_url", "address_kind": exc.kind}) from None
    netloc = parts.hostname.lower() + (f":{port}" if port else "")
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + (f":{port}" if port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


# --- the client ---------------------------------------------------------------------------------


@dataclass
class Client:
    """Calls to one base URL, with its secret in `Authorization: <scheme> <secret>`.

    `open()` takes a path (joined to the base URL), never a URL, so the secret cannot be sent
    elsewhere; it returns urllib's response, or raises urllib's `HTTPError` (4xx/5xx) /
    `URLError` (network), `Refused` or `RedirectRefused`."""

    base_url: str
    secret: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    rules: Policy = field(default_factory=Policy)
    auth_scheme: str = "Bearer"

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        scheme, host, _ = self._origin = origin(self.base_url)
        if scheme not in ("http", "https") or not host:
            raise ValueError(f"not an http(s) URL: {self.base_url!r}")
        if not self.timeout or self.timeout <= 0:
            raise ValueError("outbound calls always have a timeout")
        self._opener = build_opener(self.rules)

    def url(self, path: str) -> str:
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"a path, not a URL: {path!r}")
        url = self.base_url + path
        if origin(url) != self._origin:  # cannot happen for a path; kept as the invariant
            raise Refused(f"{url} is not on {self.base_url}", self._origin[1])
        return url

    def open(
        self,
        method: str,
        path: str,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ):
        request = urllib.request.Request(self.url(path), data=data, headers=dict(headers or {}), method=method)
        if self.secret:
            # "unredirected": urllib would not carry it over a redirect either, were one ever followed
            request.add_unredirected_header("Authorization", f"{self.auth_scheme} {self.secret}")
        return self._opener.open(request, timeout=timeout if timeout and timeout > 0 else self.timeout)
