"""usertest - real Unix users for the tests of running as root: created
with useradd by the test (removed by its cleanup), each with a home
directory holding a Maildir it owns, and a way to run condstore (or
anything) as that user.  Tests using it skip, saying why, when not run as
root or without useradd.

  users = usertest.UserSet(case, n)   # n users with a Maildir each
  user = usertest.SystemUser(case)    # a bare system user, no home
  usertest.chown_tree(path, user)
  usertest.condstore_as(user, maildir, ...), usertest.popen(user, [...])
"""

import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402


def skip_reason():
    """Why users can't be created here, or None."""
    if os.geteuid() != 0:
        return "needs root to create users with useradd"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel not found"
    return None


class User:
    """A user NAME with HOME/Maildir (0700, theirs)."""

    def __init__(self, name, home):
        subprocess.run(["useradd", "--no-create-home", "--user-group",
                        "--home-dir", home, "--shell", "/usr/sbin/nologin",
                        name], check=True, stdout=subprocess.DEVNULL)
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid
        self.home = home
        os.makedirs(home, mode=0o700)
        os.chown(home, self.uid, self.gid)
        self.md = self.as_user(lambda: cstest.Maildir(
            root=os.path.join(home, "Maildir")))

    def delete(self):
        subprocess.run(["userdel", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def as_user(self, fn):
        """Call fn() with this user's effective uid/gid (files it makes
        are the user's)."""
        os.setegid(self.gid)
        os.seteuid(self.uid)
        try:
            return fn()
        finally:
            os.seteuid(0)
            os.setegid(0)

    def python(self):
        """A python3 this user can run (the test's own may live in a
        directory only root can read), or None."""
        for path in (sys.executable, "/usr/bin/python3"):
            real = os.path.realpath(path)
            if self.as_user(lambda: os.access(real, os.X_OK,
                                              effective_ids=True) and
                            os.access(os.path.dirname(real), os.X_OK,
                                      effective_ids=True)):
                return real
        return None

    def run(self, args, timeout=600, **kw):
        """condstore ARGS on the user's Maildir, as the user."""
        cmd = [cstest.condstore_path(), "--maildir", self.md.root]
        proc = subprocess.run(cmd + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              stdin=subprocess.DEVNULL, user=self.uid,
                              group=self.gid, extra_groups=[], **kw)
        return cstest.Result(cmd[1:] + list(args), proc)


class UserSet:
    """n users under base/home (base made traversable), the condstore
    binary copied where they can run it; cleanup removes the users."""

    def __init__(self, testcase, base, n):
        reason = skip_reason()
        if reason is not None:
            testcase.skipTest(reason)
        os.chmod(base, 0o711)
        self.users = []
        testcase.addCleanup(self.cleanup)
        tag = "%05d" % (os.getpid() % 100000)
        for i in range(n):
            self.users.append(User("csr%s%c" % (tag, ord("a") + i),
                                   os.path.join(base, "home",
                                                "u%d" % i)))
        bindir = os.path.join(base, "bin")
        os.makedirs(bindir, mode=0o755, exist_ok=True)
        prog = os.path.join(bindir, "condstore")
        shutil.copy(cstest.condstore_path(), prog)
        os.chmod(prog, 0o755)
        old = os.environ.get("CONDSTORE")
        testcase.addCleanup(lambda: os.environ.__setitem__("CONDSTORE",
                                                           old)
                            if old is not None else
                            os.environ.pop("CONDSTORE", None))
        os.environ["CONDSTORE"] = prog

    def cleanup(self):
        for user in self.users:
            user.delete()


def owners(path):
    """{relative path: (uid, gid)} of everything under path (no links
    followed)."""
    out = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(top, name)
            st = os.lstat(full)
            out[os.path.relpath(full, path)] = (st.st_uid, st.st_gid)
    return out

class SystemUser:
    """A system user of its own for one test case (no home): for tests
    that need only a uid that is not root's."""

    count = 0

    def __init__(self, case):
        if os.geteuid() != 0:
            case.skipTest("creating a real user (useradd) needs root")
        SystemUser.count += 1
        self.name = "cst%d_%d" % (os.getpid() % 100000, SystemUser.count)
        res = subprocess.run(["useradd", "--system", "--no-create-home",
                              "--user-group", "--shell",
                              "/usr/sbin/nologin", self.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if res.returncode != 0:
            case.skipTest("useradd failed: %s" % res.stderr.decode())
        case.addCleanup(subprocess.run, ["userdel", self.name],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
