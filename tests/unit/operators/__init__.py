"""Unit tests of millstream.operators: empty, Python (branch, short-circuit) and Bash."""
