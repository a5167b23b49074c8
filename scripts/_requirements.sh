# Sourced by scripts/lab and scripts/test from the repository root: pick the Python, then install
# requirements.txt into it only when app/requirements_check.py finds a line unmet. The check takes
# about 0.2 s; `pip install -r requirements.txt` takes about 7 s even when everything is installed.
PYTHON="${LAB_PYTHON:-$(command -v python || command -v python3 || true)}"
if [ -z "$PYTHON" ]; then
    echo "$0: no python or python3 on PATH: install Python 3.10 or newer, or set LAB_PYTHON=/path/to/python" >&2
    exit 2
fi
requirements_status=0
"$PYTHON" app/requirements_check.py requirements.txt || requirements_status=$?
if [ "$requirements_status" -eq 1 ]; then
    echo "$0: installing requirements.txt with $PYTHON -m pip (a few minutes the first time)" >&2
    "$PYTHON" -m pip install -r requirements.txt
elif [ "$requirements_status" -ne 0 ]; then
    exit "$requirements_status"
fi
