"""cstest - what the integration tests of maildir-condstore share.

Temporary Maildir++ roots with realistic message names, changed the way
an MDA and mutt change them (write in tmp/, rename to new/, rename
new/ -> cur/ adding ":2,S", rename inside cur/ for flag changes), running
the condstore command and parsing its IMAP-style output.

Environment:
  CONDSTORE          the condstore binary (set by "make check")
  CONDSTORE_WRAPPER  a command prefix, e.g. "valgrind --error-exitcode=99 -q"
  CSTEST_KEEP        keep the temporary directories (for debugging)
"""

import errno
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
SEP = ":"

SYSTEM_FLAGS = {
    "D": "\\Draft", "F": "\\Flagged", "P": "$Forwarded",
    "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted",
}
IMAP_TO_LETTER = {v.lower(): k for k, v in SYSTEM_FLAGS.items()}


def condstore_path():
    """The condstore binary under test."""
    path = os.environ.get("CONDSTORE")
    if not path:
        top = os.environ.get("top_builddir",
                             os.path.join(os.path.dirname(__file__), ".."))
        path = os.path.join(top, "condstore")
    return os.path.abspath(path)


def wrapper():
    return shlex.split(os.environ.get("CONDSTORE_WRAPPER", ""))


# --- message names ----------------------------------------------------

def hostname():
    """The host part of a Maildir name, with '/' and ':' encoded as the
    Maildir specification says."""
    host = socket.gethostname() or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072")


class NameMaker:
    """Unique names as real deliveries make them: time, random
    microseconds and pid all vary (names in which only a counter varies
    collapse in hash tables and make every figure wrong)."""

    def __init__(self, seed=None):
        self.rng = random.Random(seed)
        self.host = hostname()
        self.seen = set()

    def base(self, size=None):
        while True:
            if size is None:
                size = self.rng.randrange(800, 90000)
            name = "%d.M%dP%d.%s,S=%d" % (
                int(time.time()) - self.rng.randrange(0, 30000000),
                self.rng.randrange(0, 1000000),
                self.rng.randrange(2, 4194304), self.host, size)
            if name not in self.seen:
                self.seen.add(name)
                return name


def sorted_letters(letters):
    return "".join(sorted(set(letters)))


def visible_letters(letters):
    """The letters that have an IMAP name: the system flags' and the
    keywords' (a-z); unknown upper-case letters are not shown."""
    return "".join(c for c in letters if c in SYSTEM_FLAGS or c.islower())


def info_flags(suffix):
    """The flag letters of a suffix ":2,FS" (as a string, sorted)."""
    if suffix.startswith(SEP + "2,"):
        return sorted_letters(c for c in suffix[3:] if c.isalpha())
    return ""


# --- Maildir++ roots ------------------------------------------------------

