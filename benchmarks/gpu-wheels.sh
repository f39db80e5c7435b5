#!/usr/bin/env bash
# Wheels of the dependencies that the lent GPU machine's image lacks (python-flint, clarabel), for
# its Python 3.12, into .whl/ (ignored by git). benchmarks/gpu-mixture.sh installs them there.
# usage: bash benchmarks/gpu-wheels.sh      (needs pip and PyPI on this machine, not on the GPU one)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
  PLATFORMS+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl "python-flint>=0.6" "clarabel>=0.6"
ls -la .whl
