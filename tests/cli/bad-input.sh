#!/bin/bash
# Bad input: a clear "poolimg: ..." message on stderr, exit 1, nothing left behind.
. "$(dirname "$0")/lib.sh"

truncate -s 1M raw.img

for size in 12Q -5G 18446744073709551616 16E 1.5 abc ""; do
    pi 1 create -f raw new.img "$size"
    expect_err "poolimg:"
    expect_absent new.img
done
pi 1 create -f raw new.img 12Q
expect_err "12Q"

pi 1 create -z new.img 1G
expect_err "unrecognized option '-z'"
pi 1 create --bogus new.img 1G
expect_err "unrecognized option '--bogus'"
pi 1 create -f
expect_err "missing argument for option '-f'"
pi 1 create -f foo new.img 1G
expect_err "Unknown file format 'foo'"
pi 1 create -f qcow2 -o bogus=1 new.img 1G
expect_err "Invalid parameter 'bogus'"
pi 1 create -f raw -o cluster_size=64k new.img 1G
expect_err "Invalid parameter 'cluster_size'"
pi 1 create -f qcow2 -o cluster_size=3000 new.img 1G
expect_err "Cluster size must be a power of two"
pi 1 create -f qcow2 -o refcount_bits=3 new.img 1G
expect_err "Refcount width"
pi 1 create -f qcow2 -o compat=0.10,lazy_refcounts=on new.img 1G
expect_err "Lazy refcounts only supported with compatibility level 1.1"
pi 1 create -f qcow2 -o preallocation=foo new.img 1G
expect_err "Parameter 'preallocation' does not accept value 'foo'"
pi 1 create -f qcow2 -o lazy_refcounts=maybe new.img 1G
expect_err "expects 'on' or 'off'"
pi 1 create -f raw new.img
expect_err "Image creation needs a size parameter"
pi 1 create -f qcow2 -b missing.img -F raw new.img 1G
expect_absent new.img
expect_absent new.img

pi 1
expect_err "Not enough arguments"
pi 1 frobnicate
expect_err "Command not found: frobnicate"
pi 0 --help
expect_out "usage: poolimg"

for cmd in info check map snapshot commit rebase resize amend; do
    pi 1 "$cmd" missing.img
    expect_err "poolimg:"
done
pi 1 info missing.img
expect_err "Could not open 'missing.img'"
pi 2 compare missing.img raw.img
expect_err "missing.img"
pi 1 info
expect_err "Expecting one image file name"
pi 1 info --output=xml raw.img
expect_err "--output must be used with human or json as argument."
pi 1 info -f qcow2 raw.img
expect_err "raw.img"
pi 1 check -r foo raw.img
expect_err "Unknown option value for -r"

pi 1 resize raw.img 12Q
expect_err "12Q"
pi 1 resize raw.img -5G
expect_err "New image size must be positive"
pi 1 resize raw.img 18446744073709551615
expect_err "too large"
pi 1 resize raw.img +18446744073709551615
expect_err "too large"
pi 1 resize raw.img -- -512k
expect_err "Use the --shrink option to perform a shrink operation."
[ "$(stat -c %s raw.img)" = 1048576 ] || fail "a refused resize changed the image"

pi 1 convert -O raw missing.img out.img
expect_err "Could not open 'missing.img'"
expect_absent out.img
pi 1 convert -O foo raw.img out.img
expect_err "Unknown file format 'foo'"
pi 1 convert -c -O raw raw.img out.img
expect_err "Compression not supported for this file format"
pi 1 convert -O raw -S 12Q raw.img out.img
expect_err "Invalid buffer size for sparse output specified"
pi 1 convert --target-is-zero -O raw raw.img out.img
expect_err "--target-is-zero requires use of -n flag"
pi 1 convert -n -O raw raw.img missing-target.img
expect_err "missing-target.img"
pi 1 convert -O qcow2 -B raw.img raw.img out.img
expect_err "Use of backing file requires explicit backing format"
expect_absent out.img missing-target.img

# A failing convert into a place that cannot hold it leaves nothing behind.
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
    pi 1 convert -O raw raw.img ro/out.img
    expect_absent ro/out.img
fi
pi 1 convert -O raw raw.img nodir/out.img
expect_err "nodir/out.img"

pi 1 snapshot -c s1 raw.img
expect_err "Could not create snapshot 's1'"
pi 1 snapshot -l -c s1 raw.img
expect_err "Cannot mix"
pi 63 check raw.img
expect_err "This image format does not support checks"
pi 1 measure --size 12Q -O qcow2
expect_err "12Q"
pi 1 measure -O qcow2
expect_err "Either --size N or one filename must be specified."
pi 1 measure --size 1G -O qcow2 raw.img
expect_err "--size N cannot be used together with a filename."
pi 1 amend raw.img
expect_err "Must specify options (-o)"
pi 1 rebase raw.img
expect_err "Must specify backing file"

ls -a | grep -q partial && fail "partial files left: $(ls -a)"
done_ok
