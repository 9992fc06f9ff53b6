#!/usr/bin/env python3
"""A raw varlink client for the e2e tests: talks to poold without poolctl.

Usage: varlink-raw.py SOCKET SCENARIO   (prints "ok"/"FAIL: ..." lines; exit 1 on a failure)
"""
import json
import socket
import sys


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    return s


def send(s, method, params=None, more=False):
    msg = {"method": method}
    if params is not None:
        msg["parameters"] = params
    if more:
        msg["more"] = True
    s.sendall(json.dumps(msg).encode() + b"\0")


def recv(s, buf=bytearray()):
    while b"\0" not in buf:
        data = s.recv(65536)
        if not data:
            return None  # closed
        buf.extend(data)
    i = buf.index(b"\0")
    msg = json.loads(bytes(buf[:i]))
    del buf[: i + 1]
    return msg


def call(s, method, params=None):
    send(s, method, params)
    return recv(s)


def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


FAILS = []


def expect(cond, what):
    print(("ok " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def scenario_service(path):
    s = connect(path)
    r = call(s, "org.varlink.service.GetInfo")
    ifaces = r["parameters"]["interfaces"]
    expect("io.poold.Pool" in ifaces and "org.varlink.service" in ifaces, "GetInfo lists interfaces")
    for iface in ifaces:
        r = call(s, "org.varlink.service.GetInterfaceDescription", {"interface": iface})
        desc = r.get("parameters", {}).get("description", "")
        expect(("interface " + iface + "\n") in desc, "description of " + iface)
    r = call(s, "org.varlink.service.GetInterfaceDescription", {"interface": "io.nope"})
    expect(r.get("error") == "org.varlink.service.InterfaceNotFound", "unknown interface")
    r = call(s, "io.poold.Pool.Nope")
    expect(r.get("error") == "org.varlink.service.MethodNotFound", "unknown method")
    r = call(s, "io.nope.X")
    expect(r.get("error") == "org.varlink.service.InterfaceNotFound", "unknown interface of a call")
    r = call(s, "io.poold.Pool.Info", {"pool": 7})
    expect(r.get("error") == "org.varlink.service.InvalidParameter"
           and r["parameters"]["parameter"] == "pool", "wrong parameter type")
    r = call(s, "io.poold.Pool.Info", {})
    expect(r.get("error") == "org.varlink.service.InvalidParameter", "missing parameter")
    r = call(s, "io.poold.Pool.Info", {"pool": "p", "extra": 1})
    expect(r.get("error") == "org.varlink.service.InvalidParameter"
           and r["parameters"]["parameter"] == "extra", "unknown parameter")
    r = call(s, "io.poold.Volume.Resize", {"volume": "v", "capacity": -5})
    expect(r.get("error") == "org.varlink.service.InvalidParameter", "negative size")
    r = call(s, "io.poold.Pool.Info", {"pool": "a\x00b"})
    expect(r.get("error") == "org.varlink.service.InvalidParameter", "a NUL in a string")
    r = call(s, "io.poold.Event.Subscribe")
    expect(r.get("error") == "org.varlink.service.ExpectedMore", "subscribe without more")
    r = call(s, "io.poold.Pool.Info", {"pool": "nope"})
    expect(r.get("error") == "io.poold.Error.NoSuchPool" and "nope" in r["parameters"]["message"],
           "NoSuchPool names the pool")
    # pipelined calls are answered in order
    s.sendall(b"".join(json.dumps({"method": m}).encode() + b"\0"
                       for m in ["io.poold.Daemon.Info", "io.poold.Pool.List", "io.poold.Job.List"]))
    order = [sorted(recv(s)["parameters"].keys())[0] for _ in range(3)]
    expect(order == ["info", "pools", "jobs"], "pipelined calls answered in order")
    # far more calls than max_calls_per_client at once: poold reads them as it answers
    n = 200
    s.sendall(b"".join(json.dumps({"method": "io.poold.Pool.Info",
                                   "parameters": {"pool": "p%d" % i}}).encode() + b"\0"
                       for i in range(n)))
    got = [recv(s) for _ in range(n)]
    expect(all(g and g.get("error") == "io.poold.Error.NoSuchPool"
               and ("'p%d'" % i) in g["parameters"]["message"] for i, g in enumerate(got)),
           "%d pipelined calls all answered, in order" % n)


def scenario_malformed(path):
    good = connect(path)
    expect("parameters" in call(good, "io.poold.Pool.List"), "a client works")
    cases = [b"{not json\0", b"[1,2,3]\0", b'{"parameters":{}}\0', b'{"method":5}\0',
             b'{"method":"io.poold.Pool.List","more":"yes"}\0', b"\xff\xfe\0"]
    for data in cases:
        bad = connect(path)
        bad.sendall(data)
        expect(closed(bad), "malformed %r closes its connection" % data[:20])
    expect("parameters" in call(good, "io.poold.Pool.List"), "the other client still works")
    fresh = connect(path)
    expect("parameters" in call(fresh, "io.poold.Daemon.Info"), "new clients still work")


def scenario_oversized(path):
    good = connect(path)
    big = connect(path)
    try:
        big.sendall(b'{"method":"io.poold.Pool.Define","parameters":{"xml":"' + b"x" * 20000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    expect(closed(big), "an oversized message closes its connection")
    expect("parameters" in call(good, "io.poold.Pool.List"), "the other client still works")


def scenario_max_clients(path):
    import time
    probe = connect(path)
    for _ in range(100):  # until the clients of earlier scenarios are gone
        if call(probe, "io.poold.Daemon.Info")["parameters"]["info"]["clients"] == 1:
            break
        time.sleep(0.05)
    conns = [probe] + [connect(path) for _ in range(3)]
    for c in conns:
        expect("parameters" in call(c, "io.poold.Daemon.Info"), "client within the limit")
    extra = connect(path)
    expect(closed(extra), "a client past max_clients is refused")
    conns[1].close()
    for _ in range(100):  # until poold has seen it go
        if call(conns[0], "io.poold.Daemon.Info")["parameters"]["info"]["clients"] == 3:
            break
        time.sleep(0.05)
    again = connect(path)
    expect("parameters" in call(again, "io.poold.Daemon.Info"), "a slot frees when a client leaves")


def scenario_readonly(path):
    s = connect(path)
    writes = [("io.poold.Pool.Define", {"xml": "<pool/>"}), ("io.poold.Pool.Start", {"pool": "p"}),
              ("io.poold.Pool.Stop", {"pool": "p"}), ("io.poold.Pool.Undefine", {"pool": "p"}),
              ("io.poold.Pool.SetAutostart", {"pool": "p", "autostart": True}),
              ("io.poold.Volume.Create", {"pool": "p", "xml": "<volume/>"}),
              ("io.poold.Volume.Delete", {"volume": "v"}),
              ("io.poold.Volume.Resize", {"volume": "v", "capacity": 1}),
              ("io.poold.Volume.Wipe", {"volume": "v"}),
              ("io.poold.Volume.SnapshotCreate", {"volume": "v", "name": "s"}),
              ("io.poold.Job.Cancel", {"id": 1})]
    for method, params in writes:
        r = call(s, method, params)
        expect(r.get("error") == "org.varlink.service.PermissionDenied", "read-only refuses " + method)
    r = call(s, "io.poold.Pool.List")
    expect("parameters" in r, "read-only answers Pool.List")


def scenario_events(path):
    sub = connect(path)
    send(sub, "io.poold.Event.Subscribe", more=True)
    first = recv(sub)
    expect(first.get("continues") is True, "subscription starts")
    other = connect(path)
    call(other, "io.poold.Pool.SetAutostart", {"pool": "evpool", "autostart": True})
    r = call(other, "io.poold.Pool.Define", {"xml": "<pool type='dir'><name>evpool</name>"
                                                    "<target><path>/nonexistent/evpool</path></target></pool>"})
    expect("parameters" in r, "define for the event")
    ev = recv(sub)
    expect(ev and ev["parameters"]["event"]["kind"] == "pool-defined"
           and ev["parameters"]["event"]["pool"] == "evpool", "event streamed to the subscriber")
    call(other, "io.poold.Pool.Undefine", {"pool": "evpool"})
    ev = recv(sub)
    expect(ev and ev["parameters"]["event"]["kind"] == "pool-undefined", "second event")


def send_fd(s, method, params, fd):
    data = json.dumps({"method": method, "parameters": params}).encode() + b"\0"
    socket.send_fds(s, [data], [fd])


def scenario_fds(path):
    """Pipelined Upload and Download on one connection, each with its own descriptor (pool
    xp, raw volume data of 1 MiB): each call gets the descriptor sent with it."""
    import os
    import tempfile
    src = tempfile.TemporaryFile()
    payload = os.urandom(1 << 20)
    src.write(payload)
    src.seek(0)
    dst = tempfile.TemporaryFile()
    s = connect(path)
    send_fd(s, "io.poold.Volume.Upload", {"pool": "xp", "volume": "data"}, src.fileno())
    send_fd(s, "io.poold.Volume.Download", {"pool": "xp", "volume": "data"}, dst.fileno())
    r1, r2 = recv(s), recv(s)
    expect("parameters" in r1 and "parameters" in r2, "both transfers answered: %r %r" % (r1, r2))
    dst.seek(0)
    expect(dst.read() == payload, "each call used its own descriptor")
    r = call(s, "io.poold.Volume.Upload", {"pool": "xp", "volume": "data"})
    expect(r.get("error") == "org.varlink.service.InvalidParameter", "upload without a descriptor")
    send_fd(s, "io.poold.Pool.List", {}, src.fileno())
    r = recv(s)
    expect("parameters" in r, "a stray descriptor is closed, the call answered")


def vol_xml(name):
    return "<volume><name>%s</name><capacity>1048576</capacity></volume>" % name


def scenario_pipeline(path):
    """Calls sent back to back on one connection (pool pl, active and empty): quick creates
    and deletes are released before they are durable (group commit) and later calls run
    meanwhile, yet every answer comes in the order of the calls and says what that call
    did, and a call sees the effects of the calls before it."""
    s = connect(path)
    calls = []
    for i in range(20):
        calls.append(("io.poold.Volume.Create", {"pool": "pl", "xml": vol_xml("p%d" % i)}))
    calls.append(("io.poold.Volume.List", {"pool": "pl"}))          # not grouped: waits
    calls.append(("io.poold.Volume.Create", {"pool": "pl", "xml": vol_xml("p3")}))  # exists
    calls.append(("io.poold.Volume.Delete", {"pool": "pl", "volume": "p0"}))
    calls.append(("io.poold.Volume.Info", {"pool": "pl", "volume": "p0"}))  # gone now
    calls.append(("io.poold.Volume.Delete", {"pool": "pl", "volume": "nosuch"}))
    for i in range(1, 20):
        calls.append(("io.poold.Volume.Delete", {"pool": "pl", "volume": "p%d" % i}))
    calls.append(("io.poold.Volume.List", {"pool": "pl"}))
    for method, params in calls:
        send(s, method, params)
    replies = [recv(s) for _ in calls]
    for i in range(20):
        r = replies[i]
        expect(r.get("parameters", {}).get("volume", {}).get("name") == "p%d" % i,
               "create %d answered in order: %r" % (i, r))
    names = [v["name"] for v in replies[20].get("parameters", {}).get("volumes", [])]
    expect(sorted(names) == sorted("p%d" % i for i in range(20)),
           "the list after the creates sees all 20: %r" % names)
    expect(replies[21].get("error") == "io.poold.Error.Exists",
           "a duplicate create fails in its place: %r" % replies[21])
    expect("parameters" in replies[22] and "error" not in replies[22], "delete p0 answered")
    expect(replies[23].get("error") == "io.poold.Error.NoSuchVolume",
           "p0 is gone for the next call: %r" % replies[23])
    expect(replies[24].get("error") == "io.poold.Error.NoSuchVolume",
           "deleting an unknown volume fails in its place: %r" % replies[24])
    expect(all("error" not in r for r in replies[25:44]), "the other deletes succeeded")
    expect(replies[44].get("parameters", {}).get("volumes") == [], "the last list is empty: %r" % replies[44])
    s.close()


if __name__ == "__main__":
    globals()["scenario_" + sys.argv[2]](sys.argv[1])
    sys.exit(1 if FAILS else 0)
