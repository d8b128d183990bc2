"""Which webhook URLs may be called, and at which addresses: http(s) only, never our own network unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple
from urllib.parse import urlsplit

MAX_URL = 2000


class Refused(ValueError):
    """A URL a webhook may not be sent to; the message says why."""


class Destination(NamedTuple):
    """Where a checked URL is sent: its scheme, host name (ASCII) and port, and the addresses that passed."""

    scheme: str
    host: str
    port: int
    addresses: list[str]


def check_form(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a well-formed http(s) URL, or Refused."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Refused(f"must be an http or https URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"not a URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("only http and https URLs are called")
    if not parts.hostname:
        raise Refused("names no host")
    if parts.username or parts.password:
        raise Refused("must not carry credentials; the signature authenticates us")
    return parts.scheme, ascii_host(parts.hostname), port or (443 if parts.scheme == "https" else 80)


def ascii_host(host: str) -> str:
    """The host as DNS, SNI and the Host header spell it: one name for the lookup and for the certificate."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise Refused(f"host {host!r} is not a valid name: {error}") from None


def check(url: str, allow_private: bool) -> list[str]:
    """The addresses of the URL's host, or Refused if any is loopback, link-local, private or reserved."""
    return destination(url, allow_private).addresses


def destination(url: str, allow_private: bool) -> Destination:
    """Resolve the URL's host once and refuse it if any address is loopback, link-local, private or reserved.

    Every address must pass: a name resolving to a public and a private address could be steered to the latter.
    Called at subscription and again before each delivery, since a name can be re-pointed meanwhile; a delivery
    connects to these addresses, never to the name, which could answer differently a moment later.
    The addresses keep the resolver's order (its preference, e.g. IPv4 first on a host without IPv6 routes).
    """
    scheme, host, port = check_form(url)
    try:
        found = [str(ipaddress.ip_address(host))]  # an address literal needs no lookup
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as error:
            raise Refused(f"host {host!r} does not resolve: {error}") from None
        found = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in found:
            if not public(address):
                raise Refused(f"host {host!r} resolves to {address}, inside a private, loopback or link-local "
                              "range (ROADWORKS_WEBHOOK_ALLOW_PRIVATE=1 allows it)")
    return Destination(scheme, host, port, found)


def public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved
                                 or ip.is_multicast or ip.is_unspecified)


def private_allowed(settings) -> bool:
    """ROADWORKS_WEBHOOK_ALLOW_PRIVATE, read one way at subscription and at delivery."""
    return str(settings["WEBHOOK_ALLOW_PRIVATE"]) in ("1", "true", "yes")
