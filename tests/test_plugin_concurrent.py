#!/usr/bin/env python3
"""test_plugin_concurrent.py - STORE UNCHANGEDSINCE as a compare-and-set
across IMAP connections (RFC 7162's queue example): 8 connections claim
the same 200 messages by setting \\Flagged only if unchanged since the
modseq they read; every message is claimed by exactly one connection."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

[cstest] = dovecot.start_test("cstest")

CLAIMERS = 8
MESSAGES = 200


def claimer(dc, n, claims, errors, start, lost):
    try:
        imap = dc.connect()
        try:
            dovecot.select_condstore(imap)
            # all in the same order: they collide on every message
            uids = list(range(1, MESSAGES + 1))
            start.wait(timeout=300)
            for uid in uids:
                imap.untagged_responses.pop("FETCH", None)
                typ, data = imap.uid("FETCH", str(uid), "(MODSEQ FLAGS)")
                assert typ == "OK", data
                f = dovecot.parse_imap_fetch(data)[uid]
                if "\\Flagged" in f["FLAGS"]:
                    continue
                typ, data = imap.uid(
                    "STORE", str(uid), "(UNCHANGEDSINCE %d) +FLAGS "
                    "(\\Flagged)" % f["MODSEQ"])
                assert typ == "OK", data
                if dovecot.response_code(imap, "MODIFIED") is None:
                    claims[n].append(uid)
                else:
                    lost[n] += 1
        finally:
            imap.logout()
    except Exception as e:  # reported by the main thread
        errors.append("claimer %d: %r" % (n, e))
        # the others must not wait for this one at the barrier
        start.abort()


class PluginConcurrentTest(cstest.CondstoreCase):
    def test_claim_each_message_once(self):
        for _ in range(MESSAGES):
            self.md.deliver("INBOX")
        self.cs("reindex")
        with dovecot.Dovecot(self.md.tmp) as dc:
            claims = [[] for _ in range(CLAIMERS)]
            errors = []
            lost = [0] * CLAIMERS
            start = threading.Barrier(CLAIMERS)
            threads = [threading.Thread(target=claimer,
                                        args=(dc, n, claims, errors, start,
                                              lost))
                       for n in range(CLAIMERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            print("claims per connection %r, MODIFIED answers %r" %
                  ([len(c) for c in claims], lost))
            dc.stop()
            dc.check_log()
        won = [uid for c in claims for uid in c]
        self.assertEqual(sorted(won), list(range(1, MESSAGES + 1)),
                         "claims per connection: %r" %
                         [len(c) for c in claims])
        # every file carries the flag, and the index agrees
        for f in self.fetch("INBOX"):
            self.assertIn("\\Flagged", f.flags)
        for base in self.md.files("INBOX"):
            self.assertIn("F", self.md.flags("INBOX", base))
        # more than one connection took part (the race was real)
        self.assertGreater(sum(1 for c in claims if c), 1)


if __name__ == "__main__":
    cstest.main()
