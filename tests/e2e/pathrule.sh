#!/bin/bash
# The path rule (pools/pool-path.h, docs/pools.md) through a real poold and poolctl: what a
# tenant who can write into a dir pool's directory plants there (symbolic links to a root-only
# file outside the pool, absolute, relative and escaping through "..", a link chain, a link to a
# block device outside, a FIFO) is not listed by refresh; a listed volume swapped for such a link
# or a FIFO after refresh is refused by wipe, upload, resize, download, clone and info reads,
# naming the volume and the reason; the outside file and device stay unchanged and nothing of
# them reaches an answer or a downloaded file; a link that stays inside the pool is a volume.
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
P=$D/pool1
mkdir -p "$D/outside" "$P/sub"
SECRET="TOPSECRET-OUTSIDE-$$"
{ printf '%s' "$SECRET"; head -c 65000 /dev/zero; } >"$D/outside/secret"
chmod 0600 "$D/outside/secret"
sum() { sha256sum "$1" | cut -d' ' -f1; }
SECRET_SUM=$(sum "$D/outside/secret")
pc -q pool-define-as p1 dir - - - - "$P" >/dev/null && pc -q pool-start p1 >/dev/null ||
    { echo "Bail out! pool p1"; exit 1; }
run_ok "a volume" pc vol-create-as p1 inside.raw 1M

# ---- planted before refresh: not listed ----
ln -s "$D/outside/secret" "$P/sh-link"
ln -s ../outside/secret "$P/rel-link"
ln -s sub/../../outside/secret "$P/dotdot-link"
ln -s rel-link "$P/chain-link"
ln -s inside.raw "$P/in-link"
mkfifo "$P/fifo"
LOOPDEV=
if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null; then
    { printf 'LOOP-DEVICE-SECRET'; head -c 1048558 /dev/zero; } >"$D/outside/lo.img"
    LOOPDEV=$(losetup -f --show "$D/outside/lo.img" 2>/dev/null) && ln -s "$LOOPDEV" "$P/hostblk"
