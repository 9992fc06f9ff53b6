#!/usr/bin/env python3
"""Overlapping calls (PD_METHOD_OVERLAP) against one-at-a-time execution: each session is a
list of calls sent back to back on one connection without reading, then the same list sent
one call at a time on a fresh pool of the same name and path; the answers must be the same,
in the same order (job ids and the pool's free space aside), and so must the directory.

Usage: overlap.py SOCKET DIR SCENARIO   (prints "ok"/"FAIL: ..." lines; exit 1 on a failure)
"""
import importlib.util
import json
import os
import sys
import threading
import time

_spec = importlib.util.spec_from_file_location(
    "varlink_raw", os.path.join(os.path.dirname(os.path.abspath(__file__)), "varlink-raw.py"))
vr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vr)
connect, send, recv, expect = vr.connect, vr.send, vr.recv, vr.expect


def recv_all(s, n):
    buf = bytearray()
    return [vr.recv(s, buf) for _ in range(n)]


def raw(name, size=1048576):
    """A raw volume allocated in full (it reserves its size: such a create runs alone)."""
    return "<volume><name>%s</name><capacity>%d</capacity></volume>" % (name, size)


def sparse(name, size=1048576):
    """A raw volume allocating nothing (it overlaps the calls around it)."""
    return ("<volume><name>%s</name><capacity>%d</capacity><allocation>0</allocation>"
            "</volume>" % (name, size))


def qcow2(name, size=1048576, backing=None):
    b = ("<backingStore><path>%s</path><format type='qcow2'/></backingStore>" % backing
         if backing else "")
    return ("<volume><name>%s</name><capacity>%d</capacity><target><format type='qcow2'/>"
            "</target>%s</volume>" % (name, size, b))


def create(pool, xml):
    return ("io.poold.Volume.Create", {"pool": pool, "xml": xml})


def delete(pool, vol):
    return ("io.poold.Volume.Delete", {"pool": pool, "volume": vol} if pool else {"volume": vol})


def info(pool, vol):
    return ("io.poold.Volume.Info", {"pool": pool, "volume": vol})


def plain(method, pool):
    return ("io.poold." + method, {"pool": pool})


VOLATILE = ("job", "available", "allocation", "busy_job", "uuid")


def normal(reply):
    """A reply without what differs from run to run (job ids, free space, the pool's
    allocation, which depends on the filesystem); volume lists sorted."""
    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if k not in VOLATILE}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node
    return json.dumps(walk(reply), sort_keys=True)


def pipelined(path, calls):
    s = connect(path)
    buf = bytearray()
    for method, params in calls:
        send(s, method, params)
    replies = [vr.recv(s, buf) for _ in calls]
    s.close()
    return replies


def one_at_a_time(path, calls):
    s = connect(path)
    buf = bytearray()
    replies = []
    for method, params in calls:
        send(s, method, params)
        replies.append(vr.recv(s, buf))
    s.close()
    return replies


def call1(path, method, params):
    return one_at_a_time(path, [(method, params)])[0]


def make_pool(path, name, target):
    xml = ("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
           % (name, target))
    for method, params in (("Pool.Define", {"xml": xml}), ("Pool.Build", {"pool": name}),
                           ("Pool.Start", {"pool": name})):
        r = call1(path, "io.poold." + method, params)
        if "error" in r:
            raise SystemExit("cannot make pool %s: %r" % (name, r))


def drop_pool(path, name):
    """Stops, deletes (an empty directory) and undefines a pool."""
    for m in ("Pool.Stop", "Pool.Delete", "Pool.Undefine"):
        call1(path, "io.poold." + m, {"pool": name})


def clean_dir(target):
    for f in listing(target, hidden=True):
        os.unlink(os.path.join(target, f))


def listing(target, hidden=False):
    """The files of a pool's directory ([] once pool-delete removed it)."""
    if not os.path.isdir(target):
        return []
    return sorted(f for f in os.listdir(target) if hidden or not f.startswith("."))


def catalog(path, pool):
    r = call1(path, "io.poold.Volume.List", {"pool": pool})
    return sorted(v["name"] for v in r.get("parameters", {}).get("volumes", []))


