"""Helpers shared by the example pipelines: settings, databases, generated sales data, checks.

Each module here imports only the standard library, PyYAML and millstream, never a
sibling module: the DAG-file scan may import any one of them on its own, with only
this folder on ``sys.path``, and a sibling import would then fail as an import error.
"""
