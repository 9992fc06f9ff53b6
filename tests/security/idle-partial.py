#!/usr/bin/env python3
"""Attack round 2, W4 (docs/security.md, rule S): ro_idle_timeout counted any byte as
activity, so nobody kept a read-only connection open for good with one byte every 50 s.
Outcome checked: a connection sending one byte of a message every 0.5 s, never completing it,
is closed soon after ro_idle_timeout (2 s), and the close is logged with its key; one that
sends complete messages more often than that stays open."""
import json

import seclib
from seclib import ok

seclib.require_root()
d = seclib.Poold(name="idlepart")
try:
    d.start("[daemon]\nro_idle_timeout = 2\n")
    r = seclib.nobody("trickle", d.ro, "0.5", "12", timeout=60)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {}
    ok(res.get("closed") and res.get("open_for", 99) < 6,
       "W4 a partial message trickled byte by byte is closed after ro_idle_timeout: %s" % res,
       r.stderr)
    ok("idle (ro_idle_timeout)" in d.log_text(), "W4 the close is logged with its key")
    c = seclib.Conn(d.ro)
    alive = True
    for _ in range(8):
        r = c.call("io.poold.Pool.List")
        alive = alive and r is not None and "parameters" in r
        seclib.time.sleep(0.5)
    ok(alive, "a connection sending complete calls every 0.5 s stays open past 2 s")
    c.close()
    seclib.stopped_clean(d)
finally:
    d.cleanup()
seclib.finish()