def compare(path, name, pool, target, calls, before=None):
    """Runs @calls pipelined, then one at a time, each on a fresh pool @pool at @target
    (@before(target) then changes its directory behind poold's back); the answers and the
    directory must match."""
    results = []
    for runner in (pipelined, one_at_a_time):
        os.makedirs(target, exist_ok=True)
        clean_dir(target)
        make_pool(path, pool, target)
        if before:
            before(target)
        replies = runner(path, calls)
        results.append((replies, listing(target), catalog(path, pool)))
        call1(path, "io.poold.Pool.Build", {"pool": pool})  # a session may delete it
        call1(path, "io.poold.Pool.Start", {"pool": pool})  # or stop it
        for v in catalog(path, pool):
            call1(path, "io.poold.Volume.Delete", {"pool": pool, "volume": v})
        clean_dir(target)
        drop_pool(path, pool)
    (rp, lp, cp), (rs, ls, cs) = results
    diffs = [i for i in range(len(calls)) if normal(rp[i]) != normal(rs[i])]
    expect(not diffs, "%s: %d answers as one at a time%s" % (
        name, len(calls), "" if not diffs else ": first difference at call %d %r: %r != %r" % (
            diffs[0], calls[diffs[0]], rp[diffs[0]], rs[diffs[0]])))
    expect(lp == ls, "%s: the directory as one at a time (%d files)" % (name, len(ls)))
    expect(cp == lp and cs == ls, "%s: the catalog is the directory" % name)
    return rp, rs


def scenario_serial(path, d):
    """Dependent calls back to back, compared with the same calls one at a time."""
    pool, target = "ov", os.path.join(d, "ov")
    calls = []
    for i in range(24):  # same names created, deleted, created again, deleted twice
        calls += [create(pool, qcow2("a%d" % i)), delete(pool, "a%d" % i),
                  create(pool, sparse("a%d" % i, 2097152))]
    calls.append(info(pool, "a3"))                       # right after the burst
    calls += [delete(pool, "a4"), delete(pool, "a4")]    # the second one fails
    calls += [create(pool, raw("a5")), create(pool, qcow2("a6"))]  # both exist
    calls.append(plain("Volume.List", pool))
    calls.append(delete(None, os.path.join(target, "a7")))         # by path, no pool
    calls.append(delete(None, os.path.join(target, "a7")))         # gone
    calls.append(info(pool, "a7"))
    calls += [create(pool, qcow2("base")),                         # an overlay on a new base
              create(pool, qcow2("top", backing=os.path.join(target, "base"))),
              delete(pool, "base"),                                # refused: top uses it
              delete(pool, "top"), delete(pool, "base")]
    calls.append(create(pool, sparse("ghost")))   # its file appeared behind poold's back
    calls.append(delete(pool, "ghost"))           # not in the catalog: fails
    calls.append(create(pool, sparse("b1")))
    calls.append(plain("Pool.Refresh", pool))     # finds ghost, sees b1
    calls.append(info(pool, "ghost"))
    calls.append(delete(pool, "ghost"))
    calls.append(info(pool, "b1"))
    for i in range(24):
        calls.append(delete(pool, "a%d" % i))      # a4 and a7 gone already
    calls.append(create(pool, raw("bad/name")))   # invalid
    calls.append(("io.poold.Volume.Nope", {}))    # unknown method, in its place
    calls.append(plain("Volume.List", pool))
    calls.append(plain("Pool.Info", pool))

    def ghost(target):
        with open(os.path.join(target, "ghost"), "wb") as f:
            f.write(b"x" * 4096)
    rp, _ = compare(path, "dependent session", pool, target, calls, before=ghost)
    failed = [i for i, r in enumerate(rp) if "error" in r]
    expect(failed == [74, 75, 76, 79, 80, 83, 86, 87, 97, 100, 117, 118],
           "dependent session: the calls that fail one at a time fail: %r" % failed)
    expect(rp[72].get("parameters", {}).get("volume", {}).get("capacity") == 2097152,
           "vol-info right after the burst sees the re-created a3: %r" % rp[72])
    expect(rp[86].get("error") == "io.poold.Error.Exists" and
           "/ghost' already exists" in rp[86]["parameters"].get("message", ""),
           "the create of a name taken behind poold's back failed in its worker: %r" % rp[86])
    expect("error" not in rp[90] and "error" not in rp[92],
           "the refresh found it (vol-info, vol-delete) and sees b1")


