"""A DAG's code and its details (settings, params, tasks, documentation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from millstream.api.deps import StoreDep
from millstream.ui.dagpage import load_header
from millstream.ui.session import PageUser
from millstream.ui.templating import render

router = APIRouter()

MAX_CODE_BYTES = 1_000_000


def read_code(fileloc: str | None) -> tuple[list[str] | None, str | None]:
    """The DAG file's lines, or None and why they cannot be shown."""
    if not fileloc:
        return None, "The store does not know which file defines this DAG."
    path = Path(fileloc)
    try:
        size = path.stat().st_size
        if size > MAX_CODE_BYTES:
            return None, f"{fileloc} is {size:,} bytes, too large to show here."
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return None, f"Cannot read {fileloc} from this web server: {exc.strerror or exc}."
    return text.splitlines(), None


@router.get("/dags/{dag_id}/code", include_in_schema=False)
def code_page(request: Request, dag_id: str, store: StoreDep, _: PageUser) -> Any:
    """The source of the file the DAG was parsed from, as it is on disk now."""
    with store.transaction():
        header = load_header(store, dag_id)
    lines, problem = read_code(header.record.fileloc)
    return render(request, "dag_code.html", {
        "nav": "dags", "tab": "code", "header": header, "lines": lines, "problem": problem,
    })


@router.get("/dags/{dag_id}/details", include_in_schema=False)
def details_page(request: Request, dag_id: str, store: StoreDep, _: PageUser) -> Any:
    """The DAG's settings, params and tasks, from its latest parsed version."""
    with store.transaction():
        header = load_header(store, dag_id)
        run_count = store.browse.run_count(dag_id)
    structure = header.structure
    params = []
    for name, spec in structure.data.get("params", {}).items():
        if spec.get("param"):
            params.append({"name": name, "default": spec.get("default"),
                           "has_default": spec.get("has_default"), "type": spec.get("type"),
                           "description": spec.get("description")})
        else:
            params.append({"name": name, "default": spec.get("value"), "has_default": True,
                           "type": None, "description": None})
    return render(request, "dag_details.html", {
        "nav": "dags", "tab": "details", "header": header, "params": params,
        "tasks": structure.topological_sort(), "run_count": run_count,
    })


__all__ = ["read_code", "router"]
