#!/usr/bin/env python3
"""End to end: one watch daemon run as root serves the Maildirs of three
real users (--maildirs-glob) while one of them attacks it from their own
Maildir in a loop (tests/hostile_attacks.py: every attack of the table
of issue 10 but a full disk, and the lesser items: FIFOs, garbage, a
truncated index and directories where the index and its high-water mark
belong, new/ and cur/ swapped for symlinks to a directory outside,
sparse 1 GB Dovecot files without a newline, locks held on the index,
stores of names too long, moves out of a large cur/, UIDs near 2^32,
failed and killed rebuilds, one base name in new/ and cur/, a restored
backup, names and keywords with control characters, and at the end the
Maildir itself swapped for a symlink) for CSTEST_HOSTILE_SECONDS
(default 20).  Meanwhile the two others receive mail and change flags.
Afterwards: every change of theirs is recorded (sync, then fetch
CHANGEDSINCE 0 as the user, against the files), no file of theirs (nor
of the attacker) changed owner, and no name from outside a Maildir is
in any index."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import usertest  # noqa: E402
import watchtest  # noqa: E402

SECONDS = float(os.environ.get("CSTEST_HOSTILE_SECONDS", "20"))


class HostileUsers(watchtest.WatchCase):

    def test_attacker_cannot_hurt_the_others(self):
        us = usertest.UserSet(self, self.md.tmp, 3)
        attacker, victims = us.users[0], us.users[1:]
        outside = os.path.join(self.md.tmp, "outside")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(outside, sub))
        for i in range(20):
            for sub in ("new", "cur"):
                open(os.path.join(outside, sub, "16000000%02d.M%dP1."
                                  "OUTSIDENAME%s" % (i, i, sub)),
                     "w").close()
        os.chmod(outside, 0o755)
        for u in us.users:
            u.as_user(lambda u=u: u.md.deliver("INBOX", "S"))
        glob = os.path.join(self.md.tmp, "home", "*", "Maildir")
        daemon = self.start_daemon("--maildirs-glob", glob,
                                   maildirs=[u.md.root for u in us.users])
        before = {v.name: usertest.owners(v.md.root) for v in victims}
        script = os.path.join(self.md.tmp, "bin", "hostile_attacks.py")
        with open(os.path.join(os.path.dirname(
                os.path.abspath(__file__)), "hostile_attacks.py")) as f:
            data = f.read()
        with open(script, "w") as f:
            f.write(data)
        os.chmod(script, 0o755)
        python = attacker.python()
        if python is None:
            self.skipTest("no python3 that an unprivileged user can run")
        attack = subprocess.Popen(
            [python, script, attacker.md.root, outside,
             str(SECONDS), os.environ["CONDSTORE"]], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, user=attacker.uid, group=attacker.gid,
            extra_groups=[])
        self.addCleanup(lambda: attack.poll() is None and attack.kill())
        # the others get mail and read it meanwhile
        made = {v.name: [] for v in victims}
        flagged = {v.name: 0 for v in victims}
        rounds = 0
        while attack.poll() is None:
            for v in victims:
                base = v.as_user(lambda v=v: v.md.deliver("INBOX"))
                made[v.name].append(base)
                if len(made[v.name]) % 3 == 0:
                    old = made[v.name][-2]
                    v.as_user(lambda v=v, old=old: v.md.set_flags(
                        "INBOX", old, "SF"))
                    flagged[v.name] += 1
            rounds += 1
            time.sleep(0.01)
        out, err = attack.communicate()
        self.assertEqual(attack.returncode, 0, err)
        figures = json.loads(out.decode())
        # every attack ran, in every round
        for name, count in figures["attacks"].items():
            self.assertGreaterEqual(count, 1 if name == "root_symlink"
                                    else figures["rounds"], name)
        self.assertTrue(daemon.running(), daemon.log())
        # whatever the daemon made in the attacker's Maildir is theirs
        for name, owner in usertest.owners(attacker.md.root).items():
            self.assertEqual(owner, (attacker.uid, attacker.gid), name)
        fetched_count = {}
        for v in victims:
            res = v.run(["sync", "--timeout", "120000"])
            self.assertEqual(res.rc, 0, (res, daemon.log()[-3000:]))
            res = v.run(["fetch", "INBOX", "--changedsince", "0"])
            self.assertEqual(res.rc, 0, res)
            fetched = {f.uid: f for f in cstest.parse_fetch(res.lines)}
            fetched_count[v.name] = len(fetched)
            uids = cstest.index_uids(os.path.join(v.md.root,
                                                  "condstore.tdb"))
            files = v.md.files("INBOX")
            self.assertEqual(sorted(uids.values()), sorted(files))
            self.assertEqual(set(fetched), set(uids))
            for uid, f in fetched.items():
                sub, entry = files[uids[uid]]
                self.assertEqual(
                    cstest.letters_of(f.flags),
                    cstest.visible_letters(cstest.info_flags(
                        entry[len(uids[uid]):])), entry)
            for base in made[v.name]:
                self.assertIn(base, uids.values())
            # no file of theirs changed owner
            for name, owner in usertest.owners(v.md.root).items():
                self.assertEqual(owner, (v.uid, v.gid), name)
            for name, owner in before[v.name].items():
                self.assertEqual(owner, (v.uid, v.gid), name)
        # no outside name in any index
        for u in us.users:
            db = os.path.join(u.md.root, "condstore.tdb")
            if os.path.isfile(db) and not os.path.islink(db):
                with open(db, "rb") as f:
                    self.assertFalse(b"OUTSIDENAME" in f.read(), u.name)
        sys.stderr.write(
            "%d attack rounds (%d attacks run: %s), %d delivery rounds; "
            "checked: %d+%d messages delivered, %d+%d flag changes, "
            "%d+%d records fetched\n" % (
                figures["rounds"], sum(figures["attacks"].values()),
                ", ".join("%s %d" % kv for kv in
                          sorted(figures["attacks"].items())), rounds,
                len(made[victims[0].name]), len(made[victims[1].name]),
                flagged[victims[0].name], flagged[victims[1].name],
                fetched_count[victims[0].name],
                fetched_count[victims[1].name]))
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
