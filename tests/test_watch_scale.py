#!/usr/bin/env python3
"""condstore watch at host scale: one daemon serves 200 Maildirs of 5
mailboxes each through --maildirs-glob, with a bounded number of open
file descriptors; a new Maildir is picked up on SIGHUP.  Watch limits hit
on purpose (--max-watches, and the kernel's own limits lowered in a user
namespace where that is allowed) give one log line naming the sysctl to
raise, and changes are still recorded: "sync" rescans what is not
watched, and so do the periodic rescans.

CSTEST_SCALE_USERS sets the number of Maildirs (default 200)."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

USERS = int(os.environ.get("CSTEST_SCALE_USERS", "200"))
FOLDERS = ["Sent", "Drafts", "Trash", "Lists"]     # with INBOX: 5


def userns_works():
    try:
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "sh", "-c",
             "echo 5 > /proc/sys/user/max_inotify_watches"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def userns_prefix(sysctl, value):
    """Run the daemon in a new user namespace whose inotify limit sysctl
    (max_inotify_watches or max_inotify_instances) is value: the kernel's
    limits are per user namespace, so this lowers them for the daemon
    alone."""
    return ["unshare", "--user", "--map-root-user", "sh", "-c",
            'echo %d > /proc/sys/user/%s && exec "$@"' % (value, sysctl),
            "sh"]


def daemon_fds(pid):
    """What each open descriptor of process pid points to."""
    links = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            links.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except FileNotFoundError:
            pass  # closed meanwhile
    return links


class Scale(watchtest.WatchCase):
    """The Maildirs are made once for all the tests (indexes included:
    creating 200 indexes durably costs about a minute on a slow disk);
    each test changes them further."""

    @classmethod
    def setUpClass(cls):
        cls.host = cstest.Maildir(seed=40)
        cls.vmail = os.path.join(cls.host.tmp, "vmail")
        cls.users = []
        for i in range(USERS):
            md = cstest.Maildir(seed=i, root=os.path.join(
                cls.vmail, "user%03d" % i, "Maildir"))
            md.populate(dict([("INBOX", 3)] + [(f, 2) for f in FOLDERS]),
                        keywords=())
            cls.users.append(md)
        cls.glob = os.path.join(cls.vmail, "*", "Maildir")
        cls.roots = [md.root for md in cls.users]
        cls.rng = random.Random(7)

    @classmethod
    def tearDownClass(cls):
        cls.host.cleanup()

    def change_everywhere(self, users):
        """In each user's Maildir: a flag change in a folder, a delivery
        and an expunge in INBOX.  Returns what to expect."""
        expect = []
        for md in users:
            folder = self.rng.choice(FOLDERS)
            base = self.rng.choice(sorted(md.files(folder)))
            old = md.flags(folder, base)
            letters = self.rng.choice([x for x in ("S", "FS", "RS", "DS")
                                       if x != old])
            md.set_flags(folder, base, letters)
            new = md.deliver("INBOX")
            gone = self.rng.choice(sorted(b for b in md.files("INBOX")
                                          if b != new))
            md.delete("INBOX", gone)
            expect.append((md, folder, base, letters, new, gone))
        return expect

    def recorded(self, md, folder, base, letters, new, gone):
        """Is the change made by change_everywhere in the index?  "check"
        compares every file with its record (and locks, unlike tdbdump,
        so it can run while the daemon commits)."""
        self.assertEqual(md.flags(folder, base), letters)
        self.assertIsNotNone(md.find("INBOX", new))
        self.assertIsNone(md.find("INBOX", gone))
        res = cstest.run(["check"], maildir=md.root)
        self.assertIn(res.rc, (0, 1), res)
        return res.rc == 0 and res.out == ""

    def assert_recorded(self, expect):
        for e in expect:
            res = watchtest.sync(e[0].root)
            self.assertEqual(res.rc, 0, res)
            self.assertTrue(self.recorded(*e), e[0].root)

    def start(self, *args, **kw):
        daemon = self.start_daemon("--maildirs-glob", self.glob, *args,
                                   maildirs=self.roots, **kw)
        # another test's daemon may have added a Maildir: not ours
        self.assertEqual(daemon.log().count("did not stop cleanly"), 0,
                         daemon.log())
        return daemon

    def test_one_daemon_for_the_host(self):
        daemon = self.start("--max-open", "8")
        self.assertIn("startup: scanned %d mailboxes in %d Maildirs" % (
            USERS * 5, USERS), daemon.log())
        self.assertIn("(%d watches)" % (USERS * 11), daemon.log())
        expect = self.change_everywhere(self.rng.sample(self.users, 20))
        self.assert_recorded(expect)
        # bounded descriptors: at most --max-open indexes at a time, and
        # few others.  One more may be open for a moment (an index
        # opened before the least used one is closed, a lock-wait timer,
        # the announcement of a commit): the bound must hold at one of a
        # few looks 50 ms apart
        for _ in range(10):
            links = daemon_fds(daemon.pid)
            tdbs = sum(1 for link in links
                       if link.endswith("/condstore.tdb"))
            if tdbs <= 8 and len(links) <= 8 + 8:
                break
            time.sleep(0.05)
        self.assertLessEqual(tdbs, 8, links)
        self.assertLessEqual(len(links), 8 + 8, links)
        # a new Maildir appears: picked up on SIGHUP
        md = cstest.Maildir(seed=999, root=os.path.join(
            self.vmail, "newuser", "Maildir"))
        self.addCleanup(shutil.rmtree, os.path.dirname(md.root))
        base = md.deliver("INBOX", "S")
        daemon.signal(signal.SIGHUP)
        watchtest.wait_ready(daemon, [md.root])
        md.set_flags("INBOX", base, "FRS")
        res = watchtest.sync(md.root)
        self.assertEqual(res.rc, 0, res)
        (f,) = cstest.parse_fetch(cstest.run(["fetch", "INBOX"],
                                             maildir=md.root).lines)
        self.assertEqual(cstest.letters_of(f.flags), "FRS")
        self.assertIn("rescan on SIGHUP", daemon.log())
        self.stop_daemon(daemon)

    def check_fallback(self, daemon, remedy):
        log = daemon.log()
        lines = [line for line in log.splitlines() if remedy in line]
        self.assertEqual(len(lines), 1, log)
        self.assertIn("limit reached", lines[0])
        expect = self.change_everywhere(self.users)
        self.assert_recorded(expect)
        for md in self.rng.sample(self.users, 10):
            res = cstest.run(["check"], maildir=md.root)
            self.assertEqual((res.rc, res.out), (0, ""), res)
        return expect

    def test_watch_limit_knob(self):
        daemon = self.start("--max-watches", "300", "--rescan-interval",
                            "0.2")
        self.check_fallback(daemon, "max_user_watches")
        # the periodic rescan alone (no sync) also records changes
        expect = self.change_everywhere(self.users[-5:])
        for e in expect:
            for _ in range(3000):
                if self.recorded(*e):
                    break
                time.sleep(0.02)
            else:
                self.fail("periodic rescan never recorded %s" % e[0].root)
        self.assertIn("periodic rescan of unwatched mailboxes",
                      daemon.log())
        self.stop_daemon(daemon)

    def test_kernel_watch_limit(self):
        if not userns_works():
            self.skipTest("no unprivileged user namespaces here")
        daemon = self.start(prefix=userns_prefix("max_inotify_watches",
                                                 400))
        self.check_fallback(daemon, "max_user_watches")
        self.stop_daemon(daemon)

    def test_kernel_instance_limit(self):
        if not userns_works():
            self.skipTest("no unprivileged user namespaces here")
        daemon = self.start(prefix=userns_prefix("max_inotify_instances",
                                                 0))
        self.check_fallback(daemon, "max_user_instances")
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
