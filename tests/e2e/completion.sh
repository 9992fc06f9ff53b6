#!/bin/bash
# The interactive shell completes pool and volume names asked from poold (readline on a
# terminal: driven through a pseudo-terminal), besides commands and options.
. "$(dirname "$0")/lib.sh"
if ! ldd "$POOLCTL" | grep -q libreadline; then
    echo "1..0 # SKIP poolctl built without readline (install libreadline-dev)"
    exit 0
fi
start_poold
D=$E2E_DIR
pc -q pool-define-as alpha dir - - - - "$D/alpha" >/dev/null && pc -q pool-build alpha >/dev/null &&
    pc -q pool-start alpha >/dev/null && pc -q vol-create-as alpha disk-one 1M >/dev/null &&
    pc -q vol-create-as alpha data-two 1M >/dev/null || { echo "Bail out! setup"; exit 1; }

# complete KEYS: what the shell echoed after KEYS (TAB = \t) and a newline
complete() {
    python3 - "$POOLCTL" "$SOCK" "$1" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["poolctl", "-c", sys.argv[2]])
out = b""
def read_until(marker, t=5.0):
    global out
    end = time.time() + t
    while marker not in out and time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
read_until(b"poolctl # ")
out = b""
os.write(fd, sys.argv[3].encode().decode("unicode_escape").encode() + b"\n")
read_until(b"\n")  # the line as completed, echoed when Enter is read
os.write(fd, b"quit\n")
os.kill(pid, 9)
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
PY
}
has() { if printf '%s' "$2" | grep -q -- "$3"; then ok "$1"; else not_ok "$1"; printf '%s\n' "$2" | sed 's/^/#   /' | head -5; fi; }
has "command name" "$(complete 'pool-inf\t alpha')" "pool-info  *alpha"
has "pool name" "$(complete 'pool-info al\t')" "pool-info alpha"
has "pool name first for vol-list" "$(complete 'vol-list al\t')" "vol-list alpha"
has "volume name before --pool" "$(complete 'vol-info dis\t --pool alpha')" "vol-info disk-one"
has "volume name after --pool" "$(complete 'vol-info --pool alpha dat\t')" "data-two"
has "option name" "$(complete 'vol-info disk-one --po\t alpha')" "--pool  *alpha"
finish
