# Sourced by benchmarks/gpu.sh and benchmarks/gpu-mixture.sh (from the repository root, with PYTHON set):
# the GPU image lacks python-flint and clarabel, so the wheels that benchmarks/gpu-wheels.sh put in .whl/
# (carried there) are installed into /tmp/seq2math-site and put on PYTHONPATH, then the repository itself.
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/seq2math-site .whl/*.whl
  export PYTHONPATH="/tmp/seq2math-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
