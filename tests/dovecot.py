"""dovecot.py - run a private Dovecot for the plugin's integration tests.

A test writes a private configuration into a temporary directory (its own
base_dir, state_dir, instance_name and log file, IMAP on 127.0.0.1 on a
free port, plain-text logins, a static passdb and a static userdb with an
unprivileged uid), starts "dovecot -F -c CONF" with the plugin loaded from
the build tree, talks IMAP with imaplib, and stops Dovecot by its PID in a
finally block.  The system's Dovecot service is never touched.

When the tests run as root, mail is owned by and read as "nobody" (mail
processes refuse root); otherwise everything runs as the invoking user.
The condstore command is run as the same user, so that the index it writes
is the one the plugin opens.
"""

import imaplib
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" +
                       os.environ.get("PATH", ""))
DOVECONF = shutil.which("doveconf", path="/usr/bin:/usr/sbin:" +
                        os.environ.get("PATH", ""))
TEST_PASSWORD = "condstore-test"
PLUGIN_SO = "lib20_maildir_condstore_plugin.so"


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def builddir():
    return os.path.abspath(os.environ.get("top_builddir", "."))


def plugin_dir():
    """The directory holding the built plugin (libtool's .libs)."""
    return os.environ.get("CS_PLUGIN_DIR") or \
        os.path.join(builddir(), "plugin", ".libs")


def condstore_binary():
    path = os.environ.get("CONDSTORE",
                          os.path.join(builddir(), "condstore"))
    return path if os.access(path, os.X_OK) else None


def require(condstore=False):
    """Exit 77 with a reason unless Dovecot and the plugin are there."""
    if DOVECOT is None or DOVECONF is None:
        skip("dovecot/doveconf not installed (apt-get install "
             "dovecot-imapd)")
    if not os.path.exists(os.path.join(plugin_dir(), PLUGIN_SO)):
        skip("the Dovecot plugin was not built (%s missing; configure "
             "found no dovecot-dev?)" % os.path.join(plugin_dir(),
                                                     PLUGIN_SO))
    if condstore and condstore_binary() is None:
        skip("the condstore command was not built")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailUser:
    """The unprivileged account mail processes and condstore run as."""

    def __init__(self):
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            self.login_user = "dovenull"
            self.internal_user = "dovecot"
            try:
                pwd.getpwnam(self.login_user)
                pwd.getpwnam(self.internal_user)
            except KeyError:
                self.login_user = self.internal_user = "nobody"
        else:
            pw = pwd.getpwuid(os.geteuid())
            self.login_user = self.internal_user = pw.pw_name
        self.name = pw.pw_name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.group = grp.getgrgid(pw.pw_gid).gr_name

    def chown_tree(self, path):
        if os.geteuid() != 0:
            return
        for top, dirs, files in os.walk(path):
            os.lchown(top, self.uid, self.gid)
            for f in files:
                os.lchown(os.path.join(top, f), self.uid, self.gid)

    def run(self, argv, check=True, **kw):
        """Run argv as the mail user; returns the CompletedProcess."""
        if os.geteuid() == 0:
            kw.setdefault("user", self.uid)
            kw.setdefault("group", self.gid)
            kw.setdefault("extra_groups", [])
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("universal_newlines", True)
        p = subprocess.run(argv, **kw)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d: %s%s" % (
                " ".join(argv), p.returncode, p.stdout, p.stderr))
        return p


CONFIG = """\
# private Dovecot for the maildir-condstore tests
instance_name = {instance}
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_plugin_dir = {plugin_dir}
mail_plugins = $mail_plugins {mail_plugins}
mail_debug = yes
log_timestamp = "%Y-%m-%d %H:%M:%S "
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}}}
service imap {{
{imap_executable}}}
service anvil {{
{anvil_chroot}}}
protocol imap {{
  mail_max_userip_connections = 100
}}
plugin {{
{plugin_settings}}}
"""


