#!/usr/bin/env python3
"""Attack round 2, R4 (docs/security.md, rule S): the metrics HTTP listener (metrics_listen)
had no connection limit and no timeout: nobody's idle TCP connections took every descriptor
of poold, root's read-write socket hung, and GLib logged "Too many open files" tens of
thousands of times. Outcome checked, with poold under `ulimit -n 256`: while nobody holds 600
idle connections, root's calls are answered quickly, the log has (almost) no accept errors,
poold uses far fewer descriptors than its limit, idle connections are closed after the
timeout, and the metrics still answer afterwards."""
import json
import os
import resource
import socket
import subprocess
import sys
import time

import seclib
from seclib import ok

PORT = 19000 + os.getpid() % 1000

seclib.require_root()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # poold inherits it
d = seclib.Poold(name="metricsflood")
flood = None
try:
    d.start("[daemon]\nmetrics_listen = 127.0.0.1:%d\n" % PORT)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    flood = subprocess.Popen(seclib.NOBODY + [sys.executable, seclib.ATTACKER, "tcphold",
                                              "127.0.0.1:%d" % PORT, "600", "14"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    t0 = time.monotonic()
    answered = d.answers(timeout=5)
    took = time.monotonic() - t0
    ok(answered and took < 3, "R4 root's RW call answered during the flood (%.2f s)" % took)
    nfd = len(os.listdir("/proc/%d/fd" % d.proc.pid))
    ok(nfd < 128, "R4 poold holds %d descriptors (limit 256)" % nfd)
    out, err = flood.communicate(timeout=60)
    flood = None
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {}
    ok(res.get("closed", 0) >= 1, "R4 idle metrics connections were closed by the timeout: %s"
       % res, err)
    n = d.log_text().count("Too many open files")
    ok(n < 5, "R4 'Too many open files' logged %d times" % n)
    time.sleep(1)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.close()
    ok(body.startswith(b"HTTP/1.0 200"), "metrics answer after the flood", body[:200])
    ok(d.answers(), "poold answers root")
    seclib.stopped_clean(d)
finally:
    if flood:
        flood.kill()
        flood.wait()
    d.cleanup()
seclib.finish()
