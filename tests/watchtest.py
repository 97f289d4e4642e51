"""watchtest - what the tests of "condstore watch" and "condstore sync"
share on top of cstest: running the daemon in the background, waiting
for it with "condstore sync", and stopping it by its PID.

Environment (besides cstest's):
  CSTEST_WATCH_WRAPPER  a command prefix for the daemon only, e.g.
                        "valgrind --error-exitcode=99 --leak-check=full"
"""

import os
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


def daemon_wrapper():
    return shlex.split(os.environ.get("CSTEST_WATCH_WRAPPER", ""))


class Daemon:
    """A "condstore watch" process.  args are the watch options; the log
    goes to log_path (stderr of the process)."""

    def __init__(self, args, log_path, maildir=None, wrapper=None,
                 prefix=()):
        cmd = list(prefix) + (daemon_wrapper() if wrapper is None
                              else wrapper)
        cmd += [cstest.condstore_path()]
        if maildir is not None:
            cmd += ["--maildir", maildir]
        cmd += ["watch"] + list(args)
        self.cmd = cmd
        self.log_path = log_path
        self.logf = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def stop(self, timeout=120):
        """SIGTERM and wait; returns the exit status."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.logf.close()

    def kill(self):
        """SIGKILL (if still running) and reap."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        self.logf.close()

    def cleanup(self):
        if self.running():
            self.kill()
        elif not self.logf.closed:
            self.logf.close()


def sync(maildir, timeout_ms=120000):
    """condstore sync; returns the Result."""
    return cstest.run(["sync", "--timeout", str(timeout_ms)],
                      maildir=maildir)


def wait_ready(daemon, maildirs, attempts=3000):
    """Wait until daemon serves every Maildir of maildirs.  "sync" waits
    for a daemon that has registered, and 0.5 s for one to register; a
    daemon under a slow wrapper (valgrind) may take longer to register,
    hence the loop."""
    for root in maildirs:
        for _ in range(attempts):
            if not daemon.running():
                raise AssertionError("watch daemon exited with %s:\n%s" % (
                    daemon.proc.returncode, daemon.log()))
            res = sync(root, 60000)
            if res.rc == 0:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("daemon never served %s:\n%s" % (
                root, daemon.log()))


class WatchCase(cstest.CondstoreCase):
    """A CondstoreCase with helpers to run the daemon on self.md."""

    def start_daemon(self, *args, maildirs=None, log_name="watch.log",
                     **kw):
        log_path = os.path.join(self.md.tmp, log_name)
        if maildirs is None:
            args = ("--maildir", self.md.root) + tuple(args)
            maildirs = [self.md.root]
        daemon = Daemon(args, log_path, **kw)
        self.addCleanup(daemon.cleanup)
        wait_ready(daemon, maildirs)
        return daemon

    def wait_log(self, daemon, text, attempts=3000):
        """Wait until the daemon has logged text (up to attempts times
        10 ms); fail if it stops or never does."""
        for _ in range(attempts):
            if text in daemon.log():
                return
            self.assertTrue(daemon.running(), daemon.log())
            time.sleep(0.01)
        self.fail("%r never logged:\n%s" % (text, daemon.log()))

    def sync(self, maildir=None):
        res = sync(maildir or self.md.root)
        self.assertEqual(res.rc, 0, res)

    def stop_daemon(self, daemon):
        rc = daemon.stop()
        self.assertEqual(rc, 0, daemon.log())
