#!/usr/bin/env python3
"""scripts/condstore-cron-check: "condstore check" over every Maildir
matching a glob, problems prefixed with their Maildir, a summary line,
exit 0 when all are clean, 1 when one is inconsistent, 2 when nothing
matches; a check that hangs is stopped after --timeout, and SIGTERM
stops the script and the check it runs."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


def script():
    top = os.environ.get("top_srcdir",
                         os.path.join(os.path.dirname(__file__), ".."))
    return os.path.join(os.path.abspath(top), "scripts",
                        "condstore-cron-check")


class CronCheck(cstest.CondstoreCase):
    seed = 61

    def setUp(self):
        super().setUp()
        self.vmail = os.path.join(self.md.tmp, "vmail")
        self.users = []
        for name in ("alice", "bob", "carol"):
            md = cstest.Maildir(seed=len(name), root=os.path.join(
                self.vmail, name, "Maildir"))
            made = md.populate({"INBOX": 5, "Sent": 2}, keywords=())
            res = cstest.run(["-q", "reindex"], maildir=md.root)
            self.assertEqual(res.rc, 0, res)
            self.users.append((md, made))
        self.pattern = os.path.join(self.vmail, "*", "Maildir")

    def cron(self, *args):
        return subprocess.run(
            [script(), "--condstore", cstest.condstore_path()] +
            list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=600)

    def test_clean_and_inconsistent(self):
        res = self.cron(self.pattern)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout, "condstore-cron-check: 3 Maildirs "
                         "checked: 3 clean, 0 inconsistent, 0 could not "
                         "be checked\n")
        self.assertEqual(self.cron("-q", self.pattern).stdout, "")
        # bob's mail changes behind the index's back (no daemon runs)
        md, made = self.users[1]
        md.set_flags("INBOX", made["INBOX"][0], "FT")
        res = self.cron("-q", self.pattern)
        self.assertEqual(res.returncode, 1, res)
        lines = res.stdout.splitlines()
        self.assertEqual(lines[-1], "condstore-cron-check: 3 Maildirs "
                         "checked: 2 clean, 1 inconsistent, 0 could not "
                         "be checked")
        self.assertTrue(lines[:-1], res)
        for line in lines[:-1]:
            self.assertTrue(line.startswith(md.root + ": "), line)
        self.assertTrue(any(made["INBOX"][0] in line for line in lines))

    def test_nothing_matches(self):
        res = self.cron(os.path.join(self.vmail, "nobody*", "Maildir"))
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("no Maildir matches", res.stderr)


    def hanging_condstore(self):
        """A condstore that never answers (as a check blocked on a file
        would); it leaves its pid in a file."""
        path = os.path.join(self.md.tmp, "hang")
        pidfile = os.path.join(self.md.tmp, "hang.pid")
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho $$ > %s\nexec sleep 600\n" % pidfile)
        os.chmod(path, 0o755)
        return path, pidfile

    def assert_gone(self, pidfile):
        with open(pidfile) as f:
            pid = int(f.read())
        for _ in range(500):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        self.fail("the check (pid %d) was left running" % pid)

    def test_timeout(self):
        prog, pidfile = self.hanging_condstore()
        res = subprocess.run(
            [script(), "--condstore", prog, "--timeout", "1",
             os.path.join(self.vmail, "alice", "Maildir")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=120)
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("no answer within 1 s", res.stderr)
        self.assertIn("1 could not be checked", res.stdout)
        self.assert_gone(pidfile)

    def test_sigterm(self):
        prog, pidfile = self.hanging_condstore()
        proc = subprocess.Popen(
            [script(), "--condstore", prog, self.pattern],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        for _ in range(3000):
            if os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 143)
        self.assert_gone(pidfile)


if __name__ == "__main__":
    cstest.main()
