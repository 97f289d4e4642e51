#!/usr/bin/env python3
"""test_plugin_qresync.py - QRESYNC (RFC 7162 3.2) with the plugin, a real
Dovecot and imaplib: VANISHED (EARLIER) at SELECT/EXAMINE ... (QRESYNC ...)
and UID FETCH ... (CHANGEDSINCE n VANISHED) names exactly the UIDs that
went (external unlinks, IMAP expunges from another session), with and
without known-uids and seq-match-data, nothing for a wrong UIDVALIDITY,
the same after deleting dovecot.index*, an expunge only Dovecot saw
(recorded by the sync that drops it), every gone UID for a client from
below the horizon, live VANISHED at NOOP and IDLE, and pruning (check
--prune, the daemon's idle prune) under a connected client."""

import glob
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402
import dovecotconf  # noqa: E402

cstest, watchtest = dovecot.start_test("cstest", "watchtest")


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


VANISHED_RE = re.compile(r"^\* VANISHED (\(EARLIER\) )?([0-9:,]+)$")


class Idle:
    """IDLE (RFC 2177) on an imaplib connection, which has no IDLE of its
    own: the command is sent and its continuation awaited, then the
    untagged responses are read as they come."""

    def __init__(self, imap):
        self.imap = imap
        self.tag = imap._new_tag().decode()
        self.vanished = set()
        self.other = []
        imap.send(("%s IDLE\r\n" % self.tag).encode())
        line = self._line()
        if not line.startswith("+"):
            raise AssertionError("IDLE refused: %r" % line)

    def _line(self):
        line = self.imap.readline()
        if not line:
            raise AssertionError("connection closed during IDLE")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def _take(self, line):
        m = VANISHED_RE.match(line)
        if m is None:
            self.other.append(line)
        elif m.group(1):
            raise AssertionError("VANISHED (EARLIER) during IDLE: %r" % line)
        else:
            self.vanished |= cstest.uidset_expand(m.group(2))

    def wait_vanished(self, uids):
        """Read untagged responses until live VANISHED named every UID of
        uids (the test's timeout stops a wait for what never comes)."""
        while not set(uids) <= self.vanished:
            self._take(self._line())

    def done(self):
        """DONE, and the responses up to the tagged OK."""
        self.imap.send(b"DONE\r\n")
        while True:
            line = self._line()
            if line.startswith(self.tag + " "):
                if not line.startswith(self.tag + " OK"):
                    raise AssertionError("IDLE ended with %r" % line)
                return
            self._take(line)


