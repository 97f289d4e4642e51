#!/usr/bin/env python3
"""Hostile files inside a Maildir, as its user can make them: a FIFO (or a
directory) where the index, its high-water mark, the nosync marker,
dovecot-uidlist or dovecot-keywords belong never makes a command wait
(each is refused with a clear error, exit 2, and nothing is lost);
symlinked new/, cur/, tmp/ are never followed (nor a cur/ swapped for a
symlink while a store waits for the index); a truncated or foreign
index is refused by writers, never replaced; an index older than its
high-water mark (a restored backup) never repeats a modseq; a damaged
high-water mark is refused; a rebuild that fails or is killed leaves the
working index in place, and the temporary files of dead writers are
cleaned up."""

import fcntl
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

# A command that blocks on a FIFO would never end: this bounds it, and a
# test that hits the bound fails (subprocess.TimeoutExpired).
BOUND = 120
# tdb's lock offsets (tdb lock.c): the transaction lock
TDB_TRANSACTION_LOCK = 8


def wait_blocked_on_lock(proc):
    """Wait until the process proc waits for a POSIX lock (a "->" line of
    /proc/locks names it); AssertionError if it ends first."""
    while proc.poll() is None:
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if "->" in fields and str(proc.pid) in fields:
                    return
        time.sleep(0.005)
    raise AssertionError("exited with %d without waiting for the lock: %r"
                         % (proc.returncode, proc.communicate()))


