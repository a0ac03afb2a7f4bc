"""The layered graph layout: layers follow edges, nothing overlaps, few crossings, stable."""

from __future__ import annotations

import itertools
import random

import pytest

from millstream.ui.layout import Layout, NodeBox, count_crossings, layer_nodes, layered_layout


def overlap(a: NodeBox, b: NodeBox) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def check_layout(layout: Layout, edges: list[tuple[str, str]]) -> None:
    boxes = list(layout.nodes.values())
    for a, b in itertools.combinations(boxes, 2):
        assert not overlap(a, b), (a, b)
    for source, target in edges:
        assert layout.nodes[source].layer < layout.nodes[target].layer, (source, target)
        assert layout.nodes[source].right < layout.nodes[target].x
    for box in boxes:
        assert box.x >= 0 and box.right <= layout.width
        assert box.y >= 0 and box.bottom <= layout.height
    for route in layout.edges:
        start, end = route.points[0], route.points[-1]
        assert start == (layout.nodes[route.source].right, layout.nodes[route.source].cy)
        assert end == (layout.nodes[route.target].x, layout.nodes[route.target].cy)
        xs = [x for x, _ in route.points]
        assert xs == sorted(xs)  # every edge runs left to right


def random_dag(seed: int, nodes: int, density: float) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    names = [f"t{i}" for i in range(nodes)]
    edges = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if rng.random() < density]
    return names, edges


def test_longest_path_layering() -> None:
    layers = layer_nodes(["a", "b", "c", "d", "e"],
                         [("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")])
    assert layers == {"a": 0, "b": 1, "c": 2, "d": 0, "e": 0}


def test_a_cycle_or_an_unknown_node_is_an_error() -> None:
    with pytest.raises(ValueError, match="cycle through: a, b"):
        layer_nodes(["a", "b", "c"], [("a", "b"), ("b", "a")])
    with pytest.raises(KeyError, match="unknown node 'z'"):
        layer_nodes(["a"], [("a", "z")])


@pytest.mark.parametrize("seed", range(12))
def test_random_dags_lay_out_without_overlaps(seed: int) -> None:
    names, edges = random_dag(seed, nodes=4 + seed * 3, density=0.15)
    rng = random.Random(seed)
    sizes = {n: (rng.uniform(60, 220), rng.uniform(24, 60)) for n in names}
    layout = layered_layout(sizes, edges)
    assert set(layout.nodes) == set(names)
    assert len(layout.edges) == len(set(edges))
    check_layout(layout, edges)


def test_a_long_edge_bends_around_the_nodes_between() -> None:
    sizes = {n: (100.0, 30.0) for n in "abcd"}
    layout = layered_layout(sizes, [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
    long = next(r for r in layout.edges if (r.source, r.target) == ("a", "d"))
    assert len(long.points) == 4  # through one point in each of the two middle layers
    for (x, y), middle in zip(long.points[1:-1], "bc", strict=True):
        box = layout.nodes[middle]
        assert box.x <= x <= box.right
        assert not box.y <= y <= box.bottom  # passes beside the node, not through it


def test_crossings_are_counted() -> None:
    assert count_crossings(["a", "b"], ["c", "d"], [("a", "c"), ("b", "d")]) == 0
    assert count_crossings(["a", "b"], ["c", "d"], [("a", "d"), ("b", "c")]) == 1
    upper, lower = ["a", "b", "c"], ["x", "y", "z"]
    segments = [(u, v) for u in upper for v in lower]
    assert count_crossings(upper, lower, segments) == 9  # K3,3 drawn in this order


def test_ordering_removes_crossings_that_can_be_removed() -> None:
    # Two independent chains given interleaved, so the input order crosses them.
    sizes = {n: (80.0, 30.0) for n in ["a1", "b1", "a2", "b2", "a3", "b3"]}
    edges = [("a1", "a2"), ("b1", "b2"), ("a2", "b3"), ("b2", "a3")]
    layout = layered_layout(sizes, edges)
    check_layout(layout, edges)
    order = {layer: sorted((b for b in layout.nodes.values() if b.layer == layer),
                           key=lambda b: b.y) for layer in range(3)}
    crossings = 0
    for layer in range(2):
        upper = [b.id for b in order[layer]]
        lower = [b.id for b in order[layer + 1]]
        crossings += count_crossings(upper, lower, [e for e in edges if e[0] in upper])
    assert crossings == 0


def test_a_node_sits_between_its_neighbours() -> None:
    sizes = {n: (80.0, 30.0) for n in ["top", "bottom", "join"]}
    layout = layered_layout(sizes, [("top", "join"), ("bottom", "join")])
    top, bottom, join = (layout.nodes[n] for n in ("top", "bottom", "join"))
    assert join.cy == pytest.approx((top.cy + bottom.cy) / 2)


def test_the_layout_is_deterministic_and_handles_odd_input() -> None:
    names, edges = random_dag(7, nodes=30, density=0.1)
    sizes = {n: (90.0, 30.0) for n in names}
    assert layered_layout(sizes, edges) == layered_layout(sizes, edges)
    doubled = layered_layout(sizes, [*edges, *edges, ("t0", "t0")])
    assert len(doubled.edges) == len(edges)
    empty = layered_layout({}, [])
    assert (empty.nodes, empty.edges) == ({}, [])
    single = layered_layout({"only": (50.0, 20.0)}, [])
    assert single.nodes["only"].x == 8.0


def test_a_wide_fan_stays_fast_and_tidy() -> None:
    names = ["start", *[f"t{i}" for i in range(400)], "end"]
    edges = [("start", f"t{i}") for i in range(400)] + [(f"t{i}", "end") for i in range(400)]
    layout = layered_layout({n: (90.0, 30.0) for n in names}, edges)
    check_layout(layout, edges)
    middle = sorted(layout.nodes[f"t{i}"].y for i in range(400))
    assert all(b - a == pytest.approx(44.0) for a, b in itertools.pairwise(middle))
