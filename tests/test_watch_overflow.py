#!/usr/bin/env python3
"""condstore watch: an inotify queue overflow is survived.  The daemon is
stopped with SIGSTOP, more renames than /proc/sys/fs/inotify/
max_queued_events are made, then SIGCONT: after "sync" the index equals
the disk, every changed message has a fresh modseq, and the log says
that the queue overflowed."""

import os
import signal
import sys

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

    def test_overflow_rescan(self):
        queue = max_queued_events()
        if queue > 200000:
            self.skipTest("max_queued_events %d is too large to fill" %
                          queue)
        messages = 2000
        bases = [self.md.deliver("INBOX", "S") for _ in range(messages)]
        daemon = self.start_daemon()
        h0 = self.hms()
        before = {f.uid: f.modseq for f in self.fetch("INBOX")}
        daemon.signal(signal.SIGSTOP)
        try:
            # each rename queues two events; end every message with a
            # flag set it did not have (F plus one of R, D, P)
            renames = 0
            rounds = (queue // messages) + 2
            cur = os.path.join(self.md.root, "cur")
            path = {b: os.path.join(cur, b + ":2,S") for b in bases}
            for i in range(rounds):
                for n, base in enumerate(bases):
                    last = "FS" + "RDP"[n % 3] if i == rounds - 1 else \
                        ("S", "FS", "RS")[(i + n) % 3]
                    new = os.path.join(cur, base + ":2," +
                                       cstest.sorted_letters(last))
                    if new != path[base]:
                        os.rename(path[base], new)
                        path[base] = new
                        renames += 1
            self.assertGreater(renames, queue)
        finally:
            daemon.signal(signal.SIGCONT)
        self.sync()
        log = daemon.log()
        self.assertIn("overflowed", log)
        self.assertIn("rescan after overflow", log)
        fetched = self.assert_matches_disk("INBOX")
        self.assertEqual(len(fetched), messages)
        modseqs = [f.modseq for f in fetched.values()]
        self.assertEqual(len(set(modseqs)), messages)
        for uid, f in fetched.items():
            self.assertGreater(f.modseq, h0, (uid, before[uid]))
        self.assertEqual(self.hms(), max(modseqs))
        self.assert_clean()
        # and it keeps following events afterwards
        self.md.set_flags("INBOX", bases[0], "S")
        self.sync()
        (f,) = self.fetch("INBOX", "--changedsince", str(max(modseqs)))
        self.assertEqual(cstest.letters_of(f.flags), "S")
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
