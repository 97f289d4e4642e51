#!/usr/bin/env python3
"""condstore vanished and fetch --vanished with the expunge horizon: exact
answers from the tombstones above it, every UID below UIDNEXT that is not
a message below it (UID gaps of dovecot-uidlist from before the index, a
hostile UIDNEXT), said on stderr with exit status 1; and check --prune
(and condstore-cron-check --prune) raising the horizon."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

BASES = ["1700000001.M1P1.mx", "1700000002.M2P2.mx", "1700000005.M5P5.mx",
         "1700000006.M6P6.mx"]


def cron_script():
    top = os.environ.get("top_srcdir",
                         os.path.join(os.path.dirname(__file__), ".."))
    return os.path.join(os.path.abspath(top), "scripts",
                        "condstore-cron-check")


class Vanished(cstest.CondstoreCase):

    def setUp(self):
        super().setUp()
        # UIDs 3, 4 and 7, 8 went before the index existed
        with open(os.path.join(self.md.root, "dovecot-uidlist"), "w") as f:
            f.write("3 V1700000000 N9 G0123456789abcdef0123456789abcdef\n")
            for uid, base in zip((1, 2, 5, 6), BASES):
                f.write("%d :%s\n" % (uid, base))
        for base in BASES:
            self.md.deliver("INBOX", "S", base=base)
        self.cs("reindex")
        self.h = self.hms()

    def vanished(self, since, rc):
        res = self.cs("vanished", "INBOX", "--since", str(since), rc=rc)
        if rc == 1:
            self.assertIn("below the expunge horizon", res.err, res)
        else:
            self.assertEqual(res.err, "", res)
        return res.lines

    def test_gaps_before_the_index(self):
        # what went before the index: from below the horizon only
        self.assertEqual(self.vanished(1, 1), ["* VANISHED 3:4,7:8"])
        self.assertEqual(self.vanished(0, 1), ["* VANISHED 3:4,7:8"])
        self.assertEqual(self.vanished(self.h, 0), [])
        # -q silences the warning, not the exit status
        res = self.cs("-q", "vanished", "INBOX", "--since", "1", rc=1)
        self.assertEqual(res.err, "")

    def test_exact_above_the_horizon(self):
        self.md.delete("INBOX", BASES[1])
        self.cs("reindex", "INBOX")
        self.assertEqual(self.vanished(self.h, 0), ["* VANISHED 2"])
        self.assertEqual(self.vanished(1, 1), ["* VANISHED 2:4,7:8"])

    def test_fetch_vanished(self):
        self.md.delete("INBOX", BASES[1])
        self.md.set_flags("INBOX", BASES[2], "FS")
        self.cs("reindex", "INBOX")
        res = self.cs("fetch", "INBOX", "--changedsince", str(self.h),
                      "--vanished")
        self.assertEqual(len(res.lines), 2, res)
        self.assertEqual(res.lines[0], "* VANISHED (EARLIER) 2")
        fetched = cstest.parse_fetch(res.lines[1:])
        self.assertEqual([(f.seq, f.uid) for f in fetched], [(2, 5)])
        # restricted to the UID set, as UID FETCH 3:* is
        res = self.cs("fetch", "INBOX", "3:*", "--changedsince",
                      str(self.h), "--vanished")
        self.assertEqual(res.lines[0][:9], "* 2 FETCH", res)
        self.assertEqual(len(res.lines), 1, res)
        # from below the horizon: the gaps too, exit 1
        res = self.cs("fetch", "INBOX", "1:6", "--changedsince", "1",
                      "--vanished", rc=1)
        self.assertEqual(res.lines[0], "* VANISHED (EARLIER) 2:4")
        self.assertEqual(len(res.lines), 4, res)
        self.assertIn("below the expunge horizon", res.err)
        # --vanished means nothing without --changedsince
        res = self.cs("fetch", "INBOX", "--vanished", rc=2)
        self.assertIn("--changedsince", res.err)

    def test_prune(self):
        self.md.delete("INBOX", BASES[1])
        self.cs("reindex", "INBOX")
        h1 = self.hms()
        # the default age keeps a tombstone of now
        self.cs("check", "--prune")
        self.assertEqual(self.vanished(self.h, 0), ["* VANISHED 2"])
        res = self.cs("-v", "check", "--prune=0", "INBOX")
        self.assertIn("prune INBOX: 1 tombstone dropped", res.err)
        self.assertEqual(self.vanished(h1, 0), [])
        # a client from before the prune gets every gap, never fewer
        self.assertEqual(self.vanished(self.h, 1), ["* VANISHED 2:4,7:8"])
        self.cs("check")
        for bad in ("--prune=", "--prune=x", "--prune=-1", "--prune=5w",
                    "--prune=99999999999999999999"):
            with self.subTest(bad=bad):
                res = self.cs("check", bad, rc=2)
                self.assertIn("--prune", res.err)

    def test_cron_prune(self):
        self.md.delete("INBOX", BASES[0])
        self.cs("reindex", "INBOX")
        res = subprocess.run(
            [cron_script(), "--prune=0s", "--condstore",
             cstest.condstore_path(), self.md.root],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=600)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.vanished(self.hms(), 0), [])
        self.assertEqual(self.vanished(self.h, 1), ["* VANISHED 1,3:4,7:8"])

    def test_hostile_uidnext(self):
        # Dovecot's UIDs arrive after the index's own, with a UIDNEXT at
        # the top of the UID space: ranges, no walk over 2^32 UIDs
        os.unlink(os.path.join(self.md.root, "dovecot-uidlist"))
        self.cs("reindex", "--rebuild")
        with open(os.path.join(self.md.root, "dovecot-uidlist"), "w") as f:
            f.write("3 V1700000001 N4294967295 G0123\n")
            for uid, base in zip((1, 2, 5, 4294967290), BASES):
                f.write("%d :%s\n" % (uid, base))
        self.cs("reindex")
        self.assertEqual(self.vanished(1, 1),
                         ["* VANISHED 3:4,6:4294967289,4294967291:"
                          "4294967294"])


if __name__ == "__main__":
    cstest.main()
