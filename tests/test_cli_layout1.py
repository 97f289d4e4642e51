#!/usr/bin/env python3
"""An index of layout 1 (written by tests/unit/mklayout1, record by
record as the earlier versions wrote it) meets this version: the
read-only commands refuse it with a message that says how to convert it
(exit 2), and the first writer - reindex, or the watch daemon at its
start - converts it in place keeping every UID, MODSEQ and expunge, so
that a client's CHANGEDSINCE and VANISHED answers go on as before."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

N = 1000                    # messages
SEED = 1000000              # layout1.h
RUN = 400
CHANGED = 50000
TOP = SEED + 2 * CHANGED    # HIGHESTMODSEQ: the expunge of UID N + 300


def modseq(i):
    return SEED + 1 + i + (CHANGED if i >= RUN and i % 3 == 0 else 0)


def mklayout1(root, n):
    top = os.environ.get("top_builddir",
                         os.path.join(os.path.dirname(__file__), ".."))
    tool = os.path.join(os.path.abspath(top), "tests", "unit", "mklayout1")
    subprocess.run([tool, root, str(n)], check=True)


class Layout1(watchtest.WatchCase):

    def setUp(self):
        super().setUp()
        mklayout1(self.md.root, N)

    def assert_refused(self, *args):
        res = self.cs(*args, rc=2)
        self.assertIn("layout 1", res.err, res)
        self.assertIn("condstore reindex", res.err, res)
        self.assertEqual(res.out, "", res)

    def assert_kept(self):
        """What layout 1 said, said again."""
        st = self.status("INBOX")["INBOX"]
        self.assertEqual((st["MESSAGES"], st["UIDNEXT"], st["UIDVALIDITY"],
                          st["HIGHESTMODSEQ"]),
                         (N, N + 301, 1700000000, TOP))
        got = {f.uid: (f.modseq, f.flags) for f in self.fetch("INBOX")}
        self.assertEqual(got, {i + 1: (modseq(i), ["\\Seen"])
                               for i in range(N)})
        res = self.cs("vanished", "INBOX", "--since", str(SEED))
        self.assertEqual(res.lines, ["* VANISHED %d" % (N + 300)])
        # the change log: the messages whose last change is above
        since = SEED + RUN
        changed = {f.uid for f in self.fetch("INBOX", "--changedsince",
                                             str(since))}
        self.assertEqual(changed, {i + 1 for i in range(N)
                                   if modseq(i) > since})
        self.cs("check")

    def test_readers_refuse_writers_convert(self):
        self.assert_refused("status", "INBOX")
        self.assert_refused("fetch", "INBOX")
        self.assert_refused("check")
        res = self.cs("reindex")
        self.assertEqual(res.err, "condstore: warning: %s: index converted "
                         "to layout 2, every UID and modseq kept\n" %
                         self.db(), res)
        self.assert_kept()
        # and it goes on as any index: a flag change gets the next modseq
        self.md.set_flags("INBOX", "1700000005.M5P7.host", "FS")
        self.cs("reindex", "INBOX")
        f, = [f for f in self.fetch("INBOX", "6")]
        self.assertEqual(f.modseq, TOP + 1)
        self.assertEqual(sorted(f.flags), ["\\Flagged", "\\Seen"])
        self.cs("check")

    def test_daemon_converts_at_start(self):
        daemon = self.start_daemon()
        self.sync()
        self.assertIn("index converted to layout 2", daemon.log())
        self.assert_kept()
        self.md.set_flags("INBOX", "1700000007.M7P7.host", "RS")
        self.sync()
        f, = [f for f in self.fetch("INBOX", "8")]
        self.assertEqual(f.modseq, TOP + 1)
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
