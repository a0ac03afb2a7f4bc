"""A DAG's graph view as placed shapes: task nodes, task groups (collapsed or expanded), edges.

A collapsed group is one node standing for all its tasks. An expanded group is laid out
on its own (recursively, so groups nest) and then placed as one big node in its parent's
layout, which is why group boxes never overlap other nodes. An edge between tasks is
routed between the outermost things that separate them at the level where they meet; an
end of it at an expanded group's box is then carried on to the task inside the box that
the edge really reaches (or to the collapsed group standing for it there).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from millstream.ui.layout import NodeBox, layered_layout

TASK_HEIGHT = 40.0
GROUP_PADDING = 12.0
GROUP_HEADER = 22.0
CHAR_WIDTH = 7.4
SUB_CHAR_WIDTH = 6.3
MIN_WIDTH = 96.0
MAX_WIDTH = 280.0
MAX_LABEL = 36


@dataclass(frozen=True, slots=True)
class GraphTask:
    """What the graph needs of one task."""

    task_id: str
    group_id: str | None = None
    downstream: tuple[str, ...] = ()
    operator: str = ""
    is_mapped: bool = False


@dataclass(frozen=True, slots=True)
class DrawnNode:
    """A task, or a collapsed group standing for ``task_ids``; the box is absolute."""

    id: str
    kind: str  # "task" or "group"
    label: str
    sublabel: str
    box: NodeBox
    task_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DrawnGroup:
    """An expanded group's box (absolute), drawn behind its members."""

    group_id: str
    label: str
    box: NodeBox
    depth: int
    task_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DrawnEdge:
    """An edge as absolute points, from the source's right side to the target's left side."""

    source: str
    target: str
    points: tuple[tuple[float, float], ...]

    def path(self) -> str:
        """SVG path data: smooth horizontal curves through the points."""
        (x0, y0), rest = self.points[0], self.points[1:]
        parts = [f"M{x0:.1f},{y0:.1f}"]
        for x1, y1 in rest:
            mid = (x0 + x1) / 2
            parts.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
            x0, y0 = x1, y1
        return " ".join(parts)

    def middle(self) -> tuple[float, float]:
        """Where the edge's label goes: halfway between its two ends."""
        (x0, y0), (x1, y1) = self.points[0], self.points[-1]
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True, slots=True)
class GraphDrawing:
    """Everything the SVG shows, and its size."""

    nodes: list[DrawnNode]
    groups: list[DrawnGroup]
    edges: list[DrawnEdge]
    width: float
    height: float


@dataclass
class _Local:
    """One container's layout before it is placed: ids are 't:<task>' or 'g:<group>'."""

    sizes: dict[str, tuple[float, float]]
    boxes: dict[str, NodeBox]
    edges: list[tuple[str, str, tuple[tuple[float, float], ...]]]
    width: float
    height: float
    inner: dict[str, _Local] = field(default_factory=dict)  # expanded groups' layouts
    # each edge's task pairs: (source item, target item) -> [(task, downstream task)]
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)


@dataclass
class _PendingEdge:
    """An edge routed in a container, its ends still to be carried into open groups."""

    source: str  # item ids, 't:<task>' or 'g:<group>'
    target: str
    points: tuple[tuple[float, float], ...]
    pairs: list[tuple[str, str]]
    open_ends: tuple[bool, bool]  # is the source / the target an expanded group


def node_width(label: str, sublabel: str = "") -> float:
    """Room for the label (13px) and the line under it (11px), within bounds."""
    wanted = max(len(label) * CHAR_WIDTH, len(sublabel) * SUB_CHAR_WIDTH) + 30.0
    return max(MIN_WIDTH, min(MAX_WIDTH, wanted))


def short_label(task_id: str, group_id: str | None) -> str:
    """A task's id without its group's prefix, cut to a readable length."""
    label = task_id
    if group_id and task_id.startswith(group_id + "."):
        label = task_id[len(group_id) + 1:]
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def draw_graph(tasks: Sequence[GraphTask], groups: Mapping[str, str | None],
               expanded: Collection[str] = ()) -> GraphDrawing:
    """Lay out ``tasks``; ``groups`` maps each group id to its parent (None at the top).

    Groups in ``expanded`` are drawn open (if every group above them is open too); the
    others are one node each.
    """
    drawer = _Drawer(tasks, groups, set(expanded))
    local = drawer.layout(None)
    drawing = GraphDrawing([], [], [], local.width, local.height)
    pending: list[_PendingEdge] = []
    drawer.place(local, None, 0.0, 0.0, 0, drawing, pending)
    drawing.edges.extend(_carried_edges(drawing, pending))
    return drawing


def _carried_edges(drawing: GraphDrawing, pending: list[_PendingEdge]) -> list[DrawnEdge]:
    """The edges with each end at an expanded group carried to the node inside it that the
    edge's tasks reach; one edge per pair of drawn nodes."""
    node_of = {task_id: node for node in drawing.nodes for task_id in node.task_ids}
    found: list[DrawnEdge] = []
    seen: set[tuple[str, str]] = set()
    for edge in pending:
        source_open, target_open = edge.open_ends
        if not (source_open or target_open):
            key = (edge.source.split(":", 1)[1], edge.target.split(":", 1)[1])
            if key not in seen:
                seen.add(key)
                found.append(DrawnEdge(key[0], key[1], edge.points))
            continue
        for task, down in edge.pairs:
            source = node_of[task] if source_open else None
            target = node_of[down] if target_open else None
            key = (source.id if source else edge.source.split(":", 1)[1],
                   target.id if target else edge.target.split(":", 1)[1])
            if key in seen:
                continue
            seen.add(key)
            start = (source.box.right, source.box.cy) if source else edge.points[0]
            end = (target.box.x, target.box.cy) if target else edge.points[-1]
            found.append(DrawnEdge(key[0], key[1], (start, *edge.points[1:-1], end)))
    return found


