#!/usr/bin/env python3
"""condstore's output formats, exit codes, errors and help, line by line,
on a small hand-made Maildir whose UIDs come from a dovecot-uidlist."""

import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

COMMANDS = ["reindex", "status", "fetch", "search", "store", "vanished",
            "check"]
OPTIONS = {
    "reindex": ["--rebuild"], "fetch": ["--changedsince"],
    "search": ["--modseq"], "store": ["--unchangedsince", "+FLAGS"],
    "vanished": ["--since"], "check": ["--repair"], "status": [],
}

BASES = ["1700000001.M101P2001.mx", "1700000002.M202P2002.mx",
         "1700000003.M303P2003.mx", "1700000004.M404P2004.mx"]


class Format(cstest.CondstoreCase):

    def setUp(self):
        super().setUp()
        md = self.md
        md.write_keywords("INBOX", ["work", "later"])
        with open(os.path.join(md.root, "dovecot-uidlist"), "w") as f:
            f.write("3 V1700000000 N5 G0123456789abcdef0123456789abcdef\n")
            for uid, base in enumerate(BASES, 1):
                f.write("%d :%s\n" % (uid, base))
        md.deliver("INBOX", None, base=BASES[0])
        md.deliver("INBOX", "S", base=BASES[1])
        md.deliver("INBOX", "FS", base=BASES[2])
        md.deliver("INBOX", "a", base=BASES[3])
        self.cs("reindex")
        fetched = self.fetch("INBOX")
        self.m = {f.uid: f.modseq for f in fetched}
        self.h = max(self.m.values())

    def test_status(self):
        res = self.cs("status")
        self.assertEqual(res.lines, [
            "* STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 1700000000 "
            "HIGHESTMODSEQ %d)" % self.h])
        self.assertEqual(self.cs("status", "INBOX").lines, res.lines)
        self.assertEqual(res.err, "")

    def test_status_quotes_names(self):
        self.md.create_folder("My Folder")
        self.md.deliver("My Folder", "S")
        self.cs("reindex")
        lines = self.cs("status").lines
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[1].startswith(
            '* STATUS "My Folder" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY '),
            lines)
        self.md.create_folder('Q"uote\\d')
        self.cs("reindex")
        lines = self.cs("status", 'Q"uote\\d').lines
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(
            '* STATUS "Q\\"uote\\\\d" (MESSAGES 0 UIDNEXT 1 '), lines)
        st = cstest.parse_status(self.cs("status").lines)
        self.assertEqual(list(st), ["INBOX", "My Folder", 'Q"uote\\d'])

    def test_fetch(self):
        m = self.m
        expect = [
            "* 1 FETCH (UID 1 MODSEQ (%d) FLAGS ())" % m[1],
            "* 2 FETCH (UID 2 MODSEQ (%d) FLAGS (\\Seen))" % m[2],
            "* 3 FETCH (UID 3 MODSEQ (%d) FLAGS (\\Flagged \\Seen))" % m[3],
            "* 4 FETCH (UID 4 MODSEQ (%d) FLAGS (work))" % m[4],
        ]
        self.assertEqual(self.cs("fetch", "INBOX").lines, expect)
        self.assertEqual(self.cs("fetch", "INBOX", "2:3").lines,
                         expect[1:3])
        self.assertEqual(self.cs("fetch", "INBOX", "4,1").lines,
                         [expect[0], expect[3]])
        self.assertEqual(self.cs("fetch", "INBOX", "3:*").lines,
                         expect[2:])
        # every message has its own modseq, all in range
        self.assertEqual(len(set(m.values())), 4)
        self.assertTrue(all(1 <= v < 1 << 63 for v in m.values()))
        self.assertEqual(self.cs("fetch", "INBOX", "--changedsince",
                                 str(self.h)).lines, [])
        self.assertEqual(self.cs("fetch", "INBOX", "--changedsince",
                                 "0").lines, expect)

    def test_store_and_changedsince(self):
        h = self.h
        res = self.cs("store", "INBOX", "2", "+FLAGS", "(\\Answered)")
        self.assertEqual(res.lines, [
            "* 2 FETCH (UID 2 MODSEQ (%d) FLAGS (\\Answered \\Seen))"
            % (h + 1)])
        self.assertEqual(self.md.flags("INBOX", BASES[1]), "RS")
        self.assertEqual(self.hms(), h + 1)
        self.assertEqual(self.cs("fetch", "INBOX", "--changedsince",
                                 str(h)).lines, res.lines)
        self.assertEqual(self.cs("search", "INBOX", "--modseq",
                                 str(h + 1)).lines,
                         ["* SEARCH 2 (MODSEQ %d)" % (h + 1)])
        self.assertEqual(self.cs("search", "INBOX", "--modseq",
                                 str(h + 2)).lines, ["* SEARCH"])
        since4 = sorted({u for u, v in self.m.items() if v >= self.m[4]}
                        | {2})
        self.assertEqual(self.cs("search", "INBOX", "--modseq",
                                 str(self.m[4])).lines,
                         ["* SEARCH %s (MODSEQ %d)" % (
                             " ".join(map(str, since4)), h + 1)])
        self.assert_clean()

    def test_search_all(self):
        res = self.cs("search", "INBOX", "--modseq", "1")
        self.assertEqual(res.lines, ["* SEARCH 1 2 3 4 (MODSEQ %d)" % self.h])

    def test_conditional_store(self):
        h = self.h
        self.cs("store", "INBOX", "2", "+FLAGS", "(\\Answered)")
        # UID 2 now has h+1 > h: MODIFIED; 1 and 3 pass the test; 3
        # already had \Flagged: reported, but its modseq stays
        res = self.cs("store", "INBOX", "1:3", "+FLAGS", "(\\Flagged)",
                      "--unchangedsince", str(h), rc=1)
        self.assertEqual(len(res.lines), 3, res)
        f1 = cstest.parse_fetch(res.lines[:1])[0]
        self.assertEqual((f1.seq, f1.uid, f1.flags), (1, 1, ["\\Flagged"]))
        self.assertEqual(f1.modseq, h + 2)
        self.assertEqual(res.lines[1],
                         "* 3 FETCH (UID 3 MODSEQ (%d) FLAGS "
                         "(\\Flagged \\Seen))" % self.m[3])
        self.assertEqual(res.lines[2], "OK [MODIFIED 2]")
        self.assertEqual(self.md.flags("INBOX", BASES[0]), "F")
        self.assertEqual(self.md.flags("INBOX", BASES[1]), "RS")
        self.assertEqual(self.hms(), h + 2)
        self.assert_clean()

    def test_unchangedsince_zero_fails_all(self):
        res = self.cs("store", "INBOX", "1:*", "+FLAGS", "(\\Deleted)",
                      "--unchangedsince", "0", rc=1)
        self.assertEqual(res.lines, ["OK [MODIFIED 1:4]"])
        self.assertEqual(self.hms(), self.h)
        self.assertEqual(self.md.flags("INBOX", BASES[1]), "S")

    def test_store_replace_remove_keywords_silent(self):
        h = self.h
        res = self.cs("store", "INBOX", "4", "FLAGS", "(later \\Draft)")
        self.assertEqual(res.lines, [
            "* 4 FETCH (UID 4 MODSEQ (%d) FLAGS (\\Draft later))" % (h + 1)])
        self.assertEqual(self.md.flags("INBOX", BASES[3]), "Db")
        res = self.cs("store", "INBOX", "3", "-FLAGS", "\\Seen", "\\Flagged")
        self.assertEqual(res.lines, [
            "* 3 FETCH (UID 3 MODSEQ (%d) FLAGS ())" % (h + 2)])
        res = self.cs("store", "INBOX", "3", "+FLAGS.SILENT", "(\\Seen)")
        self.assertEqual(res.lines, [])
        self.assertEqual(self.md.flags("INBOX", BASES[2]), "S")
        self.assertEqual(self.hms(), h + 3)
        # a keyword without a letter in dovecot-keywords: an error
        res = self.cs("store", "INBOX", "3", "+FLAGS", "(nosuchkw)", rc=2)
        self.assert_error(res, "nosuchkw")
        self.assert_clean()

    def test_vanished(self):
        self.assertEqual(self.cs("vanished", "INBOX", "--since",
                                 str(self.h)).lines, [])
        self.md.delete("INBOX", BASES[3])
        self.md.delete("INBOX", BASES[1])
        self.cs("reindex", "INBOX")
        self.assertEqual(self.cs("vanished", "INBOX", "--since",
                                 str(self.h)).lines, ["* VANISHED 2,4"])
        st = self.status("INBOX")["INBOX"]
        self.assertEqual(st["MESSAGES"], 2)
        self.assertEqual(st["HIGHESTMODSEQ"], self.h + 2)
        one = cstest.parse_vanished(self.cs(
            "vanished", "INBOX", "--since", str(self.h + 1)).lines)
        self.assertEqual(len(one), 1)
        self.assertTrue(one < {2, 4})
        self.assertEqual(self.cs("vanished", "INBOX", "--since",
                                 str(self.h + 2)).lines, [])
        self.assert_clean()

    def test_check_output(self):
        self.assert_clean()
        self.assert_clean("INBOX")
        # a flag change behind the index's back: one line naming the file
        self.md.set_flags("INBOX", BASES[1], "FS")
        res = self.cs("check", rc=1)
        self.assertEqual(len(res.lines), 1, res)
        self.assertIn(BASES[1], res.lines[0])
        self.assertTrue(res.lines[0].startswith("INBOX: "), res)
        # read-only: nothing changed
        self.assertEqual(self.hms(), self.h)
        res = self.cs("check", "--repair", rc=1)
        self.assertEqual(len(res.lines), 1, res)
        self.assertEqual(self.hms(), self.h + 1)
        self.assert_clean()


