#!/bin/bash
# qemu-img's command-line conventions, kept by poolimg's one option parser (client/
# poolimg-args.c) for every command: options after the file names, "--" ending options,
# unique prefixes of long options, -o repeated and joined, -U and --object accepted, a negative
# size last for resize, and qemu-img's exit status for bad options. qemu-img is the oracle.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python

# both WANT_RC ARGS...: poolimg and qemu-img give the same status for the same arguments.
both() {
    want=$1
    shift
    pi "$want" "$@"
    cp out pi.out
    cp err pi.err
    run "$want" qemu-img "$@"
}

# An option after the file names, and -o given twice.
both 0 create -f qcow2 p.qcow2 1M -o cluster_size=4k -o lazy_refcounts=on
mv p.qcow2 q.qcow2
pi 0 create -f qcow2 p.qcow2 1M -o cluster_size=4k -o lazy_refcounts=on
pi 0 info --output=json p.qcow2
cp out pi.json
run 0 qemu-img info --output=json q.qcow2
json_same pi.json out cluster-size format-specific.data.lazy-refcounts
[ "$(json_get pi.json cluster-size)" = 4096 ] || fail "-o after the file name was not applied"

# A unique prefix of a long option, and options after the file name.
both 0 info p.qcow2 --out=json
json_same pi.out out virtual-size format
# An ambiguous prefix (--output, --object) is refused.
both 1 info --o p.qcow2
expect_err "unrecognized option"
# -U, --force-share and --object are accepted where qemu-img takes them.
both 0 info -U p.qcow2
both 0 info --force-share --output=json p.qcow2
pi 0 info --object secret,id=s0,data=x p.qcow2
expect_out "file format: qcow2"
# A missing value, an unknown option, a missing file name: status 1 (compare too: its 2 is
# for errors while comparing).
both 1 info -f
expect_err "missing argument"
both 1 check --bogus p.qcow2
expect_err "unrecognized option '--bogus'"
both 1 map -z p.qcow2
expect_err "unrecognized option '-z'"
both 1 compare --bogus p.qcow2 p.qcow2
both 1 compare -f
both 1 compare p.qcow2
# "--" ends the options: a file name that starts with a dash.
cp p.qcow2 ./-dash.qcow2
both 0 info -- -dash.qcow2
pi 0 info -- -dash.qcow2
expect_out "image: -dash.qcow2"
# A negative size as the last argument of resize is a size, not an option.
truncate -s 4M r.raw
both 0 resize -f raw --shrink r.raw -1M
[ "$(stat -c %s r.raw)" = 2097152 ] || fail "4M, -1M by poolimg, -1M by qemu-img: $(stat -c %s r.raw)"
# Options after the file names of convert (-O last) and a -p after them.
both 0 convert -f qcow2 p.qcow2 c.raw -O raw
pi 0 compare -f qcow2 -F raw p.qcow2 c.raw
expect_out "Images are identical."
# -h anywhere prints the help and succeeds.
pi 0 map p.qcow2 -h
expect_out "usage: poolimg"

done_ok
