#!/usr/bin/env python3
"""HIGHESTMODSEQ never decreases: not across reindex, reindex --rebuild,
a deleted index, or an index truncated to half (which is reported as an
error and recovered from with --rebuild)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

COUNTS = {"INBOX": 300, "Lists": 120}


class Monotonic(cstest.CondstoreCase):
    seed = 11

    def setUp(self):
        super().setUp()
        self.made = self.md.populate(COUNTS, keywords=())
        self.cs("-q", "reindex")
        self.assert_clean()
        self.last = self.snapshot()

    def snapshot(self):
        """{mailbox: (status, {uid: base}, {uid: modseq})}"""
        out = {}
        for box, st in self.status().items():
            out[box] = (st, self.uids(box),
                        {f.uid: f.modseq for f in self.fetch(box)})
        return out

    def advance(self, what):
        """Take a snapshot and check it against the last one: no
        HIGHESTMODSEQ went down; under an unchanged UIDVALIDITY every UID
        still names the same message; the counts match the disk."""
        now = self.snapshot()
        self.assertEqual(set(now), set(COUNTS), what)
        for box, (st, names, modseqs) in now.items():
            old_st, old_names, old_modseqs = self.last[box]
            self.assertGreaterEqual(st["HIGHESTMODSEQ"],
                                    old_st["HIGHESTMODSEQ"], (what, box))
            self.assertEqual(st["MESSAGES"], len(self.md.files(box)),
                             (what, box))
            self.assertTrue(all(m <= st["HIGHESTMODSEQ"]
                                for m in modseqs.values()), (what, box))
            if st["UIDVALIDITY"] == old_st["UIDVALIDITY"]:
                common = set(names) & set(old_names)
                for uid in common:
                    self.assertEqual(names[uid], old_names[uid],
                                     (what, box, uid))
        self.last = now
        return now

    def assert_all_above(self, now, before, what):
        """After a rebuild every message has a modseq above what was
        handed out before, so CHANGEDSINCE of an old HIGHESTMODSEQ
        returns everything."""
        for box in now:
            old_h = before[box][0]["HIGHESTMODSEQ"]
            self.assertTrue(all(m > old_h for m in now[box][2].values()),
                            (what, box))
            self.assertEqual(len(self.fetch(box, "--changedsince",
                                            str(old_h))),
                             now[box][0]["MESSAGES"], (what, box))

    def change_some(self, n=7):
        for base in self.made["INBOX"][:n]:
            letters = self.md.flags("INBOX", base)
            self.md.set_flags("INBOX", base, letters + "F"
                              if "F" not in letters else "S")
        self.md.deliver("Lists", "S")

    def test_reindex_rebuild_delete_truncate(self):
        before = self.last
        self.change_some()
        self.cs("-q", "reindex")
        now = self.advance("reindex")
        for box in COUNTS:
            self.assertGreater(now[box][0]["HIGHESTMODSEQ"],
                               before[box][0]["HIGHESTMODSEQ"])
        self.assert_clean()

        before = now
        self.cs("-q", "reindex", "--rebuild")
        now = self.advance("--rebuild")
        self.assert_all_above(now, before, "--rebuild")
        self.assert_clean()

        # the index deleted (the high-water mark beside it is kept)
        before = now
        os.unlink(self.db())
        self.cs("-q", "reindex")
        now = self.advance("deleted tdb")
        self.assert_all_above(now, before, "deleted tdb")
        self.assert_clean()

        # changes after the recovery still go up
        self.change_some(3)
        self.cs("-q", "reindex")
        self.advance("reindex after deletion")

        # truncated into its records (a first index is compact, its
        # records first and tdb's recovery area after them, so the second
        # half of the file may hold only the latter): a clear error, then
        # --rebuild recovers
        before = self.last
        size = os.path.getsize(self.db())
        with open(self.db(), "r+b") as f:
            f.truncate(min(size // 2, 65536))
        for args in (["status"], ["fetch", "INBOX"], ["reindex"],
                     ["store", "INBOX", "1", "+FLAGS", "(\\Seen)"]):
            with self.subTest(args=args):
                # where the damage shows depends on where the cut fell:
                # warnings may come first, the last line is the error
                res = self.cs(*args, rc=2)
                self.assertEqual(res.out, "", res)
                last = res.err.splitlines()[-1]
                self.assertRegex(last, r"^condstore: .*condstore\.tdb: .*"
                                 r"reindex --rebuild", res)
        # check finds the damage (a problem) or cannot check (an error)
        res = self.cs("check", rc=None)
        self.assertIn(res.rc, (1, 2), res)
        self.assertIn("condstore.tdb", res.out + res.err)
        self.assertIn("--rebuild", res.out + res.err)
        self.cs("-q", "reindex", "--rebuild")
        now = self.advance("truncated, --rebuild")
        self.assert_all_above(now, before, "truncated, --rebuild")
        self.assert_clean()

    def test_rebuild_twice_and_store(self):
        for i in range(2):
            before = self.last
            self.cs("-q", "reindex", "--rebuild")
            now = self.advance("rebuild %d" % i)
            self.assert_all_above(now, before, "rebuild %d" % i)
        h = now["INBOX"][0]["HIGHESTMODSEQ"]
        res = self.cs("store", "INBOX", "1", "+FLAGS", "(\\Draft)")
        f = cstest.parse_fetch(res.lines)[0]
        self.assertGreater(f.modseq, h)
        self.advance("store")
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