def scenario_stop(path, d):
    """A burst, then pool-level calls of the same client: stop, list (inactive), start, list,
    refresh, then deletes, stop, delete of the directory (pool-delete)."""
    pool, target = "st", os.path.join(d, "st")
    calls = [create(pool, qcow2("s%d" % i)) for i in range(40)]
    calls.append(plain("Pool.Stop", pool))
    calls.append(plain("Volume.List", pool))       # inactive
    calls.append(create(pool, raw("late")))        # inactive
    calls.append(plain("Pool.Start", pool))
    calls.append(plain("Volume.List", pool))
    calls += [delete(pool, "s%d" % i) for i in range(40)]
    calls.append(plain("Pool.Refresh", pool))
    calls.append(plain("Volume.List", pool))
    calls.append(plain("Pool.Stop", pool))
    calls.append(plain("Pool.Delete", pool))       # the directory goes: the deletes' answers
    calls.append(plain("Pool.Start", pool))        # already said done; fails (no directory)
    rp, _ = compare(path, "burst then pool-stop/start/refresh/delete", pool, target, calls)
    expect(all("error" not in r for r in rp[:40]), "the 40 creates before the stop succeeded")
    expect(all("error" not in r for r in rp[45:85]), "the 40 deletes before pool-delete succeeded")


def scenario_space(path, d):
    """Creates that reserve space (raw files get their allocation) in a pool of 8 MiB (a tmpfs
    at DIR/small): the space check of a later create counts what the earlier ones took, as
    one at a time."""
    pool, target = "sm", os.path.join(d, "small")
    mib = 1048576
    calls = [create(pool, raw("r1", 3 * mib)), create(pool, raw("r2", 3 * mib)),
             create(pool, raw("r3", 3 * mib)),          # no space left for it
             create(pool, qcow2("q1", 64 * mib)),        # a qcow2 file reserves nothing
             plain("Volume.List", pool),
             delete(pool, "r1"), create(pool, raw("r4", 3 * mib)),  # fits again
             create(pool, raw("r5", 3 * mib)),           # does not
             delete(pool, "r2"), delete(pool, "r4"), delete(pool, "q1")]
    rp, _ = compare(path, "space in a small pool", pool, target, calls)
    failed = [i for i, r in enumerate(rp) if "error" in r]
    expect(failed == [2, 7], "r3 and r5 did not fit: %r" % failed)
    expect(rp[2].get("error") == "io.poold.Error.NoSpace" and
           rp[2]["parameters"]["message"].startswith("Not enough space in pool 'sm'"),
           "r3 refused by the space check: %r" % rp[2])


def scenario_clients(path, d):
    """Two clients pipelining in two pools at once, each reading the other's pool meanwhile:
    each gets the answers it would get alone, one call at a time."""
    sessions = {}
    for c in ("x", "y"):
        pool = "c" + c
        calls = []
        for i in range(60):
            calls += [create(pool, qcow2("%s%d" % (c, i))), delete(pool, "%s%d" % (c, i)),
                      create(pool, sparse("%s%d" % (c, i)))]
        calls.append(plain("Volume.List", pool))
        calls += [delete(pool, "%s%d" % (c, i)) for i in range(60)]
        calls.append(plain("Volume.List", pool))
        sessions[c] = (pool, os.path.join(d, pool), calls)
    serial = {}
    for c, (pool, target, calls) in sessions.items():
        os.makedirs(target, exist_ok=True)
        make_pool(path, pool, target)
        serial[c] = one_at_a_time(path, calls)
    got = {}

    def run(c):
        got[c] = pipelined(path, sessions[c][2])
    threads = [threading.Thread(target=run, args=(c,)) for c in sessions]
    for t in threads:
        t.start()
    # a third client reads both pools while they run: every answer well formed
    s = connect(path)
    reads = bad = 0
    while any(t.is_alive() for t in threads) and reads < 400:
        for c in sessions:
            r = vr.call(s, "io.poold.Volume.List", {"pool": "c" + c})
            bad += "volumes" not in r.get("parameters", {})
            reads += 1
    s.close()
    expect(bad == 0, "the reader's %d lists meanwhile were all answered: %d failed" % (reads, bad))
    for t in threads:
        t.join()
    for c, (pool, target, calls) in sessions.items():
        diffs = [i for i in range(len(calls)) if normal(got[c][i]) != normal(serial[c][i])]
        expect(not diffs, "client %s: %d answers as alone, one at a time%s" % (
            c, len(calls), "" if not diffs else ": first difference at %d: %r != %r" % (
                diffs[0], got[c][diffs[0]], serial[c][diffs[0]])))
        expect(listing(target) == [] and catalog(path, pool) == [], "pool %s empty" % pool)
        drop_pool(path, pool)


