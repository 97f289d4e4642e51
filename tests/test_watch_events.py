#!/usr/bin/env python3
"""condstore watch: every kind of change another program makes to a
Maildir, the way mutt, an MDA and an IMAP server make it, is in the index
after "condstore sync", with the right flags and a fresh modseq; renames
that change nothing bump nothing; folders created, renamed and deleted
are picked up; "sync" without a daemon says so."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


class Events(watchtest.WatchCase):
    seed = 11

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 30, "Sent": 10},
                                     keywords=())
        self.daemon = self.start_daemon("-v")
        self.h0 = self.hms()

    def changed(self, mailbox, since):
        return {f.uid: f for f in self.fetch(mailbox, "--changedsince",
                                             str(since))}

    def uid_of(self, mailbox, base):
        for uid, b in self.uids(mailbox).items():
            if b == base:
                return uid
        self.fail("%s not in %s" % (base, mailbox))

    def test_startup_indexed_everything(self):
        for mailbox in ("INBOX", "Sent"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()
        self.assertIn("startup: scanned 2 mailboxes", self.daemon.log())

    def test_mutt_flag_rename_in_cur(self):
        base = next(b for b in self.made["INBOX"]
                    if self.md.find("INBOX", b).find("/cur/") >= 0)
        old = self.md.flags("INBOX", base)
        self.md.set_flags("INBOX", base, old + "F")
        self.sync()
        changed = self.changed("INBOX", self.h0)
        uid = self.uid_of("INBOX", base)
        self.assertEqual(set(changed), {uid})
        self.assertEqual(cstest.letters_of(changed[uid].flags),
                         cstest.sorted_letters(old + "F"))
        self.assertEqual(changed[uid].modseq, self.h0 + 1)
        self.assertEqual(self.hms(), self.h0 + 1)
        # the -v log names the change with its modseq
        m = re.search(r"INBOX: %s: flags (\S+) -> (\S+) modseq (\d+)" %
                      re.escape(base), self.daemon.log())
        self.assertTrue(m, self.daemon.log())
        self.assertEqual((m.group(2), int(m.group(3))),
                         (cstest.sorted_letters(old + "F"), self.h0 + 1))
        self.assert_clean()

    def test_mda_delivery_and_imap_read(self):
        base = self.md.deliver("INBOX")     # tmp/ -> new/
        self.sync()
        changed = self.changed("INBOX", self.h0)
        self.assertEqual(len(changed), 1)
        (uid, f), = changed.items()
        self.assertEqual((f.flags, f.modseq), ([], self.h0 + 1))
        self.assertEqual(self.uids("INBOX")[uid], base)
        # an IMAP server reading it: new/ -> cur/ with \Seen
        self.md.see("INBOX", base, "S")
        self.sync()
        f = self.changed("INBOX", self.h0 + 1)[uid]
        self.assertEqual((f.flags, f.modseq), (["\\Seen"], self.h0 + 2))
        self.assert_matches_disk("INBOX")
        self.assert_clean()

    def test_renames_that_change_nothing(self):
        # new/ -> cur/ without flags, and a reordered flag string
        base = self.md.deliver("INBOX")
        self.sync()
        h1 = self.hms()
        os.rename(os.path.join(self.md.root, "new", base),
                  os.path.join(self.md.root, "cur", base + ":2,"))
        cur = [b for b in self.made["INBOX"]
               if self.md.flags("INBOX", b) == "FS"]
        for b in cur:
            path = self.md.find("INBOX", b)
            os.rename(path, path[:-2] + "SF")
        self.sync()
        self.assertEqual(self.hms(), h1)
        self.assertEqual(self.changed("INBOX", h1), {})
        self.assert_clean()

    def test_imap_server_moves_and_expunges(self):
        inbox = [b for b in self.made["INBOX"]]
        moved, deleted = inbox[0], inbox[1]
        moved_uid = self.uid_of("INBOX", moved)
        deleted_uid = self.uid_of("INBOX", deleted)
        flags = self.md.flags("INBOX", moved)
        h_sent = self.hms("Sent")
        self.md.move("INBOX", moved, "Sent")
        self.md.delete("INBOX", deleted)
        self.sync()
        vanished = cstest.parse_vanished(self.cs(
            "vanished", "INBOX", "--since", str(self.h0)).lines)
        self.assertEqual(vanished, {moved_uid, deleted_uid})
        self.assertEqual(self.hms(), self.h0 + 2)
        sent = self.changed("Sent", h_sent)
        self.assertEqual(len(sent), 1)
        (uid, f), = sent.items()
        self.assertEqual(self.uids("Sent")[uid], moved)
        self.assertEqual(cstest.letters_of(f.flags), flags)
        self.assertEqual(f.modseq, h_sent + 1)
        for mailbox in ("INBOX", "Sent"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()

    def test_same_base_name_in_two_folders(self):
        base = self.made["INBOX"][2]
        src = self.md.find("INBOX", base)
        shutil.copy(src, os.path.join(self.md.path("Sent"), "cur",
                                      os.path.basename(src)))
        self.sync()
        h_sent = self.hms("Sent")
        self.assertIn(base, self.uids("Sent").values())
        # a flag change of one copy touches only that folder
        self.md.set_flags("Sent", base, "FRS")
        self.md.delete("INBOX", base)
        self.sync()
        sent = self.changed("Sent", h_sent)
        self.assertEqual([cstest.letters_of(f.flags)
                          for f in sent.values()], ["FRS"])
        self.assertNotIn(base, self.uids("INBOX").values())
        for mailbox in ("INBOX", "Sent"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()

    def test_small_pending_table(self):
        """With room for two unpaired MOVED_FROMs and a long pair wait,
        moves out of the Maildir and moves between folders are still
        right (the table settles its oldest entries from the disk)."""
        self.stop_daemon(self.daemon)
        self.start_daemon("--max-pending", "2", "--pair-wait", "60000",
                          log_name="watch2.log")
        h_sent = self.hms("Sent")
        outside = os.path.join(self.md.tmp, "elsewhere")
        os.mkdir(outside)
        inbox = self.made["INBOX"]
        gone = {self.uid_of("INBOX", b) for b in inbox[:20]}
        flags = {}
        for i, base in enumerate(inbox[:20]):
            if i % 2:
                path = self.md.find("INBOX", base)
                os.rename(path, os.path.join(outside,
                                             os.path.basename(path)))
            else:
                flags[base] = self.md.flags("INBOX", base)
                self.md.move("INBOX", base, "Sent")
        self.sync()
        vanished = cstest.parse_vanished(self.cs(
            "vanished", "INBOX", "--since", str(self.h0)).lines)
        self.assertEqual(vanished, gone)
        sent = self.changed("Sent", h_sent)
        names = self.uids("Sent")
        self.assertEqual({names[u]: cstest.letters_of(f.flags)
                          for u, f in sent.items()}, flags)
        for mailbox in ("INBOX", "Sent"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()

    def test_rename_storm(self):
        """Many renames of the same messages in a row: coalesced, and the
        index ends equal to the disk, each changed message with a fresh
        modseq."""
        cur = [b for b in self.made["INBOX"]
               if "/cur/" in self.md.find("INBOX", b)]
        letters = ["S", "FS", "RS", "FRS", "DS", "S"]
        for i in range(40):
            for b in cur:
                self.md.set_flags("INBOX", b, letters[(i + len(b)) % 6])
        self.sync()
        fetched = self.assert_matches_disk("INBOX")
        changed = self.changed("INBOX", self.h0)
        modseqs = [f.modseq for f in fetched.values()]
        self.assertEqual(len(modseqs), len(set(modseqs)))
        for uid, f in changed.items():
            self.assertGreater(f.modseq, self.h0)
        self.assert_clean()

    def test_folders_created_renamed_deleted(self):
        # created the way Dovecot and maildirmake do it: the folder
        # first, then its subdirectories, then mail
        path = os.path.join(self.md.root, ".Lists")
        os.mkdir(path)
        for sub in ("cur", "new", "tmp"):
            os.mkdir(os.path.join(path, sub))
        base = self.md.deliver("Lists", "S")
        self.sync()
        st = self.status()
        self.assertIn("Lists", st)
        self.assertEqual(st["Lists"]["MESSAGES"], 1)
        uidvalidity = st["Lists"]["UIDVALIDITY"]
        # renamed: its records follow it, and events still arrive
        os.rename(path, os.path.join(self.md.root, ".Archive"))
        self.sync()
        st = self.status()
        self.assertNotIn("Lists", st)
        self.assertEqual(st["Archive"]["UIDVALIDITY"], uidvalidity)
        self.md.set_flags("Archive", base, "FS")
        self.sync()
        (f,) = self.fetch("Archive")
        self.assertEqual(cstest.letters_of(f.flags), "FS")
        self.assert_clean()
        # deleted
        shutil.rmtree(os.path.join(self.md.root, ".Archive"))
        self.sync()
        self.assertNotIn("Archive", self.status())
        self.assert_clean()

    def test_sigterm_and_sync_without_daemon(self):
        self.stop_daemon(self.daemon)
        self.assertIn("stopped", self.daemon.log())
        res = watchtest.sync(self.md.root)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("no watch daemon", res.err)
        # changes while no daemon runs are found by the next start
        base = self.made["INBOX"][3]
        self.md.delete("INBOX", base)
        self.start_daemon(log_name="watch2.log")
        self.assertNotIn(base, self.uids("INBOX").values())
        self.assert_clean()

    def test_sigkill_leaves_no_live_record(self):
        self.daemon.kill()
        res = watchtest.sync(self.md.root)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("no watch daemon", res.err)
        daemon = self.start_daemon(log_name="watch2.log")
        self.assertIn("did not stop cleanly", daemon.log())

    def test_second_daemon_refuses(self):
        log = os.path.join(self.md.tmp, "second.log")
        second = watchtest.Daemon(["--maildir", self.md.root], log)
        self.addCleanup(second.cleanup)
        self.sync()
        self.assertEqual(second.proc.wait(120), 2, second.log())
        self.assertIn("already served", second.log())
        # the first one still answers
        self.md.delete("INBOX", self.made["INBOX"][4])
        self.sync()
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