class Maildir:
    """A Maildir++ root: root, or ROOT/Maildir in a fresh temporary
    directory (removed by cleanup())."""

    def __init__(self, seed=None, root=None):
        self.tmp = None if root else tempfile.mkdtemp(prefix="cstest.")
        self.root = root or os.path.join(self.tmp, "Maildir")
        self.names = NameMaker(seed)
        self.rng = random.Random(seed)
        self.make_dirs(self.root)

    def cleanup(self):
        if self.tmp is None:
            return
        if os.environ.get("CSTEST_KEEP"):
            sys.stderr.write("kept %s\n" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def make_dirs(path):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), mode=0o700, exist_ok=True)

    def path(self, mailbox="INBOX"):
        if mailbox == "INBOX":
            return self.root
        return os.path.join(self.root, "." + mailbox)

    def create_folder(self, mailbox):
        self.make_dirs(self.path(mailbox))
        open(os.path.join(self.path(mailbox), "maildirfolder"), "w").close()
        return self.path(mailbox)

    def mailboxes(self):
        boxes = ["INBOX"]
        for entry in sorted(os.listdir(self.root)):
            full = os.path.join(self.root, entry)
            if (entry.startswith(".") and entry not in (".", "..")
                    and not os.path.islink(full)
                    and os.path.isdir(os.path.join(full, "cur"))):
                boxes.append(entry[1:])
        return boxes

    def write_keywords(self, mailbox, names):
        """dovecot-keywords: keyword i gets the letter 'a'+i."""
        with open(os.path.join(self.path(mailbox), "dovecot-keywords"),
                  "w") as f:
            for i, name in enumerate(names):
                f.write("%d %s\n" % (i, name))

    # -- what an MDA and mutt do --

    def deliver(self, mailbox="INBOX", flags=None, base=None, body=None):
        """Write a message in tmp/ and rename it into new/ (flags None) or,
        like a reader that saw it at once, into cur/ with ":2,FLAGS".
        Returns the base name."""
        if body is None:
            body = ("From: a@example.org\nTo: b@example.org\n"
                    "Subject: test %d\n\n%s\n" % (
                        self.rng.randrange(1 << 30),
                        "x" * self.rng.randrange(10, 400)))
        data = body.encode()
        if base is None:
            base = self.names.base(len(data))
        box = self.path(mailbox)
        tmp = os.path.join(box, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(box, "new", base))
        if flags is not None:
            self.see(mailbox, base, flags)
        return base

    def see(self, mailbox, base, flags="S"):
        """Move new/BASE to cur/BASE:2,FLAGS (mutt reading a message)."""
        box = self.path(mailbox)
        os.rename(os.path.join(box, "new", base),
                  os.path.join(box, "cur", base + SEP + "2," +
                               sorted_letters(flags)))

    def find(self, mailbox, base):
        """The path of the file of base in mailbox, or None."""
        box = self.path(mailbox)
        for sub in ("cur", "new"):
            for entry in os.listdir(os.path.join(box, sub)):
                if entry == base or entry.startswith(base + SEP):
                    return os.path.join(box, sub, entry)
        return None

    def set_flags(self, mailbox, base, letters):
        """Rename the file in cur/ to carry exactly letters (mutt changing
        flags); a file in new/ moves to cur/."""
        old = self.find(mailbox, base)
        new = os.path.join(self.path(mailbox), "cur",
                           base + SEP + "2," + sorted_letters(letters))
        os.rename(old, new)
        return new

    def flags(self, mailbox, base):
        path = self.find(mailbox, base)
        name = os.path.basename(path)
        return info_flags(name[len(base):])

    def delete(self, mailbox, base):
        os.unlink(self.find(mailbox, base))

    def move(self, src, base, dst):
        """Move a message to another folder, keeping its name."""
        old = self.find(src, base)
        sub = os.path.basename(os.path.dirname(old))
        os.rename(old, os.path.join(self.path(dst), sub,
                                    os.path.basename(old)))

    def files(self, mailbox="INBOX"):
        """{base: (subdir, file name)} of the message files (regular
        files only: no symlinks, no directories)."""
        out = {}
        box = self.path(mailbox)
        for sub in ("new", "cur"):
            for entry in os.listdir(os.path.join(box, sub)):
                full = os.path.join(box, sub, entry)
                if (entry.startswith(".") or os.path.islink(full)
                        or not os.path.isfile(full)):
                    continue
                out[entry.split(SEP, 1)[0]] = (sub, entry)
        return out

    def populate(self, counts, flag_ratio=0.6, keywords=("work", "later")):
        """Fill mailboxes: counts is {mailbox: n}.  About flag_ratio of the
        messages are read (in cur/ with flags, some with keywords), the
        rest are new.  Returns {mailbox: [base, ...]}."""
        made = {}
        for mailbox, n in counts.items():
            if mailbox != "INBOX":
                self.create_folder(mailbox)
            if keywords:
                self.write_keywords(mailbox, keywords)
            bases = []
            for _ in range(n):
                flags = None
                if self.rng.random() < flag_ratio:
                    flags = "S" + self.rng.choice(
                        ["", "", "", "F", "R", "RS", "P", "T", "a", "ab"])
                    if not keywords:
                        flags = flags.replace("a", "").replace("b", "")
                bases.append(self.deliver(mailbox, flags))
            made[mailbox] = bases
        return made


# --- running condstore --------------------------------------------------

class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")
        self.lines = self.out.splitlines()

    def __repr__(self):
        return "condstore %s -> exit %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(shlex.quote(a) for a in self.args), self.rc,
            self.out, self.err)


