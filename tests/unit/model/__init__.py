"""Unit tests of millstream.model: states, trigger rules, schedules and retry timing."""
