#!/bin/bash
# Backing chains planted by a tenant (attack report 1.5-1.7, 1.10): qcow2 files in a pool
# directory whose backing file is a root-only secret outside the pools (absolute, relative
# ../, through a symlink inside the pool), a FIFO, a loop a -> b -> a, a chain through a
# volume of the pool to the outside. Every operation that opens an image with its chain
# (create-from, clone, resize, snapshot, upload, attach-disk --print-xml) refuses them,
# naming the file and the rule; nothing is made, no secret byte lands in any volume, a FIFO
# blocks no worker; the volumes stay listed and are marked (vol-dumpxml, --json). A chain
# into a second managed pool or into [daemon] backing_roots is allowed.
. "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || { echo "1..0 # SKIP qemu-img not installed"; exit 0; }
D=$E2E_DIR
mkdir -p "$D/outside" "$D/roots"
SECRET="TOPSECRET-$$-$RANDOM"
printf '%s\n' "$SECRET" >"$D/outside/secret.txt"
head -c 65536 /dev/zero >>"$D/outside/secret.txt"
chmod 0600 "$D/outside/secret.txt"
printf 'GOLDEN-IMAGE-DATA\n' >"$D/roots/golden.raw"
truncate -s 1M "$D/roots/golden.raw"
cat >"$D/poold.conf" <<EOF
[daemon]
backing_roots = $D/roots
EOF
# a relative backing_roots entry is refused at start-up, naming the key
printf '[daemon]\nbacking_roots = %s;relative/dir\n' "$D/roots" >"$D/bad.conf"
err=$("$POOLD" --config "$D/bad.conf" --runtime-dir "$D/badrun" --state-dir "$D/badstate" 2>&1)
rc=$?
if [ $rc -ne 0 ] && printf '%s' "$err" | grep -q "backing_roots: 'relative/dir' is not an absolute directory"; then
    ok "relative backing_roots refused at start-up"
else not_ok "relative backing_roots refused at start-up (rc $rc)"; printf '%s\n' "$err" | sed 's/^/#   /'; fi
POOLD_ARGS="--config $D/poold.conf"
start_poold
for p in p1 p2; do
    pc -q pool-define-as $p dir - - - - "$D/$p" >/dev/null && pc -q pool-build $p >/dev/null &&
        pc -q pool-start $p >/dev/null || { echo "Bail out! pool $p"; exit 1; }
done
run_ok "base volume in the second pool" pc vol-create-as p2 base2 1M --format raw
printf 'SECOND-POOL-DATA\n' | dd of="$D/p2/base2" conv=notrunc status=none

# the planted files (qemu-img -u: the backing file is recorded, not opened)
plant() { (cd "$D/p1" && qemu-img create -q -f qcow2 -u -b "$2" -F "$3" "$1" 1M) ||
    { echo "Bail out! qemu-img $1"; exit 1; }; }
ln -s "$D/outside/secret.txt" "$D/p1/sh-link"
mkfifo "$D/p1/fifo-b"
plant abs.qcow2 "$D/outside/secret.txt" raw
plant rel.qcow2 ../outside/secret.txt raw
plant vialink.qcow2 sh-link raw
plant fifo.qcow2 fifo-b raw
plant loopa.qcow2 loopb.qcow2 qcow2
plant loopb.qcow2 loopa.qcow2 qcow2
plant mid.qcow2 "$D/outside/secret.txt" raw
plant top.qcow2 mid.qcow2 qcow2
plant magic.qcow2 /proc/self/root/"$D/outside/secret.txt" raw
plant ok2.qcow2 "$D/p2/base2" raw
plant okroot.qcow2 "$D/roots/golden.raw" raw
run_ok "refresh lists the planted files" pc pool-refresh p1

cat >"$D/new.xml" <<'EOF'
<volume><name>NAME</name><target><format type='raw'/></target></volume>
EOF
# poolctl under a time bound (timeout runs programs, not shell functions)
tpc() { timeout 20 "$POOLCTL" -c "$SOCK" "$@"; }
newxml() { sed "s/NAME/$1/" "$D/new.xml" >"$D/new-$1.xml"; echo "$D/new-$1.xml"; }
printf 'uploaded\n' >"$D/up.bin"

