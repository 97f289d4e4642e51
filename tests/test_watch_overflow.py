#!/usr/bin/env python3
"""condstore watch and the inotify queue.

test_overflow_rescan: an overflow is survived.  The daemon is stopped
with SIGSTOP, more renames than /proc/sys/fs/inotify/max_queued_events
are made, then SIGCONT: after "sync" the index equals the disk, every
changed message has a fresh modseq, and the log says that the queue
overflowed.

test_drained_while_stalled: the daemon's reader thread drains the
kernel queue while its main loop cannot commit.  Another process holds
a lock on the whole index (as a long writer would), so the daemon can't
commit (it does not wait: it retries the Maildir later); meanwhile more
renames than the kernel queue holds are made.  Once the lock is
released: no overflow (no rescan), the index equals the disk and every
changed message has a fresh modseq.

test_read_ahead_full: the same with a read-ahead queue (--max-queue 1,
one MiB) smaller than the events of the storm: if the main loop lags,
the reader drops what does not fit, the log says so and the mailbox is
rescanned (not through a kernel overflow); either way every change is
in the index."""

import fcntl
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


def max_queued_events():
    try:
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            return int(f.read())
    except OSError:
        return 16384


class Overflow(watchtest.WatchCase):
    seed = 21

    messages = 2000

    def setUp(self):
        super().setUp()
        self.queue = max_queued_events()
        if self.queue > 200000:
            self.skipTest("max_queued_events %d is too large to fill" %
                          self.queue)
        self.bases = [self.md.deliver("INBOX", "S")
                      for _ in range(self.messages)]

    def rename_storm(self, pause_every=None):
        """Rename every message several times, more renames than the
        kernel queue holds (each queues two events), ending every
        message with a flag set it did not have (F plus one of R, D,
        P).  With pause_every, sleep a little after that many renames
        (a renamer a reader thread can follow)."""
        renames = 0
        rounds = (self.queue // self.messages) + 2
        cur = os.path.join(self.md.root, "cur")
        path = {b: os.path.join(cur, b + ":2,S") for b in self.bases}
        for i in range(rounds):
            for n, base in enumerate(self.bases):
                last = "FS" + "RDP"[n % 3] if i == rounds - 1 else \
                    ("S", "FS", "RS")[(i + n) % 3]
                new = os.path.join(cur, base + ":2," +
                                   cstest.sorted_letters(last))
                if new != path[base]:
                    os.rename(path[base], new)
                    path[base] = new
                    renames += 1
                    if pause_every and renames % pause_every == 0:
                        time.sleep(0.02)
        self.assertGreater(renames, self.queue)

    def assert_all_changed(self, h0):
        fetched = self.assert_matches_disk("INBOX")
        self.assertEqual(len(fetched), self.messages)
        modseqs = [f.modseq for f in fetched.values()]
        self.assertEqual(len(set(modseqs)), self.messages)
        for uid, f in fetched.items():
            self.assertGreater(f.modseq, h0, uid)
        self.assertEqual(self.hms(), max(modseqs))
        self.assert_clean()
        return max(modseqs)

    def test_overflow_rescan(self):
        daemon = self.start_daemon()
        h0 = self.hms()
        daemon.signal(signal.SIGSTOP)
        try:
            self.rename_storm()
        finally:
            daemon.signal(signal.SIGCONT)
        self.sync()
        log = daemon.log()
        self.assertIn("overflowed", log)
        self.assertIn("rescan after overflow", log)
        top = self.assert_all_changed(h0)
        # and it keeps following events afterwards
        self.md.set_flags("INBOX", self.bases[0], "S")
        self.sync()
        (f,) = self.fetch("INBOX", "--changedsince", str(top))
        self.assertEqual(cstest.letters_of(f.flags), "S")
        self.stop_daemon(daemon)

    def storm_while_locked(self, daemon):
        """The rename storm while the whole index is locked, as by a
        long writer: the daemon's next transaction waits."""
        # every tdb lock lies in the file: holding all of it makes the
        # daemon's next transaction wait, as behind a long writer
        fd = os.open(self.db(), os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            self.rename_storm(pause_every=1000)
            self.assertTrue(daemon.running())
        finally:
            os.close(fd)
        self.sync()

    def test_drained_while_stalled(self):
        daemon = self.start_daemon()
        h0 = self.hms()
        self.storm_while_locked(daemon)
        log = daemon.log()
        self.assertNotIn("overflowed", log)
        self.assertNotIn("dropped", log)
        self.assert_all_changed(h0)
        self.stop_daemon(daemon)

    def test_read_ahead_full(self):
        daemon = self.start_daemon("--max-queue", "1")
        h0 = self.hms()
        self.storm_while_locked(daemon)
        log = daemon.log()
        self.assertNotIn("overflowed", log)
        # the daemon no longer waits behind a lock (it retries the root
        # and keeps reading): the queue fills only when the main loop
        # lags, and either way every change is recorded
        if "events of 1 watched directories dropped" not in log:
            self.assertIn("locked by another process", log)
        self.assert_all_changed(h0)
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
