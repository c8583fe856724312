#!/usr/bin/env bash
# GPU check of the training engine and the spectra solvers (one short run, <= 8 minutes on one GPU).
#
# Run from the repository root on a machine with an NVIDIA GPU:
#     bash benchmarks/gpu_check.sh
# What it does, each step timed and bounded, printing its numbers; a failed step is reported and
# the script goes on (the exit status is the number of failed steps):
#   1. installs jax[cuda12] (same version as the installed jax) and the toolkit if JAX sees no GPU
#      (needs the package index; on an offline machine install them before running);
#   2. runs the tests of the vmapped and sharded engine paths on the GPU (float64, as on CPU);
#   3. W1 (benchmarks/w1.py) at the default size and at N = 1000;
#   4. spectra (benchmarks/spectra.py) from d = 2^12 to 2^15 (dense eigh up to 2^13).
# Nothing here changes the GPU's settings.
set -u
cd "$(dirname "$0")/.."
failed=0
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    echo "=== $name (limit ${limit}s) ==="
    local t0=$SECONDS
    if timeout "$limit" "$@"; then
        echo "=== $name: ok in $((SECONDS - t0)) s ==="
    else
        echo "=== $name: FAILED (status $?) after $((SECONDS - t0)) s ==="
        failed=$((failed + 1))
    fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not found"
if ! python -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')" 2>/dev/null; then
    ver=$(python -c "import jax; print(jax.__version__)" 2>/dev/null || echo "")
    step "install jax[cuda12]${ver:+==$ver}" 240 python -m pip install --quiet "jax[cuda12]${ver:+==$ver}"
    python -c "import sim" 2>/dev/null || step "install toolkit" 120 python -m pip install --quiet -e ".[test]"
fi
python -c "import jax; print('backend', jax.default_backend(), jax.devices())" || exit 1

# 2. Engine tests on the GPU: vmapped/chunked/padded paths, fast-vs-slow equalities, sharding
#    (the 2-device tests skip on one GPU). The root conftest insists on 2 CPU devices, so it is
#    not loaded; the same numerics settings come from JAX's environment variables instead.
JAX_ENABLE_X64=1 JAX_NUMPY_RANK_PROMOTION=raise JAX_NUMPY_DTYPE_PROMOTION=strict \
    step "engine tests" 150 python -m pytest -n 0 -q -p no:cacheprovider --noconftest \
    tests/test_engine_fast.py tests/test_train.py tests/test_sharding.py tests/test_masks.py

# 3. W1 (prints ms/round, compile s, GFLOP/s, % of the measured sgemm rate; last line JSON).
step "W1 N=100 d=128" 90 python benchmarks/w1.py --reps 10 --json
step "W1 N=1000 d=512" 90 python benchmarks/w1.py --clients 1000 --d 512 --reps 5 --json

# 4. Top-c spectra at large d: dense eigh vs matrix-free (float64).
step "spectra d=2^12..2^15" 150 python benchmarks/spectra.py --min-d 4096 --max-d 32768 --dense-max 8192 --eigsh-max 0

echo "gpu_check: $failed failed step(s)"
exit "$failed"
