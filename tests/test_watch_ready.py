#!/usr/bin/env python3
"""A daemon that is starting: "condstore watch & condstore sync" returns 0
once the startup scan is done; sync with no daemon gives up at once; the
daemon tells the service manager (READY=1, STATUS=) on $NOTIFY_SOCKET,
through libsystemd loaded only then (the command is not linked with it),
and exits at once when $NOTIFY_SOCKET is set but libsystemd can't be
loaded."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

# generous: "at once" as opposed to the 30 s --timeout
AT_ONCE_S = 5.0


class Ready(watchtest.WatchCase):
    seed = 151

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 1500, "Work": 500},
                                     keywords=())

    def spawn(self):
        """condstore watch in the background, not waited for."""
        log = os.path.join(self.md.tmp, "watch.log")
        d = watchtest.Daemon(["--maildir", self.md.root], log)
        self.addCleanup(d.cleanup)
        return d

    def test_watch_then_sync(self):
        # no index yet: the daemon creates it, and sync must wait for the
        # startup scan instead of failing on the missing index
        self.assertFalse(os.path.exists(self.db()))
        d = self.spawn()
        res = watchtest.sync(self.md.root, 30000)
        self.assertEqual(res.rc, 0, (res, d.log()))
        # everything on disk is in the index: the startup scan is done
        st = self.status("INBOX", "Work")
        self.assertEqual(st["INBOX"]["MESSAGES"], 1500)
        self.assertEqual(st["Work"]["MESSAGES"], 500)
        self.assertIn("startup: scanned 2 mailboxes", d.log())
        self.stop_daemon(d)

    def test_no_daemon_fails_at_once(self):
        start = time.monotonic()
        res = watchtest.sync(self.md.root, 30000)
        took = time.monotonic() - start
        sys.stderr.write("sync without a daemon: exit %d after %.3f s\n" %
                         (res.rc, took))
        self.assert_error(res, "no watch daemon serves")
        self.assertLess(took, AT_ONCE_S)
        self.assertFalse(os.path.exists(self.db()))

    def test_stale_record_fails_at_once(self):
        # a daemon killed with SIGKILL leaves its record behind
        d = self.start_daemon()
        d.kill()
        start = time.monotonic()
        res = watchtest.sync(self.md.root, 30000)
        took = time.monotonic() - start
        sys.stderr.write("sync after kill -9: exit %d after %.3f s\n" %
                         (res.rc, took))
        self.assert_error(res, "no watch daemon serves")
        self.assertLess(took, AT_ONCE_S)

    def test_notify(self):
        path = os.path.join(self.md.tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        log = open(os.path.join(self.md.tmp, "watch.log"), "ab")
        self.addCleanup(log.close)
        proc = subprocess.Popen([cstest.condstore_path(), "--maildir",
                                 self.md.root, "watch"], env=env,
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(proc.wait)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        sock.settimeout(120)
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        # the index is complete when READY=1 is sent
        st = self.status("INBOX", "Work")
        self.assertEqual(st["INBOX"]["MESSAGES"], 1500)
        self.assertEqual(messages[0], "STATUS=startup scan of 1 Maildirs")
        ready = messages[-1].split("\n")
        self.assertEqual(ready[0], "READY=1")
        self.assertEqual(ready[1], "STATUS=watching 1 Maildirs, "
                         "2 mailboxes (5 watches)")
        proc.terminate()
        self.assertEqual(proc.wait(120), 0)
        self.assertEqual(sock.recv(4096).decode(),
                         "STOPPING=1\nSTATUS=stopping")

    def test_notify_without_libsystemd(self):
        # $NOTIFY_SOCKET set, but the libsystemd.so.0 the loader finds
        # first is not a library: the daemon says so and exits 2 at once,
        # instead of leaving the service manager waiting for READY=1
        libdir = os.path.join(self.md.tmp, "lib")
        os.mkdir(libdir)
        with open(os.path.join(libdir, "libsystemd.so.0"), "w") as f:
            f.write("not a library\n")
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.md.tmp, "n"),
                   LD_LIBRARY_PATH=libdir)
        res = subprocess.run([cstest.condstore_path(), "--maildir",
                              self.md.root, "watch"], env=env,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(res.returncode, 2)
        err = res.stderr.decode(errors="replace")
        self.assertIn("$NOTIFY_SOCKET is set, but libsystemd.so.0 could "
                      "not be loaded", err)
        self.assertIn("apt-get install libsystemd0", err)
        self.assertFalse(os.path.exists(self.db()))

    def test_command_does_not_load_libsystemd(self):
        # only the daemon loads libsystemd, and only for $NOTIFY_SOCKET:
        # the command is not linked with it (and so not with the six
        # libraries it brings)
        res = subprocess.run(["ldd", cstest.condstore_path()],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = res.stdout.decode(errors="replace")
        if res.returncode != 0 or "=>" not in out:
            self.skipTest("ldd cannot read %s: %s" % (
                cstest.condstore_path(), out.strip()[:200]))
        self.assertNotIn("libsystemd", out)


if __name__ == "__main__":
    cstest.main()
