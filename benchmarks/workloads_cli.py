"""The command line every benchmark module shares: run its workloads, print their figures."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Workloads = Mapping[str, Callable[[], "dict[str, Any] | None"]]


def run_workloads(description: str, workloads: Workloads,
                  argv: Sequence[str] | None = None) -> int:
    """Run the chosen workloads (all, or ``--only``) and print their figures, one per line
    or as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", nargs="+", choices=sorted(workloads), help="run only these")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    for name, workload in workloads.items():
        if not args.only or name in args.only:
            figures.update(workload() or {})
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0