class HostileFiles(cstest.CondstoreCase):

    def run_bounded(self, *args, rc=None):
        return self.cs(*args, rc=rc, timeout=BOUND)

    def fifo_at(self, path):
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o600)

    # -- D1: FIFOs and other non-regular files --

    def test_fifo_index(self):
        md = self.md
        md.deliver("INBOX", "S")
        db = self.db()
        self.fifo_at(db)
        for args in (("reindex",), ("status",), ("check",),
                     ("check", "--repair"), ("fetch", "INBOX"),
                     ("store", "INBOX", "1", "+FLAGS", "(\\Flagged)")):
            res = self.run_bounded(*args)
            self.assert_error(res, db, "not a regular file")
        # the FIFO is left for the admin to see, not replaced
        self.assertTrue(os.path.exists(db) and not os.path.isfile(db))
        os.unlink(db)
        os.mkdir(db)
        self.assert_error(self.run_bounded("reindex"), "not a regular file")
        os.rmdir(db)
        self.run_bounded("reindex", rc=0)
        self.assert_matches_disk("INBOX")

    def test_fifo_beside_index(self):
        md = self.md
        bases = [md.deliver("INBOX", "S") for _ in range(3)]
        self.cs("reindex")
        before = self.uid_map("INBOX")
        for name in ("condstore.tdb.hwm", "condstore.tdb.nosync"):
            path = os.path.join(md.root, name)
            saved = None
            if os.path.exists(path):
                with open(path, "rb") as f:
                    saved = f.read()
            self.fifo_at(path)
            res = self.run_bounded("store", "INBOX", "1", "+FLAGS",
                                   "(\\Flagged)")
            self.assert_error(res, name, "not a regular file")
            res = self.run_bounded("reindex")
            self.assert_error(res, name, "not a regular file")
            os.unlink(path)
            if saved is not None:
                with open(path, "wb") as f:
                    f.write(saved)
        self.assertEqual(self.uid_map("INBOX"), before)
        self.assertEqual(sorted(md.files("INBOX")), sorted(bases))

    def test_fifo_dovecot_files(self):
        md = self.md
        md.deliver("INBOX", "S")
        md.create_folder("Work")
        md.deliver("Work", "S")
        self.cs("reindex")
        # the scan reads the uidlist, fetch the keywords
        for name, args in (("dovecot-uidlist", ("reindex", "Work")),
                           ("dovecot-keywords", ("fetch", "Work"))):
            path = os.path.join(md.path("Work"), name)
            self.fifo_at(path)
            md.deliver("Work", "Sa")
            res = self.run_bounded(*args)
            self.assertEqual(res.rc, 2, res)
            self.assertIn("not a regular file", res.err)
            self.assertIn(name, res.err)
            # the other mailbox is still served
            md.deliver("INBOX", "S")
            self.run_bounded("reindex", "INBOX", rc=0)
            os.unlink(path)
        self.run_bounded("reindex", rc=0)
        self.assert_matches_disk("INBOX")
        self.assert_matches_disk("Work")

    # -- D3: symlinked new/, cur/, tmp/ --

    def make_secret(self):
        """A directory outside the Maildir full of message-like names."""
        secret = os.path.join(self.md.tmp, "secret")
        cstest.Maildir.make_dirs(secret)
        for i in range(5):
            for sub in ("new", "cur"):
                with open(os.path.join(secret, sub, "16000000%02d.M%dP1."
                                       "SECRETNAME%s" % (i, i, sub)),
                          "w") as f:
                    f.write("secret\n")
        return secret

    def index_bytes(self):
        with open(self.db(), "rb") as f:
            return f.read()

    def test_symlinked_subdirs(self):
        md = self.md
        secret = self.make_secret()
        md.deliver("INBOX", "S")
        md.create_folder("Evil")
        md.deliver("Evil", "S")
        self.cs("reindex")
        for box, sub in (("Evil", "new"), ("Evil", "cur"), ("INBOX", "new"),
                         ("INBOX", "cur")):
            path = os.path.join(md.path(box), sub)
            os.rename(path, path + ".real")
            os.symlink(os.path.join(secret, sub), path)
            for args in (("reindex",), ("reindex", box), ("check",),
                         ("check", "--repair"), ("check", box),
                         ("reindex", "--rebuild")):
                res = self.run_bounded(*args)
                self.assertNotIn("SECRETNAME", res.out + res.err, res)
                self.assertFalse(b"SECRETNAME" in self.index_bytes(), res)
            res = self.run_bounded("reindex", box)
            self.assert_error(res, path, "symlink")
            os.unlink(path)
            os.rename(path + ".real", path)
        self.run_bounded("reindex", rc=0)
        self.assert_matches_disk("INBOX")
        self.assert_matches_disk("Evil")
        self.assert_clean()

    def test_store_cur_swapped_for_symlink(self):
        """cur/ is swapped for a symlink to a directory outside holding
        files of the same names while a store waits for the index lock
        (a long store of another process holds it): the store renames
        nothing outside the Maildir, stores nothing, and says why."""
        md = self.md
        bases = [md.deliver("INBOX", "S") for _ in range(5)]
        self.cs("-q", "reindex")
        outside = os.path.join(md.tmp, "outside")
        cstest.Maildir.make_dirs(outside)
        for base in bases:
            with open(os.path.join(outside, "cur",
                                   base + cstest.SEP + "2,S"), "w") as f:
                f.write("not the user's\n")
        before = sorted(os.listdir(os.path.join(outside, "cur")))
        # the transaction lock, as a long store holds it (tdb lock.c)
        fd = os.open(self.db(), os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.lockf(fd, fcntl.LOCK_EX, 1, TDB_TRANSACTION_LOCK)
        store = cstest.popen(["store", "INBOX", "1:*", "+FLAGS",
                              "(\\Flagged)"], maildir=md.root)
        self.addCleanup(lambda: store.poll() is None and store.kill())
        wait_blocked_on_lock(store)
        cur = os.path.join(md.root, "cur")
        os.rename(cur, cur + ".real")
        os.symlink(os.path.join(outside, "cur"), cur)
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, TDB_TRANSACTION_LOCK)
        out, err = store.communicate(timeout=BOUND)
        self.assertEqual(store.returncode, 2, (out, err))
        self.assertIn(b"symlink", err)
        self.assertEqual(out, b"")
        self.assertEqual(sorted(os.listdir(os.path.join(outside, "cur"))),
                         before)
        os.unlink(cur)
        os.rename(cur + ".real", cur)
        for base in bases:
            self.assertEqual(md.flags("INBOX", base), "S")
        self.assert_matches_disk("INBOX")
        self.assert_clean()

    # -- D10: a damaged index is refused by writers, never replaced --

    def test_damaged_index_refused(self):
        md = self.md
        md.deliver("INBOX", "S")
        self.cs("reindex")
        db = self.db()
        with open(db, "rb") as f:
            good = f.read()
        for damaged in (good[:100], b"not a tdb file\n" * 20,
                        b"TDB file\n" + b"\0" * 50):
            with open(db, "wb") as f:
                f.write(damaged)
            for args in (("reindex",), ("store", "INBOX", "1", "+FLAGS",
                                        "(\\Flagged)"), ("status",)):
                res = self.run_bounded(*args)
                self.assert_error(res, db, "reindex --rebuild")
                with open(db, "rb") as f:
                    self.assertEqual(f.read(), damaged, args)
        self.run_bounded("reindex", "--rebuild", rc=0)
        self.assert_matches_disk("INBOX")
        # a missing index is still created
        os.unlink(db)
        md.deliver("INBOX")
        self.run_bounded("store", "INBOX", "1", "+FLAGS", "(\\Seen)",
                         rc=2)   # no such message yet: created, empty
        self.run_bounded("reindex", rc=0)
        self.assert_matches_disk("INBOX")

    # -- D13: an index older than its high-water mark --

    def test_restored_backup(self):
        md = self.md
        bases = [md.deliver("INBOX", "S") for _ in range(3)]
        self.cs("reindex")
        with open(self.db(), "rb") as f:
            backup = f.read()
        # a new mailbox is seeded above the ceiling: the .hwm moves up
        md.create_folder("Later")
        md.deliver("Later", "S")
        self.cs("reindex")
        seen = set()
        for i in range(5):
            self.cs("store", "INBOX", "1:*", "+FLAGS" if i % 2 == 0 else
                    "-FLAGS", "(\\Flagged)")
            seen |= {f.modseq for f in self.fetch("INBOX")}
        highest = max(seen)
        with open(self.db(), "wb") as f:
            f.write(backup)
        self.cs("store", "INBOX", "1:*", "+FLAGS", "(\\Answered)")
        after = {f.modseq for f in self.fetch("INBOX")}
        self.assertGreater(min(after), highest)
        self.assertGreater(self.hms("INBOX"), highest)
        self.assertEqual(sorted(md.files("INBOX")), sorted(bases))

    def test_hwm_strict(self):
        md = self.md
        md.deliver("INBOX", "S")
        self.cs("reindex")
        hwm = self.db() + ".hwm"
        for text in ("maildir-condstore-hwm 2 -1 5\n",
                     "maildir-condstore-hwm 2 +42 5\n",
                     "maildir-condstore-hwm 2 18446744073709551615 5\n",
                     "maildir-condstore-hwm 2 9223372036854775808 5\n",
                     "maildir-condstore-hwm 2 99999999999999999999999 5\n",
                     "maildir-condstore-hwm 2  42 5\n",
                     "maildir-condstore-hwm 2 042 5\n",
                     "maildir-condstore-hwm 2 42 4294967296\n",
                     "maildir-condstore-hwm 2 42 -5\n",
                     "maildir-condstore-hwm 1 42 \n",
                     "maildir-condstore-hwm 2 42 5"):
            with open(hwm, "w") as f:
                f.write(text)
            res = self.run_bounded("store", "INBOX", "1", "+FLAGS",
                                   "(\\Flagged)")
            self.assert_error(res, hwm, "damaged high-water-mark")
            res = self.run_bounded("reindex", "--rebuild")
            self.assertEqual(res.rc, 2, (text, res))
            self.assertIn("damaged high-water-mark", res.err)

    # -- D11: a rebuild replaces the index only when it is complete --

    def test_rebuild_failure_keeps_index(self):
        md = self.md
        md.populate({"INBOX": 20, "Work": 10}, keywords=())
        self.cs("reindex")
        before = {box: self.uid_map(box) for box in ("INBOX", "Work")}
        hwm = self.db() + ".hwm"
        with open(hwm) as f:
            good = f.read()
        # a damaged high-water mark: the rebuild can't seed its counters
        with open(hwm, "w") as f:
            f.write("maildir-condstore-hwm 2 +42 5\n")
        res = self.run_bounded("reindex", "--rebuild")
        self.assert_error(res, "damaged high-water-mark")
        with open(hwm, "w") as f:
            f.write(good)
        # a mailbox that can't be read: nothing replaced either
        fifo = os.path.join(md.path("Work"), "dovecot-uidlist")
        os.mkfifo(fifo, 0o600)
        res = self.run_bounded("reindex", "--rebuild")
        self.assertEqual((res.rc, res.out), (2, ""), res)
        self.assertIn("dovecot-uidlist: not a regular file", res.err)
        os.unlink(fifo)
        for box in ("INBOX", "Work"):
            self.assertEqual(self.uid_map(box), before[box])
        self.assertEqual(sorted(e for e in os.listdir(md.root)
                                if e.startswith("condstore")),
                         ["condstore.tdb", "condstore.tdb.hwm"])
        self.run_bounded("reindex", "--rebuild", rc=0)
        self.assert_matches_disk("INBOX")
        self.assert_clean()

    def test_rebuild_killed_keeps_index(self):
        md = self.md
        md.populate({"INBOX": 3000}, keywords=())
        self.cs("reindex")
        before = self.uid_map("INBOX")
        for delay in (0.05, 0.2, 0.5):
            proc = cstest.popen(["reindex", "--rebuild"], maildir=md.root)
            try:
                proc.wait(delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
            proc.communicate()
            res = self.run_bounded("check")
            self.assertEqual(res.rc, 0, res)
            after = self.uid_map("INBOX")
            if proc.returncode != 0 and after != before:
                # killed after its rename into place, before it exited:
                # the whole rebuilt index, never a part of one (every
                # UID, check clean above), with the same messages
                self.assertEqual(set(after), set(before))
                self.assertGreaterEqual(max(m for m, _ in after.values()),
                                        max(m for m, _ in before.values()))
            # the next kill is compared with the index in place now
            before = after
            self.assertEqual(len(self.uid_map("INBOX")), 3000)
        self.assertEqual(sorted(e for e in os.listdir(md.root)
                                if e.startswith("condstore")),
                         ["condstore.tdb", "condstore.tdb.hwm"])

    def test_leftovers_cleaned(self):
        md = self.md
        md.deliver("INBOX", "S")
        self.cs("reindex")
        dead = subprocess.Popen(["true"])
        dead.wait()
        live = os.getpid()
        names = {
            # a dead writer's: removed
            "condstore.tdb.hwm.tmp.%d.0" % dead.pid: False,
            "condstore.tdb.nosync.tmp.%d.3" % dead.pid: False,
            "condstore.tdb.rebuild.%d.1" % dead.pid: False,
            # a live writer's, or not one of our patterns: kept
            "condstore.tdb.hwm.tmp.%d.0" % live: True,
            "condstore.tdb.rebuild.%d.0" % live: True,
            "condstore.tdb.hwm.tmp.Xy12ab": True,
            "condstore.tdb.old": True,
            "condstore.tdb.hwm.tmp.%d.0x" % dead.pid: True,
            "other.tmp.%d.0" % dead.pid: True,
        }
        for name in names:
            with open(os.path.join(md.root, name), "w") as f:
                f.write("x")
        self.cs("store", "INBOX", "1", "+FLAGS", "(\\Flagged)")
        for name, kept in names.items():
            self.assertEqual(os.path.exists(os.path.join(md.root, name)),
                             kept, name)

    # -- check on a read-only file system --

    def test_check_read_only_fs(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for a read-only bind mount")
        md = self.md
        md.deliver("INBOX", "S")
        self.cs("reindex")
        mnt = os.path.join(md.tmp, "ro")
        os.mkdir(mnt)
        if subprocess.run(["mount", "--bind", md.root, mnt]).returncode:
            self.skipTest("mount --bind failed")
        self.addCleanup(subprocess.run, ["umount", mnt])
        subprocess.run(["mount", "-o", "remount,bind,ro", mnt], check=True)
        res = cstest.run(["check"], maildir=mnt, timeout=BOUND)
        self.assertEqual((res.rc, res.out, res.err), (0, "", ""), res)
        md.deliver("INBOX", "S")
        res = cstest.run(["check"], maildir=mnt, timeout=BOUND)
        self.assertEqual(res.rc, 1, res)
        self.assertIn("file not in the index", res.out)
        res = cstest.run(["check", "--repair"], maildir=mnt,
                         timeout=BOUND)
        self.assert_error(res, "Read-only file system")


if __name__ == "__main__":
    cstest.main()
