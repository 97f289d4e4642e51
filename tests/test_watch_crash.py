#!/usr/bin/env python3
"""condstore watch: kill -9 at random moments during a rename storm.  The
daemon is killed and restarted at least 20 times while another process
keeps renaming files; between kills the index is sampled.  At the end
"check" is clean, no HIGHESTMODSEQ ever decreased, and no modseq was
ever handed out twice: within a sample all modseqs of a mailbox are
distinct, and a modseq seen once always names the same message with the
same flags.

CSTEST_CRASH_KILLS sets the number of kills (default 24)."""

import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

KILLS = int(os.environ.get("CSTEST_CRASH_KILLS", "24"))
BOOT_ID = "/proc/sys/kernel/random/boot_id"
FLAGS = ["S", "FS", "RS", "DS", "FRS", "PS", ""]


class Crash(watchtest.WatchCase):
    seed = 31

    def renamer(self, stop, bases, folder_bases):
        """Rename files in INBOX and Work as fast as possible (a mail
        reader gone wild), also moving some between the two folders."""
        rng = random.Random(5)
        where = {b: "INBOX" for b in bases}
        where.update({b: "Work" for b in folder_bases})
        names = list(where)
        while not stop.is_set():
            base = rng.choice(names)
            try:
                if rng.random() < 0.05:
                    dst = "Work" if where[base] == "INBOX" else "INBOX"
                    self.md.move(where[base], base, dst)
                    where[base] = dst
                else:
                    self.md.set_flags(where[base], base, rng.choice(FLAGS))
            except (FileNotFoundError, TypeError):
                pass

    def sample(self, history, seen):
        """Record HIGHESTMODSEQ and all modseqs; assert the invariants
        against everything sampled before."""
        for mailbox in ("INBOX", "Work"):
            # the fetch first: the daemon may commit in between, so the
            # HIGHESTMODSEQ read after it is >= every modseq it showed
            fetched = self.fetch(mailbox)
            hms = self.hms(mailbox)
            prev = history.get(mailbox, 0)
            self.assertGreaterEqual(hms, prev, mailbox)
            history[mailbox] = hms
            modseqs = [f.modseq for f in fetched]
            self.assertEqual(len(modseqs), len(set(modseqs)), mailbox)
            for f in fetched:
                self.assertLessEqual(f.modseq, hms)
                key = (mailbox, f.modseq)
                state = (f.uid, tuple(sorted(f.flags)))
                self.assertEqual(seen.setdefault(key, state), state,
                                 "modseq %d handed out twice in %s" % (
                                     f.modseq, mailbox))

    def test_kill_during_storm(self):
        made = self.md.populate({"INBOX": 300, "Work": 100}, keywords=())
        rng = random.Random(8)
        daemon = self.start_daemon()
        history, seen = {}, {}
        self.sample(history, seen)
        stop = threading.Event()
        thread = threading.Thread(target=self.renamer, args=(
            stop, made["INBOX"], made["Work"]))
        thread.start()
        try:
            for i in range(KILLS):
                # let it work a random while, then kill it mid-batch
                stop.wait(rng.uniform(0.0, 0.15))
                daemon.kill()
                # a read-only reader can't recover a transaction the
                # kill interrupted: the restarted daemon does, then sample
                daemon = self.start_daemon(log_name="watch%d.log" % i)
                self.sample(history, seen)
        finally:
            stop.set()
            thread.join()
        self.sync()
        self.sample(history, seen)
        for mailbox in ("INBOX", "Work"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()
        self.assertIn("did not stop cleanly", daemon.log())
        self.stop_daemon(daemon)


class NosyncPowerLoss(watchtest.WatchCase):
    """--nosync, then a crash of the whole system that loses the last
    commits: the restarted daemon's open of the index finds the library's
    .nosync marker from another boot, the counters are raised above the
    high-water mark, and no modseq handed out before the crash is handed
    out again."""
    seed = 32

    def test_lost_commits_are_not_reused(self):
        made = self.md.populate({"INBOX": 50}, keywords=())
        daemon = self.start_daemon("--nosync")
        self.stop_daemon(daemon)
        db = self.db()
        with open(db, "rb") as f:
            old_tdb = f.read()
        h1 = self.hms()
        daemon = self.start_daemon("--nosync", log_name="watch2.log")
        for base in made["INBOX"][:20]:
            self.md.set_flags("INBOX", base, "FRS")
        self.sync()
        h2 = self.hms()
        self.assertEqual(h2, h1 + 20)
        daemon.kill()
        # the power loss: the commits since the copy never reached the
        # disk, and the marker is from another boot
        with open(BOOT_ID) as f:
            boot = f.read().strip()
        marker = db + ".nosync"
        with open(marker) as f:
            self.assertEqual(f.read().strip(), boot)
        with open(db, "wb") as f:
            f.write(old_tdb)
        with open(marker, "w") as f:
            f.write("another-boot\n")
        daemon = self.start_daemon(log_name="watch3.log")
        self.assertIn("did not stop cleanly", daemon.log())
        for f in self.fetch("INBOX"):
            self.assertFalse(h1 < f.modseq <= h2, f)
        self.assertGreater(self.hms(), h2)
        with open(marker) as f:
            self.assertEqual(f.read().strip(), boot)
        self.assert_matches_disk("INBOX")
        self.assert_clean()
        self.stop_daemon(daemon)
        self.assertFalse(os.path.exists(db + ".watch"))


if __name__ == "__main__":
    cstest.main()
