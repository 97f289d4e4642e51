#!/usr/bin/env python3
"""The queue race of RFC 7162: 8 concurrent "condstore store ... +FLAGS
(\\Seen) --unchangedsince M" processes try to claim every message; each
is claimed exactly once, the others are told MODIFIED, and nothing is
lost when another program renames files meanwhile.

CSTEST_RACE_MESSAGES sets the number of messages (default 500; lower it
under valgrind)."""

import concurrent.futures
import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

WORKERS = 8
MESSAGES = int(os.environ.get("CSTEST_RACE_MESSAGES", "500"))


class Race(cstest.CondstoreCase):
    seed = 3

    def setUp(self):
        super().setUp()
        md = self.md
        # unread mail: half still in new/, half seen by a reader but with
        # no flags (cur/X:2,) or another flag
        self.bases = []
        for i in range(MESSAGES):
            flags = (None, "", "F", "R")[i % 4]
            self.bases.append(md.deliver("INBOX", flags))
        self.cs("-q", "reindex")
        self.before = {f.uid: f.modseq for f in self.fetch("INBOX")}
        self.assertEqual(len(self.before), MESSAGES)
        self.h0 = self.hms()

    def store(self, uidset, unchangedsince):
        """One store; returns (claimed UIDs, modified UIDs)."""
        res = cstest.run(["store", "INBOX", uidset, "+FLAGS", "(\\Seen)",
                          "--unchangedsince", str(unchangedsince)],
                         maildir=self.md.root)
        claimed, modified = set(), set()
        lines = res.lines
        if lines and lines[-1].startswith("OK [MODIFIED "):
            m = cstest.MODIFIED_RE.match(lines[-1])
            self.assertTrue(m, res)
            modified = cstest.uidset_expand(m.group(1))
            lines = lines[:-1]
        claimed = {f.uid for f in cstest.parse_fetch(lines)}
        self.assertEqual(res.rc, 1 if modified else 0, res)
        self.assertFalse(claimed & modified, res)
        return claimed, modified

    def run_workers(self, work):
        """Run work(worker) in WORKERS threads, each driving its own
        condstore processes; returns the list of their results."""
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(work, range(WORKERS)))

    def assert_after(self, claimed_by, extra_letters=None):
        """Every file carries S exactly once and its other letters intact;
        the index agrees with the disk."""
        names = self.uids("INBOX")
        files = self.md.files("INBOX")
        self.assertEqual(len(files), MESSAGES)
        for uid, base in names.items():
            sub, entry = files[base]
            info = entry[len(base):]
            self.assertTrue(info.startswith(":2,"), entry)
            self.assertEqual(info.count("S"), 1, entry)
            want = set("S") | set(
                ("", "", "F", "R")[self.bases.index(base) % 4])
            if extra_letters:
                want |= extra_letters.get(base, set())
            self.assertEqual(set(info[3:]), want, entry)
        self.assert_matches_disk("INBOX")
        self.assert_clean()

    def test_race_per_uid(self):
        uids = sorted(self.before)

        def work(worker):
            order = list(uids)
            random.Random(worker).shuffle(order)
            mine, lost = set(), set()
            for uid in order:
                c, m = self.store(str(uid), self.before[uid])
                mine |= c
                lost |= m
            return mine, lost

        # a reader polls meanwhile: it never fails, and never sees
        # HIGHESTMODSEQ go down or a message lose its claim
        stop = threading.Event()
        seen = []

        def reader():
            while not stop.is_set():
                res = cstest.run(["status", "INBOX"], maildir=self.md.root)
                self.assertEqual(res.rc, 0, res)
                st = cstest.parse_status(res.lines)["INBOX"]
                res = cstest.run(["search", "INBOX", "--modseq",
                                  str(self.h0 + 1)], maildir=self.md.root)
                self.assertEqual(res.rc, 0, res)
                found, _ = cstest.parse_search(res.lines[0])
                seen.append((st["HIGHESTMODSEQ"], set(found)))

        failures = []

        def guarded_reader():
            try:
                reader()
            except BaseException as e:      # reported after the join
                failures.append(e)

        thread = threading.Thread(target=guarded_reader)
        thread.start()
        try:
            results = self.run_workers(work)
        finally:
            stop.set()
            thread.join()
        if failures:
            raise failures[0]
        self.assertTrue(seen)
        for (h1, f1), (h2, f2) in zip(seen, seen[1:]):
            self.assertLessEqual(h1, h2)
            self.assertLessEqual(f1, f2)
        for uid in uids:
            winners = [w for w, (mine, lost) in enumerate(results)
                       if uid in mine]
            losers = [w for w, (mine, lost) in enumerate(results)
                      if uid in lost]
            self.assertEqual(len(winners), 1, (uid, winners))
            self.assertEqual(len(losers), WORKERS - 1, (uid, losers))
        # one new modseq per claim, nothing else
        self.assertEqual(self.hms(), self.h0 + MESSAGES)
        self.assert_after(None)

    def test_race_chunks_with_renamer(self):
        """Chunks of 25 UIDs with UNCHANGEDSINCE = the HIGHESTMODSEQ
        before the race (every message's modseq is at most that), while a
        mail reader keeps flagging messages: a message the reader touched
        first may be claimed by nobody, none is claimed twice, and no
        flag is lost."""
        uids = sorted(self.before)
        chunks = [uids[i:i + 25] for i in range(0, len(uids), 25)]
        stop = threading.Event()
        flagged = {}

        def renamer():
            rng = random.Random(99)
            while not stop.is_set() and len(flagged) < len(self.bases) // 5:
                base = rng.choice(self.bases)
                if base in flagged:
                    continue
                path = self.md.find("INBOX", base)
                name = os.path.basename(path)
                info = name[len(base):]
                letters = info[3:] if info.startswith(":2,") else ""
                new = os.path.join(self.md.path("INBOX"), "cur",
                                   base + ":2," + cstest.sorted_letters(
                                       letters + "P"))
                try:
                    os.rename(path, new)
                except FileNotFoundError:
                    continue        # a store renamed it first: try again
                flagged[base] = {"P"}
                stop.wait(0.002)    # spread the renames over the race

        def work(worker):
            order = list(chunks)
            random.Random(worker).shuffle(order)
            mine, lost = set(), set()
            for chunk in order:
                c, m = self.store(cstest.uidset_format(chunk), self.h0)
                mine |= c
                lost |= m
            return mine, lost

        thread = threading.Thread(target=renamer)
        thread.start()
        try:
            results = self.run_workers(work)
        finally:
            stop.set()
            thread.join()
        self.assertTrue(flagged)
        names = self.uids("INBOX")
        unclaimed = []
        for uid in uids:
            winners = [w for w, (mine, lost) in enumerate(results)
                       if uid in mine]
            self.assertLessEqual(len(winners), 1, uid)
            if not winners:
                # only a message the reader renamed may stay unclaimed
                self.assertIn(names[uid], flagged, uid)
                unclaimed.append(uid)
        # the reader's renames come after a reindex into the index
        self.cs("-q", "reindex")
        if unclaimed:
            self.cs("store", "INBOX", cstest.uidset_format(unclaimed),
                    "+FLAGS", "(\\Seen)")
        self.assert_after(None, flagged)


if __name__ == "__main__":
    cstest.main()
