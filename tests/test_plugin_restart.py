#!/usr/bin/env python3
"""test_plugin_restart.py - Dovecot's own index files may go at any time:
stop Dovecot, delete dovecot.index* everywhere, start it again; the same
UIDs report the same MODSEQs and HIGHESTMODSEQ did not go down (the
numbers come from the maildir-condstore index, not from Dovecot's)."""

import glob
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

[cstest] = dovecot.start_test("cstest")


class PluginRestartTest(cstest.CondstoreCase):
    seed = 4551

    def snapshot(self, dc, mailbox):
        """(HIGHESTMODSEQ, {uid: (modseq, flags)}) as IMAP reports them."""
        imap = dc.connect()
        try:
            hms = dovecot.select_condstore(imap, mailbox)
            typ, data = imap.uid("FETCH", "1:*", "(UID MODSEQ FLAGS)")
            self.assertEqual(typ, "OK", data)
            msgs = {uid: (f["MODSEQ"], sorted(set(f["FLAGS"]) -
                                              {"\\Recent"}))
                    for uid, f in dovecot.parse_imap_fetch(data).items()}
        finally:
            imap.logout()
        return hms, msgs

    def test_delete_dovecot_index(self):
        self.md.populate({"INBOX": 30, "Lists": 15})
        with dovecot.Dovecot(self.md.tmp) as dc:
            # Dovecot indexes the Maildir first this time
            before = {box: self.snapshot(dc, box)
                      for box in ("INBOX", "Lists")}
            # change something through IMAP so there is history
            imap = dc.connect()
            dovecot.imap_ok(imap.select("INBOX"))
            dovecot.imap_ok(imap.uid("STORE", "1:5", "+FLAGS (\\Flagged)"))
            imap.logout()
            before["INBOX"] = self.snapshot(dc, "INBOX")
            self.assertGreater(before["INBOX"][0], 0)
            dc.stop()

            gone = [p for p in glob.glob(os.path.join(self.md.root,
                                                      "dovecot.index*")) +
                    glob.glob(os.path.join(self.md.root, ".*",
                                           "dovecot.index*"))]
            self.assertTrue(gone)
            for path in gone:
                os.unlink(path)

            dc.start()
            after = {box: self.snapshot(dc, box)
                     for box in ("INBOX", "Lists")}
            dc.stop()
            dc.check_log()
        for box in ("INBOX", "Lists"):
            self.assertEqual(after[box][1], before[box][1], box)
            self.assertGreaterEqual(after[box][0], before[box][0], box)
            self.assertEqual(after[box][0], self.hms(box))
        # and the command agrees on every UID and modseq
        for box in ("INBOX", "Lists"):
            self.assertEqual({f.uid: f.modseq for f in self.fetch(box)},
                             {uid: m[0] for uid, m in
                              after[box][1].items()})

    def test_layout1_index_converted_by_dovecot(self):
        """An index of the earlier layout (tests/unit/mklayout1: 1000
        messages, UID i+1 and modseq as layout1.h says) meets Dovecot
        upgraded with the plugin: three sessions SELECT at once, one
        process converts it, and every client sees the same UIDs and
        MODSEQs as before."""
        n, seed, changed = 1000, 1000000, 50000
        top = seed + 2 * changed
        tool = os.path.join(os.path.abspath(os.environ.get(
            "top_builddir", os.path.join(os.path.dirname(__file__), ".."))),
            "tests", "unit", "mklayout1")
        subprocess.run([tool, self.md.root, str(n)], check=True)
        names = sorted(os.listdir(os.path.join(self.md.root, "cur")))
        with open(os.path.join(self.md.root, "dovecot-uidlist"), "w") as f:
            f.write("3 V1700000000 N%d G0123456789abcdef0123456789abcdef\n"
                    % (n + 301))
            for name in names:
                base = name.split(":")[0]
                f.write("%d :%s\n" % (int(base.split(".M")[1].split("P")[0])
                                      + 1, base))
        want = {i + 1: seed + 1 + i + (changed if i >= 400 and i % 3 == 0
                                       else 0) for i in range(n)}
        with dovecot.Dovecot(self.md.tmp) as dc:
            got, errors = [], []

            def session():
                try:
                    got.append(self.snapshot(dc, "INBOX"))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
            threads = [threading.Thread(target=session) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            dc.stop()
            text = dc.check_log()
        self.assertEqual(text.count("index converted to layout 2"), 1, text)
        for hms, msgs in got:
            self.assertEqual(hms, top)
            self.assertEqual({uid: m[0] for uid, m in msgs.items()}, want)
        self.cs("check")


if __name__ == "__main__":
    cstest.main()