fi
trap 'cleanup; [ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV"' EXIT
run_ok "refresh with planted files" pc pool-refresh p1
check "refresh lists the regular file and the link inside only" "in-link
inside.raw" "$(pc vol-list p1 --json | python3 -c '
import json, sys
print("\n".join(sorted(v["name"] for v in json.load(sys.stdin))))')"
run_fails "a link out of the pool is no volume" "sh-link" \
    pc vol-download sh-link "$D/out-sh" --pool p1
check "in-link reads the file inside" "$(sum "$P/inside.raw")" \
    "$(pc vol-download in-link "$D/out-in" --pool p1 >/dev/null && sum "$D/out-in")"

# ---- a listed volume swapped after refresh ----
# swap NAME TARGET: the volume's file becomes a symbolic link to TARGET (the catalog still
# lists it as a volume)
swap() { rm -f "$P/$1" && ln -s "$2" "$P/$1"; }
OUT_REASON="symbolic link leading out of the pool directory"
for target in "$D/outside/secret" ../outside/secret sub/../../outside/secret; do
    for op in wipe upload resize download clone; do
        pc -q vol-create-as p1 "s-$op" 1M >/dev/null || not_ok "create s-$op"
        swap "s-$op" "$target"
    done
    printf 'uploaded-by-attacker' >"$D/up.txt"
    run_fails "wipe through $target refused" "volume 's-wipe'.*$OUT_REASON" \
        pc vol-wipe s-wipe --pool p1
    run_fails "upload through $target refused" "volume 's-upload'.*$OUT_REASON" \
        pc vol-upload s-upload "$D/up.txt" --pool p1
    run_fails "resize through $target refused" "volume 's-resize'.*$OUT_REASON" \
        pc vol-resize s-resize 2M --pool p1
    rm -f "$D/out-dl"
    run_fails "download through $target refused" "volume 's-download'.*$OUT_REASON" \
        pc vol-download s-download "$D/out-dl" --pool p1
    check "nothing of the secret downloaded" "" "$(cat "$D/out-dl" 2>/dev/null | tr -d '\0')"
    run_fails "clone from $target refused" "volume 's-clone'.*$OUT_REASON" \
        pc vol-clone s-clone c-clone --pool p1
    check "no clone made" "" "$(ls "$P" | grep '^c-clone' || true)"
    check "the outside file unchanged after $target" "$SECRET_SUM" "$(sum "$D/outside/secret")"
    for op in wipe upload resize download clone; do rm -f "$P/s-$op"; done
    pc -q pool-refresh p1 >/dev/null
done

# a block device outside the pool, swapped in for a listed volume
if [ -n "$LOOPDEV" ]; then
    BLK_SUM=$(sum "$D/outside/lo.img")
    pc -q vol-create-as p1 s-blk 1M >/dev/null
    swap s-blk "$LOOPDEV"
    run_fails "download of a host device refused" "volume 's-blk'.*$OUT_REASON" \
        pc vol-download s-blk "$D/out-blk" --pool p1
    run_fails "wipe of a host device refused" "volume 's-blk'.*$OUT_REASON" \
        pc vol-wipe s-blk --pool p1
    check "the device unchanged" "$BLK_SUM" "$(sum "$D/outside/lo.img")"
else
    ok "# SKIP a link to a loop device (needs root and losetup)"
fi

# a FIFO swapped in: refused at once (opened O_PATH, never blocking), no worker held
pc -q vol-create-as p1 s-fifo 1M >/dev/null
rm -f "$P/s-fifo" && mkfifo "$P/s-fifo"
run_fails "download of a FIFO refused at once" "volume 's-fifo'.*is a FIFO" \
    timeout 20 "$POOLCTL" -c "$SOCK" vol-download s-fifo "$D/out-fifo" --pool p1
run_fails "wipe of a FIFO refused at once" "volume 's-fifo'.*is a FIFO" \
    timeout 20 "$POOLCTL" -c "$SOCK" vol-wipe s-fifo --pool p1
run_fails "clone of a FIFO refused at once" "volume 's-fifo'.*is a FIFO" \
    timeout 20 "$POOLCTL" -c "$SOCK" vol-clone s-fifo c-fifo --pool p1
run_ok "poold still creates volumes" timeout 20 "$POOLCTL" -c "$SOCK" vol-create-as p1 after 1M

# a create over a planted link fails and follows nothing
ln -s "$D/outside/new-file" "$P/dangling"
run_fails "create over a dangling link refused" "already exists" pc vol-create-as p1 dangling 1M
check "nothing made outside" "no" "$([ -e "$D/outside/new-file" ] && echo yes || echo no)"
# delete of a listed link removes the link only
pc -q vol-create-as p1 s-del 1M >/dev/null && swap s-del "$D/outside/secret"
run_ok "delete of a swapped link" pc vol-delete s-del --pool p1
check "the secret is still there, unchanged" "$SECRET_SUM" "$(sum "$D/outside/secret")"
check "poold's log holds nothing of the secret" "0" "$(grep -c "$SECRET" "$D/poold.log")"
# ---- the pool directory itself swapped (attack report 7.5) ----
# whoever can write a pool directory's parent replaces the directory by a link to a root-only
# directory, then by another directory: poold refuses both, naming the pool and the rule, lists
# nothing of them and changes nothing there; the directory put back is used again; a pool
# whose target is a link is refused at start
T=$D/tenant
mkdir -p "$T/tpool" "$D/rootonly"
chmod 0700 "$D/rootonly"
printf 'ROOT-ONLY-DATA' >"$D/rootonly/exists.txt"
pc -q pool-define-as p3 dir - - - - "$T/tpool" >/dev/null && pc -q pool-start p3 >/dev/null ||
    { echo "Bail out! pool p3"; exit 1; }
run_ok "a volume in p3" pc vol-create-as p3 mine.raw 1M
mv "$T/tpool" "$T/tpool.old" && ln -s "$D/rootonly" "$T/tpool"
run_fails "refresh through the swapped link refused" \
    "pool 'p3'.*target directory '$T/tpool' has become a symbolic link.*restart the pool" \
    pc pool-refresh p3
check "nothing of the root-only directory listed" "" "$(pc vol-list p3 --json | grep exists.txt)"
run_fails "wipe of a root-only file through the link refused" "exists.txt" \
    pc vol-wipe exists.txt --pool p3
run_fails "wipe of a listed volume through the link refused" "has become a symbolic link" \
    pc vol-wipe mine.raw --pool p3
run_fails "create through the link refused" "has become a symbolic link" \
    pc vol-create-as p3 planted 1M
check "the root-only directory is unchanged" "exists.txt ROOT-ONLY-DATA" \
    "$(ls "$D/rootonly" | tr '\n' ' ')$(cat "$D/rootonly/exists.txt")"
rm "$T/tpool" && mkdir "$T/tpool" && printf 'x' >"$T/tpool/other.raw"
run_fails "refresh of another directory in its place refused" \
    "target directory '$T/tpool' is not the directory the pool was started on" \
    pc pool-refresh p3
rm -r "$T/tpool" && mv "$T/tpool.old" "$T/tpool"
run_ok "the directory put back is used again" pc pool-refresh p3
check "its volume listed" "mine.raw" "$(pc vol-list p3 --json | python3 -c '
import json, sys
print(" ".join(v["name"] for v in json.load(sys.stdin)))')"
ln -s "$T/tpool" "$D/tlink"
pc -q pool-define-as p4 dir - - - - "$D/tlink" >/dev/null || not_ok "define p4"
run_fails "a pool whose target is a symbolic link is refused at start" \
    "target '$D/tlink' is a symbolic link.*real path" pc pool-start p4
# ---- fs.protected_hardlinks (attack report 3.3/4.3) ----
# poold warns at start-up, naming the sysctl, when it is 0 (seen through a bind mount over the
# /proc file in a mount namespace of its own); not when it is 1
hl_start() { # VALUE: poold's log with fs.protected_hardlinks read as VALUE
    printf '%s\n' "$1" >"$D/hl-$1"
    rm -rf "$D/hlrun" "$D/hlstate"
    timeout -s TERM 4 unshare -m sh -c "mount --bind '$D/hl-$1' /proc/sys/fs/protected_hardlinks &&
        exec '$POOLD' --runtime-dir '$D/hlrun' --state-dir '$D/hlstate'" >"$D/hl-$1.log" 2>&1
}
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
    hl_start 0
    if grep -q "sysctl fs.protected_hardlinks is 0" "$D/hl-0.log"; then
        ok "warning naming fs.protected_hardlinks when it is 0"
    else not_ok "warning naming fs.protected_hardlinks when it is 0"; sed 's/^/#   /' "$D/hl-0.log"; fi
    hl_start 1
    if grep -q "ready" "$D/hl-1.log" && ! grep -q "protected_hardlinks" "$D/hl-1.log"; then
        ok "no warning when fs.protected_hardlinks is 1"
    else not_ok "no warning when fs.protected_hardlinks is 1"; sed 's/^/#   /' "$D/hl-1.log"; fi
else
    ok "# SKIP fs.protected_hardlinks warning: needs root and unshare -m"
fi
# ---- log injection (attack report 7.6) ----
# names a client chose, with a newline, reach poold's log (--verbose) escaped: no line of
# the client's own
rm -rf "$D/lirun" "$D/listate"
"$POOLD" --verbose --runtime-dir "$D/lirun" --state-dir "$D/listate" >"$D/li.log" 2>&1 &
LIPID=$!
for _ in $(seq 1 100); do [ -S "$D/lirun/poold-sock-ro" ] && break; sleep 0.05; done
python3 -c '
import socket, sys
for m in [b"{\"method\":\"io.poold.Pool.List\\nINJECTED-1 poold-Message: fake\"}",
          b"{\"method\":\"io.poold.Pool.Info\",\"parameters\":{\"pool\":\"p\\nINJECTED-2\"}}",
          b"{\"method\":\"io.poold.Volume.Delete\",\"parameters\":{\"pool\":\"p\\nINJECTED-3\",\"volume\":\"v\"}}"]:
    s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1])
    s.sendall(m + b"\0"); s.recv(65536); s.close()' "$D/lirun/poold-sock-ro"
kill "$LIPID"; wait "$LIPID" 2>/dev/null
if grep -q "INJECTED" "$D/li.log" && ! grep -q "^INJECTED" "$D/li.log"; then
    ok "client strings with a newline are logged escaped, on one line"
else not_ok "client strings with a newline are logged escaped, on one line"
    grep -n -B1 INJECTED "$D/li.log" | sed 's/^/#   /'; fi
# refusals are logged without --verbose, at most 20 in 10 s
before=$(grep -c "refused: " "$D/poold.log")
for i in $(seq 1 30); do pc_ro -q vol-create-as p1 "ro-$i" 1M >/dev/null 2>&1; done
n=$(($(grep -c "refused: " "$D/poold.log") - before))
check "refusals on the read-only socket logged, rate-limited" "yes" \
    "$([ "$n" -ge 1 ] && [ "$n" -le 20 ] && echo yes || echo "no: $n")"
finish
