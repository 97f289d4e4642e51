#!/usr/bin/env python3
"""Hostile and odd input: symlinked files and folders (never followed,
their targets untouched), ".." in mailbox names, very long names, names
without info or with ":1," info, unsorted, duplicate and unknown flag
letters, non-UTF-8 bytes."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


def tree(path):
    """{relative path: (mode, size, mtime_ns, content)} of a directory
    tree, not following symlinks."""
    out = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(top, name)
            st = os.lstat(full)
            data = None
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    data = f.read()
            out[os.path.relpath(full, path)] = (st.st_mode, st.st_size,
                                                st.st_mtime_ns, data)
    return out


class Hostile(cstest.CondstoreCase):

    def setUp(self):
        super().setUp()
        self.outside = os.path.join(self.md.tmp, "outside")
        cstest.Maildir.make_dirs(self.outside)
        with open(os.path.join(self.outside, "cur",
                               "1600000000.M1P1.other:2,S"), "w") as f:
            f.write("Subject: not yours\n\nsecret\n")
        with open(os.path.join(self.outside, "secret"), "w") as f:
            f.write("secret\n")
        self.outside_before = tree(self.outside)

    def assert_outside_untouched(self):
        self.assertEqual(tree(self.outside), self.outside_before)

    def test_symlinks(self):
        md = self.md
        kept = [md.deliver("INBOX", "S") for _ in range(3)]
        # a symlinked message file, pointing outside
        evil = md.names.base()
        os.symlink(os.path.join(self.outside, "secret"),
                   os.path.join(md.root, "cur", evil + ":2,S"))
        os.symlink(os.path.join(self.outside, "secret"),
                   os.path.join(md.root, "new", md.names.base()))
        # a symlinked folder, pointing at another Maildir
        os.symlink(self.outside, os.path.join(md.root, ".Evil"))
        res = self.cs("reindex")
        self.assertEqual(res.out, "")
        self.assertIn("Evil", res.err)       # warned about
        st = self.status()
        self.assertEqual(list(st), ["INBOX"])
        self.assertEqual(st["INBOX"]["MESSAGES"], 3)
        self.assert_matches_disk("INBOX")
        # explicitly named: refused
        self.assert_error(self.cs("reindex", "Evil", rc=None), "Evil")
        self.assert_error(self.cs("status", "Evil", rc=None), "Evil")
        # check: not indexed (a problem) or refused (an error), never read
        res = self.cs("check", "Evil", rc=None)
        self.assertIn(res.rc, (1, 2), res)
        self.assertIn("Evil", res.out + res.err)
        res = self.cs("check", "--repair", "Evil", rc=2)
        self.assertIn("symlink", res.err)
        self.assertEqual(list(self.status()), ["INBOX"])
        # a store over everything renames only real files
        self.cs("store", "INBOX", "1:*", "+FLAGS", "(\\Flagged)")
        self.assertEqual([md.flags("INBOX", b) for b in kept], ["FS"] * 3)
        self.assertTrue(os.path.islink(os.path.join(md.root, "cur",
                                                    evil + ":2,S")))
        self.assert_clean()
        # a message file replaced by a symlink after it was indexed is an
        # expunge; the link's target is not read or changed
        h = self.hms()
        victim = kept[0]
        victim_uid = [u for u, b in self.uids("INBOX").items()
                      if b == victim][0]
        path = md.find("INBOX", victim)
        os.unlink(path)
        os.symlink(os.path.join(self.outside, "secret"), path)
        self.cs("-q", "reindex")
        self.assertEqual(cstest.parse_vanished(self.cs(
            "vanished", "INBOX", "--since", str(h)).lines), {victim_uid})
        self.assertEqual(self.status()["INBOX"]["MESSAGES"], 2)
        self.assert_clean()
        self.assert_outside_untouched()

    def test_symlinked_root_entries_never_written(self):
        """A symlinked tmp/ or cur/ inside a real folder: the folder is
        refused or the link ignored, and nothing is written through it."""
        md = self.md
        md.deliver("INBOX", "S")
        box = md.create_folder("Trap")
        os.rmdir(os.path.join(box, "cur"))
        os.symlink(os.path.join(self.outside, "cur"),
                   os.path.join(box, "cur"))
        res = self.cs("reindex", rc=None)
        self.assertIn(res.rc, (0, 2), res)
        st = self.status()
        self.assertEqual(st["INBOX"]["MESSAGES"], 1)
        self.assertEqual(st.get("Trap", {}).get("MESSAGES", 0), 0)
        if "Trap" in st:
            res = self.cs("store", "Trap", "1:*", "+FLAGS", "(\\Deleted)",
                          rc=None)
            self.assertEqual(res.out, "", res)
        self.assert_outside_untouched()

    def test_mailbox_name_escapes(self):
        self.md.deliver("INBOX")
        self.cs("reindex")
        for name in ("..", "../outside", ".", "a/../..", "a..b", ".a",
                     "a.", "/etc", "a/b", "x\ny", "", "A" * 4096):
            for args in (["status", name], ["fetch", name],
                         ["reindex", name], ["check", name],
                         ["store", name, "1", "+FLAGS", "(\\Seen)"],
                         ["vanished", name, "--since", "1"],
                         ["search", name, "--modseq", "1"]):
                with self.subTest(args=args):
                    self.assert_error(self.cs(*args, rc=None))
        self.assertEqual(list(self.status()), ["INBOX"])
        self.assert_outside_untouched()

    def test_long_arguments(self):
        self.md.deliver("INBOX")
        self.cs("reindex")
        long_path = os.path.join(self.md.tmp, "d" * 4096)
        self.assert_error(cstest.run(["status"], maildir=long_path))
        self.assert_error(cstest.run(["status"], maildir=self.md.root,
                                     db=long_path))
        self.assert_error(self.cs("fetch", "INBOX", "1:" + "9" * 4096,
                                  rc=None))
        self.assert_error(self.cs("fetch", "INBOX", "--changedsince",
                                  "9" * 4096, rc=None))
        self.assert_error(self.cs("store", "INBOX", "1", "+FLAGS",
                                  "(" + "k" * 4096 + ")", rc=None))
        self.assert_clean()

    def test_odd_names(self):
        md = self.md
        md.write_keywords("INBOX", ["work"])
        cur = os.path.join(md.root, "cur")
        new = os.path.join(md.root, "new")
        names = {
            "noinfo": (cur, md.names.base(), ""),
            "v1": (cur, md.names.base(), ":1,experimental"),
            "unsorted": (cur, md.names.base(), ":2,SFS"),
            "unknown": (cur, md.names.base(), ":2,SXZ"),
            "keyword": (cur, md.names.base(), ":2,aS"),
            "newinfo": (new, md.names.base(), ":2,F"),
        }
        # a 255-byte name on disk, and one without info in new/
        long_base = md.names.base()
        long_base += "x" * (255 - len(long_base) - len(":2,S"))
        names["long"] = (cur, long_base, ":2,S")
        names["longnew"] = (new, long_base[:-1] + "y", "")
        self.assertEqual(len(long_base + ":2,S"), 255)
        for key, (sub, base, info) in names.items():
            with open(os.path.join(sub, base + info), "w") as f:
                f.write("Subject: %s\n\n" % key)
        # not messages: files in tmp/, dot files, a directory in cur/
        with open(os.path.join(md.root, "tmp", md.names.base()), "w"):
            pass
        with open(os.path.join(cur, ".hidden"), "w"):
            pass
        os.mkdir(os.path.join(cur, md.names.base() + ":2,S"))
        res = self.cs("reindex")
        self.assertEqual(self.status()["INBOX"]["MESSAGES"], len(names))
        uid_of = {b: u for u, b in self.uids("INBOX").items()}
        flags = {f.uid: f.flags for f in self.fetch("INBOX")}

        def imap(key):
            return flags[uid_of[names[key][1]]]

        self.assertEqual(imap("noinfo"), [])
        self.assertEqual(imap("v1"), [])
        self.assertEqual(sorted(imap("unsorted")), ["\\Flagged", "\\Seen"])
        self.assertEqual(imap("unknown"), ["\\Seen"])
        self.assertEqual(sorted(imap("keyword")), ["\\Seen", "work"])
        self.assertEqual(imap("newinfo"), ["\\Flagged"])
        self.assertEqual(imap("long"), ["\\Seen"])
        self.assert_clean()

        def store(key, *args, rc=0):
            return self.cs("store", "INBOX", str(uid_of[names[key][1]]),
                           *args, rc=rc)

        def on_disk(key):
            return os.path.basename(md.find("INBOX", names[key][1]))[
                len(names[key][1]):]

        # unknown letters survive +FLAGS and -FLAGS
        store("unknown", "+FLAGS", "(\\Flagged)")
        self.assertEqual(cstest.info_flags(on_disk("unknown")), "FSXZ")
        store("unknown", "-FLAGS", "(\\Seen)")
        self.assertEqual(cstest.info_flags(on_disk("unknown")), "FXZ")
        # no info and ":1," info get ":2,"
        store("noinfo", "+FLAGS", "(\\Seen)")
        self.assertEqual(on_disk("noinfo"), ":2,S")
        store("v1", "+FLAGS", "(\\Answered)")
        self.assertEqual(cstest.info_flags(on_disk("v1")), "R")
        store("unsorted", "+FLAGS", "(\\Draft)")
        self.assertEqual(on_disk("unsorted"), ":2,DFS")
        # 255 bytes is the limit: one more letter cannot be stored; the
        # file and the index stay as they were
        h = self.hms()
        res = store("long", "+FLAGS", "(\\Flagged)", rc=2)
        self.assert_error(res)
        self.assertEqual(on_disk("long"), ":2,S")
        self.assertEqual(self.hms(), h)
        self.assert_matches_disk("INBOX", ["work"])
        self.assert_clean()

    def test_non_utf8(self):
        md = self.md
        md.deliver("INBOX", "S")
        base = b"1700000123.M777P4242.h\xffst\xfe,S=10"
        with open(os.path.join(os.fsencode(md.root), b"cur",
                               base + b":2,F"), "wb") as f:
            f.write(b"Subject: x\n\n")
        # a folder whose name is not UTF-8
        bad = os.path.join(os.fsencode(md.root), b".Caf\xe9")
        for sub in (b"cur", b"new", b"tmp"):
            os.makedirs(os.path.join(bad, sub))
        with open(os.path.join(bad, b"cur", b"1700000124.M1P2.h:2,S"),
                  "wb") as f:
            f.write(b"Subject: y\n\n")
        res = self.cs("reindex", rc=None)
        self.assertEqual(res.rc, 0, res)
        st = self.status()
        self.assertEqual(st["INBOX"]["MESSAGES"], 2)
        uids = self.uids("INBOX")
        uid = [u for u, b in uids.items()
               if os.fsencode(b) == base][0]
        res = self.cs("store", "INBOX", str(uid), "+FLAGS", "(\\Seen)")
        self.assertEqual(cstest.parse_fetch(res.lines)[0].uid, uid)
        self.assertTrue(os.path.exists(os.path.join(
            os.fsencode(md.root), b"cur", base + b":2,FS")))
        self.assert_clean()


if __name__ == "__main__":
    cstest.main()
