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
* a session shown new flags while the STORE that made them waits to
  commit the index is sent the new modseq, not the record's older one;
* without a watch daemon (none runs in these tests), external renames,
  unlinks and deliveries are each shown once at the next NOOP with a
  MODSEQ above the HIGHESTMODSEQ the session had, HIGHESTMODSEQ rises,
  and a new session's CHANGEDSINCE finds each change once."""

import fcntl
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

[cstest] = dovecot.start_test("cstest")

COUNT = 12
# tdb's first lock byte of the hash chains (after its 168-byte header): a
# read lock there keeps a transaction from committing (its commit upgrades
# to a write lock over all chains)
TDB_CHAINS_LOCK = 168


def blocked_on(path):
    """PIDs waiting for a POSIX lock on the file path (/proc/locks)."""
    st = os.stat(path)
    key = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev),
                            st.st_ino)
    pids = set()
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if "->" in fields and key in fields:
                pids.add(int(fields[fields.index("->") + 4]))
    return pids


def wait_for(cond, what):
    """Poll cond() (a state another process reaches) until true."""
    deadline = time.monotonic() + 120
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("never happened: " + what)
        time.sleep(0.01)


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

    def noop_fetches(self, imap):
        """NOOP; [(modseq, set of flags)] of the FETCH responses it
        brought (with a MODSEQ)."""
        imap.untagged_responses.pop("FETCH", None)
        dovecot.imap_ok(imap.noop())
        data = imap.untagged_responses.pop("FETCH", [])
        return [(f["MODSEQ"], set(f.get("FLAGS", ())) - {"\\Recent"})
                for f in dovecot.parse_imap_fetch(data, key="SEQ").values()
                if "MODSEQ" in f]

    def uid_of(self, base):
        uids = cstest.index_uids(os.path.join(self.md.root,
                                              "condstore.tdb"))
        return {b: u for u, b in uids.items()}[base]

    def db(self):
        return os.path.join(self.md.root, "condstore.tdb")

    def test_expunged_message_keeps_its_modseq(self):
        a = self.session()
        base = self.made["INBOX"][2]
        uid = self.uid_of(base)
        before = self.fetch(a, str(uid))[uid][0]
        b = self.session()
        dovecot.imap_ok(b.uid("STORE", str(uid), "+FLAGS (\\Deleted)"))
        dovecot.imap_ok(b.uid("EXPUNGE", str(uid)))
        self.assertIsNone(self.md.find("INBOX", base))
        # a has not synced: it still shows the message
        a.untagged_responses.pop("FETCH", None)
        typ, data = a.uid("FETCH", str(uid), "(UID MODSEQ FLAGS)")
        shown = dovecot.parse_imap_fetch(data)
        if uid in shown:
            self.assertGreaterEqual(shown[uid]["MODSEQ"], before)
        dovecot.imap_ok(a.noop())
        self.cs("check")

    def test_new_flags_never_with_an_older_modseq(self):
        a = self.session()
        b = self.session()
        base = self.made["INBOX"][6]
        uid = self.uid_of(base)
        # two changes: the record has a previous modseq
        dovecot.imap_ok(a.uid("STORE", str(uid), "FLAGS (\\Seen)"))
        dovecot.imap_ok(a.uid("STORE", str(uid), "FLAGS ()"))
        dovecot.imap_ok(b.noop())
        seen = self.fetch(b, str(uid))[uid][0]
        fd = os.open(self.db(), os.O_RDWR)
        self.addCleanup(os.close, fd)
        # a's next STORE is held between Dovecot's commit (files renamed,
        # Dovecot's index updated) and the index's commit
        fcntl.lockf(fd, fcntl.LOCK_SH, 1, TDB_CHAINS_LOCK)
        store = threading.Thread(target=lambda: a.uid(
            "STORE", str(uid), "FLAGS (\\Seen)"))
        store.start()
        wait_for(lambda: blocked_on(self.db()),
                 "the STORE waits to commit the index")
        self.assertEqual(self.md.flags("INBOX", base), "S")
        # b learns the new flags in that window
        answer = []
        noop = threading.Thread(target=lambda: answer.append(
            self.noop_fetches(b) + [self.fetch(b, str(uid))[uid]]))
        noop.start()
        wait_for(lambda: answer or len(blocked_on(self.db())) > 1,
                 "b answers or waits for the index")
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, TDB_CHAINS_LOCK)
        store.join()
        noop.join()
        self.assertEqual(answer[0][-1][1], {"\\Seen"})
        for modseq, flags in answer[0]:
            self.assertGreater(modseq, seen, answer)
        self.cs("check")

    def test_no_daemon_external_changes(self):
        a = self.dc.connect()
        self.addCleanup(self.close_quietly, a)
        h0 = dovecot.select_condstore(a, enable=True)
        before = self.fetch(a)
        renamed = self.made["INBOX"][0:3]
        gone = self.made["INBOX"][3:5]
        ruids = {self.uid_of(b): b for b in renamed}
        guids = {self.uid_of(b) for b in gone}
        for base in renamed:
            old = self.md.flags("INBOX", base)
            self.md.set_flags("INBOX", base, "FT" if "F" not in old else
                              "T")
        # the renames first: their FETCHes name messages by sequence
        # numbers no expunge has moved yet
        a.untagged_responses.pop("FETCH", None)
        dovecot.imap_ok(a.noop())
        lines = dovecot.response_text(a.untagged_responses.pop("FETCH",
                                                               []))
        shown = dovecot.parse_imap_fetch(lines, key="SEQ")
        self.assertEqual(len(shown), len(lines), lines)
        seqs = dict(enumerate(sorted(before), 1))
        by_uid = {seqs[seq]: f for seq, f in shown.items()}
        self.assertEqual(set(by_uid), set(ruids), lines)
        for uid, f in by_uid.items():
            self.assertGreater(f["MODSEQ"], h0, lines)
            self.assertEqual(cstest.letters_of(
                [x for x in f["FLAGS"] if x != "\\Recent"]),
                             self.md.flags("INBOX", ruids[uid]), lines)
        for base in gone:
            self.md.delete("INBOX", base)
        new = [self.md.deliver("INBOX"), self.md.deliver("INBOX")]
        a.untagged_responses.pop("EXPUNGE", None)
        dovecot.imap_ok(a.noop())
        expunged = a.untagged_responses.pop("EXPUNGE", [])
        self.assertEqual(len(expunged), len(gone), expunged)
        now = self.fetch(a)
        for uid, f in by_uid.items():
            self.assertEqual(now[uid][0], f["MODSEQ"])
        news = set(now) - set(before)
        self.assertEqual(len(news), len(new))
        for uid in news:
            self.assertGreater(now[uid][0], h0)
        self.assertFalse(guids & set(now))
        typ, data = a.status("INBOX", "(HIGHESTMODSEQ)")
        self.assertEqual(typ, "OK", data)
        h1 = int(data[0].decode().split("HIGHESTMODSEQ ")[1].rstrip(")"))
        self.assertGreater(h1, h0)
        # a new session asks what changed since h0: each change once
        b = self.session()
        b.untagged_responses.pop("FETCH", None)
        typ, data = b.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % h0)
        self.assertEqual(typ, "OK", data)
        lines = dovecot.response_text(data)
        changed = dovecot.parse_imap_fetch(lines)
        self.assertEqual(len(changed), len(lines), lines)
        self.assertEqual(set(changed), set(ruids) | news, lines)
        for uid, f in changed.items():
            self.assertGreater(f["MODSEQ"], h0)
            self.assertLessEqual(f["MODSEQ"], h1)
        self.cs("check")

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
