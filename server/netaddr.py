"""The real client address behind trusted proxies.

aiohttp's ``request.remote`` is the TCP peer; behind nginx that is the proxy, and the
python-socketio aiohttp driver reports it too (issue 4, item 6). ``X-Forwarded-For`` is
believed only when the peer is a configured trusted proxy, and then read from the right:
each trusted proxy appends the address it saw, so the first address from the right that
is not itself a trusted proxy is the client. Anything the client wrote further left is
ignored, so a client cannot choose its own logged address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["client_address"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[IPNetwork]
) -> bool:
    return any(addr in net for net in nets)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str:
    """The client's address as a string ("unknown" when the peer is not an IP).

    >>> nets = [ipaddress.ip_network("10.0.0.0/8")]
    >>> client_address("10.0.0.2", "6.6.6.6, 203.0.113.9", nets)
    '203.0.113.9'
    >>> client_address("198.51.100.7", "203.0.113.9", nets)
    '198.51.100.7'
    """
    peer_addr = _parse(peer or "")
    if peer_addr is None:
        return "unknown"
    if not forwarded_for or not _trusted(peer_addr, trusted):
        return str(peer_addr)
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _parse(hop)
        if addr is None:
            # A malformed hop means the chain cannot be trusted beyond it.
            return str(peer_addr)
        if not _trusted(addr, trusted):
            return str(addr)
    return str(peer_addr)
