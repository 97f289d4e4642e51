#!/usr/bin/env python3
"""The queue race with the watch daemon running: 8 concurrent workers
claim each of 500 messages with "condstore store ... +FLAGS (\\Seen)
--unchangedsince M" (M: the modseq they last fetched, retrying after
MODIFIED while the message is unclaimed), while an outside program keeps
adding \\Flagged to the same messages by renaming their files.  Every
message is won exactly once, and nothing the outside program did is
lost: at the end every file carries both S and F, and check is clean.

CSTEST_RACE_MESSAGES sets the number of messages (default 500)."""

import concurrent.futures
import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

WORKERS = 8
MESSAGES = int(os.environ.get("CSTEST_RACE_MESSAGES", "500"))


class RaceWithDaemon(watchtest.WatchCase):
    seed = 51

    def claim(self, uid):
        """Claim uid until someone has it.  Returns True if this call won
        it."""
        while True:
            (f,) = self.fetch("INBOX", str(uid))
            if "\\Seen" in f.flags:
                return False
            res = cstest.run(["store", "INBOX", str(uid), "+FLAGS",
                              "(\\Seen)", "--unchangedsince",
                              str(f.modseq)], maildir=self.md.root)
            if res.rc == 0:
                self.assertEqual(len(res.lines), 1, res)
                return True
            self.assertEqual(res.rc, 1, res)
            self.assertEqual(res.lines, ["OK [MODIFIED %d]" % uid], res)

    def flagger(self, stop, bases, flagged):
        """Add F to every message once, renaming its file the way a mail
        reader does (a rename that lost the race to a store is retried
        with the new name)."""
        rng = random.Random(9)
        order = list(bases)
        rng.shuffle(order)
        for base in order:
            while not stop.is_set():
                path = self.md.find("INBOX", base)
                if path is None:
                    # moved from new/ to cur/ between the two listings
                    continue
                name = os.path.basename(path)
                info = name[len(base):]
                letters = info[3:] if info.startswith(":2,") else ""
                new = os.path.join(self.md.root, "cur", base + ":2," +
                                   cstest.sorted_letters(letters + "F"))
                try:
                    os.rename(path, new)
                except FileNotFoundError:
                    continue
                flagged.add(base)
                break

    def test_claims_and_outside_flags(self):
        bases = [self.md.deliver("INBOX", None if i % 2 else "")
                 for i in range(MESSAGES)]
        daemon = self.start_daemon()
        uids = sorted(self.uids("INBOX"))
        self.assertEqual(len(uids), MESSAGES)
        stop = threading.Event()
        flagged = set()
        thread = threading.Thread(target=self.flagger,
                                  args=(stop, bases, flagged))

        def work(worker):
            order = list(uids)
            random.Random(worker).shuffle(order)
            return {uid for uid in order if self.claim(uid)}

        thread.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
                results = list(pool.map(work, range(WORKERS)))
        except BaseException:
            stop.set()
            raise
        finally:
            thread.join()
        self.assertEqual(flagged, set(bases))
        for uid in uids:
            winners = [w for w, won in enumerate(results) if uid in won]
            self.assertEqual(len(winners), 1, (uid, winners))
        self.sync()
        files = self.md.files("INBOX")
        self.assertEqual(len(files), MESSAGES)
        for base, (sub, name) in files.items():
            self.assertEqual((sub, cstest.info_flags(name[len(base):])),
                             ("cur", "FS"), name)
        fetched = self.assert_matches_disk("INBOX")
        modseqs = [f.modseq for f in fetched.values()]
        self.assertEqual(len(modseqs), len(set(modseqs)))
        self.assert_clean()
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