# bad VOL PATTERN: every operation refuses VOL and nothing is made
bad() {
    local v=$1 pat=$2 size
    size=$(stat -c %s "$D/p1/$v")
    run_fails "$v: create-from refused" "$pat" tpc vol-create-from p1 "$(newxml "cf-$v")" "$v"
    run_fails "$v: clone refused" "$pat" tpc vol-clone "$v" "cl-$v" --pool p1
    run_fails "$v: resize refused" "$pat" tpc vol-resize "$v" 2M --pool p1
    run_fails "$v: snapshot refused" "$pat" tpc vol-snapshot-create "$v" s1 --pool p1
    run_fails "$v: upload refused" "$pat" tpc vol-upload "$v" "$D/up.bin" --pool p1
    run_fails "$v: attach-disk --print-xml refused" "$pat" \
        tpc attach-disk x "$D/p1/$v" vdb --print-xml
    check "$v: nothing made" "" "$(ls "$D/p1" | grep -E "^(cf|cl)-$v|partial")"
    check "$v: the file is unchanged" "$size" "$(stat -c %s "$D/p1/$v")"
    local info xml
    info=$(pc --json vol-info "$v" --pool p1)
    if printf '%s' "$info" | grep -q '"untrusted_backing"'; then ok "$v: marked in vol-info --json"
    else not_ok "$v: marked in vol-info --json"; printf '%s\n' "$info" | sed 's/^/#   /'; fi
    xml=$(pc vol-dumpxml "$v" --pool p1)
    if printf '%s' "$xml" | grep -q '<poold:untrusted-backing '; then ok "$v: marked in vol-dumpxml"
    else not_ok "$v: marked in vol-dumpxml"; printf '%s\n' "$xml" | sed 's/^/#   /'; fi
}
OUT="is outside the pools poold manages or cannot be opened; add its directory as a pool or to backing_roots, or restore the file"
bad abs.qcow2 "backing file '$D/outside/secret.txt' of volume 'abs.qcow2' $OUT"
bad rel.qcow2 "backing file '$D/p1/../outside/secret.txt' of volume 'rel.qcow2' .*outside the pools poold manages"
bad vialink.qcow2 "backing file '$D/p1/sh-link' of volume 'vialink.qcow2' $OUT"
bad fifo.qcow2 "backing file '$D/p1/fifo-b' of volume 'fifo.qcow2' is a FIFO; a backing file must be a regular file or a block device"
bad loopa.qcow2 "loop"
bad top.qcow2 "backing file '$D/outside/secret.txt' of volume 'top.qcow2' $OUT"
bad magic.qcow2 "of volume 'magic.qcow2' .*outside the pools poold manages"
check "dumpxml tells nothing of an untrusted backing file's owner or mode" "0" \
    "$(pc vol-dumpxml abs.qcow2 --pool p1 | sed -n '/<backingStore>/,/<\/backingStore>/p' | grep -c '<owner>')"
if pc --json vol-list p1 | grep -q '"untrusted_backing"'; then ok "marked in vol-list --json"
else not_ok "marked in vol-list --json"; fi
pc --json vol-info ok2.qcow2 --pool p1 | grep -q untrusted_backing &&
    not_ok "a chain into a second pool is not marked" || ok "a chain into a second pool is not marked"

# no oracle (attack report 4.2): links into a root-only directory to a file there, to a
# missing one and to a link there; every text readable on the read-only socket (vol-list
# --json, vol-dumpxml) and every refusal reads the same, names neither the target nor errno
mkdir -m 0700 "$D/rootonly"
printf 'x\n' >"$D/rootonly/exists.txt"
ln -s exists.txt "$D/rootonly/alias-link"
ln -s "$D/rootonly/exists.txt" "$D/p1/lk-A"
ln -s "$D/rootonly/nothere.txt" "$D/p1/lk-B"
ln -s "$D/rootonly/alias-link" "$D/p1/lk-C"
ln -s ../rootonly/nothere.txt "$D/p1/lk-D"
for c in A B C D; do plant "ob-$c.qcow2" "lk-$c" raw; done
run_ok "refresh lists the overlays into the root-only directory" pc pool-refresh p1
texts() { # the texts of ob-X, the letter blanked
    for c in A B C D; do
        case $1 in
        list) pc_ro --json vol-list p1 | python3 -c "import json,sys
print([v.get('untrusted_backing') for v in json.load(sys.stdin) if v['name']=='ob-$c.qcow2'][0])" ;;
        xml) pc_ro vol-dumpxml "ob-$c.qcow2" --pool p1 | grep -i untrusted ;;
        clone) tpc vol-clone "ob-$c.qcow2" "cl-ob-$c" --pool p1 2>&1 | grep "backing file" ;;
        esac | sed "s/lk-$c/lk-X/g; s/ob-$c/ob-X/g"
    done | sort | uniq -c | sed 's/^ *//'
}
for how in list xml clone; do
    t=$(texts $how)
    if [ "$(printf '%s\n' "$t" | wc -l)" = 1 ] && printf '%s' "$t" | grep -q "^4 .*$OUT" &&
        ! printf '%s' "$t" | grep -qE "rootonly|exists.txt|alias|No such"; then
        ok "$how: the same text whether the root-only file exists, is missing or is a link"
    else not_ok "$how: the same text whether the root-only file exists, is missing or is a link"
        printf '%s\n' "$t" | sed 's/^/#   /'; fi
