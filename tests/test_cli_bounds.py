#!/usr/bin/env python3
"""Files a user controls are read within bounds and checked strictly:

  * a sparse 1 GB dovecot-uidlist or dovecot-keywords without a newline
    is refused at once (a clear error naming the file and the bound), with
    the memory of the command flat;
  * a dovecot-uidlist with UIDVALIDITY 0 or a header cut short is refused;
  * a repeated UID in dovecot-uidlist never takes over the message that
    has it (the first line wins, the others are skipped with a warning);
  * UIDs near 2^32: commands cost by the UIDs that exist;
  * a store where one file can't be renamed reports that message and
    stores the others, and the index matches the disk;
  * names from disk and dovecot-keywords never forge an output line nor
    reach stderr as control characters."""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

GB = 1 << 30


def sparse(path, size, head=b""):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


def children_maxrss_kb():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


class Bounds(cstest.CondstoreCase):

    def uidlist(self, text, mailbox="INBOX"):
        with open(os.path.join(self.md.path(mailbox), "dovecot-uidlist"),
                  "wb") as f:
            f.write(text)

    def test_huge_uidlist_refused(self):
        self.md.deliver("INBOX", "S")
        sparse(os.path.join(self.md.root, "dovecot-uidlist"), GB,
               b"3 V1234 N2\n1 :")
        start = time.monotonic()
        res = self.cs("reindex", rc=None)
        elapsed = time.monotonic() - start
        self.assertEqual(res.rc, 2, res)
        self.assertIn("dovecot-uidlist", res.err)
        self.assertIn("larger than", res.err)
        # nothing of the file was read: far below a gigabyte
        self.assertLess(children_maxrss_kb(), 200 * 1024)
        self.assertLess(elapsed, 60)

    def test_long_line_refused(self):
        self.md.deliver("INBOX", "S")
        self.uidlist(b"3 V1234 N2\n1 :" + b"x" * (1 << 20))
        res = self.cs("reindex", rc=None)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("longer than", res.err)

    def test_huge_keywords_refused(self):
        self.md.deliver("INBOX", "Sa")
        self.cs("-q", "reindex")
        sparse(os.path.join(self.md.root, "dovecot-keywords"), GB,
               b"0 work\n1 ")
        res = self.cs("fetch", "INBOX", "1:*", rc=None)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("dovecot-keywords", res.err)
        self.assertIn("larger than", res.err)
        self.assertLess(children_maxrss_kb(), 200 * 1024)

    def test_uidvalidity_zero_refused(self):
        base = self.md.deliver("INBOX", "S")
        for text in (b"1 0 5\n1 %s\n" % base.encode(),
                     b"3 V0 N5\n1 :%s\n" % base.encode()):
            self.uidlist(text)
            res = self.cs("reindex", rc=None)
            self.assertEqual(res.rc, 2, (text, res))
            self.assertIn("dovecot-uidlist", res.err)

    def test_truncated_header_refused(self):
        base = self.md.deliver("INBOX", "S")
        for text in (b"3 V1234", b"3 V1234 N5", b"3 V1234 G1\n1 :%s\n" %
                     base.encode()):
            self.uidlist(text)
            res = self.cs("reindex", rc=None)
            self.assertEqual(res.rc, 2, (text, res))
            self.assertIn("dovecot-uidlist", res.err)

    def test_duplicate_uid_does_not_take_over(self):
        a = self.md.deliver("INBOX", "S")
        b = self.md.deliver("INBOX", "S")
        c = self.md.deliver("INBOX", "S")
        self.uidlist(b"3 V1234 N10\n5 :%s\n5 :%s\n7 :%s\n" % (
            a.encode(), b.encode(), c.encode()))
        res = self.cs("reindex")
        self.assertIn("dovecot-uidlist", res.err)
        self.assertIn("skipped", res.err)
        uids = self.uids()
        self.assertEqual(uids[5], a)
        self.assertEqual(uids[7], c)
        # b has no UID of Dovecot's yet: none, rather than a's
        self.assertNotIn(b, uids.values())
        self.assert_clean()

    # two base names with one 64-bit FNV-1a hash, the hash the UID maps of
    # a scan (dovecot-uidlist's, the predicted UIDs) look names up by
    COLLIDING = ("bf13eaba83dea434", "b3b828bb3655e2a7")

    def assert_uids_unique(self):
        """Every UID of the index names one message: no two records share
        one (check: "does not map back"), and the UID map is one-to-one."""
        self.assert_clean()
        uids = self.uids()
        self.assertEqual(len(set(uids.values())), len(uids))

    def test_colliding_names_unlisted(self):
        """dovecot-uidlist lists one of two names with one hash, the other
        came after (Dovecot has not seen it): the listed UID is given to
        one of them only."""
        x, y = self.COLLIDING
        self.md.deliver("INBOX", "S", base=x)
        self.md.deliver("INBOX", "S", base=y)
        self.uidlist(b"3 V1234 N2\n1 :%s\n" % x.encode())
        self.cs("-q", "reindex")
        self.assert_uids_unique()
        self.assertEqual(list(self.uids()), [1])
        self.cs("-q", "reindex")
        self.assert_uids_unique()

    def test_colliding_names_listed(self):
        """Both names listed: the scan's map cannot tell them apart and
        gives neither a UID (no UID at all rather than one twice)."""
        x, y = self.COLLIDING
        self.md.deliver("INBOX", "S", base=x)
        self.md.deliver("INBOX", "S", base=y)
        self.uidlist(b"3 V1234 N3\n1 :%s\n2 :%s\n" % (x.encode(),
                                                         y.encode()))
        self.cs("-q", "reindex")
        self.assertEqual(self.uids(), {})

    def test_colliding_names_own_uids(self):
        """No dovecot-uidlist: the predicted UIDs (Dovecot's order) skip
        the two names; each gets a UID of its own."""
        x, y = self.COLLIDING
        self.md.deliver("INBOX", "S", base=x)
        self.md.deliver("INBOX", "S", base=y)
        self.md.deliver("INBOX", "S")
        self.cs("-q", "reindex")
        self.assert_uids_unique()
        self.assertEqual(len(self.uids()), 3)

    def test_huge_uid_range(self):
        """UIDs near 2^32: store, fetch and vanished cost by the UIDs that
        exist (the old store walked every number of 1:*, for hours,
        holding the index lock; the timeout only guards against that)."""
        low = self.md.deliver("INBOX", "S")
        high = [self.md.deliver("INBOX", "S") for _ in range(3)]
        gone = self.md.deliver("INBOX", "S")
        lines = [b"3 V1234 N4294967295", b"1 :" + low.encode()]
        lines += [b"%d :%s" % (4294967290 + i, base.encode())
                  for i, base in enumerate(high + [gone])]
        self.uidlist(b"\n".join(lines) + b"\n")
        self.cs("-q", "reindex")
        self.md.delete("INBOX", gone)
        self.cs("-q", "reindex")
        res = self.cs("store", "INBOX", "1:*", "+FLAGS", "(\\Flagged)",
                      timeout=120)
        got = cstest.parse_fetch(res.lines)
        self.assertEqual(sorted(f.uid for f in got),
                         [1, 4294967290, 4294967291, 4294967292])
        # an empty range stores nothing
        res = self.cs("store", "INBOX", "2:4294967289", "-FLAGS",
                      "(\\Flagged)", timeout=120)
        self.assertEqual(res.out, "")
        fetched = self.fetch("INBOX", "--changedsince", "0")
        self.assertEqual(len(fetched), 4)
        for f in fetched:
            self.assertIn("\\Flagged", f.flags)
        # from below the horizon: every UID that is not a message, as
        # ranges (exit 1 says it answered from below the horizon)
        res = self.cs("vanished", "INBOX", "--since", "1", rc=1,
                      timeout=120)
        self.assertEqual(res.out.strip(),
                         "* VANISHED 2:4294967289,4294967293:4294967294")
        self.assert_clean()

    def test_store_name_too_long(self):
        """One message of many can't take the flags (its name would pass
        255 bytes): the others are stored and recorded, that one is
        reported and left alone, and the index matches the disk."""
        bases = [self.md.deliver("INBOX", "S") for _ in range(5)]
        long_base = "1600000099." + "y" * 239
        self.md.deliver("INBOX", "S", base=long_base)
        bases += [self.md.deliver("INBOX", "S") for _ in range(2)]
        self.cs("-q", "reindex")
        long_uid = [u for u, b in self.uids().items() if b == long_base][0]
        res = self.cs("store", "INBOX", "1:*", "+FLAGS",
                      "(\\Flagged \\Answered \\Draft)", rc=2)
        self.assertIn("UID %d not stored" % long_uid, res.err)
        self.assertIn("too long", res.err)
        got = {f.uid for f in cstest.parse_fetch(res.lines)}
        self.assertEqual(got, set(self.uids()) - {long_uid})
        for base in bases:
            self.assertEqual(self.md.flags("INBOX", base), "DFRS")
        self.assertEqual(self.md.flags("INBOX", long_base), "S")
        self.assert_matches_disk("INBOX")
        self.assert_clean()

    def test_same_base_in_new_and_cur(self):
        """One base name in new/ and cur/: the file in cur/ is the
        message; no new modseq and no flag change at each reindex."""
        base = self.md.deliver("INBOX", "FS")
        other = self.md.deliver("INBOX", "S")
        with open(os.path.join(self.md.root, "new", base), "w") as f:
            f.write("a copy\n")
        self.cs("-q", "reindex")
        first = self.uid_map("INBOX")
        self.assert_clean()
        for _ in range(3):
            self.cs("-q", "reindex")
            self.assertEqual(self.uid_map("INBOX"), first)
            self.assert_clean()
        uids = self.uids()
        self.assertEqual(sorted(uids.values()), sorted([base, other]))
        uid = [u for u, b in uids.items() if b == base][0]
        self.assertEqual(first[uid][1], "FS")

    def test_keyword_names_that_are_not_atoms(self):
        """Keyword names with spaces, parentheses, a backslash or control
        characters can't be IMAP flags: they are not used (their letters
        are shown as unnamed, $kw_X), so an output line can't be forged."""
        base = self.md.deliver("INBOX", "Sabcdef")
        with open(os.path.join(self.md.root, "dovecot-keywords"),
                  "wb") as f:
            f.write(b"0 has space\n1 \\Seen\n2 (x)\n3 ok\n"
                    b"4 a\x1b[31mb\n5 c)) * 1 FETCH (UID 9\n")
        self.cs("-q", "reindex")
        res = self.cs("fetch", "INBOX", "1:*")
        self.assertEqual(len(res.lines), 1, res)
        flags = cstest.parse_fetch(res.lines)[0].flags
        self.assertEqual(sorted(flags.split()) if isinstance(flags, str)
                         else sorted(flags),
                         ["$kw_a", "$kw_b", "$kw_c", "$kw_e", "$kw_f",
                          "\\Seen", "ok"])
        self.assertNotIn("\x1b", res.out)
        self.assert_clean()
        self.assertTrue(base)

    def test_control_characters_escaped_in_messages(self):
        """A file name with a newline and an escape sequence reaches
        stderr as \\x0a and \\x1b: one message, one line."""
        self.md.deliver("INBOX", "S")
        evil = "1600000000.M1.h\nforged line\x1b[2J"
        os.symlink("/nonexistent", os.path.join(self.md.root, "cur", evil))
        res = self.cs("reindex")
        self.assertNotIn("\x1b", res.err)
        warned = [l for l in res.err.splitlines() if "symlink" in l]
        self.assertEqual(len(warned), 1, res)
        self.assertIn("\\x0aforged line\\x1b[2J", warned[0])
        self.assertFalse(any(l.startswith("forged line")
                             for l in res.err.splitlines()), res)


if __name__ == "__main__":
    cstest.main()
