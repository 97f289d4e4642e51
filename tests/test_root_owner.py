#!/usr/bin/env python3
"""Run as root, condstore acts as the owner of each Maildir: reindex,
check --repair, store, the cron check and the watch daemon create the
index files owned by the Maildir's owner (mode 0600), so the user's own
commands keep working, and they read nothing the owner can't (a folder
only root can read is not indexed).  Real users, created with useradd
(skipped when not root)."""

import json
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import usertest  # noqa: E402
import watchtest  # noqa: E402

INDEX_FILES = ("condstore.tdb", "condstore.tdb.hwm")


class RootOwner(watchtest.WatchCase):

    def setUp(self):
        super().setUp()
        self.us = usertest.UserSet(self, self.md.tmp, 2)
        self.alice, self.bob = self.us.users

    def assert_owned(self, user, root=None):
        root = root or user.md.root
        for name, (uid, gid) in usertest.owners(root).items():
            self.assertEqual((uid, gid), (user.uid, user.gid), name)
        for name in INDEX_FILES:
            st = os.lstat(os.path.join(root, name))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, name)

    def deliver(self, user, box="INBOX", flags=None):
        return user.as_user(lambda: user.md.deliver(box, flags))

    def test_commands_as_root(self):
        a = self.alice
        self.deliver(a, flags="S")
        a.as_user(lambda: a.md.create_folder("Work"))
        self.deliver(a, "Work")
        for args in (("reindex",), ("check", "--repair"),
                     ("reindex", "--rebuild"),
                     ("store", "INBOX", "1", "+FLAGS", "(\\Flagged)"),
                     ("sync", "--timeout", "1")):
            res = cstest.run(args, maildir=a.md.root)
            self.assertIn(res.rc, (0, 2) if args[0] == "sync" else (0,),
                          res)
            self.assert_owned(a)
            # the user's own commands still work
            self.deliver(a)
            res = a.run(["reindex"])
            self.assertEqual(res.rc, 0, res)
            res = a.run(["store", "INBOX", "1", "-FLAGS", "(\\Flagged)"])
            self.assertEqual(res.rc, 0, res)
        res = cstest.run(["check"], maildir=a.md.root)
        self.assertEqual((res.rc, res.out), (0, ""), res)

    def test_cron_check_as_root(self):
        for u in self.us.users:
            self.deliver(u, flags="S")
        script = os.path.join(os.environ["top_srcdir"], "scripts",
                              "condstore-cron-check") \
            if "top_srcdir" in os.environ else os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "..",
                "scripts", "condstore-cron-check")
        # check has nothing to check before an index exists: the first
        # reindex is made by root too
        for u in self.us.users:
            cstest.run(["reindex"], maildir=u.md.root)
        proc = subprocess.run(["sh", script, os.path.join(
            self.md.tmp, "home", "*", "Maildir")], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=600)
        self.assertEqual(proc.returncode, 0, proc)
        for u in self.us.users:
            self.assert_owned(u)

    def test_root_reads_nothing_the_owner_cannot(self):
        a = self.alice
        self.deliver(a, flags="S")
        # a folder only root can read, inside alice's Maildir
        private = os.path.join(a.md.root, ".Private")
        cstest.Maildir.make_dirs(private)
        with open(os.path.join(private, "cur",
                               "1600000000.M1P1.ROOTONLY:2,S"), "w") as f:
            f.write("x\n")
        os.chmod(private, 0o700)
        res = cstest.run(["reindex"], maildir=a.md.root)
        with open(os.path.join(a.md.root, "condstore.tdb"), "rb") as f:
            self.assertFalse(b"ROOTONLY" in f.read(), res)
        self.assertEqual(os.lstat(os.path.join(
            a.md.root, "condstore.tdb")).st_uid, a.uid)

    def test_daemon_as_root(self):
        users = self.us.users
        for u in users:
            self.deliver(u, flags="S")
        glob = os.path.join(self.md.tmp, "home", "*", "Maildir")
        sock = os.path.join(self.md.tmp, "status.sock")
        daemon = self.start_daemon("--maildirs-glob", glob,
                                   "--status-socket", sock,
                                   maildirs=[u.md.root for u in users])
        for u in users:
            # a folder only its owner can read (0700), made while the
            # daemon runs: the daemon, acting as the owner, watches it
            u.as_user(lambda u=u: (u.md.create_folder("New"),
                                   os.chmod(u.md.path("New"), 0o700)))
            for sub in ("", "/new", "/cur", "/tmp"):
                self.assertEqual(stat.S_IMODE(os.stat(
                    u.md.path("New") + sub).st_mode), 0o700)
            self.deliver(u, "New")
            self.deliver(u)
        for u in users:
            self.sync(u.md.root)
            self.assert_owned(u)
        res = cstest.run(["daemon-status", "--socket", sock, "--json"])
        self.assertEqual(res.rc, 0, (res, daemon.log()))
        roots = {r["path"]: r for r in json.loads(res.out)["roots"]}
        for u in users:
            # the root, new/ and cur/ of INBOX and of New
            self.assertEqual((roots[u.md.root]["watches"],
                              roots[u.md.root]["unwatched"]), (5, 0),
                             daemon.log())
        self.assertNotIn("Permission denied", daemon.log())
        for u in users:
            # the user's own store works on what the daemon created
            res = u.run(["store", "New", "1", "+FLAGS", "(\\Seen)"])
            self.assertEqual(res.rc, 0, res)
            res = u.run(["sync", "--timeout", "60000"])
            self.assertEqual(res.rc, 0, res)
            self.assert_owned(u)
            self.assertEqual(len(u.run(["fetch", "INBOX"]).lines), 2)
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
