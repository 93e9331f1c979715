"""Office networks: the CIDR ranges an office's traffic leaves from, and matching a client's IP
address (IPv4 or IPv6) against them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TypeAlias

__all__ = ["IPAddress", "IPNetwork", "InvalidNetwork", "best_match", "parse_ip", "parse_networks"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidNetwork(ValueError):
    """A configured range that is not a CIDR block (or a single address)."""


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The ranges in `cidrs` ("10.0.0.0/8", "2001:db8::/32", or a bare address for one host).

    Host bits are tolerated ("192.168.1.7/24" means 192.168.1.0/24): admins paste their own
    address with the mask. Anything else raises InvalidNetwork naming the bad entry, because a
    silently dropped range would flag every check-in from that office.
    """
    out: list[IPNetwork] = []
    for text in cidrs:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidNetwork(f"{text!r} is not an IP network") from exc
    return tuple(out)


def parse_ip(text: str | None) -> IPAddress | None:
    """The address in `text`, or None when it is missing or malformed.

    IPv4-mapped IPv6 addresses (what a dual-stack socket reports for IPv4 clients) come back as
    IPv4, so they match IPv4 ranges.
    """
    if not text:
        return None
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def best_match(addr: IPAddress, networks: Sequence[IPNetwork]) -> IPNetwork | None:
    """The most specific of `networks` containing `addr` (longest prefix), or None."""
    hits = [n for n in networks if n.version == addr.version and addr in n]
    return max(hits, key=lambda n: n.prefixlen, default=None)
