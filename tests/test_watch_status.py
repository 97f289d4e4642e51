#!/usr/bin/env python3
"""condstore daemon-status: the figures of the running daemon move as
agents rename and deliver, a root given up turns the exit code to 1 with
the reason, no daemon is exit 2, and a user sees only the Maildirs they
own (real uids)."""

import json
import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


class Status(watchtest.WatchCase):
    seed = 152

    def setUp(self):
        super().setUp()
        self.made = self.md.populate({"INBOX": 40, "Work": 10}, keywords=())
        self.sock = os.path.join(self.md.tmp, "status.sock")

    def daemon_status(self, *args, rc=None, prefix=()):
        proc = subprocess.run(
            list(prefix) + [cstest.condstore_path(), "daemon-status",
                            "--socket", self.sock] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, timeout=120)
        res = cstest.Result(["daemon-status"] + list(args), proc)
        if rc is not None:
            self.assertEqual(res.rc, rc, res)
        return res

    def figures(self, rc=0, prefix=()):
        """(daemon, {path: root}) from --json."""
        res = self.daemon_status("--json", rc=rc, prefix=prefix)
        doc = json.loads(res.out)
        return doc["daemon"], {r["path"]: r for r in doc["roots"]}

    def test_figures_move(self):
        d = self.start_daemon("--status-socket", self.sock)
        daemon, roots = self.figures()
        self.assertEqual(daemon["pid"], d.pid)
        self.assertEqual((daemon["roots"], daemon["given_up"]), (1, 0))
        before = roots[self.md.root]
        self.assertEqual(before["state"], "ok")
        self.assertEqual(before["mailboxes"], 2)
        # the root and new/, cur/ of both mailboxes
        self.assertEqual(before["watches"], 5)
        self.assertEqual(before["rescans"], 1)
        self.assertEqual(before["changes"], 50)   # the startup scan
        self.assertEqual(before["errors"], 0)

        # mutt flags 3 messages, an MDA delivers 2
        for base in self.made["INBOX"][:3]:
            flags = self.md.flags("INBOX", base)
            self.md.set_flags("INBOX", base, flags.replace("F", "")
                              if "F" in flags else flags + "F")
        self.md.deliver("Work")
        self.md.deliver("Work")
        self.sync()
        daemon, roots = self.figures()
        after = roots[self.md.root]
        self.assertEqual(after["changes"] - before["changes"], 5, after)
        self.assertGreater(after["events"], before["events"] + 5)
        self.assertGreater(after["commits"], before["commits"])
        self.assertGreater(after["last_commit"], before["last_commit"])
        self.assertEqual(after["state"], "ok")

        # the same, IMAP-style
        res = self.daemon_status(rc=0)
        self.assertEqual(len(res.lines), 2, res)
        self.assertTrue(res.lines[0].startswith(
            "* DAEMON (PID %d SINCE \"" % d.pid), res)
        self.assertIn("* ROOT %s (STATE OK MAILBOXES 2 WATCHES 5 " %
                      self.md.root, res.lines[1])
        self.assertIn(" CHANGES %d " % after["changes"], res.lines[1])
        self.stop_daemon(d)
        res = self.daemon_status(rc=2)
        self.assertIn("no watch daemon answers", res.err)

    def test_given_up(self):
        other = cstest.Maildir(seed=3, root=os.path.join(self.md.tmp,
                                                         "other", "Maildir"))
        other.populate({"INBOX": 5}, keywords=())
        d = self.start_daemon("--status-socket", self.sock, "--maildir",
                              self.md.root, "--maildir", other.root,
                              maildirs=[self.md.root, other.root])
        self.figures(rc=0)
        # the Maildir goes away: its root watch sees it, and inotify's
        # order puts that before the sync cookie of the other root
        os.rename(other.root, other.root + ".moved")
        self.sync()
        daemon, roots = self.figures(rc=1)
        self.assertEqual((daemon["roots"], daemon["given_up"]), (1, 1))
        self.assertEqual(roots[other.root]["state"], "given-up")
        self.assertEqual(roots[other.root]["last_error"], "Maildir is gone")
        self.assertEqual(roots[self.md.root]["state"], "ok")
        res = self.daemon_status(rc=1)
        self.assertIn("* ROOT %s (STATE GIVEN-UP ERRORS 1 LAST-ERROR "
                      "\"Maildir is gone\")" % other.root, res.lines)
        self.stop_daemon(d)

    def test_users_see_their_own(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create users")
        users = [make_user(self, name) for name in ("cs-st-alice",
                                                   "cs-st-bob")]
        roots = []
        for user in users:
            md = cstest.Maildir(seed=user.pw_uid, root=os.path.join(
                self.md.tmp, user.pw_name, "Maildir"))
            md.populate({"INBOX": 3}, keywords=())
            chown_tree(os.path.dirname(md.root), user)
            roots.append(md.root)
        os.chmod(self.md.tmp, 0o755)
        # the program must be reachable by the users
        bindir = os.path.join(self.md.tmp, "bin")
        os.mkdir(bindir, 0o755)
        prog = os.path.join(bindir, "condstore")
        shutil.copy(cstest.condstore_path(), prog)
        d = self.start_daemon("--status-socket", self.sock,
                              *sum([["--maildir", r] for r in roots], []),
                              maildirs=roots)
        self.assertEqual(set(self.figures()[1]), set(roots))
        for user, root in zip(users, roots):
            res = subprocess.run(
                ["setpriv", "--reuid=%d" % user.pw_uid,
                 "--regid=%d" % user.pw_gid, "--clear-groups", prog,
                 "daemon-status", "--socket", self.sock, "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, timeout=120)
            self.assertEqual(res.returncode, 0, res)
            doc = json.loads(res.stdout)
            self.assertEqual([r["path"] for r in doc["roots"]], [root])
            self.assertEqual(doc["daemon"]["roots"], 1)
        self.stop_daemon(d)


def make_user(case, name):
    """A system user for the test, removed by its cleanup."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True)
        case.addCleanup(subprocess.run, ["userdel", name])
    return pwd.getpwnam(name)


def chown_tree(top, user):
    for dirpath, dirnames, filenames in os.walk(top):
        os.chown(dirpath, user.pw_uid, user.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid)


if __name__ == "__main__":
    cstest.main()