class Errors(cstest.CondstoreCase):

    def setUp(self):
        super().setUp()
        self.md.deliver("INBOX", "S")
        self.cs("reindex")

    def test_usage_errors(self):
        cases = [
            (["nosuchcommand"], "nosuchcommand"),
            (["--nosuchoption", "status"], "--nosuchoption"),
            (["fetch"], "missing"),
            (["fetch", "INBOX", "1", "2"], "unexpected"),
            (["fetch", "INBOX", "0"], "0"),
            (["fetch", "INBOX", "1:x"], "1:x"),
            (["fetch", "INBOX", "--changedsince", "-1"], "-1"),
            (["fetch", "INBOX", "--changedsince", "9223372036854775808"],
             "9223372036854775808"),
            (["fetch", "INBOX", "--changedsince"], "changedsince"),
            (["fetch", "INBOX", "--bogus", "1"], "--bogus"),
            (["search", "INBOX"], "--modseq"),
            (["search", "INBOX", "--modseq", "x"], "x"),
            (["vanished", "INBOX"], "--since"),
            (["store", "INBOX", "1", "+FLAGS"], "missing"),
            (["store", "INBOX", "1", "*FLAGS", "(\\Seen)"], "*FLAGS"),
            (["store", "INBOX", "1", "+FLAGS", "(\\Recent)"], "Recent"),
            (["fetch", "NoSuchBox"], "NoSuchBox"),
            (["status", "NoSuchBox"], "NoSuchBox"),
            (["fetch", "../x"], "../x"),
            (["status", "a/b"], "a/b"),
            (["reindex", "..x"], "..x"),
            (["check", ".."], ".."),
            (["reindex", "--rebuild", "INBOX"], "--rebuild"),
            (["help", "nosuch"], "nosuch"),
            (["--separator", "ab", "status"], "ab"),
        ]
        for args, word in cases:
            with self.subTest(args=args):
                self.assert_error(self.cs(*args, rc=None), word)
        # nothing changed on the way
        self.assert_clean()

    def test_no_command(self):
        res = self.cs(rc=2)
        self.assertIn("Usage: condstore", res.err)

    def test_missing_maildir_and_db(self):
        missing = os.path.join(self.md.tmp, "nothere")
        res = cstest.run(["status"], maildir=missing)
        self.assert_error(res, "nothere")
        res = cstest.run(["status"], maildir=self.md.root,
                         db=os.path.join(missing, "x.tdb"))
        self.assert_error(res, "x.tdb")

    def test_maildir_from_environment(self):
        env = dict(os.environ, MAILDIR=self.md.root)
        res = cstest.run(["status"], env=env)
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(list(cstest.parse_status(res.lines)), ["INBOX"])
        env = dict(os.environ, HOME=self.md.tmp)
        env.pop("MAILDIR", None)
        res = cstest.run(["status"], env=env)
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(list(cstest.parse_status(res.lines)), ["INBOX"])


