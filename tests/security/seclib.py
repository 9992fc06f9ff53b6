"""Fixture of the security suite (docs/security.md): a private poold run as root, an attacker
run as nobody (setpriv), raw varlink connections, secrets in root-only files, TAP output.

Each test checks an outcome (no file written by root, no secret text in an answer, poold
alive and answering others within a bound, RSS within a bound), not only an error name.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ATTACKER = os.path.join(HERE, "attacker.py")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

_tests = 0
_fails = 0


def ok(cond, what, detail=None):
    global _tests, _fails
    _tests += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_tests, what), flush=True)
    if not cond:
        _fails += 1
        if detail is not None:
            for line in str(detail).splitlines()[:40]:
                print("#   " + line, flush=True)
    return cond


def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


def finish():
    print("1..%d" % _tests, flush=True)
    sys.exit(1 if _fails else 0)


def require_root():
    if os.geteuid() != 0:
        skip_all("needs root: poold runs as root and the attacker as nobody")
    if not shutil.which("setpriv"):
        skip_all("setpriv (util-linux) is not installed")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        skip_all("no user nobody")


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


class Conn:
    """A raw varlink connection."""

    def __init__(self, path, timeout=10):
        self.s = connect(path, timeout)
        self.buf = bytearray()

    def send_raw(self, data, fds=None):
        if fds:
            socket.send_fds(self.s, [data], fds)
        else:
            self.s.sendall(data)

    def send(self, method, params=None, fds=None, **extra):
        msg = {"method": method}
        if params is not None:
            msg["parameters"] = params
        msg.update(extra)
        self.send_raw(json.dumps(msg).encode() + b"\0", fds)

    def recv(self):
        """The next message, or None when the connection closed."""
        while b"\0" not in self.buf:
            try:
                data = self.s.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                return None
            if not data:
                return None
            self.buf.extend(data)
        i = self.buf.index(b"\0")
        msg = json.loads(bytes(self.buf[:i]))
        del self.buf[: i + 1]
        return msg

    def call(self, method, params=None, fds=None, **extra):
        self.send(method, params, fds, **extra)
        return self.recv()

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


class Poold:
    def __init__(self, config="", name="sec"):
        self.dir = tempfile.mkdtemp(prefix="poold-%s." % name)
        os.chmod(self.dir, 0o755)  # nobody reaches the read-only socket
        self.run = os.path.join(self.dir, "run")
        self.state = os.path.join(self.dir, "state")
        self.rw = os.path.join(self.run, "poold-sock")
        self.ro = os.path.join(self.run, "poold-sock-ro")
        self.conf = os.path.join(self.dir, "poold.conf")
        self.log = os.path.join(self.dir, "poold.log")
        self.config = config
        self.proc = None

    def start(self, config=None):
        if config is not None:
            self.config = config
        with open(self.conf, "w") as f:
            f.write(self.config)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [os.environ["POOLD"], "--runtime-dir", self.run, "--state-dir", self.state,
             "--config", self.conf], stdout=logf, stderr=logf)
        for _ in range(200):
            if os.path.exists(self.ro) and os.path.exists(self.rw):
                try:
                    c = Conn(self.rw, 2)
                    r = c.call("io.poold.Daemon.Info")
                    c.close()
                    if r and "parameters" in r:
                        return self
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        print("Bail out! poold did not start:\n" + open(self.log).read())
        sys.exit(1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for p in (self.rw, self.ro):
            try:
                os.unlink(p)
            except OSError:
                pass
        return self.proc.returncode

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def call_rw(self, method, params=None, timeout=30):
        c = Conn(self.rw, timeout)
        try:
            return c.call(method, params)
        finally:
            c.close()

    def poolctl(self, *args, timeout=60):
        return subprocess.run([os.environ["POOLCTL"], "-c", self.rw] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def answers(self, method="io.poold.Daemon.Info", timeout=5):
        """True if a fresh read-write connection gets an answer within @timeout seconds."""
        try:
            r = self.call_rw(method, timeout=timeout)
            return r is not None and "parameters" in r
        except OSError:
            return False


def secret_file(directory, name="secret.txt"):
    """A root-only (0600) file holding a unique secret line; returns (path, text)."""
    text = "TOPSECRET-%d-%d" % (os.getpid(), time.monotonic_ns())
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path, text


def nobody(*args, timeout=60, input=None):
    """Runs attacker.py ARGS... as nobody; returns the CompletedProcess."""
    return subprocess.run(NOBODY + [sys.executable, ATTACKER] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, input=input)


def nobody_dir(parent):
    """A directory nobody may write into."""
    d = os.path.join(parent, "nobody")
    os.makedirs(d, exist_ok=True)
    pw = pwd.getpwnam("nobody")
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o755)
    return d


def dir_pool(poold, name="p1", volumes=()):
    """A started dir pool with raw volumes of 1 MiB (root 0600 files)."""
    target = os.path.join(poold.dir, name)
    for args in (["pool-define-as", name, "dir", "--target", target], ["pool-build", name],
                 ["pool-start", name]):
        r = poold.poolctl(*args)
        if r.returncode != 0:
            print("Bail out! %s: %s" % (" ".join(args), r.stderr))
            sys.exit(1)
    for v in volumes:
        r = poold.poolctl("vol-create-as", name, v, "1M")
        if r.returncode != 0:
            print("Bail out! vol-create-as %s: %s" % (v, r.stderr))
            sys.exit(1)
    return target


def sanitized(poold):
    """True when poold runs under AddressSanitizer: its allocator keeps freed memory
    (quarantine) and runs slower, so RSS and latency bounds are reported, not checked."""
    try:
        with open("/proc/%d/maps" % poold.proc.pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def bound(poold, cond, what, detail=None):
    """ok() for a memory or time bound; under ASan the figure is only reported."""
    if sanitized(poold):
        print("# (ASan: bound not checked) %s" % what, flush=True)
        return True
    return ok(cond, what, detail)


def stopped_clean(poold):
    """Stops poold with SIGTERM: exit status 0 (under ASan also: no leak, no error)."""
    rc = poold.stop()
    return ok(rc == 0, "poold stopped cleanly (exit %s)" % rc, poold.log_text()[-3000:])
