"""How states look in the UI: Airflow's familiar colours, the legend, and summary states.

A summary state stands for several task instances at once (a task group, or the map
indexes of a mapped task): the most urgent state among them, in Airflow's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from millstream.model.states import DagRunState, TaskState

NO_STATE = "none"


@dataclass(frozen=True, slots=True)
class StateStyle:
    """One state's colour, the text colour readable on it, and its name in the legend."""

    state: str
    colour: str
    text: str
    label: str


# Airflow's palette, so the colours mean what users already know.
STYLES: dict[str, StateStyle] = {
    style.state: style for style in (
        StateStyle("success", "#008000", "#ffffff", "success"),
        StateStyle("running", "#00ff00", "#0b3d0b", "running"),
        StateStyle("failed", "#ff0000", "#ffffff", "failed"),
        StateStyle("upstream_failed", "#ffa500", "#3d2600", "upstream failed"),
        StateStyle("up_for_retry", "#ffd700", "#3d3300", "up for retry"),
        StateStyle("up_for_reschedule", "#40e0d0", "#0b3d39", "up for reschedule"),
        StateStyle("queued", "#808080", "#ffffff", "queued"),
        StateStyle("scheduled", "#d2b48c", "#3d2f1c", "scheduled"),
        StateStyle("deferred", "#9370db", "#ffffff", "deferred"),
        StateStyle("skipped", "#ff69b4", "#3d0a24", "skipped"),
        StateStyle("removed", "#d3d3d3", "#333333", "removed"),
        StateStyle(NO_STATE, "#ffffff", "#333333", "no status"),
    )
}

TASK_LEGEND: tuple[StateStyle, ...] = tuple(STYLES[s.value] for s in TaskState)
RUN_LEGEND: tuple[StateStyle, ...] = tuple(STYLES[s.value] for s in DagRunState)

_URGENCY = (
    "failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled",
    "deferred", "running", NO_STATE, "success", "skipped", "removed",
)
"""Most urgent first: what a group of instances is shown as (Airflow's order)."""
_RANK = {state: index for index, state in enumerate(_URGENCY)}


def state_name(state: object) -> str:
    """The plain name of a state (enum or text; None is ``none``)."""
    if state is None:
        return NO_STATE
    return str(getattr(state, "value", state))


def summary_state(states: Iterable[object]) -> str:
    """The state shown for several instances together; ``none`` when there are none."""
    names = [state_name(s) for s in states]
    if not names:
        return NO_STATE
    return min(names, key=lambda name: _RANK.get(name, len(_RANK)))


def style_of(state: object) -> StateStyle:
    return STYLES.get(state_name(state), STYLES[NO_STATE])


__all__ = ["NO_STATE", "RUN_LEGEND", "STYLES", "TASK_LEGEND", "StateStyle", "state_name",
           "style_of", "summary_state"]