def run(args, maildir=None, db=None, timeout=600, env=None, stdin=None):
    """Run condstore [--maildir maildir] [--db db] ARGS; returns Result.
    Exit 99 (valgrind's --error-exitcode) fails the test at once."""
    cmd = wrapper() + [condstore_path()]
    if maildir is not None:
        cmd += ["--maildir", maildir]
    if db is not None:
        cmd += ["--db", db]
    cmd += list(args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL if stdin is None
                          else stdin)
    res = Result(cmd[len(wrapper()) + 1:], proc)
    if res.rc == 99 or res.rc < 0:
        raise AssertionError("condstore crashed or leaked: %r" % res)
    return res


def popen(args, maildir=None):
    """Start condstore in the background (stdout and stderr piped)."""
    cmd = wrapper() + [condstore_path()]
    if maildir is not None:
        cmd += ["--maildir", maildir]
    return subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


# --- reading the index directly (tdbdump from tdb-tools) ------------------

TDBDUMP_RE = re.compile(rb'key\(\d+\) = "((?:[^"\\]|\\[0-9A-Fa-f]{2})*)"\n'
                        rb'data\(\d+\) = "((?:[^"\\]|\\[0-9A-Fa-f]{2})*)"')


def _tdb_unescape(text):
    return re.sub(rb"\\([0-9A-Fa-f]{2})",
                  lambda m: bytes([int(m.group(1), 16)]), text)


