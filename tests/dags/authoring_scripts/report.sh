#!/usr/bin/env bash
# Rendered as a Jinja template before it runs.
set -euo pipefail
echo "working in $(pwd)" > /dev/null
echo "report for {{ ds }} of {{ project }}: $GREETING"
