#!/usr/bin/env python3
"""test_plugin_qresync.py - QRESYNC (RFC 7162 3.2) with the plugin, a real
Dovecot and imaplib: VANISHED (EARLIER) at SELECT/EXAMINE ... (QRESYNC ...)
and UID FETCH ... (CHANGEDSINCE n VANISHED) names exactly the UIDs that
went (external unlinks, IMAP expunges from another session), with and
without known-uids and seq-match-data, nothing for a wrong UIDVALIDITY,
the same after deleting dovecot.index*, every gone UID for a client from
below the horizon, and live VANISHED at NOOP."""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402
import dovecotconf  # noqa: E402

[cstest] = dovecot.start_test("cstest")


def close(imap):
    """Close a connection that may be closed already."""
    try:
        imap.shutdown()
    except OSError:
        pass


def vanished_of(imap):
    """(earlier UIDs, live UIDs) of the VANISHED responses imaplib kept."""
    earlier, live = set(), set()
    for line in dovecot.response_text(
            imap.untagged_responses.pop("VANISHED", [])):
        m = re.match(r"^(\(EARLIER\) )?([0-9:,]+)$", line.strip())
        assert m, "not a VANISHED response: %r" % line
        (earlier if m.group(1) else live).update(
            cstest.uidset_expand(m.group(2)))
    return earlier, live


