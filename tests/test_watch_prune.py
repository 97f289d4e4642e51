#!/usr/bin/env python3
"""condstore watch --prune-age: the daemon drops old tombstones when idle
and raises the expunge horizon; VANISHED from before then answers every
UID that is gone, and the index stays clean."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


class WatchPrune(watchtest.WatchCase):
    seed = 13

    def test_idle_prune(self):
        made = self.md.populate({"INBOX": 6}, keywords=())
        self.cs("reindex")
        h0 = self.hms()
        uids = {b: u for u, b in self.uids().items()}
        gone = sorted(made["INBOX"])[:2]
        for base in gone:
            self.md.delete("INBOX", base)
        self.cs("reindex")
        want = {uids[b] for b in gone}
        res = self.cs("vanished", "INBOX", "--since", str(h0))
        self.assertEqual(cstest.parse_vanished(res.lines), want)

        daemon = self.start_daemon("--prune-age", "0")
        self.wait_log(daemon, "pruned 2 tombstones")
        # the tombstones are gone: from h0 the answer comes from below
        # the horizon, still every UID that went, exit 1
        res = self.cs("vanished", "INBOX", "--since", str(h0), rc=1)
        self.assertEqual(cstest.parse_vanished(res.lines), want)
        self.assertIn("below the expunge horizon", res.err)
        # an expunge after the prune is known exactly
        h1 = self.hms()
        base = sorted(made["INBOX"])[2]
        self.md.delete("INBOX", base)
        self.sync()
        res = self.cs("vanished", "INBOX", "--since", str(h1))
        self.assertEqual(cstest.parse_vanished(res.lines), {uids[base]})
        self.stop_daemon(daemon)
        self.cs("check")

    def test_bad_age(self):
        res = cstest.run(["watch", "--prune-age", "soon"],
                         maildir=self.md.root)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("prune-age", res.err)


if __name__ == "__main__":
    cstest.main()
