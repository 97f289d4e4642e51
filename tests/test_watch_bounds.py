#!/usr/bin/env python3
"""One watch daemon serving several users, one of them hostile (a real
uid created by the test): whatever that user does to their own Maildir
must not stop the daemon from serving the others, and nothing is
acknowledged to "condstore sync" that is not committed.

  * a lock held on their own condstore.tdb (the whole file, or only the
    transaction lock as a long "store" holds it): the other users' syncs
    are answered, a log line names the locked Maildir, and once the lock
    is gone that Maildir is caught up;
  * a mailbox whose scan fails (a dovecot-uidlist that can't be read):
    "sync" never returns 0 while changes before it are not in the index;
    once the scan succeeds again it does, with every message recorded."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import usertest  # noqa: E402
import watchtest  # noqa: E402

# tdb's lock offsets (tdb lock.c): the transaction lock
TDB_TRANSACTION_LOCK = 8
# directory listings one scan of a mailbox reads at most (cs-scan.c: the
# digest, the scan, three sweeps, the new digest; new/ and cur/ each)
SCAN_LISTINGS_MAX = 12

LOCKER = r"""
import fcntl, sys
f = open(sys.argv[1], "r+b")
fcntl.lockf(f, fcntl.LOCK_EX, int(sys.argv[2]), int(sys.argv[3]))
print("locked", flush=True)
sys.stdin.read()
"""


class HostileUser(watchtest.WatchCase):
    """Two users' Maildirs under one daemon, one of them hostile."""

    def setUp(self):
        super().setUp()
        self.user = usertest.SystemUser(self)
        top = tempfile.mkdtemp(prefix="cstest-users.")
        self.addCleanup(subprocess.run, ["rm", "-rf", top])
        os.chmod(top, 0o755)
        self.evil = cstest.Maildir(seed=11,
                                   root=os.path.join(top, "evil"))
        self.evil.deliver("INBOX", "S")
        usertest.chown_tree(self.evil.root, self.user)
        res = usertest.condstore_as(self.user, self.evil.root, "-q",
                                    "reindex")
        self.assertEqual(res.rc, 0, res)
        self.md.deliver("INBOX", "S")
        self.cs("-q", "reindex")

    def lock(self, start, length):
        """The hostile user locks their own index; returns the process
        (the lock goes with it: close its stdin)."""
        proc = usertest.popen(self.user, [
            usertest.python(), "-c", LOCKER,
            os.path.join(self.evil.root, "condstore.tdb"), str(length),
            str(start)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.stdin.close)
        self.assertEqual(proc.stdout.readline(), b"locked\n")
        return proc

    def unlock(self, proc):
        proc.stdin.close()
        proc.wait()

    def check_other_served(self, start, length):
        daemon = self.start_daemon(maildirs=[self.md.root, self.evil.root],
                                   *("--maildir", self.md.root,
                                     "--maildir", self.evil.root))
        locker = self.lock(start, length)
        # the hostile Maildir changes too: the daemon has work there
        evil_new = [self.evil.deliver("INBOX") for _ in range(3)]
        for _ in range(3):
            arrived = [self.md.deliver("INBOX") for _ in range(5)]
            res = watchtest.sync(self.md.root, 20000)
            self.assertEqual(res.rc, 0, (res, daemon.log()))
            self.assertEqual(set(arrived) - set(self.uids().values()),
                             set())
        # told once the lock has been found at every try for a while
        self.wait_log(daemon, "locked by another process")
        self.assertIn("%s: " % self.evil.root, daemon.log())
        # the hostile Maildir's sync waits (its changes are not in yet)
        res = watchtest.sync(self.evil.root, 300)
        self.assertEqual(res.rc, 2, res)
        self.unlock(locker)
        res = watchtest.sync(self.evil.root, 60000)
        self.assertEqual(res.rc, 0, (res, daemon.log()))
        uids = cstest.index_uids(os.path.join(self.evil.root,
                                              "condstore.tdb"))
        self.assertEqual(set(evil_new) - set(uids.values()), set())
        self.assertIn("served again", daemon.log())
        self.stop_daemon(daemon)
        self.assert_clean()

    def test_huge_uidlist(self):
        daemon = self.start_daemon(maildirs=[self.md.root, self.evil.root],
                                   *("--maildir", self.md.root,
                                     "--maildir", self.evil.root))
        # a new folder with a sparse 1 GB dovecot-uidlist, no newline,
        # made outside the Maildir and renamed into it whole (made inside,
        # it would be a folder of root's, half written, for the daemon)
        tmp = os.path.join(os.path.dirname(self.evil.root), "Big.tmp")
        cstest.Maildir.make_dirs(tmp)
        with open(os.path.join(tmp, "dovecot-uidlist"), "wb") as f:
            f.write(b"3 V1234 N2\n1 :")
            f.truncate(1 << 30)
        usertest.chown_tree(tmp, self.user)
        os.rename(tmp, self.evil.path("Big"))
        self.evil.deliver("Big")
        for _ in range(3):
            arrived = [self.md.deliver("INBOX") for _ in range(5)]
            res = watchtest.sync(self.md.root, 20000)
            self.assertEqual(res.rc, 0, (res, daemon.log()))
            self.assertEqual(set(arrived) - set(self.uids().values()),
                             set())
        self.assertIn("dovecot-uidlist: larger than", daemon.log())
        with open("/proc/%d/status" % daemon.pid) as f:
            rss = [int(line.split()[1]) for line in f
                   if line.startswith("VmHWM:")][0]
        self.assertLess(rss, 100 * 1024, daemon.log())
        self.stop_daemon(daemon)

    def test_whole_file_locked(self):
        # fcntl write lock on the whole file (len 0: to its end and beyond)
        self.check_other_served(0, 0)

    def test_transaction_lock_held(self):
        # what a long "store" holds while it renames
        self.check_other_served(TDB_TRANSACTION_LOCK, 1)


class StatusCase(watchtest.WatchCase):
    """A case that reads the daemon's figures of its Maildir."""

    def figures(self, sock):
        res = cstest.run(["daemon-status", "--socket", sock, "--json"])
        self.assertEqual(res.rc, 0, res)
        roots = {r["path"]: r for r in json.loads(res.out)["roots"]}
        return roots[self.md.root]


class MovesOut(StatusCase):
    """Messages moved out of the watched tree: their MOVED_FROMs never
    get a partner, and a batch of them is settled by one scan of the
    folder, not by two directory reads per message.  The daemon's count
    of directory listings read (daemon-status) is bounded by its number
    of batches, not by the number of events."""

    def test_moves_out_settled_by_one_scan(self):
        bases = [self.md.deliver("INBOX", "S") for _ in range(6000)]
        self.cs("-q", "reindex")
        sock = os.path.join(self.md.tmp, "status.sock")
        daemon = self.start_daemon("-v", "--status-socket", sock)
        before = self.figures(sock)
        outside = os.path.join(self.md.tmp, "outside")
        os.mkdir(outside)
        moved = bases[:4000]
        for base in moved:
            name = base + cstest.SEP + "2,S"
            os.rename(os.path.join(self.md.root, "cur", name),
                      os.path.join(outside, name))
        self.sync()
        after = self.figures(sock)
        self.assertEqual(set(self.uids().values()), set(bases[4000:]))
        self.assertIn("unpaired moves settled by one scan", daemon.log())
        events = after["events"] - before["events"]
        batches = after["commits"] - before["commits"]
        reads = after["dir_reads"] - before["dir_reads"]
        self.assertGreaterEqual(events, 4000, after)
        # one scan of the folder per batch (and one more before the sync
        # is answered); a scan lists new/ and cur/ at most six times each
        # (the digest, the scan, up to three sweeps while the directories
        # change, the new digest); one listing per move would be 4000
        self.assertGreater(batches, 0, after)
        self.assertLessEqual(reads, SCAN_LISTINGS_MAX * (batches + 1),
                             (before, after))
        self.assertLess(reads, events // 4, (before, after))
        sys.stderr.write("4000 moves out of 6000: %d events, %d batches, "
                         "%d directory listings read\n" % (
                             events, batches, reads))
        self.stop_daemon(daemon)
        self.assert_clean()


class LockedBriefly(StatusCase):
    """A Dovecot session's transaction holds the index while the daemon
    has a batch to commit: the batch waits for the retry and is
    committed then, without reading a directory.  (It used to turn into
    a scan of every mailbox it touched: at 100k messages under a few
    busy sessions, one full listing of cur/ per retry, which held the
    index longer still.)"""

    def test_batch_waits_for_the_lock(self):
        bases = [self.md.deliver("INBOX", "S") for _ in range(200)]
        self.cs("-q", "reindex")
        sock = os.path.join(self.md.tmp, "status.sock")
        daemon = self.start_daemon("--status-socket", sock)
        self.sync()
        before = self.figures(sock)
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER,
             os.path.join(self.md.root, "condstore.tdb"), "1",
             str(TDB_TRANSACTION_LOCK)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(locker.wait)
        self.addCleanup(locker.stdout.close)
        self.addCleanup(locker.stdin.close)
        self.assertEqual(locker.stdout.readline(), b"locked\n")
        changed = bases[:50]
        for base in changed:
            self.md.set_flags("INBOX", base, "FS")
        # the daemon found the index locked at every try for a while
        self.wait_log(daemon, "locked by another process")
        locker.stdin.close()
        locker.wait()
        self.sync()
        after = self.figures(sock)
        self.assertEqual(after["dir_reads"] - before["dir_reads"], 0,
                         (before, after, daemon.log()))
        for base in changed:
            self.assertEqual(self.md.flags("INBOX", base), "FS")
        self.assert_clean()
        self.stop_daemon(daemon)


class SameBase(watchtest.WatchCase):
    """A copy of a message of cur/ appears in new/ under the same base
    name: the daemon keeps the message as cur/ has it."""

    def test_copy_in_new_changes_nothing(self):
        base = self.md.deliver("INBOX", "FS")
        self.md.deliver("INBOX", "S")
        self.cs("-q", "reindex")
        before = self.uid_map("INBOX")
        daemon = self.start_daemon()
        with open(os.path.join(self.md.root, "tmp", base), "w") as f:
            f.write("a copy\n")
        os.rename(os.path.join(self.md.root, "tmp", base),
                  os.path.join(self.md.root, "new", base))
        self.sync()
        self.assertEqual(self.uid_map("INBOX"), before)
        self.assert_clean()
        self.stop_daemon(daemon)


class FailedScan(watchtest.WatchCase):
    """A scan that fails (here: a dovecot-uidlist the daemon can't read)
    leaves the sync cookie unanswered until the scan succeeds."""

    def test_sync_waits_for_failed_scan(self):
        before = [self.md.deliver("INBOX", "S") for _ in range(5)]
        self.cs("-q", "reindex")
        daemon = self.start_daemon()
        # a new folder, scanned when it appears, whose dovecot-uidlist
        # is refused (UIDVALIDITY 0), made outside the Maildir and renamed
        # into it whole (made inside, the daemon could scan it before its
        # dovecot-uidlist is written, and then take the rename for a
        # folder rename with nothing to scan again)
        tmp = os.path.join(os.path.dirname(self.md.root), "New.tmp")
        cstest.Maildir.make_dirs(tmp)
        with open(os.path.join(tmp, "dovecot-uidlist"), "w") as f:
            f.write("3 V0 N1\n")
        os.rename(tmp, self.md.path("New"))
        arrived = [self.md.deliver("New") for _ in range(5)]
        inbox = [self.md.deliver("INBOX") for _ in range(3)]
        res = watchtest.sync(self.md.root, 1000)
        self.assertEqual(res.rc, 2, (res, daemon.log()))
        self.assertIn("no answer", res.err)
        self.assertIn("dovecot-uidlist", daemon.log())
        # the other mailbox of the same Maildir is still served
        self.assertEqual(set(before + inbox) - set(self.uids().values()),
                         set())
        os.unlink(os.path.join(self.md.path("New"), "dovecot-uidlist"))
        res = watchtest.sync(self.md.root, 60000)
        self.assertEqual(res.rc, 0, (res, daemon.log()))
        self.assertEqual(set(arrived) - set(self.uids("New").values()),
                         set())
        self.stop_daemon(daemon)
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