class PluginQresyncTest(watchtest.WatchCase):
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
        new = self.md.deliver("INBOX", "S")
        self.md.set_flags("INBOX", bases[4], "FS")
        # other agents' changes reach the index through the daemon or a
        # scan (without either, Dovecot's own scan sees them, the index
        # does not: doc/dovecot-plugin.md)
        self.cs("reindex", "INBOX")
        self.delivered_base = new
        return gone, self.uid[bases[4]]

    def delivered(self):
        """The UID of the message changes() delivered, once a Dovecot
        session has given it one."""
        uid = {b: u for u, b in self.uids().items()}[self.delivered_base]
        self.assertNotIn(uid, self.uid.values())
        return uid

    def changed_since(self, imap, since, uids="1:*"):
        """UID FETCH uids (FLAGS) (CHANGEDSINCE since VANISHED) in imap:
        (VANISHED (EARLIER) UIDs, {uid: fetch})."""
        imap.untagged_responses.pop("VANISHED", None)
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.uid("FETCH", uids, "(FLAGS)",
                             "(CHANGEDSINCE %d VANISHED)" % since)
        self.assertEqual(typ, "OK", data)
        earlier, live = vanished_of(imap)
        self.assertEqual(live, set())
        return earlier, dovecot.parse_imap_fetch(data)

    def noop_vanished(self, imap):
        """NOOP: the live VANISHED UIDs it brought (never EARLIER)."""
        imap.untagged_responses.pop("VANISHED", None)
        dovecot.imap_ok(imap.noop())
        self.assertNotIn("EXPUNGE", imap.untagged_responses)
        earlier, live = vanished_of(imap)
        self.assertEqual(earlier, set())
        return live

    def not_messages(self):
        """Every UID below UIDNEXT that is not a message: what VANISHED
        from below the horizon answers."""
        status = self.status("INBOX")["INBOX"]
        return set(range(1, status["UIDNEXT"])) - set(self.uids())

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
        self.assertEqual(set(fetched), {renamed, self.delivered()})
        self.assertEqual(sorted(fetched[renamed]["FLAGS"]),
                         ["\\Flagged", "\\Seen"])
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

    def test_index_ahead_of_the_session(self):
        """A message the index knows gone but the session has not synced
        yet is still one of the session's messages: UID FETCH (VANISHED)
        leaves it out of VANISHED (EARLIER), and the session's next sync
        says VANISHED."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        gone = self.uid[bases[6]]
        self.md.delete("INBOX", bases[6])
        self.cs("reindex", "INBOX")
        for key in ("VANISHED", "FETCH"):
            self.imap.untagged_responses.pop(key, None)
        typ, data = self.imap.uid("FETCH", "1:*", "(FLAGS)",
                                  "(CHANGEDSINCE %d VANISHED)" % self.h0)
        self.assertEqual(typ, "OK", data)
        earlier, live = vanished_of(self.imap)
        self.assertEqual(earlier, set())
        live |= self.noop_vanished(self.imap)
        self.assertEqual(live, {gone})
        # once synced, the index's answer is the session's
        self.assertEqual(self.changed_since(self.imap, self.h0),
                         ({gone}, {}))

    def test_expunge_the_index_never_saw(self):
        """A message Dovecot numbered while no part of ours looked (the
        plugin not loaded, no daemon, no scan), then unlinked: the index
        has no trace of it.  The sync that drops it from a session's view
        records its expunge, and a client that resynchronises from before
        is told it vanished (the index alone would never say so)."""
        close(self.imap)
        self.dc.stop()
        stock = dovecot.Dovecot(self.md.tmp, mail_plugins="")
        stock.start()
        self.addCleanup(stock.finish)
        new = self.md.deliver("INBOX", "S")
        imap = stock.connect()
        dovecot.imap_ok(imap.select("INBOX"))
        typ, data = imap.uid("SEARCH", "ALL")
        self.assertEqual(typ, "OK", data)
        uid = max(int(u) for u in data[0].split())
        self.assertNotIn(uid, self.uid.values())
        close(imap)
        stock.stop()
        self.md.delete("INBOX", new)
        self.dc.start()
        earlier, fetched = self.resync("%d %d" % (self.uidvalidity,
                                                  self.h0))
        self.assertEqual(earlier, {uid})
        self.assertEqual(fetched, {})
        # once recorded, the CLI answers it too
        r = self.cs("vanished", "INBOX", "--since", str(self.h0))
        self.assertEqual(r.lines, ["* VANISHED %d" % uid])

    def test_known_uids_gone_before_since(self):
        """Every known UID the mailbox no longer has is named by VANISHED
        (EARLIER), also one expunged before the client's modseq (RFC 7162
        section 3.2.5.1 allows more than the expunges since): the
        known-uids are what the client holds, and a message the index
        keeps no trace of under its UID (expunged before any session told
        the index its UID) must leave the client all the same."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        gone = self.expunge_elsewhere(bases[3])
        h1 = self.hms()
        top = max(self.uid.values())
        earlier, fetched = self.resync("%d %d 1:%d" % (self.uidvalidity, h1,
                                                        top))
        self.assertEqual((earlier, fetched), ({gone}, {}))
        # known-uids that are all still there: nothing
        rest = ",".join(str(u) for u in sorted(self.uid.values())
                        if u != gone)
        earlier, _ = self.resync("%d %d %s" % (self.uidvalidity, h1, rest))
        self.assertEqual(earlier, set())
        # without known-uids, only the expunges since the modseq
        earlier, _ = self.resync("%d %d" % (self.uidvalidity, h1))
        self.assertEqual(earlier, set())

    def session_hms(self, imap):
        """HIGHESTMODSEQ of the selected INBOX as STATUS gives it to the
        session (no sync of its view before)."""
        typ, data = imap.status("INBOX", "(HIGHESTMODSEQ)")
        self.assertEqual(typ, "OK", data)
        m = re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(
            d for d in data if isinstance(d, bytes)))
        self.assertIsNotNone(m, data)
        return int(m.group(1))

    def test_hms_of_the_view_expunge(self):
        """Another session's expunge is in the index before this
        session's view has it: the HIGHESTMODSEQ this session is told
        must not count it, so that a client resynchronising from it is
        told of the expunge."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        gone = self.expunge_elsewhere(bases[3])
        h = self.session_hms(self.imap)
        self.assertLess(h, self.hms())
        self.assertGreaterEqual(h, self.h0)
        earlier, _ = self.resync("%d %d" % (self.uidvalidity, h))
        self.assertEqual(earlier, {gone})
        # once the view has it, the session is told the index's top
        self.assertEqual(self.noop_vanished(self.imap), {gone})
        self.assertEqual(self.session_hms(self.imap), self.hms())

    def test_hms_of_the_view_delivery(self):
        """A delivery the index recorded before this session's view has
        it: a client resynchronising from the HIGHESTMODSEQ the session
        was told is sent the new message."""
        new = self.md.deliver("INBOX", "S")
        self.cs("reindex", "INBOX")
        h = self.session_hms(self.imap)
        self.assertLess(h, self.hms())
        _, fetched = self.resync("%d %d" % (self.uidvalidity, h))
        uid = {b: u for u, b in self.uids().items()}[new]
        self.assertEqual(set(fetched), {uid})
        dovecot.imap_ok(self.imap.noop())
        self.assertEqual(self.session_hms(self.imap), self.hms())

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

    def idle_vanished(self, daemon):
        """The session in IDLE is told, as live VANISHED, exactly the UIDs
        another session expunges and another agent unlinks; the index
        then answers the same."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        if daemon:
            self.start_daemon()
        idle = Idle(self.imap)
        expunged = self.expunge_elsewhere(bases[3])
        idle.wait_vanished({expunged})
        self.md.delete("INBOX", bases[8])
        unlinked = self.uid[bases[8]]
        idle.wait_vanished({expunged, unlinked})
        idle.done()
        self.assertEqual(idle.vanished, {expunged, unlinked})
        self.assertEqual([line for line in idle.other
                          if re.match(r"^\* \d+ EXPUNGE", line)], [])
        if daemon:
            self.sync()
        else:
            self.cs("reindex", "INBOX")
        self.assertEqual(self.changed_since(self.imap, self.h0),
                         ({expunged, unlinked}, {}))
        self.assertEqual(self.resync("%d %d" % (self.uidvalidity, self.h0)),
                         ({expunged, unlinked}, {}))
        self.cs("check")

    def test_idle_vanished(self):
        self.idle_vanished(daemon=False)

    def test_idle_vanished_daemon(self):
        self.idle_vanished(daemon=True)

    def prune_under_client(self, prune):
        """A QRESYNC client stays selected while prune() drops the
        tombstones of what went since its last sync: its NOOP is told
        exactly those UIDs, its resync from before the prune gets every
        UID that is not a message (never fewer), and expunges after the
        prune are answered exactly again."""
        bases = sorted(self.made["INBOX"], key=lambda b: self.uid[b])
        gone, renamed = self.changes()
        self.assertEqual(self.resync("%d %d" % (self.uidvalidity,
                                                self.h0))[0], gone)
        daemon = prune()
        want = self.not_messages()
        self.assertTrue(gone <= want)
        self.assertEqual(self.noop_vanished(self.imap), gone)
        earlier, fetched = self.changed_since(self.imap, self.h0)
        self.assertEqual(earlier, want)
        self.assertEqual(set(fetched), {renamed, self.delivered()})
        # a client that knew the first messages: every one of them gone
        known = set(self.uid.values())
        earlier, _ = self.resync("%d %d %s" % (
            self.uidvalidity, self.h0, cstest.uidset_format(known)))
        self.assertEqual(earlier, want & known)
        # after the prune, exact again
        h1 = self.hms()
        later = {self.expunge_elsewhere(bases[5]), self.uid[bases[9]]}
        self.md.delete("INBOX", bases[9])
        if daemon is not None:
            self.sync()
        else:
            self.cs("reindex", "INBOX")
        self.assertEqual(self.noop_vanished(self.imap), later)
        self.assertEqual(self.changed_since(self.imap, h1), (later, {}))
        self.assertEqual(self.resync("%d %d" % (self.uidvalidity, h1)),
                         (later, {}))
        if daemon is not None:
            self.stop_daemon(daemon)
        self.cs("check")

    def test_check_prune_under_client(self):
        def prune():
            res = self.cs("-v", "check", "--prune=0")
            self.assertIn("tombstone", res.err)
        self.prune_under_client(prune)

    def test_daemon_prune_under_client(self):
        def prune():
            daemon = self.start_daemon("--prune-age", "0")
            for _ in range(3000):
                if "pruned 2 tombstones" in daemon.log():
                    return daemon
                self.assertTrue(daemon.running(), daemon.log())
                time.sleep(0.01)
            self.fail("the daemon did not prune:\n" + daemon.log())
        self.prune_under_client(prune)


if __name__ == "__main__":
    cstest.main()
