#!/usr/bin/env python3
"""Attacks 1.1 and 1.2 on the read-write socket: poold opens only the libvirt URIs of its
root-owned configuration ([libvirt] uri, allowed_uris), and libvirt's error texts, which may
quote a file libvirt read as root, never reach a client (docs/security.md, rules U and L)."""
import json
import os
import time

import seclib
from seclib import ok

seclib.require_root()
d = seclib.Poold(name="uri")
try:
    secret, secret_text = seclib.secret_file(d.dir)
    nb = seclib.nobody_dir(d.dir)
    evil = os.path.join(nb, "evil.sh")
    pwned = os.path.join(nb, "pwned.txt")
    with open(evil, "w") as f:
        f.write("#!/bin/sh\nid > %s\n" % pwned)
    os.chmod(evil, 0o755)
    # root's configuration names a test-driver URI over a root-only file: libvirt's parse
    # error quotes its first line
    d.start("[libvirt]\nuri = test:///default\nallowed_uris = leak=test://%s\n" % secret)

    for uri in ("qemu+ext:///system?command=" + evil, "qemu:///system",
                "qemu+ssh://attacker.example/system", "test:///etc/shadow",
                "qemu+unix:///system?socket=" + nb + "/sock", "test:///default?x=1"):
        r = d.call_rw("io.poold.Domain.BlkList", {"uri": uri, "domain": "test"})
        msg = r.get("parameters", {}).get("message", "")
        ok(r.get("error") == "io.poold.Error.PermissionDenied" and "is not allowed" in msg
           and "allowed_uris" in msg and secret_text not in json.dumps(r),
           "root, read-write socket: URI '%s' refused naming the rule and the key" %
           uri.split("?")[0][:40], json.dumps(r))
    time.sleep(0.3)
    ok(not os.path.exists(pwned), "1.1 no program ran (no %s)" % pwned)

    # the configured ones work: by default, exact match, and by name
    r = d.call_rw("io.poold.Domain.BlkList", {"domain": "test"})
    ok("disks" in r.get("parameters", {}), "the configured default URI works", json.dumps(r))
    r = d.call_rw("io.poold.Domain.BlkList", {"uri": "test:///default", "domain": "test"})
    ok("disks" in r.get("parameters", {}), "the configured URI by exact match", json.dumps(r))
    # 1.2 / rule L: the configured 'leak' URI makes libvirt quote the secret in its error
    r = d.call_rw("io.poold.Domain.BlkList", {"uri": "leak", "domain": "x"})
    msg = r.get("parameters", {}).get("message", "")
    ok(r.get("error") and secret_text not in json.dumps(r) and "in poold's log" in msg,
       "1.2 libvirt's error text is not passed to the client", json.dumps(r))
    r = d.call_rw("io.poold.Domain.BlkList", {"uri": "test://" + secret, "domain": "x"})
    ok(r.get("error") and secret_text not in json.dumps(r),
       "1.2 the same URI given verbatim: no secret either", json.dumps(r))

    # nobody on the read-only socket: refused as privileged before the URI is looked at
    r = seclib.nobody("call", d.ro, "io.poold.Domain.BlkList",
                      json.dumps({"uri": "qemu+ext:///system?command=" + evil, "domain": "x"}))
    ok("org.varlink.service.PermissionDenied" in r.stdout, "nobody, read-only: refused",
       r.stdout)
    # the other privileged methods check the URI too (attach/detach, import/export)
    for method, params in (("io.poold.Domain.DetachDisk", {"domain": "x", "target": "vdb"}),
                           ("io.poold.Pool.ImportLibvirt", {}),
                           ("io.poold.Domain.AttachDisk",
                            {"domain": "x", "volume": "/nonexistent", "target": "vdb"})):
        params["uri"] = "qemu+ext:///system?command=" + evil
        r = d.call_rw(method, params)
        err = r.get("error", "")
        ok(err in ("io.poold.Error.PermissionDenied", "io.poold.Error.NoSuchVolume"),
           "%s with a URI of the caller's: refused" % method.rsplit(".", 1)[1], json.dumps(r))
    time.sleep(0.3)
    ok(not os.path.exists(pwned), "no program ran after every privileged method")
    ok(d.alive() and d.answers(), "poold alive and answering")
    seclib.stopped_clean(d)
finally:
    d.cleanup()
seclib.finish()
