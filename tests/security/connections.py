#!/usr/bin/env python3
"""Attacks 2.3 and 2.4 of the 2026-12-08 review: nobody holding read-only connections locked
root out of the read-write socket (one max_clients for both, no idle timeout), and clients
that never read could make poold buffer 64 MiB each with no cap on the sum. Outcome checked:
root answered while nobody holds every connection it can, nobody's connections capped per
uid and closed when idle, poold's peak memory bounded by max_outbuf_total."""
import json
import os
import subprocess
import sys
import time

import seclib
from seclib import ok


def status_kb(d, key):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


seclib.require_root()
d = seclib.Poold(name="conns")
try:
    d.start("[daemon]\nmax_clients = 8\nmax_ro_clients = 32\nmax_ro_clients_per_uid = 4\n"
            "ro_idle_timeout = 2\n")
    # 2.3: nobody asks for 40 read-only connections and holds them
    holder = subprocess.Popen(seclib.NOBODY + [sys.executable, seclib.ATTACKER, "hold", d.ro,
                                               "40", "4"], stdout=subprocess.PIPE, text=True)
    first = json.loads(holder.stdout.readline())
    ok(first["answered"] == 4, "2.3 nobody got 4 read-only connections of 40 asked "
       "(max_ro_clients_per_uid)", json.dumps(first))
    conns = []
    for i in range(7):
        conns.append(seclib.Conn(d.rw))
    ok(all(c.call("io.poold.Daemon.Info") for c in conns) and d.answers(),
       "2.3 root has all 8 read-write slots while nobody holds its connections")
    for c in conns:
        c.close()
    c = seclib.Conn(d.ro)
    ok(c.call("io.poold.Pool.List") is not None, "2.3 another uid (root) still gets a "
       "read-only connection")
    c.close()
    last = json.loads(holder.stdout.readline())
    holder.wait(30)
    ok(last["closed"] == last["held"] and last["held"] >= 4, "2.3 nobody's connections closed: refused or idle "
       "for ro_idle_timeout (%d of %d)" % (last["closed"], last["held"]), json.dumps(last))
    log = d.log_text()
    ok("max_ro_clients_per_uid" in log and "idle (ro_idle_timeout)" in log,
       "2.3 refusals and idle closes logged with their keys")
    # a read-only subscriber runs a call: not idle
    s = seclib.Conn(d.ro)
    s.send("io.poold.Event.Subscribe", {}, more=True)
    time.sleep(3.5)
    s.s.setblocking(False)
    try:
        alive = s.s.recv(65536) != b""
    except BlockingIOError:
        alive = True
    except OSError:
        alive = False
    ok(alive, "2.3 a read-only subscription is not idle: kept past ro_idle_timeout")
    s.close()
    seclib.stopped_clean(d)

    # 2.4: never-reading clients, their answers buffered: the sum is capped
    d.start("[daemon]\nmax_ro_clients_per_uid = 64\nro_idle_timeout = 0\n"
            "max_outbuf_total = 16777216\n")
    target = seclib.dir_pool(d, "p1")
    for i in range(1500):
        open(os.path.join(target, "v%04d-" % i + "x" * 180), "w").close()
    d.poolctl("pool-refresh", "p1")
    r = d.call_rw("io.poold.Volume.List", {"pool": "p1"})
    size = len(json.dumps(r))
    time.sleep(0.5)
    base = status_kb(d, "VmRSS")
    r = seclib.nobody("noread", d.ro, 12, 40, timeout=120)
    hwm = status_kb(d, "VmHWM")
    closes = d.log_text().count("max_outbuf_total")
    ok(closes > 0, "2.4 clients closed past max_outbuf_total (%d), answers of %d KB" %
       (closes, size // 1024), r.stdout + r.stderr)
    seclib.bound(d, hwm - base < 64 * 1024, "2.4 peak RSS %.1f MB over a %.1f MB baseline (12 clients x up to "
       "64 MiB allowed before)" % ((hwm - base) / 1024, base / 1024))
    ok(d.alive() and d.answers(), "poold alive and answering")
    seclib.stopped_clean(d)
finally:
    d.cleanup()
seclib.finish()
