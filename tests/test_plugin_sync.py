#!/usr/bin/env python3
"""test_plugin_sync.py - how Dovecot with the plugin learns of changes
other agents make on disk.

With the watch daemon serving the Maildir, the plugin applies the changes
the index recorded to Dovecot's index itself, and Dovecot does not read
cur/ (the debug log says "applied from the index"); what the change log
cannot tell it (a file another agent put straight into cur/, an expunge)
still makes Dovecot read cur/ ("left to Dovecot's scan").  Without a
daemon, Dovecot's own scan finds every external change: nothing is ever
missed.  In every case, the flags IMAP shows must be the flags of the
files, after STOREs and APPENDs through Dovecot in between (Dovecot must
not take stale file names for the truth).  A daemon that does not answer
(stopped) costs a sync one wait at most, then Dovecot's scan."""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

cstest, watchtest = dovecot.start_test("cstest", "watchtest")

APPLIED = "changes since"
FAST = "applied from the index"
SCAN = "left to Dovecot's scan"
# the warning of a wait for the daemon that ran out
WAITED = "waiting for the watch daemon"
LOGGED_OUT = "Logged out"
MESSAGE = ("From: a@example.org\r\nTo: b@example.org\r\n"
           "Subject: appended\r\n\r\nbody\r\n")


class SyncCase(watchtest.WatchCase):
    seed = 7162
    COUNT = 40

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": self.COUNT}, keywords=())
        self.cs("reindex")
        self.dc = dovecot.Dovecot(self.md.tmp)
        self.dc.start()
        self.addCleanup(self.dc.finish)

    def select(self):
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

    def imap_flags(self, imap):
        """{uid: flag letters} of every message as IMAP shows them."""
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
        self.assertEqual(typ, "OK", data)
        return {uid: cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"])
            for uid, f in dovecot.parse_imap_fetch(data).items()}

    def disk_flags(self):
        """{uid: flag letters} from the files (UIDs from the index)."""
        return {uid: self.md.flags("INBOX", base).replace("P", "")
                for uid, base in self.uids().items()}

    def noop_fetches(self, imap):
        """NOOP; returns {uid: flag letters} of the FETCH responses it
        brought (unsolicited ones name the message by sequence number)."""
        imap.untagged_responses.pop("FETCH", None)
        dovecot.imap_ok(imap.noop())
        data = imap.untagged_responses.pop("FETCH", [])
        by_seq = dovecot.parse_imap_fetch(data, key="SEQ")
        if not by_seq:
            return {}
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.fetch(",".join(str(s) for s in by_seq), "(UID)")
        self.assertEqual(typ, "OK", data)
        uids = {f["SEQ"]: uid for uid, f in
                dovecot.parse_imap_fetch(data).items()}
        return {uids[seq]: cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"])
            for seq, f in by_seq.items() if "FLAGS" in f}

    def log_count(self, text):
        return self.dc.log_text().count(text)

    def log_grows(self, text, than):
        """Has text been logged more than than times?  (Dovecot's log
        process writes the lines a little later: wait for them.)"""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.log_count(text) > than:
                return True
            time.sleep(0.05)
        return False

    def uid_of(self, base):
        return {b: u for u, b in self.uids().items()}[base]

    def logout_waits(self, imap):
        """LOGOUT; the number of waits for the daemon that ran out which
        the log has until the session's last line ("Logged out": the
        lines of one process reach the log in order)."""
        logouts = self.log_count(LOGGED_OUT)
        imap.logout()
        self.assertTrue(self.log_grows(LOGGED_OUT, logouts))
        return self.log_count(WAITED)


