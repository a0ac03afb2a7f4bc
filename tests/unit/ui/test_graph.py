"""The graph view's drawing: task groups collapse to one node or open as a box around theirs."""

from __future__ import annotations

import itertools

from millstream.ui.graph import GraphTask, draw_graph, group_members, short_label
from millstream.ui.layout import NodeBox

TASKS = [
    GraphTask("start", None, ("etl.extract",), "EmptyOperator"),
    GraphTask("etl.extract", "etl", ("etl.clean.a", "etl.clean.b"), "PythonOperator"),
    GraphTask("etl.clean.a", "etl.clean", ("etl.load",), "PythonOperator"),
    GraphTask("etl.clean.b", "etl.clean", ("etl.load",), "PythonOperator"),
    GraphTask("etl.load", "etl", ("end",), "PythonOperator"),
    GraphTask("end", None, (), "EmptyOperator"),
]
GROUPS = {"etl": None, "etl.clean": "etl"}


def inside(inner: NodeBox, outer: NodeBox) -> bool:
    return (outer.x <= inner.x and inner.right <= outer.right and outer.y <= inner.y
            and inner.bottom <= outer.bottom)


def overlap(a: NodeBox, b: NodeBox) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def test_a_collapsed_group_is_one_node_standing_for_all_its_tasks() -> None:
    drawing = draw_graph(TASKS, GROUPS)
    assert [(n.id, n.kind) for n in drawing.nodes] == [
        ("start", "task"), ("etl", "group"), ("end", "task")]
    etl = drawing.nodes[1]
    assert etl.task_ids == ("etl.extract", "etl.clean.a", "etl.clean.b", "etl.load")
    assert etl.sublabel == "4 tasks"
    assert {(e.source, e.target) for e in drawing.edges} == {("start", "etl"), ("etl", "end")}
    assert drawing.groups == []


def test_open_groups_contain_their_members_and_overlap_nothing_else() -> None:
    drawing = draw_graph(TASKS, GROUPS, expanded={"etl", "etl.clean"})
    assert {n.id for n in drawing.nodes} == {t.task_id for t in TASKS}
    boxes = {g.group_id: g for g in drawing.groups}
    assert set(boxes) == {"etl", "etl.clean"} and boxes["etl.clean"].depth == 1
    nodes = {n.id: n.box for n in drawing.nodes}
    for group in boxes.values():
        for task_id, box in nodes.items():
            assert inside(box, group.box) == (task_id in group.task_ids), (group, task_id)
            if task_id not in group.task_ids:
                assert not overlap(box, group.box)
    assert inside(boxes["etl.clean"].box, boxes["etl"].box)
    for a, b in itertools.combinations(nodes.values(), 2):
        assert not overlap(a, b)
    edges = {(e.source, e.target) for e in drawing.edges}
    # Edges into and out of open groups reach the tasks inside; a and b are not linked.
    assert edges == {("start", "etl.extract"), ("etl.load", "end"),
                     ("etl.extract", "etl.clean.a"), ("etl.extract", "etl.clean.b"),
                     ("etl.clean.a", "etl.load"), ("etl.clean.b", "etl.load")}
    for edge in drawing.edges:
        assert all(0 <= x <= drawing.width and 0 <= y <= drawing.height for x, y in edge.points)
        # each end touches its node: leaving from the right side, arriving at the left
        (x0, y0), (x1, y1) = edge.points[0], edge.points[-1]
        assert (x0, y0) == (nodes[edge.source].right, nodes[edge.source].cy)
        assert (x1, y1) == (nodes[edge.target].x, nodes[edge.target].cy)


def test_an_edge_into_an_open_group_reaches_a_shut_group_inside_it() -> None:
    drawing = draw_graph(TASKS, GROUPS, expanded={"etl"})
    edges = {(e.source, e.target) for e in drawing.edges}
    assert edges == {("start", "etl.extract"), ("etl.extract", "etl.clean"),
                     ("etl.clean", "etl.load"), ("etl.load", "end")}


def test_an_inner_group_stays_shut_while_its_parent_is_shut() -> None:
    drawing = draw_graph(TASKS, GROUPS, expanded={"etl.clean"})
    assert [n.id for n in drawing.nodes if n.kind == "group"] == ["etl"]
    half = draw_graph(TASKS, GROUPS, expanded={"etl"})
    assert {n.id for n in half.nodes} == {"start", "etl.extract", "etl.clean", "etl.load", "end"}
    clean = next(n for n in half.nodes if n.id == "etl.clean")
    assert (clean.kind, clean.label, clean.task_ids) == ("group", "clean",
                                                         ("etl.clean.a", "etl.clean.b"))


def test_labels_and_members() -> None:
    assert short_label("etl.clean.a", "etl.clean") == "a"
    assert short_label("x" * 50, None) == "x" * 35 + "…"
    assert group_members(TASKS, GROUPS) == {
        "etl": ("etl.extract", "etl.clean.a", "etl.clean.b", "etl.load"),
        "etl.clean": ("etl.clean.a", "etl.clean.b"),
    }
    path = draw_graph(TASKS[:2], {"etl": None}, {"etl"}).edges[0].path()
    assert path.startswith("M") and " C" in path