class Dovecot:
    """A private Dovecot instance in a temporary directory.

    Use as a context manager: the directory is created and Dovecot
    started on entry; Dovecot is stopped by its PID and the directory
    removed on exit, whatever happened.
    """

    def __init__(self, plugin_settings=None, mail_plugins="maildir_condstore",
                 keep=False):
        self.user = MailUser()
        self.plugin_settings = dict(plugin_settings or {})
        self.mail_plugins = mail_plugins
        self.keep = keep or bool(os.environ.get("CS_KEEP_TMP"))
        self.tmp = tempfile.mkdtemp(prefix="cs-dc-")
        os.chmod(self.tmp, 0o755)
        self.home = os.path.join(self.tmp, "home", self.user.name)
        self.maildir = os.path.join(self.home, "Maildir")
        os.makedirs(self.home)
        self.user.chown_tree(os.path.join(self.tmp, "home"))
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.log = os.path.join(self.tmp, "dovecot.log")
        self.port = None
        self.proc = None
        self.log_checked = 0

    # --- configuration -------------------------------------------------

    def write_config(self):
        self.port = free_port()
        valgrind = os.environ.get("CS_VALGRIND")
        imap_exe = ""
        if valgrind:
            imap_exe = ("  executable = %s --log-file=%s/valgrind.%%p "
                        "/usr/lib/dovecot/imap\n" % (valgrind, self.tmp))
        chroot = "" if os.geteuid() == 0 else "  chroot =\n"
        plugin_lines = "".join("  %s = %s\n" % kv for kv in
                               sorted(self.plugin_settings.items()))
        text = CONFIG.format(
            instance="cstest-%d-%d" % (os.getpid(), self.port),
            tmp=self.tmp, port=self.port, uid=self.user.uid,
            gid=self.user.gid, login_user=self.user.login_user,
            internal_user=self.user.internal_user,
            plugin_dir=plugin_dir(), mail_plugins=self.mail_plugins,
            password=TEST_PASSWORD, imap_executable=imap_exe,
            login_chroot=chroot, anvil_chroot=chroot,
            plugin_settings=plugin_lines)
        with open(self.conf, "w") as f:
            f.write(text)
        p = subprocess.run([DOVECONF, "-c", self.conf, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode != 0:
            raise AssertionError("doveconf rejected the test config: " +
                                 p.stderr)

    # --- process -------------------------------------------------------

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited with %d:\n%s" % (
                    self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not listen on 127.0.0.1:%d" %
                             self.port)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        finally:
            if exc_type is not None or self.keep:
                print("dovecot directory kept: " + self.tmp)
                if exc_type is not None:
                    print("--- dovecot.log ---\n" + self.log_text())
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    # --- log -----------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_log(self, allow=()):
        """Fail on panics, fatals and errors logged so far (except lines
        matching a regex in allow).  Returns the log text."""
        text = self.log_text()
        bad = []
        for line in text.splitlines():
            if re.search(r"\b(Panic|Fatal|Error):", line) and \
               not any(re.search(a, line) for a in allow):
                bad.append(line)
        if bad:
            raise AssertionError("dovecot logged problems:\n" +
                                 "\n".join(bad))
        return text

    # --- IMAP ----------------------------------------------------------

    def connect(self, login=True):
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        if login:
            imap.login(self.user.name, TEST_PASSWORD)
        return imap

    # --- Maildir -------------------------------------------------------

    def make_maildir(self, folder=None):
        path = self.maildir if folder is None else \
            os.path.join(self.maildir, "." + folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.user.chown_tree(self.maildir)
        return path

    def condstore(self, *args, check=True):
        """Run the condstore command on the user's Maildir as the mail
        user.  Returns the CompletedProcess."""
        argv = [condstore_binary(), "--maildir", self.maildir] + list(args)
        return self.user.run(argv, check=check)


def deliver(mailbox_dir, count, flags=None, body=None, subdir=None):
    """Write count messages into mailbox_dir with realistic unique names
    (random microseconds and pid, as deliveries have), in cur/ with the
    given flag letters, or in new/ when flags is None.  Returns the base
    names in order."""
    import random
    rnd = random.Random()
    host = "cstest.example"
    names = []
    now = int(time.time()) - 1000
    for i in range(count):
        text = body or ("From: a@example.com\r\nTo: b@example.com\r\n"
                        "Subject: message %d\r\n\r\nbody %d\r\n" % (i, i))
        base = "%d.M%dP%d.%s,S=%d" % (now + i, rnd.randrange(1000000),
                                       rnd.randrange(2, 4000000), host,
                                       len(text))
        if flags is None:
            path = os.path.join(mailbox_dir, "new", base)
        else:
            path = os.path.join(mailbox_dir, "cur", base + ":2," + flags)
        tmp = os.path.join(mailbox_dir, "tmp", base)
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        names.append(base)
    return names


def imap_ok(result, what="IMAP command"):
    typ, data = result
    if typ != "OK":
        raise AssertionError("%s failed: %s %r" % (what, typ, data))
    return data


def response_text(data):
    """imaplib response data as one str per response line."""
    out = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, tuple):
            d = b"".join(x for x in d if isinstance(x, bytes))
        out.append(d.decode("utf-8", "replace") if isinstance(d, bytes)
                   else d)
    return out
