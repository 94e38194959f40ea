# Sourced by the test scripts: puts a python3 with safetensors, numpy and gensim first on PATH, for the checkpoint
# and word-vector interop tests. When the system's python3 lacks them, a virtual environment under .build/ gets
# them from PyPI (Debian's own python3 refuses pip installs); a later run reuses it.
if ! python3 -c "import safetensors, numpy, gensim" 2>/dev/null; then
    if [ -x .build/python/bin/python3 ] && .build/python/bin/python3 -c "import safetensors, numpy, gensim" 2>/dev/null; then
        export PATH="$PWD/.build/python/bin:$PATH"
    elif python3 -m venv .build/python >/dev/null 2>&1 && .build/python/bin/pip install --quiet safetensors numpy gensim; then
        export PATH="$PWD/.build/python/bin:$PATH"
    else
        echo "note: could not set up Python's safetensors and gensim; the Python interop tests will be skipped"
    fi
fi
