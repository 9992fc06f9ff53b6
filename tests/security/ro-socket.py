#!/usr/bin/env python3
"""Attacks 1.1, 1.2, 1.3, 1.8 and 1.16 of the 2026-12-08 review: what nobody can do through
the read-only socket (mode 0666). Only the read class is admitted there (docs/security.md);
the outcome is checked: no program run as root, no secret text in any answer, no volume byte
sent, poold answering root at once."""
import json
import os
import re
import time

import seclib
from seclib import ok

seclib.require_root()
d = seclib.Poold(name="ro")
try:
    secret, secret_text = seclib.secret_file(d.dir)
    nb = seclib.nobody_dir(d.dir)
    d.start("[libvirt]\nallowed_uris = test:///default;leak=test://%s\n" % secret)
    target = seclib.dir_pool(d, "p1", ["v1", "v2", "v3", "v4"])
    with open(os.path.join(target, "v1"), "r+") as f:  # a guest disk holding a secret
        f.write(secret_text)

    # 1.1: a libvirt URI whose transport runs a program (as root, before)
    evil = os.path.join(nb, "evil.sh")
    pwned = os.path.join(nb, "pwned.txt")
    with open(evil, "w") as f:
        f.write("#!/bin/sh\nid > %s\n" % pwned)
    os.chmod(evil, 0o755)
    for uri in ("qemu+ext:///system?command=" + evil, "test:///default", "leak"):
        r = seclib.nobody("call", d.ro, "io.poold.Domain.BlkList",
                          json.dumps({"uri": uri, "domain": "test"}))
        ans = json.loads(r.stdout or "{}")
        ok(ans.get("error") == "org.varlink.service.PermissionDenied",
           "1.1 read-only Domain.BlkList (%s) refused" % uri.split("?")[0], r.stdout + r.stderr)
    time.sleep(0.3)
    ok(not os.path.exists(pwned), "1.1 no program ran as root (no %s)" % pwned)

    # 1.2: a test-driver URI naming a root-only file: no line of it in the answer
    r = seclib.nobody("call", d.ro, "io.poold.Domain.BlkList",
                      json.dumps({"uri": "test://" + secret, "domain": "x"}))
    ok(secret_text not in r.stdout and "PermissionDenied" in r.stdout,
       "1.2 read-only: no secret text in the answer", r.stdout)

    # 1.3: a guest disk (root 0600) downloaded by nobody
    r = seclib.nobody("download", d.ro, "p1", "v1")
    res = json.loads(r.stdout or "{}")
    ok(res.get("answer", {}).get("error") == "org.varlink.service.PermissionDenied"
       and res.get("bytes") == 0 and secret_text not in r.stdout,
       "1.3 read-only Volume.Download refused, no byte of the volume sent", r.stdout + r.stderr)

    # 1.8: four downloads into pipes nobody reads, held; root's create answers at once
    staller = seclib.subprocess.Popen(
        seclib.NOBODY + [seclib.sys.executable, seclib.ATTACKER, "stall", d.ro, "p1", "20",
                         "v1", "v2", "v3", "v4"], stdout=seclib.subprocess.PIPE, text=True)
    answers = [json.loads(staller.stdout.readline() or "{}") for _ in range(4)]
    ok(all(a.get("error") == "org.varlink.service.PermissionDenied" for a in answers),
       "1.8 read-only downloads into never-read pipes refused", json.dumps(answers))
    t0 = time.monotonic()
    try:
        r = d.poolctl("vol-create-as", "p1", "innocent", "1M", "--format", "qcow2", timeout=15)
        rc, err = r.returncode, r.stderr
    except seclib.subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    took = time.monotonic() - t0
    ok(rc == 0 and took < 5, "1.8 root's vol-create-as while nobody holds them: %.2f s" % took,
       err)
    staller.kill()
    staller.wait()

    # 1.16: every method of every interface, by the class its IDL declares: the read-only
    # socket admits exactly the read class (asked as nobody, with no parameters)
    c = seclib.Conn(d.rw)
    ifaces = c.call("org.varlink.service.GetInfo")["parameters"]["interfaces"]
    classes = {}
    for iface in ifaces:
        desc = c.call("org.varlink.service.GetInterfaceDescription",
                      {"interface": iface})["parameters"]["description"]
        for cls, name in re.findall(r"# @class: (\w+)\nmethod (\w+)\(", desc):
            classes[iface + "." + name] = cls
        n_methods = len(re.findall(r"^method ", desc, re.M))
        ok(n_methods == sum(1 for m in classes if m.startswith(iface + ".")),
           "1.16 every method of %s has a class in its IDL" % iface)
    c.close()
    wrong = []
    for m, cls in sorted(classes.items()):
        if m.endswith("Event.Subscribe"):
            continue  # needs "more"; read like Event.List
        r = seclib.nobody("call", d.ro, m, "{}")
        err = json.loads(r.stdout or "{}").get("error")
        if (cls == "read") == (err == "org.varlink.service.PermissionDenied"):
            wrong.append("%s (%s): %s" % (m, cls, err))
    ok(len(classes) >= 50 and not wrong,
       "1.16 the read-only socket admits exactly the %d read methods of %d" %
       (sum(1 for c in classes.values() if c == "read"), len(classes)), "\n".join(wrong))
    ok(d.alive() and d.answers(), "poold alive and answering root")
    seclib.stopped_clean(d)
finally:
    d.cleanup()
seclib.finish()