def settled(path, pool, target, timeout=20):
    """Waits until the catalog is the directory (jobs of a gone client may still run)."""
    end = time.time() + timeout
    while time.time() < end:
        files, cat = listing(target), catalog(path, pool)
        if files == cat:
            time.sleep(0.2)
            if listing(target) == files and catalog(path, pool) == files:
                return files, cat
        time.sleep(0.05)
    return listing(target), catalog(path, pool)


def scenario_disconnect(path, d):
    """Clients that go away in the middle of a burst: poold goes on, and the catalog is the
    directory once their jobs have ended."""
    pool, target = "dc", os.path.join(d, "dc")
    os.makedirs(target, exist_ok=True)
    make_pool(path, pool, target)
    # 1: closes right after sending 200 creates (some run, the rest are dropped)
    s = connect(path)
    for i in range(200):
        send(s, "io.poold.Volume.Create", {"pool": pool, "xml": sparse("d%d" % i, 65536)})
    s.close()
    # 2: reads a few answers, then closes with creates, a held list and deletes queued
    s = connect(path)
    for i in range(100):
        send(s, "io.poold.Volume.Create", {"pool": pool, "xml": qcow2("e%d" % i)})
    send(s, "io.poold.Volume.List", {"pool": pool})
    for i in range(100):
        send(s, "io.poold.Volume.Delete", {"pool": pool, "volume": "e%d" % i})
    first = recv_all(s, 3)
    expect(all(r and "error" not in r for r in first), "the first answers came: %r" % first[:1])
    s.close()
    # 3: shuts its writing side after the burst and reads every answer to the end
    s = connect(path)
    calls = []
    for i in range(50):
        calls += [create(pool, qcow2("f%d" % i)), delete(pool, "f%d" % i)]
    calls.append(plain("Volume.List", pool))
    for method, params in calls:
        send(s, method, params)
    s.shutdown(vr.socket.SHUT_WR)
    replies = recv_all(s, len(calls))
    expect(all(r is not None and "error" not in r for r in replies),
           "after a shutdown of its writing side every answer came, none failed")
    expect(vr.closed(s), "then poold closed the connection")
    s.close()
    files, cat = settled(path, pool, target)
    expect(files == cat, "after the disconnects the catalog is the directory (%d files)" % len(files))
    expect(not any(f.startswith("f") for f in files), "the half-closed client's volumes are gone")
    r = call1(path, "io.poold.Daemon.Info", {})
    expect(r is not None and "error" not in r, "poold still answers: %r" % r)
    s = connect(path)
    for f in files:
        send(s, "io.poold.Volume.Delete", {"pool": pool, "volume": f})
    replies = recv_all(s, len(files))
    s.close()
    expect(all("error" not in r for r in replies), "every volume left deleted in one burst")
    expect(listing(target) == [] and catalog(path, pool) == [], "pool empty at the end")
    drop_pool(path, pool)


if __name__ == "__main__":
    globals()["scenario_" + sys.argv[3]](sys.argv[1], sys.argv[2])
    sys.exit(1 if vr.FAILS else 0)
