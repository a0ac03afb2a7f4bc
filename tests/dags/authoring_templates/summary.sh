#!/usr/bin/env bash
set -euo pipefail
echo "summary {{ macros.ds_add(ds, 1) }} run={{ run_id }}"
