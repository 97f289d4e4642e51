#!/usr/bin/env python3
"""reindex of a generated Maildir, then every kind of change an MDA and
mutt make: exactly the changed messages get fresh modseqs, no-ops get
none, expunges appear in VANISHED, check stays clean and catches what is
planted behind the index's back."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

KW = ("work", "later")
COUNTS = {"INBOX": 1500, "Lists.debian": 800, "Archive": 600, "Sent": 300}


class Reindex(cstest.CondstoreCase):
    seed = 7

    def reindex_all(self):
        self.md.populate(COUNTS, keywords=KW)
        self.cs("-q", "reindex")

    def test_counts_match_disk(self):
        self.reindex_all()
        st = self.status()
        self.assertEqual(list(st), ["INBOX", "Archive", "Lists.debian",
                                    "Sent"])
        for box, n in COUNTS.items():
            self.assertEqual(len(self.md.files(box)), n)
            self.assertEqual(st[box]["MESSAGES"], n)
            self.assertEqual(st[box]["UIDNEXT"], n + 1)
            fetched = self.assert_matches_disk(box, KW)
            self.assertEqual(set(fetched), set(range(1, n + 1)))
            self.assertEqual([f.seq for f in self.fetch(box)],
                             list(range(1, n + 1)))
            modseqs = [f.modseq for f in fetched.values()]
            self.assertEqual(len(set(modseqs)), n)
            self.assertEqual(max(modseqs), st[box]["HIGHESTMODSEQ"])
        self.assert_clean()
        # a second reindex finds nothing to do
        self.cs("-q", "reindex")
        self.assertEqual(self.status(), st)

    def test_changes(self):
        self.reindex_all()
        md = self.md
        h0 = {box: v["HIGHESTMODSEQ"] for box, v in self.status().items()}
        uids = {box: self.uids(box) for box in COUNTS}
        by_base = {box: {b: u for u, b in m.items()}
                   for box, m in uids.items()}
        files = md.files("INBOX")
        cur = sorted(b for b, (sub, e) in files.items() if sub == "cur")
        new = sorted(b for b, (sub, e) in files.items() if sub == "new")
        rng = md.rng
        rng.shuffle(cur)
        rng.shuffle(new)
        changed = set()         # INBOX UIDs with a flag change
        # mutt: flag changes in cur/
        for base in cur[:20]:
            letters = md.flags("INBOX", base)
            md.set_flags("INBOX", base, letters.replace("S", "")
                         if "F" in letters else letters + "F")
            changed.add(by_base["INBOX"][base])
        # mutt reading new mail: new/X -> cur/X:2,S
        for base in new[:10]:
            md.see("INBOX", base, "S")
            changed.add(by_base["INBOX"][base])
        # no-ops: new/ -> cur/ without flags, a rename onto itself
        for base in new[10:20]:
            md.see("INBOX", base, "")
        for base in cur[20:25]:
            path = md.find("INBOX", base)
            os.rename(path, path)
        # expunges and moves to another folder
        gone = set()
        for base in cur[25:35]:
            md.delete("INBOX", base)
            gone.add(by_base["INBOX"][base])
        moved = cur[35:43]
        for base in moved:
            md.move("INBOX", base, "Archive")
            gone.add(by_base["INBOX"][base])
        # deliveries
        for i in range(15):
            md.deliver("INBOX", None if i % 2 else "S")
        self.cs("-q", "reindex")

        after = self.uids("INBOX")
        arrived = set(after) - set(uids["INBOX"])
        self.assertEqual(len(arrived), 15)
        self.assertTrue(min(arrived) > max(uids["INBOX"]))
        st = self.status()
        fetched = self.fetch("INBOX", "--changedsince", str(h0["INBOX"]))
        self.assertEqual({f.uid for f in fetched}, changed | arrived)
        self.assertEqual([f.uid for f in fetched],
                         sorted(f.uid for f in fetched))
        modseqs = [f.modseq for f in fetched]
        self.assertTrue(all(m > h0["INBOX"] for m in modseqs))
        self.assertEqual(len(set(modseqs)), len(modseqs))
        for f in fetched:
            self.assertEqual(cstest.letters_of(f.flags, KW),
                             md.flags("INBOX", after[f.uid]))
        vanished = cstest.parse_vanished(self.cs(
            "vanished", "INBOX", "--since", str(h0["INBOX"])).lines)
        self.assertEqual(vanished, gone)
        # one modseq per change, arrival and expunge
        self.assertEqual(st["INBOX"]["HIGHESTMODSEQ"] - h0["INBOX"],
                         len(changed) + len(arrived) + len(gone))
        self.assertEqual(st["INBOX"]["MESSAGES"], len(md.files("INBOX")))
        self.assertEqual(st["INBOX"]["MESSAGES"],
                         COUNTS["INBOX"] - len(gone) + 15)
        # the moved messages arrived in Archive with new UIDs
        fetched = self.fetch("Archive", "--changedsince", str(h0["Archive"]))
        arch = self.uids("Archive")
        self.assertEqual(sorted(arch[f.uid] for f in fetched), sorted(moved))
        self.assertTrue(all(f.uid > COUNTS["Archive"] for f in fetched))
        self.assertEqual(st["Archive"]["MESSAGES"],
                         COUNTS["Archive"] + len(moved))
        # untouched folders did not move
        for box in ("Lists.debian", "Sent"):
            self.assertEqual(st[box]["HIGHESTMODSEQ"], h0[box])
            self.assertEqual(self.fetch(box, "--changedsince",
                                        str(h0[box])), [])
        for box in COUNTS:
            self.assert_matches_disk(box, KW)
        self.assert_clean()

        # search --modseq agrees with fetch --changedsince
        res = self.cs("search", "INBOX", "--modseq", str(h0["INBOX"] + 1))
        found, top = cstest.parse_search(res.lines[0])
        self.assertEqual(found, sorted(changed | arrived))
        self.assertEqual(top, max(modseqs))

        # nothing more happened: a reindex assigns nothing
        self.cs("-q", "reindex")
        self.assertEqual(self.status(), st)

    def test_check_catches_planted(self):
        md = self.md
        made = md.populate({"INBOX": 40, "Work": 20}, keywords=KW)
        self.cs("-q", "reindex")
        self.assert_clean()
        h = self.hms()
        # a rename behind the index's back
        renamed = made["INBOX"][3]
        md.set_flags("INBOX", renamed, "FRS")
        # a record for a file that is gone
        deleted = made["INBOX"][5]
        md.delete("INBOX", deleted)
        # a file the index does not know
        unknown = md.deliver("Work", "S")
        res = self.cs("check", rc=1)
        self.assertEqual(len(res.lines), 3, res)
        self.assertEqual(len([l for l in res.lines if renamed in l]), 1, res)
        self.assertEqual(len([l for l in res.lines if deleted in l]), 1, res)
        self.assertEqual(len([l for l in res.lines if unknown in l]), 1, res)
        self.assertTrue(all(l.startswith(("INBOX: ", "Work: "))
                            for l in res.lines), res)
        # per mailbox
        self.assertEqual(len(self.cs("check", "Work", rc=1).lines), 1)
        # read-only: the index did not change
        self.assertEqual(self.hms(), h)
        res = self.cs("check", "--repair", rc=1)
        self.assertEqual(len(res.lines), 3, res)
        self.assert_clean()
        self.assertEqual(self.hms(), h + 2)
        self.assert_matches_disk("INBOX", KW)
        self.assert_matches_disk("Work", KW)

    def test_folder_gone(self):
        md = self.md
        md.populate({"INBOX": 5, "Old": 5}, keywords=())
        self.cs("reindex")
        self.assertEqual(list(self.status()), ["INBOX", "Old"])
        os.rename(md.path("Old"), md.path("New"))
        self.cs("reindex")
        st = self.status()
        self.assertEqual(list(st), ["INBOX", "New"])
        self.assertEqual(st["New"]["MESSAGES"], 5)
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