class Progress(cstest.CondstoreCase):
    """reindex draws a progress bar on stderr when it is a terminal, and
    clears it when done; never when stderr is not a terminal, or with
    -q."""

    def reindex_on_pty(self, *args):
        master, slave = pty.openpty()
        try:
            cmd = cstest.wrapper() + [cstest.condstore_path(), "--maildir",
                                      self.md.root] + list(args)
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave,
                                  stdin=subprocess.DEVNULL, timeout=600)
            os.close(slave)
            slave = None
            err = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:         # EIO: the other side is closed
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual((proc.returncode, proc.stdout), (0, b""), err)
        return err.decode("utf-8", "replace")

    def test_progress_on_terminal_only(self):
        self.md.populate({"INBOX": 4500, "Lists": 300}, keywords=())
        err = self.reindex_on_pty("reindex")
        self.assertIn("INBOX", err)
        self.assertIn("\r\033[K", err)
        self.assertTrue(err.endswith("\r\033[K"), repr(err[-80:]))
        self.assertRegex(err, r"INBOX +(\[[#-]+\] +\d+% )?\d+")
        self.md.deliver("INBOX", "S")
        self.assertEqual(self.reindex_on_pty("-q", "reindex"), "")
        self.md.deliver("INBOX", "S")
        self.assertEqual(self.cs("reindex").err, "")
        res = self.cs("-v", "reindex")
        self.assertRegex(res.err, r"^condstore: reindex: 4802 files: "
                         r"0 arrived, 0 changed, 0 expunged, 0 updated, "
                         r"0 skipped\n$")
        self.assertEqual(self.status("INBOX")["INBOX"]["MESSAGES"], 4502)


class Help(cstest.CondstoreCase):

    def test_global_help(self):
        for args in (["--help"], ["-h"], ["help"]):
            res = self.cs(*args)
            self.assertTrue(res.lines[0].startswith("Usage: condstore"),
                            res)
            for cmd in COMMANDS:
                self.assertRegex(res.out, r"(?m)^  %s " % cmd)
            for opt in ("--maildir", "--db", "--separator", "-v", "-q",
                        "--version"):
                self.assertIn(opt, res.out)

    def test_command_help(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                res = self.cs("help", cmd)
                self.assertTrue(res.lines[0].startswith(
                    "Usage: condstore [GLOBAL OPTIONS] %s" % cmd), res)
                for opt in OPTIONS[cmd]:
                    self.assertIn(opt, res.out)
                self.assertEqual(self.cs(cmd, "--help").out, res.out)
                self.assertEqual(self.cs(cmd, "INBOX", "-h").out, res.out)

    def test_version(self):
        res = self.cs("--version")
        self.assertRegex(res.out, r"^condstore \(maildir-condstore\) "
                         r"\d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    cstest.main()
