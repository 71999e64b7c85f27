#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu 22.04 by
# default). Every submission is then graded in a fresh container made from that image.
#
# It installs what the grader needs and nothing the students can see:
#   1. Python 3.11+ and bubblewrap from apt, only if they are missing (the image is rebuilt rarely,
#      but a test run of this script must not touch the machine's packages);
#   2. a venv with the runtime dependencies (numpy, ...) from requirements.txt;
#   3. the grader wheel (grader + reference solutions + recorded data) into a folder OUTSIDE the
#      venv. The sandbox shows student code the interpreter's whole prefix, i.e. the venv, read-only:
#      a wheel installed into the venv would put the reference solutions in that view.
#
# Environment (for tests; Gradescope sets none of these):
#   AUTOGRADER_ROOT           instead of /autograder
#   VG_PYTHON                 the interpreter to build the venv from
#   VG_SKIP_SYSTEM_PACKAGES   non-empty: never call apt-get
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RUNTIME="$ROOT/vg"

# A Python 3.11+ that can create a venv with pip (Ubuntu ships venv/ensurepip separately).
find_python() {
    local candidate
    for candidate in ${VG_PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
                >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ -z "${VG_SKIP_SYSTEM_PACKAGES:-}" ]; then
    missing=()
    find_python >/dev/null || missing+=(python3.11 python3.11-venv)
    command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

PYTHON="$(find_python)" || { echo "setup.sh: no Python 3.11+ with venv support" >&2; exit 1; }
WHEELS=("$SOURCE"/vanishing_gradients-*.whl)
[ -f "${WHEELS[0]}" ] || { echo "setup.sh: no grader wheel in $SOURCE" >&2; exit 1; }

rm -rf "$RUNTIME"
mkdir -p "$RUNTIME"
"$PYTHON" -m venv "$RUNTIME/venv"
PIP=("$RUNTIME/venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${PIP[@]}" install --quiet -r "$SOURCE/requirements.txt"
"${PIP[@]}" install --quiet --no-deps --target "$RUNTIME/lib" "${WHEELS[0]}"

# Fail the image build now, not every submission later, if the judge cannot load its reference.
cd "$RUNTIME"
PYTHONPATH="$RUNTIME/lib" "$RUNTIME/venv/bin/python" -P -c \
    'from grader.student.loader import reference_functions; reference_functions()'
echo "setup.sh: grader installed in $RUNTIME (python: $PYTHON)"
