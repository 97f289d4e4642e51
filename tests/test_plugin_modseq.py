#!/usr/bin/env python3
"""test_plugin_modseq.py - every UID, MODSEQ and HIGHESTMODSEQ Dovecot
sends for a Maildir is the index's: for a Maildir reindexed before Dovecot
ever opened it, after an external agent's renames (mutt-style), through
CHANGEDSINCE, SEARCH/ESEARCH MODSEQ, STORE UNCHANGEDSINCE and EXPUNGE."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402
import dovecotconf  # noqa: E402

[cstest] = dovecot.start_test("cstest")

KEYWORDS = ("work", "later")


class PluginModseqTest(cstest.CondstoreCase):
    seed = 7162

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 40, "Work": 12},
                                     keywords=KEYWORDS)
        # indexed before Dovecot ever saw the Maildir (own UIDs)
        self.cs("reindex")
        # the setting, with the home expanded by Dovecot, names the index the
        # condstore command uses by default
        self.dc = dovecot.Dovecot(self.md.tmp, plugin_settings={
            "maildir_condstore_db":
                dovecotconf.home_var() + "/Maildir/condstore.tdb"})
        self.dc.start()
        self.addCleanup(self.dc.finish)
        self.imap = self.dc.connect()
        self.addCleanup(self.imap.shutdown)
        dovecot.imap_ok(self.imap._simple_command("ENABLE", "CONDSTORE"))

    # --- helpers --------------------------------------------------------

    def select(self, mailbox="INBOX"):
        return dovecot.select_condstore(self.imap, mailbox)

    def imap_fetch(self, uids="1:*", changedsince=None):
        self.imap.untagged_responses.pop("FETCH", None)
        mods = "" if changedsince is None else \
            " (CHANGEDSINCE %d)" % changedsince
        typ, data = self.imap.uid("FETCH", uids,
                                  "(UID MODSEQ FLAGS)" + mods)
        self.assertEqual(typ, "OK", data)
        return dovecot.parse_imap_fetch(data)

    def cs_map(self, mailbox="INBOX"):
        """{uid: (modseq, letters)} from condstore fetch, without 'P':
        Dovecot does not show that Maildir letter ($Forwarded is a
        keyword there)."""
        return {f.uid: (f.modseq, cstest.letters_of(f.flags, KEYWORDS)
                        .replace("P", ""))
                for f in self.fetch(mailbox)}

    def imap_map(self, fetched):
        return {uid: (f["MODSEQ"], cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"], KEYWORDS))
            for uid, f in fetched.items()}

    def assert_same_as_index(self, mailbox="INBOX"):
        """IMAP and condstore agree on every UID, MODSEQ and flag."""
        fetched = self.imap_fetch()
        self.assertTrue(fetched)
        self.assertEqual(self.imap_map(fetched), self.cs_map(mailbox))
        return fetched

    def dovecot_uids(self, mailbox="INBOX"):
        """{uid: base} of dovecot-uidlist (version 3 lines:
        "UID [EXT...] :FILENAME")."""
        out = {}
        with open(os.path.join(self.md.path(mailbox),
                               "dovecot-uidlist")) as f:
            for line in f.read().splitlines()[1:]:
                uid, rest = line.split(" ", 1)
                name = rest.split(":", 1)[1] if rest.startswith(":") \
                    else rest.split(" :", 1)[1]
                out[int(uid)] = name.split(cstest.SEP, 1)[0]
        return out

    # --- tests ------------------------------------------------------------

    def test_select_fetch_status_agree(self):
        hms = self.select("INBOX")
        self.assertEqual(hms, self.hms("INBOX"))
        fetched = self.assert_same_as_index("INBOX")
        self.assertEqual(len(fetched), 40)
        # the index took Dovecot's UIDs when Dovecot first opened it
        self.assertEqual(self.uids("INBOX"), self.dovecot_uids())
        self.assert_clean()
        # STATUS of a mailbox that is not selected
        typ, data = self.imap._simple_command(
            "STATUS", "Work", "(MESSAGES UIDNEXT HIGHESTMODSEQ)")
        self.assertEqual(typ, "OK", data)
        st = " ".join(dovecot.response_text(
            self.imap.untagged_responses.pop("STATUS", [])))
        m = re.search(r"HIGHESTMODSEQ (\d+)", st)
        self.assertTrue(m, st)
        self.assertEqual(int(m.group(1)), self.hms("Work"))

    def test_external_rename_changedsince(self):
        hms = self.select("INBOX")
        base = self.made["INBOX"][3]
        uid = {b: u for u, b in self.uids().items()}[base]
        self.md.set_flags("INBOX", base, "FRS")
        self.cs("reindex")
        after = self.cs_map()[uid]
        self.assertGreater(after[0], hms)
        self.assertEqual(after[1], "FRS")
        self.imap.untagged_responses.pop("FETCH", None)
        dovecot.imap_ok(self.imap.noop())
        # the unsolicited FETCH announcing the change carries its modseq
        seq = dovecot.parse_imap_fetch(
            self.imap.untagged_responses.pop("FETCH", []), key="SEQ")
        self.assertEqual([(f["MODSEQ"], cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"]))
            for f in seq.values()], [after])
        changed = self.imap_fetch(changedsince=hms)
        self.assertEqual(self.imap_map(changed), {uid: after})
        # a new connection sees the same
        self.assertEqual(self.select("INBOX"), self.hms())
        self.assertEqual(self.imap_map(self.imap_fetch(changedsince=hms)),
                         {uid: after})

    def test_unchangedsince(self):
        self.select("INBOX")
        uids = {b: u for u, b in self.uids().items()}
        before = self.cs_map()
        a, b = self.made["INBOX"][5], self.made["INBOX"][6]
        ua, ub = uids[a], uids[b]
        # an external change to a: a STORE that saw the old modseq loses
        self.md.set_flags("INBOX", a, "D")
        self.cs("reindex")
        name_a = os.path.basename(self.md.find("INBOX", a))
        typ, data = self.imap.uid("STORE", str(ua),
                                  "(UNCHANGEDSINCE %d) +FLAGS (\\Flagged)"
                                  % before[ua][0])
        self.assertEqual(typ, "OK", data)
        self.assertEqual(dovecot.response_code(self.imap, "MODIFIED"),
                         str(ua))
        self.assertEqual(os.path.basename(self.md.find("INBOX", a)), name_a)
        self.assertEqual(self.cs_map()[ua][1], "D")
        # b did not change: the STORE wins, the file carries the flag
        typ, data = self.imap.uid("STORE", str(ub),
                                  "(UNCHANGEDSINCE %d) +FLAGS (\\Flagged)"
                                  % before[ub][0])
        self.assertEqual(typ, "OK", data)
        self.assertIsNone(dovecot.response_code(self.imap, "MODIFIED"))
        self.assertIn("F", self.md.flags("INBOX", b))
        now = self.cs_map()[ub]
        self.assertGreater(now[0], before[ub][0])
        self.assertIn("F", now[1])
        # the STORE's FETCH reply carries the index's new modseq
        reply = dovecot.parse_imap_fetch(data)
        self.assertEqual(reply[ub]["MODSEQ"], now[0])
        # the indexer seeing Dovecot's rename bumps nothing
        hms = self.hms()
        self.cs("reindex")
        self.assertEqual(self.hms(), hms)
        self.assert_same_as_index()
        self.assert_clean()

    def test_search_modseq(self):
        hms = self.select("INBOX")
        uids = {b: u for u, b in self.uids().items()}
        changed = sorted(uids[b] for b in self.made["INBOX"][10:13])
        for base in self.made["INBOX"][10:13]:
            self.md.set_flags("INBOX", base, "S")
        self.cs("reindex")
        dovecot.imap_ok(self.imap.noop())
        new_hms = self.hms()
        typ, data = self.imap.uid("SEARCH", "MODSEQ", str(hms + 1))
        self.assertEqual(typ, "OK", data)
        line = dovecot.response_text(data)[0]
        m = re.match(r"^((?:\d+ ?)*)(?: ?\(MODSEQ (\d+)\))?$", line.strip())
        self.assertTrue(m, line)
        self.assertEqual(sorted(int(x) for x in m.group(1).split()), changed)
        self.assertEqual(int(m.group(2)), new_hms)
        cs_uids, cs_modseq = cstest.parse_search(
            self.cs("search", "INBOX", "--modseq", str(hms + 1)).lines[0])
        self.assertEqual((sorted(cs_uids), cs_modseq), (changed, new_hms))
        # ESEARCH (MODSEQ comes with it) and the entry-name form
        typ, data = self.imap.uid(
            "SEARCH", "RETURN", "(ALL)", "MODSEQ",
            '"/flags/\\\\seen"', "all", str(hms + 1))
        self.assertEqual(typ, "OK", data)
        es = " ".join(dovecot.response_text(
            self.imap.untagged_responses.pop("ESEARCH", [])))
        m = re.search(r"ALL (\S+)", es)
        self.assertTrue(m, es)
        self.assertEqual(cstest.uidset_expand(m.group(1)), set(changed))
        self.assertIn("MODSEQ %d" % new_hms, es)
        # nothing changed since the newest modseq
        typ, data = self.imap.uid("SEARCH", "MODSEQ", str(new_hms + 1))
        self.assertEqual(typ, "OK", data)
        self.assertEqual(dovecot.response_text(data)[0].strip(), "")

    def test_expunge(self):
        hms = self.select("INBOX")
        base = self.made["INBOX"][20]
        uid = {b: u for u, b in self.uids().items()}[base]
        dovecot.imap_ok(self.imap.uid("STORE", str(uid),
                                      "+FLAGS.SILENT (\\Deleted)"))
        dovecot.imap_ok(self.imap.uid("EXPUNGE", str(uid)))
        self.assertIsNone(self.md.find("INBOX", base))
        new_hms = self.hms()
        self.assertGreater(new_hms, hms)
        vanished = cstest.parse_vanished(
            self.cs("vanished", "INBOX", "--since", str(hms)).lines)
        self.assertEqual(vanished, {uid})
        typ, data = self.imap._simple_command(
            "STATUS", "INBOX", "(HIGHESTMODSEQ)")
        self.assertEqual(typ, "OK", data)
        st = " ".join(dovecot.response_text(
            self.imap.untagged_responses.pop("STATUS", [])))
        self.assertIn("HIGHESTMODSEQ %d" % new_hms, st)
        self.assert_same_as_index()
        # several at once, and a MOVE (copy, then expunge)
        many = sorted(self.cs_map())[:6]
        moved = many.pop()
        dovecot.imap_ok(self.imap.uid(
            "STORE", ",".join(map(str, many)), "+FLAGS.SILENT (\\Deleted)"))
        dovecot.imap_ok(self.imap.uid("EXPUNGE",
                                      ",".join(map(str, many))))
        dovecot.imap_ok(self.imap.uid("MOVE", str(moved), "Work"))
        vanished = cstest.parse_vanished(
            self.cs("vanished", "INBOX", "--since", str(new_hms)).lines)
        self.assertEqual(vanished, set(many) | {moved})
        self.assert_same_as_index()
        # Dovecot numbers Work's messages when it syncs it
        self.select("Work")
        self.assertEqual(len(self.assert_same_as_index("Work")), 13)
        self.assert_clean()

    def test_append_copy_and_implicit_seen(self):
        hms = self.select("INBOX")
        msg = b"From: x@example.org\r\nSubject: appended\r\n\r\nhello\r\n"
        dovecot.imap_ok(self.imap.append("INBOX", "(\\Flagged)", None, msg))
        uid_new = int(dovecot.response_code(self.imap, "APPENDUID")
                      .split()[1])
        dovecot.imap_ok(self.imap.noop())
        now = self.cs_map()
        self.assertIn(uid_new, now)
        self.assertGreater(now[uid_new][0], hms)
        self.assertEqual(now[uid_new][1], "F")
        # FETCH BODY[] sets \Seen: a change made through Dovecot
        fresh = [u for u, (m, f) in now.items() if "S" not in f][0]
        self.imap.untagged_responses.pop("FETCH", None)
        typ, data = self.imap.uid("FETCH", str(fresh), "(BODY[])")
        self.assertEqual(typ, "OK", data)
        dovecot.imap_ok(self.imap.noop())
        after = self.cs_map()[fresh]
        self.assertIn("S", after[1])
        self.assertGreater(after[0], now[fresh][0])
        # COPY into another mailbox: the copy arrives there with a modseq
        work_hms = self.hms("Work")
        dovecot.imap_ok(self.imap.uid("COPY", str(uid_new), "Work"))
        self.assert_same_as_index()
        self.select("Work")
        self.assert_same_as_index("Work")
        self.assertGreater(self.hms("Work"), work_hms)
        self.assertEqual(len(self.cs_map("Work")), 13)

    def test_new_message_gets_dovecot_uid(self):
        self.select("INBOX")
        # delivered and indexed before Dovecot gave it a UID
        base = self.md.deliver("INBOX")
        self.cs("reindex")
        hms = self.hms()
        self.assertNotIn(base, self.uids().values())
        self.imap.untagged_responses.pop("EXISTS", None)
        dovecot.imap_ok(self.imap.noop())
        self.assertEqual(self.imap.untagged_responses.pop("EXISTS"),
                         [b"41"])
        # it got Dovecot's UID, and the next modseq with it: only now is
        # it an IMAP message, above every HIGHESTMODSEQ told before (the
        # one above counted its first modseq)
        uid = {b: u for u, b in self.uids().items()}[base]
        self.assertEqual(uid, max(self.dovecot_uids()))
        self.assertEqual(self.dovecot_uids()[uid], base)
        self.assertEqual(self.hms(), hms + 1)
        self.assertEqual(self.cs_map()[uid][0], hms + 1)
        self.assertEqual(self.imap_map(self.imap_fetch(str(uid))),
                         {uid: (hms + 1, "")})
        self.assert_same_as_index()
        self.assert_clean()

    def test_keywords(self):
        hms = self.select("INBOX")
        uids = sorted(self.cs_map())
        # a known keyword, then one Dovecot has to add to dovecot-keywords
        dovecot.imap_ok(self.imap.uid("STORE", str(uids[0]),
                                      "+FLAGS (later)"))
        dovecot.imap_ok(self.imap.uid("STORE", str(uids[1]),
                                      "+FLAGS (urgent)"))
        with open(os.path.join(self.md.root, "dovecot-keywords")) as f:
            names = [line.split(" ", 1)[1] for line in f.read().split("\n")
                     if line]
        self.assertIn("urgent", names)
        kw = tuple(names)
        cs = {f.uid: (f.modseq, cstest.letters_of(f.flags, kw)
                      .replace("P", "")) for f in self.fetch("INBOX")}
        fetched = self.imap_fetch()
        self.assertEqual({u: (f["MODSEQ"], cstest.letters_of(
            [x for x in f["FLAGS"] if x != "\\Recent"], kw))
            for u, f in fetched.items()}, cs)
        self.assertGreater(cs[uids[0]][0], hms)
        self.assertIn(chr(ord("a") + kw.index("urgent")), cs[uids[1]][1])
        self.assertEqual(self.imap_map(self.imap_fetch(
            str(uids[0]))).keys(), {uids[0]})
        self.assert_clean()

    def test_odd_names(self):
        # a file in cur/ without an info part, unsorted and unknown flag
        # letters, and "1," info: served, and no errors logged
        odd = []
        for suffix in ("", ":2,SF", ":2,XS", ":1,foo"):
            base = self.md.names.base(40)
            path = os.path.join(self.md.root, "cur", base + suffix)
            with open(path, "w") as f:
                f.write("Subject: odd\n\nodd\n")
            odd.append(base)
        self.cs("reindex")
        self.select("INBOX")
        uids = {b: u for u, b in self.uids().items()}
        for base in odd:
            self.assertIn(base, uids)
        fetched = self.assert_same_as_index()
        self.assertEqual(len(fetched), 44)
        ub = uids[odd[1]]
        typ, data = self.imap.uid("STORE", str(ub),
                                  "(UNCHANGEDSINCE %d) -FLAGS (\\Flagged)" %
                                  fetched[ub]["MODSEQ"])
        self.assertEqual(typ, "OK", data)
        self.assertIsNone(dovecot.response_code(self.imap, "MODIFIED"))
        self.assertEqual(self.md.flags("INBOX", odd[1]), "S")
        self.assert_same_as_index()
        self.assert_clean()

    def test_rename_delete_follow(self):
        hms = self.select("INBOX")
        typ, data = self.imap._simple_command(
            "STATUS", "Work", "(HIGHESTMODSEQ)")
        self.assertEqual(typ, "OK", data)
        work = self.cs_map("Work")
        work_hms = self.hms("Work")
        dovecot.imap_ok(self.imap.rename("Work", "Archive"))
        self.assertNotIn("Work", self.status())
        self.assertEqual(self.hms("Archive"), work_hms)
        self.assertEqual(self.cs_map("Archive"), work)
        dovecot.imap_ok(self.imap.delete("Archive"))
        self.assertNotIn("Archive", self.status())
        self.assertEqual(self.hms("INBOX"), hms)


if __name__ == "__main__":
    cstest.main()
