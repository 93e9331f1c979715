"""Plane geometry of polygon rings in projected metres: containment, nearest boundary point,
area and self-intersection. Rings are vertex sequences without the closing repeat.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = [
    "XY",
    "nearest_on_rings",
    "ring_area",
    "ring_contains",
    "rings_intersect",
]

XY = tuple[float, float]


def _edges(ring: Sequence[XY]) -> Iterator[tuple[XY, XY]]:
    for i, a in enumerate(ring):
        yield a, ring[(i + 1) % len(ring)]


def ring_area(ring: Sequence[XY]) -> float:
    """Signed area (shoelace): positive when the ring runs counter-clockwise."""
    twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in _edges(ring))
    return twice / 2


def ring_contains(ring: Sequence[XY], p: XY) -> bool:
    """Whether `p` is inside `ring` by the even-odd rule (points on an edge may go either way;
    callers get a boundary distance of 0 there, which is what matters)."""
    x, y = p
    inside = False
    for (x1, y1), (x2, y2) in _edges(ring):
        # Half-open on y so a ray through a vertex counts it once.
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _nearest_on_segment(p: XY, a: XY, b: XY) -> XY:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return a
    t = ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2
    t = min(1.0, max(0.0, t))
    return ax + t * dx, ay + t * dy


def nearest_on_rings(rings: Sequence[Sequence[XY]], p: XY) -> XY:
    """The point on any ring's edges nearest to `p`."""
    best: XY | None = None
    best_d2 = float("inf")
    for ring in rings:
        for a, b in _edges(ring):
            q = _nearest_on_segment(p, a, b)
            d2 = (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2
            if d2 < best_d2:
                best, best_d2 = q, d2
    if best is None:
        raise ValueError("no edges to measure against")
    return best


def _orient(a: XY, b: XY, c: XY) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: XY, b: XY, c: XY) -> bool:
    """Whether `c`, known to be collinear with a-b, lies within the segment's box."""
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _segments_meet(a: XY, b: XY, c: XY, d: XY) -> bool:
    """Whether closed segments a-b and c-d share any point (crossing, touching or overlapping)."""
    if (
        max(a[0], b[0]) < min(c[0], d[0])
        or max(c[0], d[0]) < min(a[0], b[0])
        or max(a[1], b[1]) < min(c[1], d[1])
        or max(c[1], d[1]) < min(a[1], b[1])
    ):
        return False
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if ((o1 > 0 and o2 < 0) or (o1 < 0 and o2 > 0)) and (
        (o3 > 0 and o4 < 0) or (o3 < 0 and o4 > 0)
    ):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def _folds_back(a: XY, b: XY, c: XY) -> bool:
    """Whether consecutive edges a-b, b-c run back over each other (a zero-width spike)."""
    dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
    return _orient(a, b, c) == 0 and dot < 0


def rings_intersect(rings: Sequence[Sequence[XY]]) -> bool:
    """Whether any ring crosses, touches or retraces itself or another ring.

    Edges that follow each other in a ring share their common vertex by construction; only a
    fold-back counts for them. Quadratic in the vertex count, which callers keep small.
    """
    edges: list[tuple[int, int, XY, XY]] = []
    for r, ring in enumerate(rings):
        n = len(ring)
        for i, (a, b) in enumerate(_edges(ring)):
            if _folds_back(a, b, ring[(i + 2) % n]):
                return True
            edges.append((r, i, a, b))
    for k, (r1, i1, a, b) in enumerate(edges):
        n1 = len(rings[r1])
        for r2, i2, c, d in edges[k + 1 :]:
            if r1 == r2 and (i2 - i1 == 1 or (i1 == 0 and i2 == n1 - 1)):
                continue
            if _segments_meet(a, b, c, d):
                return True
    return False
