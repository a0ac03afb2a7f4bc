"""Layered (Sugiyama-style) layout of a directed acyclic graph, left to right, as a pure function.

The steps, each a small function below:

1. *Layering*: longest path from the sources, so every edge points to a later layer.
2. *Dummy nodes*: an edge spanning several layers is split into one segment per layer, so
   the ordering step sees it and its route bends around the nodes in between.
3. *Ordering*: barycentre sweeps (down, then up) reorder each layer to reduce crossings;
   the order with the fewest crossings seen is kept.
4. *Coordinates*: layers are columns; within a column the nodes keep their order and
   minimum gaps while moving as close as possible to the middle of their neighbours
   (an isotonic regression, solved by pool-adjacent-violators).

Sizes are in abstract units (the UI uses SVG pixels). Nothing here knows about DAGs or
tasks: nodes are ids with a width and height, edges are pairs of ids.

Why not a library: Graphviz's ``dot`` lays out as well or better, but it is a system
program (or a C extension, pygraphviz) to install and run per page, which the
runtime-only install avoids; grandalf, the pure-Python Sugiyama layout, has had no
maintained release for years; networkx has no layered layout of this kind. This module
is a few hundred lines, pure and tested, and lays out 1,000 nodes well within a page's
budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["EdgeRoute", "Layout", "NodeBox", "count_crossings", "layer_nodes", "layered_layout"]


@dataclass(frozen=True, slots=True)
class NodeBox:
    """Where one node is drawn: top-left corner, size, and its layer (column)."""

    id: str
    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """An edge's route: from the source's right side, through its bends, to the target's left."""

    source: str
    target: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """The placed nodes, the routed edges, and the size of the whole drawing."""

    nodes: dict[str, NodeBox]
    edges: list[EdgeRoute]
    width: float
    height: float


