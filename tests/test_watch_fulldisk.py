#!/usr/bin/env python3
"""A full disk under the watch daemon: messages arrive and flags change
while the file system of the Maildir has no room left for the index.
The daemon fails to commit them; "condstore sync" must not report them
recorded (exit 0) while they are not: it waits, and at its timeout
exits 2 saying so.  Once there is room again, the daemon records every
change and sync returns 0.

The Maildir lives on a small tmpfs this test mounts (as root) and
unmounts; without the privilege to mount, the test is skipped."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


class WatchFullDisk(watchtest.WatchCase):

    def setUp(self):
        super().setUp()
        mnt = cstest.mount_tmpfs(self)
        # the daemon's log stays on the disk that has room
        logs = tempfile.mkdtemp(prefix="cstest-logs.")
        self.md = cstest.Maildir(seed=8, root=os.path.join(mnt, "Maildir"))
        self.md.tmp = logs
        self.addCleanup(self.md.cleanup)
        self.filler = os.path.join(mnt, "filler")

    def test_sync_not_acknowledged_while_disk_full(self):
        bases = [self.md.deliver("INBOX", "S") for _ in range(150)]
        self.cs("-q", "reindex")
        before = self.hms()
        daemon = self.start_daemon()

        self.assertGreater(cstest.fill_disk(self.filler), 0)
        changed = bases[:40]
        arrived = cstest.changes_on_full_disk(self.md, changed)
        res = watchtest.sync(self.md.root, 5000)
        self.assertEqual(res.rc, 2, (res, daemon.log()))
        self.assertIn("no answer", res.err)
        self.assertIn("No space left on device", daemon.log())
        self.assertTrue(daemon.running(), daemon.log())
        # what the index holds is still what it held
        self.assertGreaterEqual(self.hms(), before)

        os.unlink(self.filler)
        res = watchtest.sync(self.md.root, 120000)
        self.assertEqual(res.rc, 0, (res, daemon.log()))
        uids = {base: uid for uid, base in self.uids().items()}
        self.assertEqual(set(arrived) - set(uids), set())
        fetched = {f.uid: f for f in self.fetch("INBOX", "--changedsince",
                                                 str(before))}
        for base in changed:
            self.assertIn("\\Flagged", fetched[uids[base]].flags)
        for base in arrived:
            self.assertIn(uids[base], fetched)
        self.assertEqual(self.status()["INBOX"]["MESSAGES"], 3150)
        self.stop_daemon(daemon)
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
