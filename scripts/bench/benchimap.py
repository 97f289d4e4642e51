"""benchimap.py - a private Dovecot and a small IMAP client for the
benchmarks (scripts/bench/dovecot, scripts/bench/durable).

Dovecot runs with a private configuration on 127.0.0.1 (its own base_dir,
state_dir, instance_name and log; plain-text logins; a static passdb and
userdb serving the current, unprivileged user), default_vsz_limit raised
to 2G (a 1M-message Maildir does not open with the default 256M), and no
debug logging (BENCH_DEBUG=1 turns on mail_debug, to look into a
figure).  It is started with "dovecot -F -c CONF" and stopped by
its PID.  With plugin=True the maildir_condstore plugin is loaded from
the build tree.

The client speaks IMAP on a plain socket and counts untagged responses;
it does not parse more than the benchmarks need (no literals beyond
skipping them), so that its own cost stays far below what it measures.
"""

import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time

import benchlib as B

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", "..", "tests"))
import dovecotconf  # noqa: E402

PASSWORD = "cs-bench"
PLUGIN_SO = "lib20_maildir_condstore_plugin.so"


def dovecot_binary():
    path = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" +
                        os.environ.get("PATH", ""))
    if path is None:
        raise B.BenchError("dovecot is not installed (apt-get install "
                           "dovecot-imapd)")
    return path


def plugin_available():
    return os.path.exists(os.path.join(B.plugin_dir(), PLUGIN_SO))