def layer_nodes(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: sources in layer 0, every node one past its latest predecessor.

    A cycle is a ValueError naming the nodes on it; an edge to an unknown node is a KeyError.
    """
    known = set(nodes)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        for end in (source, target):
            if end not in known:
                raise KeyError(f"edge {source!r} -> {target!r} names an unknown node {end!r}")
        preds[target].append(source)
        succs[source].append(target)
    waiting = {n: len(preds[n]) for n in nodes}
    ready = [n for n in nodes if waiting[n] == 0]
    layer: dict[str, int] = {}
    while ready:
        node = ready.pop()
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for nxt in succs[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    if len(layer) != len(nodes):
        stuck = sorted(n for n in nodes if n not in layer)
        raise ValueError(f"the graph has a cycle through: {', '.join(stuck)}")
    return layer


def count_crossings(upper: Sequence[str], lower: Sequence[str],
                    segments: Iterable[tuple[str, str]]) -> int:
    """How many of the segments between two adjacent layers cross (O(E log V))."""
    up = {n: i for i, n in enumerate(upper)}
    low = {n: i for i, n in enumerate(lower)}
    pairs = sorted((up[a], low[b]) for a, b in segments)
    # Crossings are inversions of the lower positions once sorted by upper position.
    tree = [0] * (len(lower) + 1)
    crossings = 0
    for seen, (_, position) in enumerate(pairs):
        # How many earlier segments end strictly right of this one's lower end.
        index = position + 1
        not_greater = 0
        while index > 0:
            not_greater += tree[index]
            index -= index & -index
        crossings += seen - not_greater
        index = position + 1
        while index <= len(lower):
            tree[index] += 1
            index += index & -index
    return crossings


def layered_layout(
    sizes: Mapping[str, tuple[float, float]],
    edges: Iterable[tuple[str, str]],
    *,
    layer_gap: float = 56.0,
    node_gap: float = 14.0,
    margin: float = 8.0,
    sweeps: int = 6,
) -> Layout:
    """Place ``sizes`` (id -> (width, height)) in columns so that every edge points right.

    Duplicate edges are drawn once; self-loops are ignored. The result is deterministic:
    the same input gives the same drawing.
    """
    nodes = list(sizes)
    unique: list[tuple[str, str]] = []
    for edge in edges:
        if edge[0] != edge[1] and edge not in unique:
            unique.append(edge)
    layer = layer_nodes(nodes, unique)
    segments, routes, node_layer = _split_long_edges(unique, layer)
    order = _order_layers(nodes, node_layer, segments, sweeps)
    heights = {n: sizes[n][1] if n in sizes else 0.0 for n in node_layer}
    centres = _assign_centres(order, segments, heights, node_gap)
    return _place(sizes, order, centres, routes, layer_gap, margin)


# -- steps ---------------------------------------------------------------------------------------
def _split_long_edges(
    edges: list[tuple[str, str]], layer: dict[str, int],
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], list[str]], dict[str, int]]:
    """Segments between adjacent layers, each edge's chain of nodes, and every node's layer."""
    node_layer = dict(layer)
    segments: list[tuple[str, str]] = []
    routes: dict[tuple[str, str], list[str]] = {}
    for source, target in edges:
        chain = [source]
        for step in range(layer[source] + 1, layer[target]):
            dummy = f"\x00{source}\x00{target}\x00{step}"
            node_layer[dummy] = step
            chain.append(dummy)
        chain.append(target)
        segments.extend(pairwise(chain))
        routes[(source, target)] = chain
    return segments, routes, node_layer


def _order_layers(nodes: list[str], node_layer: dict[str, int],
                  segments: list[tuple[str, str]], sweeps: int) -> list[list[str]]:
    depth = max(node_layer.values(), default=-1) + 1
    order: list[list[str]] = [[] for _ in range(depth)]
    position = {n: i for i, n in enumerate(nodes)}
    # Dummies start next to the node their edge leaves from.
    for node in sorted(node_layer, key=lambda n: (position.get(n.split("\x00")[1] if
                                                             n.startswith("\x00") else n, 0), n)):
        order[node_layer[node]].append(node)
    preds: dict[str, list[str]] = {n: [] for n in node_layer}
    succs: dict[str, list[str]] = {n: [] for n in node_layer}
    for a, b in segments:
        succs[a].append(b)
        preds[b].append(a)
    best = [list(layer) for layer in order]
    best_crossings = _total_crossings(order, segments, node_layer)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        indices = range(1, depth) if downward else range(depth - 2, -1, -1)
        for i in indices:
            neighbours = preds if downward else succs
            fixed = {n: k for k, n in enumerate(order[i - 1 if downward else i + 1])}
            order[i] = _by_barycentre(order[i], neighbours, fixed)
        crossings = _total_crossings(order, segments, node_layer)
        if crossings < best_crossings:
            best, best_crossings = [list(layer) for layer in order], crossings
        if best_crossings == 0:
            break
    return best


def _by_barycentre(layer: list[str], neighbours: dict[str, list[str]],
                   fixed: dict[str, int]) -> list[str]:
    keyed = []
    for index, node in enumerate(layer):
        linked = [fixed[n] for n in neighbours[node] if n in fixed]
        # A node with no neighbour on the fixed side keeps its place.
        key = sum(linked) / len(linked) if linked else float(index)
        keyed.append((key, index, node))
    keyed.sort()
    return [node for _, _, node in keyed]


def _total_crossings(order: list[list[str]], segments: list[tuple[str, str]],
                     node_layer: dict[str, int]) -> int:
    by_layer: dict[int, list[tuple[str, str]]] = {}
    for a, b in segments:
        by_layer.setdefault(node_layer[a], []).append((a, b))
    return sum(count_crossings(order[i], order[i + 1], segs) for i, segs in by_layer.items())


def _assign_centres(order: list[list[str]], segments: list[tuple[str, str]],
                    heights: dict[str, float], gap: float) -> dict[str, float]:
    """Vertical centre of every node: ordered, separated, near its neighbours."""
    linked: dict[str, list[str]] = {n: [] for layer in order for n in layer}
    for a, b in segments:
        linked[a].append(b)
        linked[b].append(a)
    centres: dict[str, float] = {}
    for layer in order:  # start packed from the top
        top = 0.0
        for node in layer:
            centres[node] = top + heights[node] / 2
            top += heights[node] + gap
    for _ in range(4):
        for layer in [*order[1:], *reversed(order[:-1])]:
            desired = []
            for node in layer:
                around = [centres[n] for n in linked[node]]
                desired.append(sum(around) / len(around) if around else centres[node])
            for node, centre in zip(layer, _separate(layer, desired, heights, gap), strict=True):
                centres[node] = centre
    return centres


def _separate(layer: list[str], desired: list[float], heights: dict[str, float],
              gap: float) -> list[float]:
    """Centres as close as possible (least squares) to ``desired``, in order, gaps kept."""
    offsets = [0.0]
    for before, after in pairwise(layer):
        offsets.append(offsets[-1] + heights[before] / 2 + gap + heights[after] / 2)
    # With z = centre - offset the constraints become z non-decreasing: isotonic regression.
    blocks: list[list[float]] = []  # [mean, count]
    for value, offset in zip(desired, offsets, strict=True):
        blocks.append([value - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            merged = blocks[-1][1] + count
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * count) / merged
            blocks[-1][1] = merged
    fitted: list[float] = []
    for mean, count in blocks:
        fitted.extend([mean] * int(count))
    return [z + offset for z, offset in zip(fitted, offsets, strict=True)]


def _place(sizes: Mapping[str, tuple[float, float]], order: list[list[str]],
           centres: dict[str, float], routes: dict[tuple[str, str], list[str]],
           layer_gap: float, margin: float) -> Layout:
    top = min((centres[n] - sizes.get(n, (0.0, 0.0))[1] / 2 for layer in order for n in layer),
              default=0.0)
    shift = margin - top
    column_x: list[float] = []
    column_width: list[float] = []
    x = margin
    for layer in order:
        width = max((sizes[n][0] for n in layer if n in sizes), default=0.0)
        column_x.append(x)
        column_width.append(width)
        x += width + layer_gap
    boxes: dict[str, NodeBox] = {}
    for index, layer in enumerate(order):
        for node in layer:
            if node not in sizes:
                continue
            width, height = sizes[node]
            left = column_x[index] + (column_width[index] - width) / 2
            boxes[node] = NodeBox(node, left, centres[node] + shift - height / 2, width, height,
                                  index)
    layer_of = {n: i for i, layer in enumerate(order) for n in layer}
    edges = []
    for (source, target), chain in routes.items():
        points = [(boxes[source].right, boxes[source].cy)]
        for dummy in chain[1:-1]:
            i = layer_of[dummy]
            points.append((column_x[i] + column_width[i] / 2, centres[dummy] + shift))
        points.append((boxes[target].x, boxes[target].cy))
        edges.append(EdgeRoute(source, target, tuple(points)))
    height = max((b.bottom for b in boxes.values()), default=0.0)
    for route in edges:
        height = max(height, *(y for _, y in route.points))
    width = (x - layer_gap + margin) if order else 2 * margin
    return Layout(boxes, edges, width, height + margin)
