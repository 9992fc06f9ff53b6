#!/usr/bin/env python3
"""Attack round 2, W3 (docs/security.md, rule W): a stream's stall clock ran while the stream
was queued behind others on the stream pool, so a download whose reader read all the time
failed as stalled once it got a worker. Outcome checked: with one stream worker held by a
download nobody reads, a second download read continuously waits its turn, then completes
with every byte, while the first fails with the stall error."""
import os
import threading
import time

import seclib
from seclib import ok


def job_state(d, job, timeout):
    deadline = time.monotonic() + timeout
    info = {}
    while time.monotonic() < deadline:
        r = d.call_rw("io.poold.Job.Get", {"id": job})
        info = r.get("parameters", {}).get("job", {})
        if info.get("state") in ("failed", "cancelled", "done"):
            break
        time.sleep(0.2)
    return info


def download(conn, vol):
    rfd, wfd = os.pipe()
    r = conn.call("io.poold.Volume.Download", {"pool": "p1", "volume": vol, "async": True},
                  fds=[wfd])
    os.close(wfd)
    return r.get("parameters", {}).get("job"), rfd


seclib.require_root()
d = seclib.Poold(name="streamq")
held = []
try:
    d.start("[daemon]\nstream_workers = 1\nstream_stall_timeout = 3\n")
    target = seclib.dir_pool(d, "p1", ["s1", "s2"])
    for v in ("s1", "s2"):
        with open(os.path.join(target, v), "r+b") as f:
            f.truncate(8 << 20)
    d.poolctl("pool-refresh", "p1")
    c1, c2 = seclib.Conn(d.rw), seclib.Conn(d.rw)
    j1, r1 = download(c1, "s1")  # never read: holds the one stream worker until it stalls
    held.append(r1)
    time.sleep(0.3)
    j2, r2 = download(c2, "s2")  # read all the time, from the start
    got = [0]

    def reader():
        while True:
            data = os.read(r2, 1 << 20)
            if not data:
                break
            got[0] += len(data)

    t = threading.Thread(target=reader)
    t.start()
    i1 = job_state(d, j1, 20)
    ok(i1.get("state") == "failed" and "stream_stall_timeout" in i1.get("error", ""),
       "the unread download fails as stalled", i1)
    i2 = job_state(d, j2, 20)
    t.join(10)
    ok(i2.get("state") == "done" and got[0] == 8 << 20,
       "W3 the queued download read continuously completes (%d bytes): %s"
       % (got[0], i2.get("state")), i2)
    os.close(r2)
    seclib.stopped_clean(d)
finally:
    for fd in held:
        os.close(fd)
    d.cleanup()
seclib.finish()
