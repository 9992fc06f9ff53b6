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
    pc -q vol-create-as alpha data-two 1M >/dev/null && pc -q vol-create-as alpha "my vol" 1M &&
    pc -q pool-define-as beta dir - - - - "$D/beta" >/dev/null || { echo "Bail out! setup"; exit 1; }

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
# issue 15 item 19: a name with a space comes back quoted; after --pool P, vol-list takes no
# second pool
has "a name with a space is quoted" "$(complete 'vol-info --pool alpha my\t')" "'my vol'"
no_beta=$(complete 'vol-list --pool alpha be\t')
if printf '%s' "$no_beta" | grep -q beta; then not_ok "no second pool after --pool"; else ok "no second pool after --pool"; fi

# history across sessions: a line typed in one session comes back with Up in the next
python3 - "$POOLCTL" "$SOCK" >"$D/hist.out" <<'PY'
import os, pty, select, sys, time
def session(keys):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[1], ["poolctl", "-c", sys.argv[2]])
    out = b""
    def read_until(marker, t=5.0):
        nonlocal out
        end = time.time() + t
        while marker not in out and time.time() < end:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return
    read_until(b"poolctl # ")
    for k in keys:
        os.write(fd, k)
        out = b""
        read_until(b"poolctl # ")
    os.write(fd, b"quit\n")
    os.waitpid(pid, 0)
    return out
session([b"pool-name beta-is-no-uuid\n"])
# Up twice: the previous session's quit, then its command
sys.stdout.write(session([b"\x1b[A\x1b[A\n"]).decode(errors="replace"))
PY
has "history of the previous session" "$(cat "$D/hist.out")" "failed to get pool 'beta-is-no-uuid'"
[ -s "$D/cache/poolctl/history" ] && ok "history file written" || not_ok "history file written"

# bash completion (client/poolctl.bash-completion): pool types and poold's formats
bcomp() {
    bash -c 'source "$1"; shift; poolctl() { "$POOLCTL" "$@"; }; export -f poolctl 2>/dev/null
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _poolctl; printf "%s\n" "${COMPREPLY[@]}"' \
        bcomp "$(dirname "$0")/../../client/poolctl.bash-completion" "$@"
}
types=$(bcomp poolctl -c "$SOCK" pool-list --type "" | sort | xargs)
caps_types=$(pc pool-capabilities | sed -n "s/.*<pool type='\([^']*\)' supported='yes'>.*/\1/p" | sort | xargs)
check "bash: pool-list --type offers the pool types" "$caps_types" "$types"
formats=$(bcomp poolctl -c "$SOCK" vol-create-as alpha x 1G --format "" | sort | xargs)
case " $formats " in *" qcow2 "*" vmdk "*) ok "bash: --format offers every format" ;;
*) not_ok "bash: --format offers every format"; echo "#   $formats" ;; esac
check "bash: --format=q" "qcow qcow2 qed" "$(bcomp poolctl -c "$SOCK" vol-create-as alpha x 1G --format=q | sort | xargs)"
check "bash: pool-define-as NAME completes nothing" "" "$(bcomp poolctl -c "$SOCK" pool-define-as al)"
check "bash: vol-create-as options" "--allocation" "$(bcomp poolctl -c "$SOCK" vol-create-as --all)"
check "bash: -q vol-list names" "data-two disk-one" "$(bcomp poolctl -c "$SOCK" vol-info --pool alpha d | sort | xargs)"
finish