class Dovecot:
    """A private Dovecot serving the current user, whose home is home."""

    def __init__(self, tmp, home, plugin=False, settings=None):
        self.tmp = tmp
        self.home = home
        self.plugin = plugin
        self.settings = dict(settings or {})
        self.conf = os.path.join(tmp, "dovecot.conf")
        self.log = os.path.join(tmp, "dovecot.log")
        self.port = None
        self.proc = None
        pw = pwd.getpwuid(os.geteuid())
        self.user = pw.pw_name
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.group = grp.getgrgid(pw.pw_gid).gr_name

    def write_config(self):
        os.makedirs(self.tmp, exist_ok=True)
        self.port = B.free_port()
        with open(self.conf, "w") as f:
            f.write(dovecotconf.config(
                "benchmarks",
                instance="csbench-%d-%d" % (os.getpid(), self.port),
                tmp=self.tmp, home=self.home, port=self.port,
                user=self.user, group=self.group, uid=self.uid,
                gid=self.gid, password=PASSWORD,
                plugin_dir=B.plugin_dir() if self.plugin else None,
                mail_plugins="maildir_condstore" if self.plugin else "",
                plugin_settings=self.settings if self.plugin else None,
                vsz_limit="2G", debug=bool(os.environ.get("BENCH_DEBUG"))))
        p = subprocess.run(["doveconf", "-c", self.conf, "-n"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode != 0:
            raise B.BenchError("doveconf rejected the config: " + p.stderr)

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen([dovecot_binary(), "-F", "-c",
                                      self.conf], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise B.BenchError("dovecot exited with %d: %s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection((B.HOST, self.port),
                                              timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise B.BenchError("dovecot did not listen on port %d" % self.port)

    def stop(self):
        B.stop(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def errors(self):
        """Error, Fatal and Panic lines of the log."""
        try:
            with open(self.log, errors="replace") as f:
                return [line.rstrip() for line in f
                        if re.search(r"\b(Panic|Fatal|Error):", line)]
        except OSError:
            return []

    def imap_peak_rss_kb(self):
        """The largest VmHWM among the imap processes of this Dovecot
        (children of the master whose name is "imap")."""
        best = None
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if comm == "imap" and ppid == self.proc.pid:
                hwm = B.vm_status(int(pid)).get("VmHWM")
                if hwm is not None and (best is None or hwm > best):
                    best = hwm
        return best

    def connect(self):
        """A logged-in client with CONDSTORE enabled."""
        c = Client(self.port)
        c.ok("LOGIN %s %s" % (self.user, PASSWORD))
        c.ok("ENABLE CONDSTORE")
        return c


LITERAL_RE = re.compile(rb"\{(\d+)\}\r\n$")


class Client:
    """Minimal IMAP client: one command at a time, untagged lines kept."""

    def __init__(self, port):
        self.sock = socket.create_connection((B.HOST, port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb", buffering=1 << 16)
        self.tag = 0
        greeting = self.f.readline()
        if not greeting.startswith(b"* OK"):
            raise B.BenchError("IMAP greeting: %r" % greeting)

    def command(self, text):
        """Send one command; returns (tagged line, [untagged lines])."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        while True:
            line = self.f.readline()
            if not line:
                raise B.BenchError("IMAP connection closed during %s" %
                                   text)
            m = LITERAL_RE.search(line)
            while m:            # skip literals, keep the rest of the line
                self.f.read(int(m.group(1)))
                line = line[:m.start()] + b"{}" + self.f.readline()
                m = LITERAL_RE.search(line)
            if line.startswith(tag + b" "):
                return line.decode(errors="replace").rstrip(), untagged
            untagged.append(line.decode(errors="replace").rstrip())

    def ok(self, text):
        tagged, untagged = self.command(text)
        if tagged.split()[1] != "OK":
            raise B.BenchError("IMAP %s: %s" % (text.split()[0], tagged))
        return tagged, untagged

    def idle_until_fetch(self, change, timeout=30):
        """IDLE; once the server has answered "+", call change() and
        return the seconds from its return until the first untagged
        FETCH (None if none came within timeout); then DONE."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" IDLE\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise B.BenchError("IMAP connection closed during IDLE")
            if line.startswith(b"+"):
                break
        change()
        t0 = time.perf_counter()
        seconds = None
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self.f.readline()
                if not line:
                    raise B.BenchError("IMAP connection closed in IDLE")
                if b" FETCH (" in line:
                    seconds = time.perf_counter() - t0
                    break
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(600)
        self.sock.sendall(b"DONE\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise B.BenchError("IMAP connection closed after IDLE")
            if line.startswith(tag + b" "):
                if line.split()[1] != b"OK":
                    raise B.BenchError("IDLE: %r" % line)
                return seconds

    def close(self):
        try:
            self.command("LOGOUT")
        except (B.BenchError, OSError):
            pass
        self.f.close()
        self.sock.close()


def count_fetch(untagged):
    return sum(1 for line in untagged if " FETCH (" in line)


def code_value(lines, name):
    """The number in [NAME n] or (NAME n) of the first line having it."""
    for line in lines:
        m = re.search(r"[\[(]%s (\d+)[\])]" % name, line)
        if m:
            return int(m.group(1))
    return None


def highestmodseq(client):
    """HIGHESTMODSEQ of INBOX as the client sees it now."""
    client.ok("NOOP")
    _, untagged = client.ok("STATUS INBOX (HIGHESTMODSEQ)")
    value = code_value(untagged, "HIGHESTMODSEQ")
    if value is None:
        raise B.BenchError("STATUS gave no HIGHESTMODSEQ: %r" % untagged)
    return value


def toggle_one(curdir, flag="D"):
    """Toggle flag on one message of curdir by one rename(2), done here
    so that no process start is timed."""
    with os.scandir(curdir) as it:
        for entry in it:
            name = entry.name
            if ":2," in name:
                break
        else:
            raise B.BenchError("no message in %s" % curdir)
    base, flags = name.rsplit(":2,", 1)
    flags = flags.replace(flag, "") if flag in flags else \
        "".join(sorted(flags + flag))
    os.rename(os.path.join(curdir, name),
              os.path.join(curdir, base + ":2," + flags))


DOVECOT_FILES = ("dovecot.index", "dovecot.index.log", "dovecot.index.log.2",
                 "dovecot.index.cache", "dovecot-uidlist", "dovecot-keywords")


def dovecot_index_bytes(maildir):
    """Bytes of Dovecot's own index of INBOX: its index files plus
    dovecot-uidlist and dovecot-keywords."""
    return files_bytes(maildir, DOVECOT_FILES)


def files_bytes(folder, names):
    total = 0
    for name in names:
        try:
            total += os.stat(os.path.join(folder, name)).st_size
        except FileNotFoundError:
            pass
    return total


def store_session(client, size, count, sign, budget=None):
    """count single-message conditional stores (UID STORE n
    (UNCHANGEDSINCE m) +FLAGS.SILENT (\\Flagged), or -FLAGS with sign "-")
    on UIDs spread over 1..size, one round trip each, m the HIGHESTMODSEQ
    at the start.  With budget (seconds), stop early once it is spent.
    Returns (seconds, stores done, number answered MODIFIED)."""
    since = highestmodseq(client)
    step = max(1, size // count)
    uids = list(range(1, size + 1, step))[:count]
    modified = done = 0
    t0 = time.perf_counter()
    for uid in uids:
        tagged, _ = client.command(
            "UID STORE %d (UNCHANGEDSINCE %d) %sFLAGS.SILENT (\\Flagged)" %
            (uid, since, sign))
        if tagged.split()[1] != "OK":
            raise B.BenchError("UID STORE %d: %s" % (uid, tagged))
        if "MODIFIED" in tagged:
            modified += 1
        done += 1
        if budget is not None and time.perf_counter() - t0 > budget:
            break
    return time.perf_counter() - t0, done, modified