done
if grep -q "lk-A' resolves to '$D/rootonly/exists.txt'" "$E2E_DIR/poold.log"; then
    ok "the detail is in poold's log"; else not_ok "the detail is in poold's log"; fi

# a copy into another pool opens the same chain
run_fails "create-from into the second pool refused" "backing file '$D/outside/secret.txt' of volume 'abs.qcow2' $OUT" \
    tpc vol-create-from p2 "$(newxml x2)" abs.qcow2 --inputpool p1
check "nothing made in the second pool" "base2" "$(ls "$D/p2")"

# a FIFO wedges nothing: four at once, then an ordinary create answers within the bound
for i in 1 2 3 4; do
    pc --async vol-create-from p1 "$(newxml "ff$i")" fifo.qcow2 >/dev/null 2>&1
done
start=$(date +%s)
run_ok "a create after four FIFO chains" tpc vol-create-as p1 innocent 1M --format qcow2
run_ok "a delete after them" tpc vol-delete innocent --pool p1
check "within the bound" "yes" "$([ $(($(date +%s) - start)) -lt 10 ] && echo yes)"

# allowed: a chain into a second managed pool and into backing_roots; the data comes through
run_ok "create-from through a second pool" pc vol-create-from p1 "$(newxml from2)" ok2.qcow2
check "its data is the second pool's" "SECOND-POOL-DATA" "$(head -c 16 "$D/p1/from2")"
run_ok "create-from through backing_roots" pc vol-create-from p1 "$(newxml fromroot)" okroot.qcow2
check "its data is the golden image's" "GOLDEN-IMAGE-DATA" "$(head -c 17 "$D/p1/fromroot")"
run_ok "clone through backing_roots" pc vol-clone okroot.qcow2 cl-okroot --pool p1
run_ok "attach-disk --print-xml through a second pool" pc attach-disk x "$D/p1/ok2.qcow2" vdb --print-xml
run_ok "overlay on a backing_roots file by vol-create-as" \
    pc vol-create-as p1 ovr 1M --format qcow2 --backing-vol "$D/roots/golden.raw" --backing-vol-format raw
run_fails "overlay on an outside file by vol-create-as" "$OUT" \
    pc vol-create-as p1 ovo 1M --format qcow2 --backing-vol "$D/outside/secret.txt" --backing-vol-format raw
run_fails "overlay through the symlink by vol-create-as" "backing file '$D/p1/sh-link' .*$OUT" \
    pc vol-create-as p1 ovl 1M --format qcow2 --backing-vol "$D/p1/sh-link" --backing-vol-format raw

# an upload brings in a header whose backing file is outside: the volume is marked afterwards
# and its chain is refused from then on
run_ok "a qcow2 volume to upload into" pc vol-create-as p1 upq 1M --format qcow2
qemu-img create -q -f qcow2 -u -b "$D/outside/secret.txt" -F raw "$D/evil-upload.qcow2" 1M
run_ok "upload of an image naming an outside backing file" pc vol-upload upq "$D/evil-upload.qcow2" --pool p1
if pc --json vol-info upq --pool p1 | grep -q '"untrusted_backing"'; then ok "upq: marked after the upload"
else not_ok "upq: marked after the upload"; fi
run_fails "upq: create-from refused after the upload" "backing file '$D/outside/secret.txt' of volume 'upq' $OUT" \
    tpc vol-create-from p1 "$(newxml cf-upq)" upq
run_ok "an untrusted volume can still be deleted" pc vol-delete upq --pool p1

# no secret byte in any volume or file of the pools
check "no secret in the pools" "" "$(grep -rl "$SECRET" "$D/p1" "$D/p2" 2>/dev/null)"
for v in $(pc vol-list p1 | awk 'NR>2 && $1 != "" {print $1}'); do
    case $v in sh-link|fifo-b) continue ;; esac
    tpc vol-download "$v" "$D/dl.bin" --pool p1 >/dev/null 2>&1 || continue
    grep -q "$SECRET" "$D/dl.bin" && not_ok "secret in downloaded $v"
done
ok "no secret in any downloaded volume"
run_ok "poold alive" pc pool-list
finish