class WithDaemonTest(SyncCase):
    def setUp(self):
        super().setUp()
        self.daemon = self.start_daemon()
        self.sync()

    def test_renames_applied_from_the_index(self):
        imap = self.select()
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        fast = self.log_count(FAST)
        a, b = self.made["INBOX"][3], self.made["INBOX"][17]
        ua, ub = self.uid_of(a), self.uid_of(b)
        self.md.set_flags("INBOX", a, "FS")
        self.md.set_flags("INBOX", b, "R")
        # the NOOP itself waits for the daemon: no condstore sync here
        seen = self.noop_fetches(imap)
        self.assertEqual({u: seen.get(u) for u in (ua, ub)},
                         {ua: "FS", ub: "R"})
        self.assertTrue(self.log_grows(FAST, fast))
        self.assertEqual(self.imap_flags(imap), self.disk_flags())

        # a STORE through Dovecot, an APPEND (Dovecot syncs its index
        # from file names then), another external rename, a NOOP: IMAP
        # still shows the files' flags
        c = self.made["INBOX"][25]
        typ, data = imap.uid("STORE", str(self.uid_of(c)),
                             "+FLAGS (\\Answered)")
        self.assertEqual(typ, "OK", data)
        dovecot.imap_ok(imap.append("INBOX", None, None,
                                    MESSAGE.encode()))
        self.md.set_flags("INBOX", a, "S")
        self.noop_fetches(imap)
        self.sync()
        self.noop_fetches(imap)
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        self.assertIn("R", self.md.flags("INBOX", c))

        # a new session starts from the point Dovecot's index was brought
        # to: it sees the same, and CHANGEDSINCE gives the change
        hms = self.hms()
        self.md.set_flags("INBOX", b, "FR")
        other = self.select()
        other.untagged_responses.pop("FETCH", None)
        typ, data = other.uid("FETCH", "1:*", "(UID FLAGS) (CHANGEDSINCE "
                              "%d)" % hms)
        self.assertEqual(typ, "OK", data)
        changed = dovecot.parse_imap_fetch(data)
        self.assertEqual(list(changed), [ub])
        self.assertEqual(self.imap_flags(other), self.disk_flags())
        self.dc.check_log()
        self.stop_daemon(self.daemon)
        self.assert_clean()

    def test_index_file_has_the_extension(self):
        """The first SELECT adds the plugin's header extension to
        Dovecot's index, and dovecot.index is written with it at once:
        until it is, every new process applies the extension's
        introduction from dovecot.index.log, which makes Dovecot rebuild
        its whole record map (what made reconnects at a million messages
        40 times slower)."""
        path = os.path.join(self.md.root, "dovecot.index")
        imap = self.select()
        self.assertTrue(os.path.exists(path))
        with open(path, "rb") as f:
            self.assertIn(b"maildir_condstore", f.read())
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        self.dc.check_log()

    def test_one_wait_per_sync(self):
        """A sync asks the daemon once at most.  The daemon is stopped
        (SIGSTOP: registered and alive, but it answers nothing), so every
        wait runs out: SELECT, and a NOOP after an external rename, each
        wait once and fall back to Dovecot's scan, whose findings get
        fresh modseqs before they are shown.  (A full sync used to wait
        again after Dovecot's own sync when that found changes, or was
        the first after opening: twice the timeout per command.)"""
        # the index takes Dovecot's UIDs
        imap = self.select()
        waits = self.logout_waits(imap)
        a = self.made["INBOX"][9]
        ua = self.uid_of(a)
        # the daemon stops between two of its rounds (it has just
        # answered): it holds no lock of the index
        self.sync()
        self.daemon.signal(signal.SIGSTOP)
        self.addCleanup(self.daemon.signal, signal.SIGCONT)
        imap = self.select()
        self.assertEqual(self.logout_waits(imap), waits + 1)
        # SELECT (its one wait), an external rename, NOOP (its one)
        imap = self.dc.connect()
        self.addCleanup(self.close_quietly, imap)
        hms = dovecot.select_condstore(imap, enable=True)
        flags = "FS" if self.md.flags("INBOX", a) != "FS" else "R"
        self.md.set_flags("INBOX", a, flags)
        seen = self.noop_fetches(imap)
        self.assertEqual(seen.get(ua), flags)
        # the rename has its own modseq, above what the session was told
        imap.untagged_responses.pop("FETCH", None)
        typ, data = imap.uid("FETCH", str(ua), "(UID MODSEQ)")
        self.assertEqual(typ, "OK", data)
        self.assertGreater(dovecot.parse_imap_fetch(data)[ua]["MODSEQ"],
                           hms)
        self.assertEqual(self.logout_waits(imap), waits + 1 + 2)
        self.daemon.signal(signal.SIGCONT)
        self.sync()
        self.stop_daemon(self.daemon)
        self.assert_clean()

    def imap_processes(self):
        """PIDs of the imap processes of this Dovecot (the master's
        children named imap)."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if name == "imap" and ppid == self.dc.proc.pid:
                pids.append(int(entry))
        return pids

    @staticmethod
    def inotify_instances(pid):
        count = 0
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                        "anon_inode:inotify":
                    count += 1
            except OSError:
                pass
        return count

    def test_wait_keeps_its_inotify_instance_while_busy(self):
        """A sync's wait for the daemon keeps its inotify instance for the
        next one (closing one costs the kernel's grace period, tens of
        ms under load), and the session gives it back once it has not
        waited for two seconds (CONDSTORE_SYNC_RELEASE_MSECS): an idle
        session holds none of the user's inotify instances."""
        imap = self.select()
        pids = self.imap_processes()
        self.assertEqual(len(pids), 1)
        pid = pids[0]
        dovecot.imap_ok(imap.noop())
        self.assertEqual(self.inotify_instances(pid), 1)
        # another wait reuses it, and sees a rename through it
        a = self.made["INBOX"][5]
        self.md.set_flags("INBOX", a, "F")
        seen = self.noop_fetches(imap)
        self.assertEqual(seen.get(self.uid_of(a)), "F")
        self.assertEqual(self.inotify_instances(pid), 1)
        deadline = time.monotonic() + 10
        while self.inotify_instances(pid) != 0 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.inotify_instances(pid), 0)
        # made again by the next wait
        self.md.set_flags("INBOX", a, "S")
        seen = self.noop_fetches(imap)
        self.assertEqual(seen.get(self.uid_of(a)), "S")
        self.assertEqual(self.inotify_instances(pid), 1)
        self.dc.check_log()

    def test_store_waits_for_the_uidlist_without_the_index(self):
        """A STORE takes Dovecot's dovecot-uidlist lock before the
        index's transaction lock (one lock order everywhere): while it
        waits for the uidlist lock another process holds (a session's
        scan of cur/), the daemon still commits and answers.  (It used
        to hold the index meanwhile, and every sync behind the daemon
        waited for that scan.)"""
        imap = self.select()
        a, b = self.made["INBOX"][2], self.made["INBOX"][30]
        ua = self.uid_of(a)
        lock = os.path.join(self.md.root, "dovecot-uidlist.lock")
        with open(lock, "w") as f:
            f.write("%d:%s" % (os.getpid(), os.uname().nodename))
        result = {}

        def store():
            result["store"] = imap.uid("STORE", str(ua),
                                       "+FLAGS (\\Flagged)")
        t = threading.Thread(target=store)
        t.start()
        try:
            time.sleep(0.5)
            self.assertTrue(t.is_alive())   # waiting for the lock
            self.md.set_flags("INBOX", b, "R")
            res = watchtest.sync(self.md.root, 5000)
            self.assertEqual(res.rc, 0, res)
        finally:
            os.unlink(lock)
            t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["store"][0], "OK", result)
        self.assertIn("F", self.md.flags("INBOX", a))
        self.sync()
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        self.dc.check_log()
        self.stop_daemon(self.daemon)
        self.assert_clean()

    def test_what_the_log_cannot_tell_is_scanned(self):
        imap = self.select()
        scans = self.log_count(SCAN)
        # another agent puts a message straight into cur/ and deletes one
        new = self.md.deliver("INBOX", flags="S")
        gone = self.made["INBOX"][5]
        ugone = self.uid_of(gone)
        self.md.delete("INBOX", gone)
        imap.untagged_responses.pop("EXISTS", None)
        imap.untagged_responses.pop("EXPUNGE", None)
        dovecot.imap_ok(imap.noop())
        self.assertTrue(self.log_grows(SCAN, scans))
        self.assertTrue(imap.untagged_responses.get("EXPUNGE"))
        self.sync()
        dovecot.imap_ok(imap.noop())
        flags = self.imap_flags(imap)
        self.assertNotIn(ugone, flags)
        self.assertEqual(flags, self.disk_flags())
        self.assertIn(new, self.uids().values())
        self.dc.check_log()


