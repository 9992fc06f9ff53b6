#!/usr/bin/env python3
"""Attack 1.8 beyond the read-only socket (docs/security.md, rule W): streams into pipes no one
reads held every storage worker (root's vol-create-as hung), job-cancel could not end them,
and one client could start any number of jobs. Outcome checked: storage jobs answer while
streams stall, a stalled stream fails after stream_stall_timeout naming the rule, a cancel
ends a stream that waits, a connection runs at most max_jobs_per_client jobs."""
import os
import time

import seclib
from seclib import ok


def download(conn, pool, vol):
    """An async Volume.Download into a pipe this test never reads; returns (answer, rfd)."""
    rfd, wfd = os.pipe()
    r = conn.call("io.poold.Volume.Download", {"pool": pool, "volume": vol, "async": True},
                  fds=[wfd])
    os.close(wfd)
    return r, rfd


def job_state(d, job, until, timeout):
    deadline = time.monotonic() + timeout
    info = {}
    while time.monotonic() < deadline:
        r = d.call_rw("io.poold.Job.Get", {"id": job})
        info = r.get("parameters", {}).get("job", {})
        if info.get("state") in until:
            break
        time.sleep(0.2)
    return info


seclib.require_root()
d = seclib.Poold(name="jobs")
held = []
try:
    d.start("[daemon]\nworkers = 2\nstream_workers = 4\nstream_stall_timeout = 3\n"
            "max_jobs_per_client = 3\n")
    target = seclib.dir_pool(d, "p1", ["s1", "s2", "s3", "s4", "s5"])
    for v in ("s1", "s2", "s3", "s4", "s5"):  # 8 MiB each: far more than a pipe holds
        with open(os.path.join(target, v), "r+b") as f:
            f.truncate(8 << 20)
    d.poolctl("pool-refresh", "p1")

    # four stalled streams, from four connections; the 2 storage workers stay free
    conns = [seclib.Conn(d.rw) for _ in range(4)]
    jobs = []
    for c, v in zip(conns, ("s1", "s2", "s3", "s4")):
        r, rfd = download(c, "p1", v)
        held.append(rfd)
        jobs.append(r.get("parameters", {}).get("job"))
    ok(all(jobs), "four downloads into never-read pipes started: jobs %s" % jobs)
    time.sleep(0.5)
    t0 = time.monotonic()
    try:
        r = d.poolctl("vol-create-as", "p1", "innocent", "1M", "--format", "qcow2", timeout=15)
        rc, err = r.returncode, r.stderr
    except seclib.subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    took = time.monotonic() - t0
    ok(rc == 0 and took < 5, "1.8 root's vol-create-as while 4 streams stall: %.2f s" % took, err)

    # the stall timeout ends them, with an error naming the rule
    info = job_state(d, jobs[0], ("failed", "cancelled", "done"), 15)
    ok(info.get("state") == "failed" and "stream_stall_timeout" in info.get("error", ""),
       "1.8 a stalled stream fails after stream_stall_timeout", info)
    states = [job_state(d, j, ("failed", "cancelled", "done"), 10).get("state") for j in jobs]
    ok(states == ["failed"] * 4, "1.8 all four stalled streams ended: %s" % states)
    r = d.poolctl("vol-wipe", "s1", "--pool", "p1")
    ok(r.returncode == 0, "1.8 their volumes are free again (vol-wipe s1)", r.stderr)

    # a cancel ends a stream that waits on its pipe
    c = seclib.Conn(d.rw)
    r, rfd = download(c, "p1", "s5")
    held.append(rfd)
    job = r.get("parameters", {}).get("job")
    time.sleep(0.5)
    t0 = time.monotonic()
    r = d.call_rw("io.poold.Job.Cancel", {"id": job})
    info = job_state(d, job, ("failed", "cancelled", "done"), 10)
    ok(info.get("state") == "cancelled" and time.monotonic() - t0 < 2.5,
       "job-cancel ends a stream waiting on a full pipe (%.1f s)" % (time.monotonic() - t0),
       info)

    # one connection, at most max_jobs_per_client running jobs
    answers = []
    for v in ("s1", "s2", "s3", "s4"):
        r, rfd = download(c, "p1", v)
        held.append(rfd)
        answers.append(r)
    errs = [a.get("error") for a in answers]
    msg = answers[3].get("parameters", {}).get("message", "")
    ok(errs[:3] == [None] * 3 and errs[3] == "io.poold.Error.Busy"
       and "max_jobs_per_client" in msg, "a 4th job of one connection is refused (3 allowed)",
       answers)
    ok(d.alive() and d.answers(), "poold alive and answering")
    seclib.stopped_clean(d)
finally:
    for fd in held:
        os.close(fd)
    d.cleanup()
seclib.finish()
