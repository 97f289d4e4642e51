#!/usr/bin/env python3
"""A full disk: reindex and store on a Maildir whose file system has no
room left give a clear error (exit 2) and lose nothing; once there is room
again, a reindex records every change with a fresh modseq, check is clean
and HIGHESTMODSEQ never went down.

The Maildir lives on a small tmpfs this test mounts (as root) and
unmounts; without the privilege to mount, the test is skipped."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


class FullDisk(cstest.CondstoreCase):
    def setUp(self):
        self.mnt = cstest.mount_tmpfs(self)
        self.md = cstest.Maildir(seed=7, root=os.path.join(self.mnt,
                                                           "Maildir"))
        self.filler = os.path.join(self.mnt, "filler")

    def test_no_space(self):
        bases = [self.md.deliver("INBOX", "S") for _ in range(150)]
        self.cs("-q", "reindex")
        before = self.hms()
        self.assert_clean()

        self.assertGreater(cstest.fill_disk(self.filler), 0)
        changed = bases[:40]
        arrived = cstest.changes_on_full_disk(self.md, changed)
        names_before = sorted(e for _, e in self.md.files("INBOX").values())
        res = self.cs("-q", "reindex", rc=None)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("No space left on device", res.err, res)
        # a store either fits in the room the index already has, or fails
        # with the same clear error; the file carries the flags only if
        # the store was recorded
        res = self.cs("store", "INBOX", "100", "+FLAGS", "(\\Draft)",
                      rc=None)
        self.assertIn(res.rc, (0, 2), res)
        if res.rc == 2:
            self.assertIn("No space left on device", res.err, res)
        # nothing was lost: every message file is still there
        self.assertEqual(len(self.md.files("INBOX")), 3150)
        # the index still answers, and never went down
        self.assertGreaterEqual(self.hms(), before)

        os.unlink(self.filler)
        self.cs("-q", "reindex")
        self.assert_clean()
        after = self.hms()
        self.assertGreater(after, before)
        fetched = {f.uid: f for f in self.fetch("INBOX", "--changedsince",
                                                 str(before))}
        uids = {base: uid for uid, base in self.uids().items()}
        for base in changed:
            self.assertIn(uids[base], fetched)
            self.assertIn("\\Flagged", fetched[uids[base]].flags)
        for base in arrived:
            self.assertIn(uids[base], fetched)
        self.assertEqual(self.status()["INBOX"]["MESSAGES"], 3150)
        # names other than the changed ones are as they were
        names_after = sorted(e for _, e in self.md.files("INBOX").values())
        self.assertEqual(len(names_after), len(names_before))


if __name__ == "__main__":
    cstest.main()
