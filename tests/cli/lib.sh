# Shared helpers of the poolimg CLI tests (sourced). Each test runs in its own temporary
# directory, removed on exit. POOLIMG names the binary under test.
set -u
: "${POOLIMG:?POOLIMG must name the poolimg binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/poolimg-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
TEST_NAME=$(basename "$0" .sh)
CHECKS=0

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    [ -s out ] && { echo "--- stdout:" >&2; head -20 out >&2; }
    [ -s err ] && { echo "--- stderr:" >&2; head -20 err >&2; }
    exit 1
}

ok() {
    CHECKS=$((CHECKS + 1))
}

skip() {
    echo "SKIP [$TEST_NAME]: $*"
    exit 77
}

need_qemu_img() {
    command -v qemu-img >/dev/null 2>&1 || skip "qemu-img is not installed (apt-get install qemu-utils)"
}

need_python() {
    command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
}

# The engine must create qcow2: a failure here is a failure, never a skip.
need_qcow2() {
    if ! "$POOLIMG" create -q -f qcow2 "$T/.probe.qcow2" 1M >/dev/null 2>&1; then
        fail "poolimg cannot create a qcow2 image"
    fi
    rm -f "$T/.probe.qcow2"
}

# run WANT_RC CMD...: runs CMD with stdout in ./out and stderr in ./err, checks the status.
run() {
    want=$1
    shift
    "$@" >out 2>err
    rc=$?
    [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
    grep -q "Sanitizer\|runtime error:" err && fail "'$*' hit a sanitizer report"
    ok
}

# pi WANT_RC ARGS...: run poolimg.
pi() {
    want=$1
    shift
    run "$want" "$POOLIMG" "$@"
}

expect_out() {
    grep -qF -- "$1" out || fail "stdout lacks '$1'"
    ok
}

expect_err() {
    grep -qF -- "$1" err || fail "stderr lacks '$1'"
    ok
}

# No file of that name, and no hidden partial file of it, is left.
expect_absent() {
    for f in "$@"; do
        [ -e "$f" ] && fail "'$f' was left behind"
        ls -a | grep -q "^\.$(basename "$f")\.partial" && fail "a partial '$f' was left behind"
    done
    ok
}

# Deterministic pseudo-random data file: mkdata NAME SIZE_MIB (data in some MiB, holes between)
mkdata() {
    rm -f "$1"
    truncate -s "$2M" "$1"
    i=0
    while [ $i -lt "$2" ]; do
        if [ $((i % 3)) != 1 ]; then
            head -c 65536 /dev/urandom | dd of="$1" bs=64k seek=$((i * 16 + i % 5)) conv=notrunc status=none
        fi
        i=$((i + 1))
    done
}

# json_get FILE PATH: prints a value of a JSON file (PATH like 'format-specific.data.compat').
json_get() {
    python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print(json.dumps(v))
PY
}

# json_same A B KEY...: the listed keys hold equal values in both JSON files (one python run).
json_same() {
    python3 - "$@" >json.err <<'PY' || fail "$(cat json.err)"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def get(v, path):
    for k in path.split('.'):
        v = v[int(k)] if isinstance(v, list) else (v or {}).get(k)
    return v
for key in sys.argv[3:]:
    va, vb = get(a, key), get(b, key)
    if va != vb:
        print("JSON key %s: poolimg says %s, qemu-img says %s" % (key, json.dumps(va), json.dumps(vb)))
        sys.exit(1)
PY
    CHECKS=$((CHECKS + $# - 2))
}

# json_equal A B: the two JSON documents are equal as data (same keys, same values).
json_equal() {
    python3 - "$1" "$2" >json.err <<'PY' || fail "$(cat json.err)"
import json, sys
def flat(d, p=""):
    r = {}
    if isinstance(d, dict):
        for k, v in d.items():
            r.update(flat(v, p + "." + k))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            r.update(flat(v, p + "." + str(i)))
    else:
        r[p] = d
    return r
a, b = flat(json.load(open(sys.argv[1]))), flat(json.load(open(sys.argv[2])))
if a != b:
    print("JSON differs: only poolimg %s, only qemu-img %s, values %s" % (
        sorted(set(a) - set(b)), sorted(set(b) - set(a)),
        {k: (a[k], b[k]) for k in set(a) & set(b) if a[k] != b[k]}))
    sys.exit(1)
PY
    ok
}

done_ok() {
    echo "PASS [$TEST_NAME]: $CHECKS checks"
    exit 0
}