class _Drawer:
    def __init__(self, tasks: Sequence[GraphTask], groups: Mapping[str, str | None],
                 expanded: set[str]) -> None:
        self.tasks = {t.task_id: t for t in tasks}
        self.order = [t.task_id for t in tasks]
        self.parent = dict(groups)
        for task in tasks:  # a group only named by a task still gets a node
            if task.group_id and task.group_id not in self.parent:
                self.parent[task.group_id] = None
        self.expanded = expanded
        self.chains = {t.task_id: self._chain(t.group_id) for t in tasks}

    def _chain(self, group: str | None) -> list[str]:
        """The groups around a task, outermost first."""
        chain: list[str] = []
        seen: set[str] = set()
        while group is not None and group not in seen:
            seen.add(group)
            chain.append(group)
            group = self.parent.get(group)
        return list(reversed(chain))

    def members(self, group: str) -> tuple[str, ...]:
        return tuple(t for t in self.order if group in self.chains[t])

    def represent(self, task_id: str, container: str | None) -> str | None:
        """The item standing for ``task_id`` inside ``container`` (None if it is outside)."""
        chain = self.chains[task_id]
        if container is None:
            depth = 0
        elif container in chain:
            depth = chain.index(container) + 1
        else:
            return None
        return f"g:{chain[depth]}" if depth < len(chain) else f"t:{task_id}"

    def layout(self, container: str | None) -> _Local:
        items: list[str] = []
        for task_id in self.order:
            item = self.represent(task_id, container)
            if item is not None and item not in items:
                items.append(item)
        for group, parent in self.parent.items():  # empty groups still show
            if parent == container and f"g:{group}" not in items:
                items.append(f"g:{group}")
        sizes: dict[str, tuple[float, float]] = {}
        inner: dict[str, _Local] = {}
        for item in items:
            kind, name = item.split(":", 1)
            if kind == "t":
                sizes[item] = (node_width(short_label(name, self.tasks[name].group_id),
                                          self.tasks[name].operator), TASK_HEIGHT)
            elif name in self.expanded:
                sub = self.layout(name)
                inner[item] = sub
                sizes[item] = (max(sub.width + 2 * GROUP_PADDING,
                                   node_width(short_label(name, container)) + 40),
                               sub.height + GROUP_HEADER + GROUP_PADDING)
            else:
                sizes[item] = (node_width(short_label(name, container)) + 16, TASK_HEIGHT + 4)
        edges: list[tuple[str, str]] = []
        pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for task_id in self.order:
            source = self.represent(task_id, container)
            if source is None:
                continue
            for down in self.tasks[task_id].downstream:
                if down not in self.tasks:
                    continue
                target = self.represent(down, container)
                if target is None or target == source:
                    continue
                if (source, target) not in pairs:
                    edges.append((source, target))
                    pairs[(source, target)] = []
                pairs[(source, target)].append((task_id, down))
        placed = layered_layout(sizes, edges)
        return _Local(sizes, placed.nodes, [(e.source, e.target, e.points) for e in placed.edges],
                      placed.width, placed.height, inner, pairs)

    def place(self, local: _Local, container: str | None, dx: float, dy: float, depth: int,
              drawing: GraphDrawing, pending: list[_PendingEdge]) -> None:
        for item, box in local.boxes.items():
            kind, name = item.split(":", 1)
            moved = NodeBox(item, box.x + dx, box.y + dy, box.width, box.height, box.layer)
            if kind == "t":
                task = self.tasks[name]
                drawing.nodes.append(DrawnNode(name, "task", short_label(name, task.group_id),
                                               task.operator, moved, (name,)))
            elif item in local.inner:
                drawing.groups.append(DrawnGroup(name, short_label(name, container), moved,
                                                 depth, self.members(name)))
                sub = local.inner[item]
                offset_x = moved.x + (moved.width - sub.width) / 2
                self.place(sub, name, offset_x, moved.y + GROUP_HEADER, depth + 1, drawing,
                           pending)
            else:
                members = self.members(name)
                count = len(members)
                drawing.nodes.append(DrawnNode(
                    name, "group", short_label(name, container),
                    f"{count} task{'s' if count != 1 else ''}", moved, members))
        for source, target, points in local.edges:
            pending.append(_PendingEdge(
                source, target, tuple((x + dx, y + dy) for x, y in points),
                local.pairs.get((source, target), []),
                (source in local.inner, target in local.inner)))


def group_members(tasks: Sequence[GraphTask],
                  groups: Mapping[str, str | None]) -> dict[str, tuple[str, ...]]:
    """Every group and all the tasks inside it, nested groups' tasks included."""
    drawer = _Drawer(tasks, groups, set())
    return {group: drawer.members(group) for group in drawer.parent}


def graph_tasks(structure: object) -> tuple[list[GraphTask], dict[str, str | None]]:
    """The graph's input from a DAG structure (``DagStructure`` or anything shaped like it)."""
    tasks = [
        GraphTask(t.task_id, t.task_group_id, tuple(sorted(t.downstream_task_ids)),
                  t.operator_name, bool(t.is_mapped))
        for t in structure.topological_sort()  # type: ignore[attr-defined]
    ]
    groups = {gid: info.get("parent")
              for gid, info in structure.task_groups.items()}  # type: ignore[attr-defined]
    return tasks, groups


__all__ = ["DrawnEdge", "DrawnGroup", "DrawnNode", "GraphDrawing", "GraphTask", "draw_graph",
           "graph_tasks", "group_members", "node_width", "short_label"]
