"""dovecot.py - run a private Dovecot for the plugin's integration tests.

A test writes a private configuration into a temporary directory (its own
base_dir, state_dir, instance_name and log file, IMAP on 127.0.0.1 on a
free port, plain-text logins, a static passdb and a static userdb with an
unprivileged uid), starts "dovecot -F -c CONF" with the plugin loaded from
the build tree, talks IMAP with imaplib, and stops Dovecot by its PID in a
finally block.  The system's Dovecot service is never touched.

Mail processes refuse root, so a test started as root continues as
"nobody" (drop_privileges): the Maildir, the index the condstore command
writes, and Dovecot itself then all belong to the one user Dovecot serves.
Started as another user, everything runs as that user.
"""

import imaplib
import importlib
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecotconf  # noqa: E402

SKIP = 77
DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" +
                       os.environ.get("PATH", ""))
DOVECONF = shutil.which("doveconf", path="/usr/bin:/usr/sbin:" +
                        os.environ.get("PATH", ""))
DOVEADM = shutil.which("doveadm", path="/usr/bin:/usr/sbin:" +
                       os.environ.get("PATH", ""))
TEST_PASSWORD = "condstore-test"
PLUGIN_SO = "lib20_maildir_condstore_plugin.so"
# Dovecot 2.4: the module declaring the plugin's settings, which Dovecot's
# config process reads from its own module directory only
SETTINGS_SO = "libmaildir_condstore_settings.so"
DOVECOT_SETTINGS_DIR = "/usr/lib/dovecot/modules/settings"


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
    if DOVECOT is None or DOVECONF is None or DOVEADM is None:
        skip("dovecot, doveconf or doveadm not installed (apt-get install "
             "dovecot-imapd)")
    if not os.path.exists(os.path.join(plugin_dir(), PLUGIN_SO)):
        skip("the Dovecot plugin was not built (%s missing; configure "
             "found no dovecot-dev?)" % os.path.join(plugin_dir(),
                                                     PLUGIN_SO))
    if condstore and condstore_binary() is None:
        skip("the condstore command was not built")
    if dovecotconf.is_24():
        require_settings_module()


def require_settings_module():
    """On Dovecot 2.4, fail unless Dovecot's config process knows the
    plugin's settings (the private config names them): the settings
    module must be installed in Dovecot's module directory."""
    names = ("maildir_condstore_db", "maildir_condstore_nosync")
    p = subprocess.run([DOVECONF, "-c", "/dev/null", "-d"] + list(names),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    known = [n for n in names if re.search(r"^%s = " % n, p.stdout, re.M)]
    if len(known) != len(names):
        print("FAIL: Dovecot does not know the settings %s (doveconf: %r):"
              " as root, run \"make install-dovecot-settings\" in the "
              "build directory to install %s into %s"
              % (", ".join(sorted(set(names) - set(known))), p.stdout,
                 SETTINGS_SO, DOVECOT_SETTINGS_DIR))
        sys.exit(99)


def start_test(*helpers):
    """What every plugin test does first: exit 77 unless Dovecot and the
    plugin are there (require), start over as "nobody" when run as root
    (drop_privileges), then import the test helper modules named (e.g.
    "cstest", "watchtest"), skipping when one is missing.  Returns the
    modules in the order named."""
    require()
    drop_privileges()
    modules = []
    for name in helpers:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            skip("tests/%s.py (a helper of the condstore tests) is missing"
                 % name)
    return modules


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drop_privileges():
    """Mail processes refuse root, and the test's files, the index the
    condstore command writes and Dovecot itself must all belong to the one
    user Dovecot serves.  Started as root, the test starts over as
    "nobody": it switches user and executes itself again, with an
    interpreter that user can read (the one running may live in a home
    only root can enter).  Dovecot then runs unprivileged as well (no
    chroot, every service as that user)."""
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    os.environ["HOME"] = "/"
    os.environ["USER"] = os.environ["LOGNAME"] = pw.pw_name
    python = sys.executable
    if not os.access(python, os.X_OK) or \
       not os.access(os.path.join(sys.prefix, "lib"), os.R_OK | os.X_OK):
        python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if python is None:
        skip("no python3 that user %s can run" % pw.pw_name)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, os.path.abspath(sys.argv[0])] + sys.argv[1:])


class MailUser:
    """The (unprivileged) user everything runs as."""

    def __init__(self):
        pw = pwd.getpwuid(os.geteuid())
        self.name = pw.pw_name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.group = grp.getgrgid(pw.pw_gid).gr_name


