#!/usr/bin/env python3
"""test_plugin_watch.py - Dovecot with the plugin and the watch daemon on
one Maildir: renames by an external agent (the way mutt makes them),
recorded by "condstore watch", reach IMAP clients through CHANGEDSINCE
with the daemon's modseq and the new flags; STORE UNCHANGEDSINCE loses
against them; and the daemon seeing Dovecot's own renames assigns no
second modseq."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

cstest, watchtest = dovecot.start_test("cstest", "watchtest")


class PluginWatchTest(watchtest.WatchCase):
    seed = 3501

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 30}, keywords=())
        self.dc = dovecot.Dovecot(self.md.tmp)
        self.dc.start()
        self.addCleanup(self.dc.finish)
        self.daemon = self.start_daemon()
        self.imap = self.dc.connect()
        self.addCleanup(self.imap.shutdown)
        self.hms0 = dovecot.select_condstore(self.imap, enable=True)
        self.sync()

    def imap_fetch(self, uids="1:*", changedsince=None):
        self.imap.untagged_responses.pop("FETCH", None)
        mods = "" if changedsince is None else \
            " (CHANGEDSINCE %d)" % changedsince
        typ, data = self.imap.uid("FETCH", uids, "(UID MODSEQ FLAGS)" + mods)
        self.assertEqual(typ, "OK", data)
        return {uid: (f["MODSEQ"], cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"]))
            for uid, f in dovecot.parse_imap_fetch(data).items()}

    def cs_map(self):
        return {f.uid: (f.modseq, cstest.letters_of(f.flags).replace("P", ""))
                for f in self.fetch("INBOX")}

    def uid_of(self, base):
        return {b: u for u, b in self.uids().items()}[base]

    def test_external_renames_through_the_daemon(self):
        self.assertEqual(self.imap_fetch(), self.cs_map())
        hms = self.hms()
        self.assertGreaterEqual(hms, self.hms0)
        a, b = self.made["INBOX"][2], self.made["INBOX"][9]
        ua, ub = self.uid_of(a), self.uid_of(b)
        old_a = self.cs_map()[ua]
        # mutt: flag one message, read another
        self.md.set_flags("INBOX", a, "FS")
        self.md.set_flags("INBOX", b, "RS")
        self.sync()
        now = self.cs_map()
        self.assertGreater(now[ua][0], hms)
        self.assertGreater(now[ub][0], hms)
        dovecot.imap_ok(self.imap.noop())
        self.assertEqual(self.imap_fetch(changedsince=hms),
                         {ua: now[ua], ub: now[ub]})

        # a STORE that saw a's old modseq loses; the file is untouched
        name_a = os.path.basename(self.md.find("INBOX", a))
        typ, data = self.imap.uid(
            "STORE", str(ua), "(UNCHANGEDSINCE %d) +FLAGS (\\Deleted)" %
            old_a[0])
        self.assertEqual(typ, "OK", data)
        self.assertEqual(dovecot.response_code(self.imap, "MODIFIED"),
                         str(ua))
        self.assertEqual(os.path.basename(self.md.find("INBOX", a)), name_a)

        # one that saw b's current modseq wins; the daemon, seeing
        # Dovecot's rename, assigns nothing more
        typ, data = self.imap.uid(
            "STORE", str(ub), "(UNCHANGEDSINCE %d) +FLAGS (\\Deleted)" %
            now[ub][0])
        self.assertEqual(typ, "OK", data)
        self.assertIsNone(dovecot.response_code(self.imap, "MODIFIED"))
        self.assertEqual(self.md.flags("INBOX", b), "RST")
        stored = self.cs_map()[ub]
        hms_after_store = self.hms()
        self.assertEqual(stored[0], hms_after_store)
        self.sync()
        self.assertEqual(self.hms(), hms_after_store)
        self.assertEqual(self.cs_map()[ub], stored)
        self.assertEqual(self.imap_fetch(), self.cs_map())
        self.stop_daemon(self.daemon)
        self.assert_clean()

    def idle_start(self):
        """Send IDLE and wait for its continuation; returns the tag (the
        socket's timeout only stops a stalled test)."""
        imap = self.imap
        imap.sock.settimeout(120)
        tag = imap._new_tag().decode()
        imap.send(("%s IDLE\r\n" % tag).encode())
        self.assertTrue(imap.readline().startswith(b"+"))
        return tag

    def test_idle_woken_by_the_daemon(self):
        """An IDLE client gets the untagged FETCH with the daemon's new
        MODSEQ and flags for an external rename, woken by the daemon's
        announcement of its commit (the plugin logs it), not only by
        Dovecot's own watch of cur/."""
        dovecot.imap_ok(self.imap.noop())
        a = self.made["INBOX"][4]
        ua = self.uid_of(a)
        seq = int(dovecot.imap_ok(self.imap.search(None, "UID %d" % ua))[0])
        tag = self.idle_start()
        self.md.set_flags("INBOX", a, "FS")
        got = None
        while got is None:
            line = self.imap.readline().decode()
            self.assertTrue(line.startswith("* "), line)
            m = re.match(r"\* (\d+) FETCH \((.*)\)\r\n$", line)
            if m is None or int(m.group(1)) != seq:
                continue
            modseq = re.search(r"MODSEQ \((\d+)\)", m.group(2))
            flags = re.search(r"FLAGS \(([^)]*)\)", m.group(2))
            if modseq is None or flags is None:
                continue
            got = (int(modseq.group(1)), cstest.letters_of(
                [x for x in flags.group(1).split() if x != "\\Recent"]))
        self.imap.send(b"DONE\r\n")
        while not self.imap.readline().decode().startswith(tag + " OK"):
            pass
        self.sync()
        self.assertEqual(got, self.cs_map()[ua])
        self.assertEqual(got[1], "FS")
        self.assertIn("the watch daemon recorded changes: waking the "
                      "session", self.dc.log_text())


class PluginWatchBurstTest(PluginWatchTest):
    """A burst of external renames just before a client connects."""
    seed = 3502
    BURST = 3000

    def setUp(self):
        watchtest.WatchCase.setUp(self)
        self.made = self.md.populate({"INBOX": self.BURST}, keywords=())
        self.dc = dovecot.Dovecot(self.md.tmp)
        self.dc.start()
        self.addCleanup(self.dc.finish)
        self.daemon = self.start_daemon()
        self.sync()
        # Dovecot numbers the messages once
        imap = self.dc.connect()
        dovecot.imap_ok(imap.select("INBOX"))
        imap.logout()
        self.sync()

    def test_external_renames_through_the_daemon(self):
        """(covered by PluginWatchTest)"""

    def test_idle_woken_by_the_daemon(self):
        """(covered by PluginWatchTest)"""

    def test_reconnect_right_after_renames(self):
        """A client that connects while the daemon is still recording a
        burst of external renames gets all of them in CHANGEDSINCE, each
        with the flags that belong to its modseq: SELECT waits for the
        daemon, not only a NOOP that found changes."""
        hms = self.hms()
        for base in self.made["INBOX"]:
            letters = self.md.flags("INBOX", base)
            self.md.set_flags("INBOX", base,
                              letters + "F" if "F" not in letters else "S")
        # no condstore sync here: the new session itself must wait
        self.imap = self.dc.connect()
        self.addCleanup(self.imap.shutdown)
        dovecot.select_condstore(self.imap, enable=True)
        changed = self.imap_fetch(changedsince=hms)
        self.assertEqual(len(changed), len(self.made["INBOX"]))
        self.assertEqual(changed, self.cs_map())


if __name__ == "__main__":
    cstest.main()
