"""Opt-in compatibility layers that let code written for other orchestrators run on millstream.

:mod:`millstream.compat.airflow` serves ``airflow.*`` imports from millstream, so that an
unmodified Airflow DAG file loads and runs when ``compat.airflow = true``.
"""
