#!/usr/bin/env python3
"""Checks poold's formatted XML (tests/xml/out/*.xml) against libvirt itself.

1. libvirt's RELAX NG schemas (storagepool.rng, storagevol.rng, storagepoolcaps.rng from
   /usr/share/libvirt/schemas, package libvirt0) validate every file, through xmllint.
2. libvirt's own parser:
`virsh -c test:///default pool-define` for pools and `vol-create` in a pool of the right type
for volumes. Each must be accepted, and libvirt's dumpxml of it must be our file again, apart
from the values the test driver makes up itself (pool sizes; volume key, path, type,
physical, timestamps, extents) and <nocow/>, which libvirt reads but does not write back.

Exit 77 (skipped) when neither virsh nor xmllint and the schemas are installed; a missing one
is reported and its half skipped.
Usage: virsh-accept.py TESTS_XML_DIR"""
import os
import re
import shlex
import shutil
import subprocess
import sys

# A started pool of each type to create volumes in (test driver: nothing touches the host).
POOLS = {
    "dir": "pool-define-as tp dir --target /tp",
    "fs": "pool-define-as tp fs --source-dev /dev/vdx --target /tp",
    "netfs": "pool-define-as tp netfs --source-host h --source-path /e --target /tp",
    "logical": "pool-define-as tp logical --source-dev /dev/vdx",
    "iscsi": "pool-define-as tp iscsi --source-host h --source-dev iqn.2000-01.x:y --target /tp",
}


def virsh(commands):
    """Runs commands in one virsh session (the test driver forgets everything between runs)."""
    proc = subprocess.run(["virsh", "-q", "-c", "test:///default", "; ".join(commands)],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def strip_pool_sizes(text):
    return re.sub(r"  <(capacity|allocation|available) unit='bytes'>\d+</\1>\n", "", text)


def strip_vol_made_up(text):
    text = re.sub(r"  <key>.*</key>\n", "", text)
    # libvirt computes <physical> itself and reads <nocow/> without writing it back
    text = re.sub(r"  <physical unit='bytes'>\d+</physical>\n", "", text)
    text = re.sub(r"    <nocow/>\n", "", text)
    # the test driver has no files to stat, no LVM extents
    text = re.sub(r"  <source>\n(.*\n)*?  </source>\n", "", text)
    text = re.sub(r" *<timestamps>\n(.*\n)*? *</timestamps>\n", "", text)
    text = re.sub(r"<volume type='\w+'>", "<volume>", text)
    # the target path (first <path> after <target>) is the pool's target + name in the test driver
    return re.sub(r"(<target>\n)    <path>.*</path>\n", r"\1", text, count=1)


SCHEMA_DIR = "/usr/share/libvirt/schemas"
POOLD_NS = "http://poold.io/schemas/storagepool/1.0"


def strip_poold_ns(text):
    """poold's own extension (<poold:netfs>, docs/xml.md) is unknown to libvirt: the check is
    that everything else is libvirt's."""
    text = text.replace(f" xmlns:poold='{POOLD_NS}'", "")
    return re.sub(r"  <poold:netfs[^>]*/>\n", "", text)


def strip_mount_opts(text):
    """libvirt's test driver has no pool namespaces: it drops <fs:mount_opts> (the schema
    check still covers them)."""
    text = text.replace(" xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'", "")
    return re.sub(r"  <fs:mount_opts>\n(.*\n)*?  </fs:mount_opts>\n", "", text)


def check_schema(path, schema):
    """None when @path (without poold's extension) validates against libvirt's @schema, else
    xmllint's complaint."""
    text = strip_poold_ns(open(path).read())
    proc = subprocess.run(["xmllint", "--noout", "--relaxng", os.path.join(SCHEMA_DIR, schema), "-"],
                          input=text, capture_output=True, text=True, timeout=60)
    return None if proc.returncode == 0 else f"{schema}: {proc.stderr.strip()}"


def load_list(path):
    for line in open(path):
        line = line.split(" | ")[0].split(": ")[0].strip()
        if line and not line.startswith("#"):
            yield line.split()


def check_pool(out_dir, name):
    path = os.path.join(out_dir, name + ".xml")
    ours = strip_mount_opts(strip_poold_ns(open(path).read()))
    uuid = re.search(r"<uuid>(.*)</uuid>", ours).group(1)
    rc, out, err = virsh([f"pool-define {shlex.quote(path)}", f"pool-dumpxml {uuid}"])
    if rc != 0:
        return f"libvirt refused it: {err.strip()}"
    if strip_pool_sizes(out.rstrip("\n") + "\n") != strip_pool_sizes(ours):
        return f"libvirt's dumpxml differs:\n{out}"
    return None


def check_vol(out_dir, pool_type, name):
    path = os.path.join(out_dir, name + ".xml")
    ours = open(path).read()
    if pool_type not in POOLS:
        return None
    vol_name = re.search(r"<name>(.*)</name>", ours).group(1)
    vol_name = vol_name.replace("&amp;", "&").replace("&apos;", "'")
    rc, out, err = virsh([POOLS[pool_type], "pool-start tp", f"vol-create tp {shlex.quote(path)}",
                          f"vol-dumpxml --pool tp {shlex.quote(vol_name)}"])
    if rc != 0:
        return f"libvirt refused it: {err.strip()}"
    if strip_vol_made_up(out.rstrip("\n") + "\n") != strip_vol_made_up(ours):
        return f"libvirt's dumpxml differs:\n{out}"
    return None


def check_one(out_dir, words, have_virsh, have_schemas):
    kind = words[0]
    name = words[1] if kind == "pool" else words[2]
    path = os.path.join(out_dir, name + ".xml")
    problems = []
    if have_schemas:
        problems.append(check_schema(path, "storagepool.rng" if kind == "pool" else "storagevol.rng"))
    if have_virsh:
        problems.append(check_pool(out_dir, name) if kind == "pool" else check_vol(out_dir, words[1], name))
    return name, [p for p in problems if p]


def main():
    have_virsh = shutil.which("virsh") is not None
    have_schemas = shutil.which("xmllint") is not None and os.path.exists(
        os.path.join(SCHEMA_DIR, "storagepool.rng"))
    if not have_virsh and not have_schemas:
        print("1..0 # SKIP neither virsh (libvirt-clients) nor xmllint (libxml2-utils) with "
              "libvirt's schemas (libvirt0) is installed")
        return 77
    if not have_virsh:
        print("# virsh is not installed (libvirt-clients): only the schema check runs")
    if not have_schemas:
        print("# xmllint or libvirt's schemas are missing: only the virsh check runs")
    base = sys.argv[1]
    out_dir = os.path.join(base, "out")
    failures, count = [], 0
    for list_name in ("cases.txt", "args.txt"):
        for words in load_list(os.path.join(base, list_name)):
            count += 1
            name, problems = check_one(out_dir, words, have_virsh, have_schemas)
            print(f"{'not ok' if problems else 'ok'} {count} - {name}")
            for problem in problems:
                print("# " + problem.replace("\n", "\n# "))
            if problems:
                failures.append(name)
    if have_schemas:
        count += 1
        problem = check_schema(os.path.join(out_dir, "pool-capabilities.xml"), "storagepoolcaps.rng")
        print(f"{'not ok' if problem else 'ok'} {count} - pool-capabilities")
        if problem:
            print("# " + problem.replace("\n", "\n# "))
            failures.append("pool-capabilities")
    print(f"1..{count}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
