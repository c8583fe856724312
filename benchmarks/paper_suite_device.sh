#!/usr/bin/env bash
# The paper suite's MAR analogues on an accelerator: timing runs at 2 and 6 rounds, then the 100 rounds;
# the first prints rounds per second (compare with the 2-core CPU figure of the same script).
# Usage: bash benchmarks/paper_suite_device.sh OUT_DIR
set -euo pipefail
out="${1:?usage: paper_suite_device.sh OUT_DIR}"
python -c "import jax; print(jax.devices())"
python benchmarks/paper_suite.py --out "$out/timing" --only mar --rounds 2 6
python benchmarks/paper_suite.py --out "$out/full" --only mar
