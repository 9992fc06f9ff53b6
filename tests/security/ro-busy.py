#!/usr/bin/env python3
"""Attack round 2, R1 (docs/security.md, rule W): Volume.SnapshotList is a read, yet each call
was a job that made the volume busy, so nobody flooding it on the read-only socket kept root's
resize and delete of that volume failing with VolumeBusy. Outcome checked: while nobody floods
SnapshotList from 8 connections, every resize and the delete root makes succeed, and nobody's
lists still get answers (a connection runs one read job at a time: the rest are refused)."""
import json
import subprocess
import sys
import time

import seclib
from seclib import ok

seclib.require_root()
d = seclib.Poold(name="robusy")
flood = None
try:
    d.start("[daemon]\nworkers = 2\n")
    seclib.dir_pool(d, "p1")
    r = d.poolctl("vol-create-as", "p1", "v1", "4M", "--format", "qcow2")
    ok(r.returncode == 0, "qcow2 volume v1 made", r.stderr)
    r = d.call_rw("io.poold.Volume.SnapshotCreate", {"pool": "p1", "volume": "v1", "name": "s1"})
    ok("error" not in r, "snapshot s1 of v1 made", r)

    flood = subprocess.Popen(seclib.NOBODY + [sys.executable, seclib.ATTACKER, "snaplist", d.ro,
                                             "p1", "v1", "6", "8"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    results = {}
    cap = 1 << 20
    t_end = time.monotonic() + 4
    while time.monotonic() < t_end:
        cap += 1 << 20
        r = d.call_rw("io.poold.Volume.Resize", {"pool": "p1", "volume": "v1", "capacity": 4 * cap})
        k = r.get("error", "ok")
        results[k] = results.get(k, 0) + 1
        time.sleep(0.05)
    ok(list(results) == ["ok"], "R1 root's resizes of v1 while nobody floods SnapshotList: %s"
       % results)
    r = d.call_rw("io.poold.Volume.Delete", {"pool": "p1", "volume": "v1"})
    ok("error" not in r, "R1 root's delete of v1 while nobody floods SnapshotList", r)
    out, err = flood.communicate(timeout=60)
    flood = None
    try:
        counts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        counts = {}
    ok(counts.get("answered", 0) > 0, "nobody's SnapshotList calls were answered: %s" % counts,
       err)
    ok(d.answers(), "poold answers root")
    seclib.stopped_clean(d)
finally:
    if flood:
        flood.kill()
        flood.wait()
    d.cleanup()
seclib.finish()
