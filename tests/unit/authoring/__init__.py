"""Unit tests of millstream.authoring: DAGs, tasks, dependencies, TaskFlow, templates."""