def tdb_records(db_path, attempts=50):
    """{key: value} (bytes) of a tdb, read with tdbdump.  tdbdump gives up
    while another process (the daemon, Dovecot) commits a transaction:
    it is tried again a little later."""
    for attempt in range(attempts):
        proc = subprocess.run(["tdbdump", db_path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if proc.returncode == 0:
            return {_tdb_unescape(k): _tdb_unescape(v)
                    for k, v in TDBDUMP_RE.findall(proc.stdout)}
        time.sleep(0.1)
    raise subprocess.CalledProcessError(proc.returncode, proc.args,
                                        proc.stdout, proc.stderr)


def _varint(buf, pos):
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def bucket_entries(value):
    """[(uid, base name, modseq, suffix)] of a bucket record of layout 2
    (include/cs-record.h), decoded independently of the library."""
    assert value[0] == 2, value[:1]
    count = int.from_bytes(value[4:8], "little")
    base_modseq = int.from_bytes(value[8:16], "little")
    out, pos = [], 16
    for _ in range(count):
        var_len, base_len, suffix_len = value[pos + 4:pos + 7]
        uid, vpos = _varint(value, pos + 8)
        delta, vpos = _varint(value, vpos)
        names = pos + 8 + var_len
        base = value[names:names + base_len].decode("utf-8", "surrogateescape")
        suffix = value[names + base_len:names + base_len + suffix_len]
        out.append((uid, base, base_modseq + delta,
                    suffix.decode("utf-8", "surrogateescape")))
        pos = names + base_len + suffix_len
    assert pos == len(value), "bucket record longer than its entries"
    return out


def index_uids(db_path, mailbox="INBOX"):
    """{uid: base name} of mailbox, from the "M" record and the buckets
    of the index (layout 2: include/cs-record.h)."""
    recs = tdb_records(db_path)
    mrec = recs[b"M" + mailbox.encode()]
    box_id = int.from_bytes(mrec[4:8], "little")
    prefix = b"n" + box_id.to_bytes(4, "big")
    return {uid: base
            for k, v in recs.items() if len(k) == 9 and k.startswith(prefix)
            for uid, base, _modseq, _suffix in bucket_entries(v) if uid}


# --- parsing IMAP-style output -------------------------------------------

STATUS_RE = re.compile(r'^\* STATUS ("(?:[^"\\]|\\.)*"|\S+) \((.*)\)$')
FETCH_RE = re.compile(
    r"^\* (\d+) FETCH \(UID (\d+) MODSEQ \((\d+)\) FLAGS \(([^()]*)\)\)$")
SEARCH_RE = re.compile(r"^\* SEARCH((?: \d+)*)(?: \(MODSEQ (\d+)\))?$")
VANISHED_RE = re.compile(r"^\* VANISHED ([0-9:,]+)$")
MODIFIED_RE = re.compile(r"^OK \[MODIFIED ([0-9:,]+)\]$")


def unquote(astring):
    if astring.startswith('"'):
        return re.sub(r"\\(.)", r"\1", astring[1:-1])
    return astring


def parse_status(lines):
    """{mailbox: {"MESSAGES": n, "UIDNEXT": n, ...}}; every line must be a
    STATUS line."""
    out = {}
    for line in lines:
        m = STATUS_RE.match(line)
        assert m, "not a STATUS line: %r" % line
        items = m.group(2).split()
        assert len(items) % 2 == 0, line
        out[unquote(m.group(1))] = {items[i]: int(items[i + 1])
                                    for i in range(0, len(items), 2)}
    return out


class Fetch:
    def __init__(self, seq, uid, modseq, flags):
        self.seq, self.uid, self.modseq = seq, uid, modseq
        self.flags = flags          # list of IMAP flag names, as printed

    def __repr__(self):
        return "Fetch(seq=%d, uid=%d, modseq=%d, flags=%r)" % (
            self.seq, self.uid, self.modseq, self.flags)


def parse_fetch(lines):
    """[Fetch] of FETCH lines; other lines are an error."""
    out = []
    for line in lines:
        m = FETCH_RE.match(line)
        assert m, "not a FETCH line: %r" % line
        out.append(Fetch(int(m.group(1)), int(m.group(2)),
                         int(m.group(3)), m.group(4).split()))
    return out


def parse_search(line):
    """(list of UIDs, MODSEQ or None)."""
    m = SEARCH_RE.match(line)
    assert m, "not a SEARCH line: %r" % line
    uids = [int(u) for u in m.group(1).split()]
    return uids, int(m.group(2)) if m.group(2) else None


def uidset_expand(text):
    """The UIDs of "1:3,7" as a set."""
    out = set()
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.update(range(min(a, b), max(a, b) + 1))
        else:
            out.add(int(part))
    return out


def uidset_format(uids):
    """A set of UIDs as "1:3,7" (sorted, merged)."""
    parts = []
    for uid in sorted(uids):
        if parts and parts[-1][1] == uid - 1:
            parts[-1][1] = uid
        else:
            parts.append([uid, uid])
    return ",".join(str(a) if a == b else "%d:%d" % (a, b)
                    for a, b in parts)


def parse_vanished(lines):
    """The UIDs of a VANISHED line (empty set for no output)."""
    if not lines:
        return set()
    assert len(lines) == 1, lines
    m = VANISHED_RE.match(lines[0])
    assert m, "not a VANISHED line: %r" % lines[0]
    return uidset_expand(m.group(1))


def letters_of(flag_names, keywords=()):
    """Maildir letters of IMAP flag names (keywords: the dovecot-keywords
    names in order)."""
    out = []
    for name in flag_names:
        if name.lower() in IMAP_TO_LETTER:
            out.append(IMAP_TO_LETTER[name.lower()])
        elif name in keywords:
            out.append(chr(ord("a") + list(keywords).index(name)))
        elif name.startswith("$kw_") and len(name) == 5:
            out.append(name[4])
        else:
            raise AssertionError("unexpected flag %r" % name)
    return sorted_letters(out)


# --- a full disk ----------------------------------------------------------

def mount_tmpfs(case, size="8m"):
    """Mount a tmpfs of size on a fresh directory for the test case
    (unmounted and removed by its cleanups); returns the directory.  The
    case is skipped when not root or when the mount fails."""
    if os.geteuid() != 0:
        case.skipTest("mounting a small tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="cstest-fulldisk.")
    case.addCleanup(os.rmdir, mnt)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o",
                          "size=%s,mode=0700" % size, "tmpfs", mnt],
                         stderr=subprocess.PIPE)
    if res.returncode != 0:
        case.skipTest("cannot mount tmpfs: %s" % res.stderr.decode())
    case.addCleanup(subprocess.run, ["umount", mnt])
    return mnt


def fill_disk(path):
    """Write the file path until its file system is full; returns the
    bytes written."""
    written = 0
    chunk = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            written += os.write(fd, chunk)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return written


def changes_on_full_disk(md, bases, deliveries=3000):
    """What another agent still does on a full disk: flag changes to the
    INBOX messages bases (a rename needs no space) and deliveries of empty
    messages (an inode, no block); the indexer then has no room to record
    them.  Returns the delivered base names."""
    for base in bases:
        md.set_flags("INBOX", base, "FS")
    arrived = []
    for _ in range(deliveries):
        base = md.names.base()
        os.close(os.open(os.path.join(md.root, "new", base),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        arrived.append(base)
    return arrived


# --- test cases -----------------------------------------------------------

class TestTimeout(Exception):
    """A test ran longer than CSTEST_TIMEOUT seconds."""


def test_timeout():
    """Seconds a test method may run (CSTEST_TIMEOUT, default 900; 0: no
    limit).  A hung test fails with a traceback instead of stalling the
    suite, and its cleanups still stop what it started."""
    try:
        return max(0, int(os.environ.get("CSTEST_TIMEOUT", "900")))
    except ValueError:
        return 900


def _timed_out(signum, frame):
    raise TestTimeout("the test ran longer than %d s (CSTEST_TIMEOUT)" %
                      test_timeout())


class CondstoreCase(unittest.TestCase):
    """A test case with a fresh Maildir (self.md) and helpers running
    condstore on it."""

    seed = None
    maxDiff = None

    def setUp(self):
        if test_timeout() > 0:
            signal.signal(signal.SIGALRM, _timed_out)
            signal.alarm(test_timeout())
            self.addCleanup(signal.alarm, 0)
        self.md = Maildir(self.seed)
        self.addCleanup(self.md.cleanup)

    def cs(self, *args, rc=0, **kw):
        """Run condstore on self.md and assert its exit status."""
        res = run(args, maildir=self.md.root, **kw)
        if rc is not None:
            self.assertEqual(res.rc, rc, res)
        return res

    def status(self, *mailboxes):
        return parse_status(self.cs("status", *mailboxes).lines)

    def hms(self, mailbox="INBOX"):
        return self.status(mailbox)[mailbox]["HIGHESTMODSEQ"]

    def fetch(self, mailbox, *args):
        return parse_fetch(self.cs("fetch", mailbox, *args).lines)

    def uid_map(self, mailbox, keywords=()):
        """{uid: (modseq, letters)} of the whole mailbox."""
        return {f.uid: (f.modseq, letters_of(f.flags, keywords))
                for f in self.fetch(mailbox)}

    def db(self):
        return os.path.join(self.md.root, "condstore.tdb")

    def uids(self, mailbox="INBOX"):
        """{uid: base} as the index has it."""
        return index_uids(self.db(), mailbox)

    def assert_matches_disk(self, mailbox, keywords=()):
        """fetch agrees with the files: one UID per file, each with the
        file's flags; returns {uid: Fetch}."""
        fetched = {f.uid: f for f in self.fetch(mailbox)}
        names = self.uids(mailbox)
        files = self.md.files(mailbox)
        self.assertEqual(set(fetched), set(names))
        self.assertEqual(sorted(names.values()), sorted(files))
        for uid, f in fetched.items():
            sub, entry = files[names[uid]]
            self.assertEqual(letters_of(f.flags, keywords),
                             visible_letters(
                                 info_flags(entry[len(names[uid]):])),
                             (mailbox, uid, entry))
        return fetched

    def assert_clean(self, *mailboxes):
        res = self.cs("check", *mailboxes, rc=None)
        self.assertEqual((res.rc, res.out), (0, ""), res)

    def assert_error(self, res, *words):
        """Exit 2, nothing on stdout, one line "condstore: ..." on stderr
        containing words."""
        self.assertEqual(res.rc, 2, res)
        self.assertEqual(res.out, "", res)
        err = res.err.splitlines()
        self.assertEqual(len(err), 1, res)
        self.assertTrue(err[0].startswith("condstore: "), res)
        for word in words:
            self.assertIn(word, err[0], res)


def main():
    """Run the test cases of __main__; exit 0 pass, 1 fail, 77 skip (all
    skipped, or no condstore binary)."""
    if not os.access(condstore_path(), os.X_OK):
        print("SKIP: no condstore binary at %s" % condstore_path())
        sys.exit(SKIP)
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    if res.testsRun > 0 and len(res.skipped) == res.testsRun:
        sys.exit(SKIP)
    sys.exit(0)
