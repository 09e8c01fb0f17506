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

__all__ = ["client_address", "joined_forwarded_for", "rate_limit_key"]

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


def joined_forwarded_for(values: Sequence[str]) -> str | None:
    """All ``X-Forwarded-For`` header lines as one list, in order.

    RFC 9110 section 5.3: several lines of one field equal one comma-joined line. Some
    proxies (HAProxy ``option forwardfor``) add a *new* line instead of extending the
    client's; reading only the first line would then read the client's forged one.
    """
    return ", ".join(values) if values else None


def rate_limit_key(address: str) -> str:
    """The key a rate limit counts under: the address, or its /64 for IPv6.

    One IPv6 subscriber routinely holds a whole /64 (RFC 6177), so counting single IPv6
    addresses would give one client 2**64 fresh buckets.

    >>> rate_limit_key("2001:db8:1:2:3:4:5:6")
    '2001:db8:1:2::/64'
    >>> rate_limit_key("203.0.113.9")
    '203.0.113.9'
    """
    addr = _parse(address)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return address
