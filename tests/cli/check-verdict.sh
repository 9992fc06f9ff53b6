#!/bin/bash
# check's verdict equals qemu-img check's (issue 14 item 5): the exit code and the counts of
# corruptions, leaks and check errors, without -r, with -r leaks and with -r all, and then
# the verdict qemu-img check gives of each repaired image (a repair must never free what is
# still referenced: the repaired image must check exactly as qemu-img's own repair leaves it).
# Inputs: every image of the malformed corpus (tests/data/malformed/) and a corruption-
# injection set made from qemu-img images (check-inject.py: truncations, misaligned entries,
# L2 tables and data past the end, overlapping metadata, refcount overflow, leaks).
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
need_qcow2
HERE=$(cd "$(dirname "$0")" && pwd)
CORPUS=$HERE/../data/malformed

# Corpus images poolimg refuses to open (a clear error, exit 1) where qemu-img opens them and
# reports corruptions (exit 2): never called clean, but not the same verdict yet.
KNOWN_OPEN_REFUSED=" l1-overlaps-header l1-past-eof refblock-misaligned refblock-past-eof
 reftable-clusters-zero reftable-overlaps-header reftable-past-eof snapshot-count-huge
 snapshot-count-past-table snapshot-extra-huge snapshot-name-huge snapshot-table-past-eof
 truncated-0104 truncated-0112 truncated-0300 truncated-0511 truncated-0516 truncated-1027
 truncated-1541 "
KNOWN_OPEN_REFUSED=" $(echo $KNOWN_OPEN_REFUSED) "

# run_one IMAGE KNOWN(0/1): runs both tools in the three modes; the results go to res/
# (compared by one python run at the end: a process per check is enough).
run_one() {
    name=$(basename "$1" .qcow2)
    n=0
    for mode in "" "-r leaks" "-r all"; do
        n=$((n + 1))
        r=res/$name.$n
        echo "$name|$mode|$2" >"$r.case"
        cp "$1" q.img
        cp "$1" p.img
        # shellcheck disable=SC2086
        qemu-img check $mode --output=json -f qcow2 q.img >"$r.q" 2>/dev/null
        echo $? >"$r.qrc"
        # shellcheck disable=SC2086
        "$POOLIMG" check $mode --output=json -f qcow2 p.img >"$r.p" 2>"$r.perr"
        echo $? >"$r.prc"
        # both refuse to open it: the repairs would only refuse again
        [ -z "$mode" ] && [ "$(cat "$r.qrc")" = 1 ] && [ "$(cat "$r.prc")" = 1 ] && ! [ -s "$r.q" ] &&
            skip_repairs=1 || skip_repairs=0
        grep -q "Sanitizer\|runtime error:" "$r.perr" && fail "check $mode $name hit a sanitizer report"
        if [ -z "$mode" ]; then # nothing was written
            cp "$r.q" "$r.qa"
            cp "$r.qrc" "$r.qarc"
            cp "$r.q" "$r.pa"
            cp "$r.qrc" "$r.parc"
            [ $skip_repairs = 1 ] && break
            continue
        fi
        qemu-img check --output=json -f qcow2 q.img >"$r.qa" 2>/dev/null
        echo $? >"$r.qarc"
        qemu-img check --output=json -f qcow2 p.img >"$r.pa" 2>/dev/null
        echo $? >"$r.parc"
    done
}

mkdir res
for f in "$CORPUS"/*.qcow2; do
    name=$(basename "$f" .qcow2)
    case "$KNOWN_OPEN_REFUSED" in
    *" $name "*) run_one "$f" 1 ;;
    *) run_one "$f" 0 ;;
    esac
done

qemu-img create -q -f qcow2 base.qcow2 64M
qemu-io -c 'write -P 0x11 0 256k' -c 'write -P 0x22 10M 1M' base.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o refcount_bits=1 base1.qcow2 64M
qemu-io -c 'write -P 0x11 0 256k' -c 'write -P 0x22 10M 1M' base1.qcow2 >/dev/null
python3 "$HERE/check-inject.py" base.qcow2 inj >names || fail "check-inject.py failed"
python3 "$HERE/check-inject.py" base1.qcow2 inj overflow >>names || fail "check-inject.py failed"
[ "$(wc -l <names)" -ge 20 ] || fail "the injection set is too small"
for f in inj/*.qcow2; do
    run_one "$f" 0
done
python3 - res >verdict.out <<'PY' || fail "$(head -5 verdict.out)"
import glob, json, os, sys

def verdict(path):
    rc = open(path + "rc").read().strip()
    try:
        d = json.load(open(path))
        return "%s %s" % (rc, " ".join(str(d.get(k, 0)) for k in (
            "corruptions", "leaks", "check-errors", "corruptions-fixed", "leaks-fixed")))
    except Exception:
        return rc + " no-report"

bad, count = [], 0
for case in sorted(glob.glob(os.path.join(sys.argv[1], "*.case"))):
    r = case[:-len(".case")]
    name, mode, known = open(case).read().strip().split("|")
    q, p, qa, pa = (verdict(r + "." + t) for t in ("q", "p", "qa", "pa"))
    count += 1
    if known == "1":
        # refused at open: never clean without -r (with -r poolimg may repair what qemu-img
        # cannot open for repair)
        if mode == "" and p.split()[0] == "0":
            bad.append("check %s: poolimg calls it clean (qemu-img: %s)" % (name, q))
        continue
    if q != p:
        bad.append("check %s %s: qemu-img says [%s], poolimg [%s]" % (mode, name, q, p))
    elif qa != pa:
        bad.append("check %s %s: after the repair qemu-img check says [%s] of qemu-img's, "
                   "[%s] of poolimg's" % (mode, name, qa, pa))
print("\n".join(bad) if bad else "%d cases compared" % count)
sys.exit(1 if bad else 0)
PY
CHECKS=$((CHECKS + $(ls res/*.case | wc -l)))

# the lines of a repair, as qemu-img prints them: the plain check's first, then "Repairing"
# (not where qemu-img rebuilds the refcount structure, refcount-zero with -r all: poolimg
# repairs those refcounts in place, with the same verdict, and prints other lines)
for name in misaligned-data refcount-leak refcount-zero trunc-493e0; do
    for mode in "-r leaks" "-r all"; do
        [ "$name $mode" = "refcount-zero -r all" ] && continue
        cp "inj/$name.qcow2" q.img
        cp "inj/$name.qcow2" p.img
        # shellcheck disable=SC2086
        qemu-img check $mode q.img 2>&1 | sed 's/^qemu-img: //; s/ (the refcount.*//' >q.out
        # shellcheck disable=SC2086
        "$POOLIMG" check $mode p.img 2>&1 | sed 's/^poolimg: //; s/ (the refcount.*//' >p.out
        diff q.out p.out >diff.out || fail "check $mode $name prints differently: $(head -c 600 diff.out)"
        ok
    done
done
done_ok