class WithoutDaemonTest(SyncCase):
    def test_dovecot_scans_without_a_daemon(self):
        imap = self.select()
        a = self.made["INBOX"][7]
        ua = self.uid_of(a)
        self.md.set_flags("INBOX", a, "DF")
        seen = self.noop_fetches(imap)
        self.assertEqual(seen.get(ua), "DF")
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        imap.logout()
        self.dc.stop()
        self.assertEqual(self.log_count(APPLIED), 0)

    def test_daemon_gone_mid_session(self):
        daemon = self.start_daemon()
        self.sync()
        imap = self.select()
        a, b = self.made["INBOX"][11], self.made["INBOX"][12]
        ua, ub = self.uid_of(a), self.uid_of(b)
        self.md.set_flags("INBOX", a, "F")
        self.assertEqual(self.noop_fetches(imap).get(ua), "F")
        self.assertTrue(self.log_grows(FAST, 0))
        fast = self.log_count(FAST)
        self.stop_daemon(daemon)
        # renames nobody records: Dovecot's scan must find them
        self.md.set_flags("INBOX", b, "RS")
        self.assertEqual(self.noop_fetches(imap).get(ub), "RS")
        self.assertEqual(self.imap_flags(imap), self.disk_flags())
        imap.logout()
        self.dc.stop()
        self.assertEqual(self.log_count(FAST), fast)


if __name__ == "__main__":
    cstest.main()