class PluginQresyncTest(cstest.CondstoreCase):
    seed = 3262

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 12}, keywords=())
        self.cs("reindex")
        self.dc = dovecot.Dovecot(self.md.tmp, plugin_settings={
            "maildir_condstore_db":
                dovecotconf.home_var() + "/Maildir/condstore.tdb"})
        self.dc.start()
        self.addCleanup(self.dc.finish)
        self.imap = self.session()
        # Dovecot's UIDs, and the state a client keeps
        self.h0 = self.select_qresync(self.imap)
        self.uidvalidity = self.uidvalidity_of(self.imap)
        self.uid = {b: u for u, b in self.uids().items()}

    def session(self):
        imap = self.dc.connect()
        self.addCleanup(close, imap)
        data = dovecot.imap_ok(imap._simple_command("ENABLE", "QRESYNC"))
        enabled = " ".join(dovecot.response_text(
            imap.untagged_responses.pop("ENABLED", [])))
        self.assertIn("QRESYNC", enabled.upper().split(), data)
        return imap

    def uidvalidity_of(self, imap):
        return int(dovecot.response_code(imap, "UIDVALIDITY") or
                   self.status("INBOX")["INBOX"]["UIDVALIDITY"])

    def select_qresync(self, imap, params=None, command="SELECT"):
        """SELECT INBOX [(QRESYNC (params))]; returns HIGHESTMODSEQ."""
        for key in ("VANISHED", "FETCH", "UIDVALIDITY"):
            imap.untagged_responses.pop(key, None)
        args = ["INBOX"]
        if params is not None:
            args.append("(QRESYNC (%s))" % params)
        typ, data = imap._simple_command(command, *args)
        self.assertEqual(typ, "OK", data)
        imap.state = "SELECTED"
        return int(dovecot.response_code(imap, "HIGHESTMODSEQ"))

    def resync(self, params, command="SELECT"):
        """A new client resynchronising: (VANISHED (EARLIER) UIDs,
        {uid: fetch} of the changes)."""
        imap = self.session()
        self.select_qresync(imap, params, command)
        earlier, live = vanished_of(imap)
        self.assertEqual(live, set())
        fetched = dovecot.parse_imap_fetch(
            imap.untagged_responses.pop("FETCH", []))
        close(imap)
        return earlier, fetched

    def expunge_elsewhere(self, base):
        other = self.session()
        self.select_qresync(other)
        uid = self.uid[base]
        dovecot.imap_ok(other.uid("STORE", str(uid),
                                  "+FLAGS.SILENT (\\Deleted)"))
        dovecot.imap_ok(other.uid("EXPUNGE", str(uid)))
        close(other)
        return uid

    def changes(self):
        """Unlink one file, expunge one through another session, deliver
        one, rename one, and scan: returns (gone UIDs, renamed UID)."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        gone = {self.uid[bases[2]], self.expunge_elsewhere(bases[7])}
        self.md.delete("INBOX", bases[2])
        self.md.deliver("INBOX", "S")
        self.md.set_flags("INBOX", bases[4], "FS")
        # other agents' changes reach the index through the daemon or a
        # scan (without either, Dovecot's own scan sees them, the index
        # does not: doc/dovecot-plugin.md)
        self.cs("reindex", "INBOX")
        return gone, self.uid[bases[4]]

    # --- tests ------------------------------------------------------------

    def test_capability(self):
        imap = self.dc.connect()
        self.addCleanup(close, imap)
        typ, data = imap.capability()
        self.assertEqual(typ, "OK")
        self.assertIn("QRESYNC", dovecot.response_text(data)[0].split())

    def test_select_exact(self):
        gone, renamed = self.changes()
        earlier, fetched = self.resync("%d %d" % (self.uidvalidity, self.h0))
        self.assertEqual(earlier, gone)
        self.assertIn(renamed, fetched)
        self.assertEqual(len(fetched), 2, fetched)   # renamed + delivered
        # EXAMINE answers the same
        earlier, _ = self.resync("%d %d" % (self.uidvalidity, self.h0),
                                 command="EXAMINE")
        self.assertEqual(earlier, gone)
        # known-uids narrow the answer
        low = min(gone)
        earlier, _ = self.resync("%d %d 1:%d" % (self.uidvalidity, self.h0,
                                                 low))
        self.assertEqual(earlier, {low})
        # with seq-match-data (the first two messages, unchanged)
        earlier, _ = self.resync("%d %d 1:100 (1:2 1:2)" % (
            self.uidvalidity, self.h0))
        self.assertEqual(earlier, gone)
        # up to date: nothing
        h1 = self.hms()
        earlier, fetched = self.resync("%d %d" % (self.uidvalidity, h1))
        self.assertEqual((earlier, fetched), (set(), {}))

    def test_wrong_uidvalidity(self):
        self.changes()
        earlier, fetched = self.resync("%d %d" % (self.uidvalidity + 1,
                                                  self.h0))
        self.assertEqual((earlier, fetched), (set(), {}))

    def test_uid_fetch_vanished(self):
        gone, renamed = self.changes()
        self.imap.untagged_responses.pop("VANISHED", None)
        dovecot.imap_ok(self.imap.noop())
        _, live = vanished_of(self.imap)
        # live expunges of a QRESYNC session come as VANISHED (Dovecot's)
        self.assertEqual(live, gone)
        self.imap.untagged_responses.pop("FETCH", None)
        typ, data = self.imap.uid("FETCH", "1:*", "(FLAGS)",
                                  "(CHANGEDSINCE %d VANISHED)" % self.h0)
        self.assertEqual(typ, "OK", data)
        earlier, _ = vanished_of(self.imap)
        self.assertEqual(earlier, gone)
        fetched = dovecot.parse_imap_fetch(data)
        self.assertIn(renamed, fetched)
        # without VANISHED: no VANISHED
        typ, data = self.imap.uid("FETCH", "1:*", "(FLAGS)",
                                  "(CHANGEDSINCE %d)" % self.h0)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(vanished_of(self.imap), (set(), set()))
        # a UID range narrows the answer
        low = min(gone)
        typ, data = self.imap.uid("FETCH", "1:%d" % low, "(FLAGS)",
                                  "(CHANGEDSINCE %d VANISHED)" % self.h0)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(vanished_of(self.imap)[0], {low})

    def test_after_losing_dovecot_index(self):
        gone, _ = self.changes()
        first = self.resync("%d %d" % (self.uidvalidity, self.h0))
        close(self.imap)
        self.dc.stop()
        removed = glob.glob(os.path.join(self.md.root, "dovecot.index*"))
        self.assertTrue(removed)
        for path in removed:
            os.unlink(path)
        self.dc.start()
        again = self.resync("%d %d" % (self.uidvalidity, self.h0))
        self.assertEqual(again[0], gone)
        self.assertEqual(set(again[1]), set(first[1]))

    def test_below_the_horizon(self):
        gone, _ = self.changes()
        self.resync("%d %d" % (self.uidvalidity, self.h0))
        res = self.cs("-v", "check", "--prune=0")
        self.assertIn("tombstone", res.err)
        # the tombstones are gone; the answer names every UID that went
        # (below UIDNEXT and not a message), never fewer
        status = self.status("INBOX")["INBOX"]
        live = set(self.uids())
        want = set(range(1, status["UIDNEXT"])) - live
        self.assertTrue(gone <= want)
        for since in (self.h0, 1):
            earlier, _ = self.resync("%d %d" % (self.uidvalidity, since))
            self.assertEqual(earlier, want)


if __name__ == "__main__":
    cstest.main()
