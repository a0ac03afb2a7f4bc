"""Executors run task tries and report events back to the scheduler."""
