#!/usr/bin/env python3
"""The attacker of the security suite: run as nobody by seclib.nobody(). Prints one JSON
line per outcome on stdout, for the test (running as root) to judge.

Usage: attacker.py COMMAND SOCKET ARGS...
  call SOCK METHOD PARAMS_JSON         one call; prints the answer (or {"closed": true})
  download SOCK POOL VOLUME            Volume.Download into a pipe; prints answer and bytes
  stall SOCK POOL SECONDS VOLUME...    downloads into pipes never read, held SECONDS
  nest SOCK DEPTH                      [ x DEPTH ] x DEPTH as the parameters
  bomb SOCK COUNT                      {"x":[0,0,...]} with COUNT values
  hold SOCK N SECONDS                  N connections, one call each, then idle; prints how
                                       many were answered, and how many poold closed
  noread SOCK N CALLS                  N connections sending CALLS Volume.List each, never
                                       reading; prints how many poold closed
  trickle SOCK INTERVAL SECONDS        one byte of a message every INTERVAL s for SECONDS;
                                       prints when poold closed the connection
  tcphold HOST:PORT N SECONDS          N idle TCP connections held SECONDS; prints how many
                                       connected and how many poold closed meanwhile
  snaplist SOCK POOL VOL SECONDS N     N connections pipelining Volume.SnapshotList (8 in
                                       flight each) for SECONDS; prints answers and errors
"""
import json
import os
import socket
import sys
import time


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recv(s, buf):
    while b"\0" not in buf:
        try:
            data = s.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            return None
        if not data:
            return None
        buf.extend(data)
    i = buf.index(b"\0")
    msg = json.loads(bytes(buf[:i]))
    del buf[: i + 1]
    return msg


def out(obj):
    print(json.dumps(obj), flush=True)


def send_and_answer(sock, data, fds=None, timeout=30):
    s = connect(sock, timeout)
    t0 = time.monotonic()
    try:
        if fds:
            socket.send_fds(s, [data], fds)
        else:
            s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return {"closed": True, "seconds": time.monotonic() - t0}, s
    r = recv(s, bytearray())
    return (r if r is not None else {"closed": True}), s


def cmd_call(sock, method, params):
    msg = {"method": method, "parameters": json.loads(params)}
    r, s = send_and_answer(sock, json.dumps(msg).encode() + b"\0")
    out(r)


def cmd_download(sock, pool, volume):
    rfd, wfd = os.pipe()
    msg = {"method": "io.poold.Volume.Download",
           "parameters": {"pool": pool, "volume": volume}}
    r, s = send_and_answer(sock, json.dumps(msg).encode() + b"\0", [wfd])
    os.close(wfd)
    os.set_blocking(rfd, False)
    data = b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            data += chunk
        except BlockingIOError:
            time.sleep(0.05)
    out({"answer": r, "bytes": len(data), "text": data[:256].decode("latin-1")})


def cmd_stall(sock, pool, seconds, *volumes):
    """Downloads into pipes nobody reads (attack 1.8), held for @seconds."""
    held = []
    for v in volumes:
        rfd, wfd = os.pipe()
        msg = {"method": "io.poold.Volume.Download",
               "parameters": {"pool": pool, "volume": v, "async": True}}
        r, s = send_and_answer(sock, json.dumps(msg).encode() + b"\0", [wfd])
        os.close(wfd)
        held.append((rfd, s))
        out(r)
    time.sleep(float(seconds))


def cmd_nest(sock, depth):
    depth = int(depth)
    body = b'{"method":"io.poold.Pool.List","parameters":{"x":' + b"[" * depth + b"]" * depth
    r, s = send_and_answer(sock, body + b"}}\0")
    out(r)


def cmd_bomb(sock, count):
    count = int(count)
    body = b'{"method":"io.poold.Pool.List","parameters":{"x":[' + b"0," * (count - 1) + b"0]}}\0"
    t0 = time.monotonic()
    r, s = send_and_answer(sock, body, timeout=60)
    r["seconds"] = time.monotonic() - t0
    out(r)


def cmd_hold(sock, n, seconds):
    conns = []
    answered = 0
    for _ in range(int(n)):
        try:
            s = connect(sock, 2)
            s.sendall(b'{"method":"io.poold.Daemon.Info"}\0')
            if recv(s, bytearray()) is not None:
                answered += 1
            conns.append(s)
        except OSError:
            pass
    out({"answered": answered})
    time.sleep(float(seconds))
    closed = 0
    for s in conns:
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
    out({"answered": answered, "closed": closed, "held": len(conns)})


def cmd_noread(sock, n, calls):
    conns = []
    msg = b'{"method":"io.poold.Volume.List","parameters":{"pool":"p1"}}\0' * int(calls)
    for _ in range(int(n)):
        s = connect(sock, 5)
        s.setblocking(False)
        try:
            s.sendall(msg)
        except (BlockingIOError, OSError):
            pass
        conns.append(s)
    time.sleep(4)
    closed = 0
    for s in conns:
        try:
            # drain what is there without reading the answers to the end: poold closed us
            # if recv reports end of stream after its buffered bytes
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.send(b"")
        except OSError:
            closed += 1
    out({"clients": len(conns), "send_failed": closed})


def cmd_snaplist(sock, pool, vol, seconds, n):
    import threading
    end = time.monotonic() + float(seconds)
    msg = json.dumps({"method": "io.poold.Volume.SnapshotList",
                      "parameters": {"pool": pool, "volume": vol}}).encode() + b"\0"
    counts = {"answered": 0, "errors": {}}
    lock = threading.Lock()

    def flood():
        s = connect(sock, 20)
        buf = bytearray()
        inflight = 0
        while time.monotonic() < end:
            while inflight < 8:
                s.sendall(msg)
                inflight += 1
            r = recv(s, buf)
            if r is None:
                return
            inflight -= 1
            with lock:
                counts["answered"] += 1
                if "error" in r:
                    counts["errors"][r["error"]] = counts["errors"].get(r["error"], 0) + 1

    threads = [threading.Thread(target=flood) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out(counts)


def cmd_trickle(sock, interval, seconds):
    s = connect(sock, 5)
    msg = b'{"method":"io.poold.Pool.List","parameters":{"pad":"' + b"x" * 4096
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < float(seconds):
        try:
            s.send(msg[i:i + 1])
            i += 1
            s.settimeout(float(interval))
            if s.recv(16) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    out({"sent": i, "open_for": round(time.monotonic() - t0, 1),
         "closed": time.monotonic() - t0 < float(seconds)})


def cmd_tcphold(addr, n, seconds):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host, port = addr.rsplit(":", 1)
    conns = []
    for _ in range(int(n)):
        try:
            conns.append(socket.create_connection((host, int(port)), timeout=2))
        except OSError:
            break
    time.sleep(float(seconds))
    closed = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(16) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    out({"connected": len(conns), "closed": closed})


def main():
    cmd, sock, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"call": cmd_call, "download": cmd_download, "stall": cmd_stall, "nest": cmd_nest, "bomb": cmd_bomb,
     "hold": cmd_hold, "noread": cmd_noread, "snaplist": cmd_snaplist,
     "trickle": cmd_trickle, "tcphold": cmd_tcphold}[cmd](sock, *args)


if __name__ == "__main__":
    main()
