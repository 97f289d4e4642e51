"""usertest - real system users for the tests of what a hostile user can
do to a daemon that serves every user of the host: created with useradd
by the test (as root) and removed again with userdel at its cleanup.

  user = usertest.User(case)     # skips the test when not root
  usertest.chown_tree(path, user)
  usertest.run_as(user, [...])   # subprocess.run as that user
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


class User:
    """A system user of its own for one test case."""

    count = 0

    def __init__(self, case):
        if os.geteuid() != 0:
            case.skipTest("creating a real user (useradd) needs root")
        User.count += 1
        self.name = "cst%d_%d" % (os.getpid() % 100000, User.count)
        res = subprocess.run(["useradd", "--system", "--no-create-home",
                              "--user-group", "--shell",
                              "/usr/sbin/nologin", self.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if res.returncode != 0:
            case.skipTest("useradd failed: %s" % res.stderr.decode())
        case.addCleanup(subprocess.run, ["userdel", self.name],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import pwd
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid


def python():
    """A python3 every user can run (the test's own may live in a home
    directory)."""
    for path in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(path, os.X_OK):
            return path
    return sys.executable


def chown_tree(path, user):
    for top, dirs, files in os.walk(path):
        os.lchown(top, user.uid, user.gid)
        for name in files:
            os.lchown(os.path.join(top, name), user.uid, user.gid)


def popen(user, args, **kw):
    return subprocess.Popen(args, user=user.uid, group=user.gid,
                            extra_groups=[], **kw)


def condstore_as(user, maildir, *args, timeout=600):
    """condstore --maildir MAILDIR ARGS as user; returns a cstest.Result."""
    proc = subprocess.run([cstest.condstore_path(), "--maildir", maildir]
                          + list(args), user=user.uid, group=user.gid,
                          extra_groups=[], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    return cstest.Result(args, proc)