class Dovecot:
    """A private Dovecot instance serving one user whose home is home
    (mail_location maildir:~/Maildir), with its configuration, sockets,
    state and log in a temporary directory of its own.

    Use as a context manager: Dovecot is started on entry, and stopped by
    its PID and its directory removed on exit, whatever happened (the
    directory is kept and the log printed when the block failed).
    """

    def __init__(self, home, plugin_settings=None,
                 mail_plugins="maildir_condstore"):
        self.user = MailUser()
        self.home = home
        self.maildir = os.path.join(home, "Maildir")
        self.plugin_settings = dict(plugin_settings or {})
        self.mail_plugins = mail_plugins
        self.keep = bool(os.environ.get("CSTEST_KEEP"))
        self.tmp = tempfile.mkdtemp(prefix="cs-dc-")
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.log = os.path.join(self.tmp, "dovecot.log")
        self.port = None
        self.proc = None

    # --- configuration -------------------------------------------------

    def write_config(self):
        self.port = free_port()
        valgrind = os.environ.get("CS_VALGRIND")
        imap_exe = ""
        if valgrind:
            imap_exe = ("  executable = %s --log-file=%s/valgrind.%%p "
                        "/usr/lib/dovecot/imap\n"
                        "  vsz_limit = 0\n" % (valgrind, self.tmp))
        text = dovecotconf.config(
            "tests", instance="cstest-%d-%d" % (os.getpid(), self.port),
            tmp=self.tmp, home=self.home, port=self.port,
            user=self.user.name, group=self.user.group, uid=self.user.uid,
            gid=self.user.gid, password=TEST_PASSWORD,
            plugin_dir=plugin_dir(), mail_plugins=self.mail_plugins,
            plugin_settings=self.plugin_settings, debug=True,
            imap_service=imap_exe)
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
        """Stop Dovecot: SIGTERM to the master by its PID, then wait."""
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
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)
        return False

    def close(self, failed=False):
        """Stop Dovecot and remove its directory (kept, and the log
        printed, when failed)."""
        try:
            self.stop()
        finally:
            if failed or self.keep:
                sys.stderr.write("dovecot directory kept: %s\n" % self.tmp)
                if failed:
                    sys.stderr.write("--- dovecot.log ---\n%s" %
                                     self.log_text())
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self):
        """Stop Dovecot, check its log (and valgrind's) once every process
        has exited, and remove its directory."""
        self.stop()
        try:
            self.check_log()
        except AssertionError:
            self.close(failed=True)
            raise
        self.close()

    # --- log -----------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_log(self, allow=()):
        """Fail on panics, fatal errors, errors and killed processes
        logged so far, except lines matching a regex in allow.  Returns the log text."""
        text = self.log_text()
        bad = [line for line in text.splitlines()
               if re.search(r"\b(Panic|Fatal|Error):|killed with signal",
                            line) and
               not any(re.search(a, line) for a in allow)]
        bad += self.valgrind_problems()
        if bad:
            raise AssertionError("dovecot logged problems:\n" +
                                 "\n".join(bad))
        return text

    def valgrind_logs(self):
        """With CS_VALGRIND set (e.g. "/usr/bin/valgrind"), the imap
        processes run under it, each logging to valgrind.PID: {file name:
        text} of those logs."""
        logs = {}
        for name in sorted(os.listdir(self.tmp)):
            if name.startswith("valgrind."):
                with open(os.path.join(self.tmp, name),
                          errors="replace") as f:
                    logs[name] = f.read()
        return logs

    def valgrind_problems(self):
        """The valgrind logs (see valgrind_logs) that report an error."""
        return ["%s:\n%s" % (name, text)
                for name, text in self.valgrind_logs().items()
                if re.search(r"ERROR SUMMARY: [1-9]|Invalid |uninitialised|"
                             r"definitely lost: [1-9]", text)]

    # --- IMAP ----------------------------------------------------------

    def connect(self):
        """A logged-in imaplib connection."""
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        imap.login(self.user.name, TEST_PASSWORD)
        return imap


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


FETCH_ITEM_RE = re.compile(
    r"^(\d+) \((.*)\)$")


def parse_imap_fetch(data, key="UID"):
    """{uid: {"MODSEQ": n, "FLAGS": [names], "SEQ": n}} of untagged FETCH
    responses (imaplib response data); responses without a UID (unsolicited
    ones) are left out.  With key="SEQ": {seq: ...} of all responses."""
    out = {}
    for line in response_text(data):
        m = FETCH_ITEM_RE.match(line.strip())
        assert m, "not a FETCH response: %r" % line
        body = m.group(2)
        item = {"SEQ": int(m.group(1))}
        u = re.search(r"\bUID (\d+)", body)
        ms = re.search(r"\bMODSEQ \((\d+)\)", body)
        if ms:
            item["MODSEQ"] = int(ms.group(1))
        fl = re.search(r"\bFLAGS \(([^()]*)\)", body)
        if fl:
            item["FLAGS"] = fl.group(1).split()
        if key == "SEQ":
            out[item["SEQ"]] = item
        elif u:
            out[int(u.group(1))] = item
    return out


def select_condstore(imap, mailbox="INBOX", enable=False):
    """SELECT mailbox (CONDSTORE) (after ENABLE CONDSTORE with enable),
    asserting OK.  Returns the HIGHESTMODSEQ it reported."""
    if enable:
        imap_ok(imap._simple_command("ENABLE", "CONDSTORE"))
    typ, data = imap._simple_command("SELECT", mailbox, "(CONDSTORE)")
    if typ != "OK":
        raise AssertionError("SELECT %s failed: %s %r" % (mailbox, typ, data))
    imap.state = "SELECTED"
    return int(response_code(imap, "HIGHESTMODSEQ"))


def response_code(imap, name):
    """The value of response code [NAME value] the last command's tagged
    reply carried (imaplib files it as an untagged response), or None."""
    data = imap.untagged_responses.pop(name, None)
    if not data:
        return None
    return response_text(data)[-1]
