#!/usr/bin/env bash
# Every speed measurement of benchmarks/README.md in one run (about 6 minutes on a quiet 2-core CPU):
#   1. W1 side by side (engine f32 / f32 in client chunks / f64, naive vmap, FedJAX, PyTorch) as
#      one JSON line, then the scaling tables (N = 10, 100, 1000; d = 128 ... 2048);
#   2. spectra: dense eigh vs the matrix-free solver vs eigsh (d <= 4096), and the exact-sampler
#      representability evaluations at d = 2^10 and 2^15 (one each, compile included);
#   3. compiled XLA programs per producer with the persistent cache off (smoke suite; set
#      SUITE=default for the default suite, several minutes more).
# Peers: FedJAX and PyTorch are read from the folder $PEERS when it is set, e.g. after
#   pip install --target "$PEERS" --no-deps torch==2.13.0 fedjax==0.0.17 dm-haiku==0.0.17 jmp==0.0.4 \
#     tabulate==0.10.0 msgpack==1.2.4 filelock==4.3.1 fsspec==2026.9.0 jinja2==3.1.6 markupsafe==3.0.4 \
#     requests==2.34.2 urllib3==2.8.0 idna==3.20 charset_normalizer==3.5.3 certifi==2026.10.19.post1
# (--no-deps: the toolkit's own jax, numpy and scipy stay the ones in use).
# Output: out/speed/*.txt (or $OUT; created), and the same on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${PEERS:-}
SUITE=${SUITE:-smoke}
OUT=${OUT:-out/speed}  # /out/ is git-ignored
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
say() { echo "== $* ($(date -u +%H:%M:%S))"; }

say "machine"
{ nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | head -2; } | tee "$OUT/machine.txt"

say "W1 and scaling"
PYTHONPATH="${PEERS}${PEERS:+${PYTHONPATH:+:}}${PYTHONPATH:-}" python benchmarks/w1.py --json --reps 10 --scaling --scaling-reps 3 \
  | tee "$OUT/w1.txt"

say "spectra: dense vs matrix-free vs eigsh"
python benchmarks/spectra.py --min-d 256 --max-d 4096 --dense-max 4096 --eigsh-max 4096 | tee "$OUT/spectra.txt"

say "spectra: exact sampler"
python benchmarks/spectra.py --exact-sampler --sizes 1024 32768 --reps 1 | tee "$OUT/spectra_exact.txt"

say "compile counts ($SUITE suite, persistent cache off)"
python benchmarks/compile_count.py --suite "$SUITE" --json | tee "$OUT/compile_count.txt"
say "done"
