# Shared fixture of the e2e tests: a real poold in a temporary runtime and state directory,
# driven with poolctl. Sourced by each test; $POOLD and $POOLCTL come from meson.
set -u
: "${POOLD:?POOLD must name the poold binary}"
: "${POOLCTL:?POOLCTL must name the poolctl binary}"

E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/poold-e2e.XXXXXX")
RUN_DIR=$E2E_DIR/run
STATE_DIR=$E2E_DIR/state
SOCK=$RUN_DIR/poold-sock
SOCK_RO=$RUN_DIR/poold-sock-ro
POOLD_PID=
FAILS=0
TESTS=0

cleanup() {
    [ -n "$POOLD_PID" ] && kill -9 "$POOLD_PID" 2>/dev/null
    rm -rf "$E2E_DIR"
}
trap cleanup EXIT
# poolctl's shell keeps its history under $XDG_CACHE_HOME: the test's own, not the user's
export XDG_CACHE_HOME=$E2E_DIR/cache

# start_poold: starts poold and waits for its socket
start_poold() {
    # shellcheck disable=SC2086
    "$POOLD" --runtime-dir "$RUN_DIR" --state-dir "$STATE_DIR" ${POOLD_ARGS:-} \
        >>"$E2E_DIR/poold.log" 2>&1 &
    POOLD_PID=$!
    for _ in $(seq 1 100); do
        [ -S "$SOCK" ] && "$POOLCTL" -q -c "$SOCK" daemon-info >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "poold did not start:"; cat "$E2E_DIR/poold.log"
    exit 1
}

# stop_poold [SIGNAL]: stops poold (TERM by default, KILL for a crash)
stop_poold() {
    {
        kill "-${1:-TERM}" "$POOLD_PID"
        wait "$POOLD_PID"
    } 2>/dev/null
    POOLD_PID=
    rm -f "$SOCK" "$SOCK_RO" # a killed poold leaves its sockets
}

pc() { "$POOLCTL" -c "$SOCK" "$@"; }
pc_ro() { "$POOLCTL" -c "$SOCK_RO" "$@"; }

ok() { TESTS=$((TESTS + 1)); echo "ok $TESTS - $1"; }
not_ok() { TESTS=$((TESTS + 1)); FAILS=$((FAILS + 1)); echo "not ok $TESTS - $1"; }

# check NAME EXPECTED ACTUAL: exact comparison
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        not_ok "$1"
        echo "# expected:"; printf '%s\n' "$2" | sed 's/^/#   |/'
        echo "# actual:"; printf '%s\n' "$3" | sed 's/^/#   |/'
    fi
}

# check_exact NAME EXPECTED CMD...: the command's whole stdout, trailing newlines included
check_exact() {
    local name=$1 expected=$2; shift 2
    local out
    out=$("$@"; echo .)
    check "$name" "$expected." "$out"
}

# dashes N: virsh's table rule of N dashes
dashes() { printf '%*s' "$1" '' | tr ' ' -; }

# run_ok NAME CMD...: the command succeeds
run_ok() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else
        not_ok "$name"; printf '%s\n' "$out" | sed 's/^/#   /'
    fi
}

# run_fails NAME PATTERN CMD...: the command fails (exit 1) and its stderr matches PATTERN
run_fails() {
    local name=$1 pattern=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 1 ] && printf '%s' "$err" | grep -qE -- "$pattern"; then ok "$name"; else
        not_ok "$name (rc $rc)"; printf '%s\n' "$err" | sed 's/^/#   /'
    fi
}

finish() {
    if [ -n "$POOLD_PID" ]; then stop_poold TERM; fi
    if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$E2E_DIR/poold.log" 2>/dev/null; then
        not_ok "poold ran clean under the sanitizers"
    fi
    echo "1..$TESTS"
    if [ $FAILS -ne 0 ]; then
        echo "# $FAILS failed; poold log:"; sed 's/^/#   /' "$E2E_DIR/poold.log" | tail -40
        exit 1
    fi
    exit 0
}
