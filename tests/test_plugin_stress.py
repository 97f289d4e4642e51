#!/usr/bin/env python3
"""test_plugin_stress.py - Dovecot with the plugin under concurrent
sessions on one mailbox, with and without the watch daemon.

CLIENTS imaplib sessions run random commands for a bounded time: STORE
(with and without UNCHANGEDSINCE), FETCH MODSEQ, APPEND, UID EXPUNGE,
SELECT/CLOSE, NOOP; an agent beside them renames message files (changing
their flags), unlinks some and delivers new ones.  Every FETCH response
that names its UID is checked:

* the MODSEQ a session is shown for a UID never goes down (RFC 7162
  section 3.1);
* a MODSEQ is always shown with the same flags, whoever shows it (the
  flags of that modseq), for every message still there at the end (a
  session still showing a message another one expunged is sent a modseq
  at least that of the expunge, with the flags its view last had: two
  sessions may have different ones).

Dovecot's log must show no crash ("killed with signal"), panic or failed
assertion, and condstore check must be clean afterwards.

CS_STRESS_SECS sets how long each run lasts (default 12 s; 40 s when the
imap processes run under CS_VALGRIND, e.g. CS_VALGRIND=/usr/bin/valgrind:
their start alone takes seconds).  Under valgrind the test also fails
when an imap process that served a session did not run under it, and
prints how many logged "ERROR SUMMARY: 0 errors" (none do with -q).
Dovecot's master kills an imap process that has not finished starting
within 30 s ("Initial status notification not received"), which under
valgrind on a heavily loaded machine happens: the test then fails on the
"killed with signal 9" line."""

import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402

cstest, watchtest = dovecot.start_test("cstest", "watchtest")

CLIENTS = 6
MESSAGES = 60
FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$work")
LOG_PROBLEMS = re.compile(r"killed with signal|Panic:|[Aa]ssertion|"
                          r"i_assert|Fatal:")
UID_RE = re.compile(r"\bUID (\d+)")
MODSEQ_RE = re.compile(r"\bMODSEQ \((\d+)\)")
FLAGS_RE = re.compile(r"\bFLAGS \(([^()]*)\)")
MESSAGE = ("From: a@example.org\r\nTo: b@example.org\r\n"
           "Subject: stress %d\r\n\r\nbody %d\r\n")


def run_seconds():
    default = 40 if os.environ.get("CS_VALGRIND") else 12
    return float(os.environ.get("CS_STRESS_SECS", default))


class Seen:
    """What every session was shown: {uid: {modseq: flags}} (shared) and
    problems found."""

    def __init__(self):
        self.lock = threading.Lock()
        self.states = {}
        self.problems = []
        self.conflicts = {}  # uid -> [text]

    def problem(self, text):
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text)

    def shown(self, who, uid, modseq, flags, line):
        with self.lock:
            known = self.states.setdefault(uid, {})
            if modseq in known and known[modseq] != flags:
                self.conflicts.setdefault(uid, []).append(
                    "%s: UID %d MODSEQ %d shown with %s and with %s (%s)"
                    % (who, uid, modseq, sorted(known[modseq]),
                       sorted(flags), line))
            known.setdefault(modseq, flags)


class Client:
    """One IMAP session doing random commands until the deadline."""

    def __init__(self, dc, n, seen, deadline):
        self.dc = dc
        self.name = "client %d" % n
        self.rng = random.Random(n * 7919)
        self.seen = seen
        self.deadline = deadline
        self.highest = {}  # uid -> highest MODSEQ this client was shown
        self.commands = 0

    def check(self, data):
        for item in data or ():
            if isinstance(item, tuple):
                item = item[0]
            if not isinstance(item, bytes):
                continue
            line = item.decode(errors="replace")
            u, m, f = (UID_RE.search(line), MODSEQ_RE.search(line),
                       FLAGS_RE.search(line))
            if not (u and m):
                continue
            uid, modseq = int(u.group(1)), int(m.group(1))
            if modseq < self.highest.get(uid, 0):
                self.seen.problem("%s: UID %d MODSEQ went down %d -> %d: %s"
                                  % (self.name, uid, self.highest[uid],
                                     modseq, line))
            self.highest[uid] = max(modseq, self.highest.get(uid, 0))
            if f:
                flags = frozenset(f.group(1).split()) - {"\\Recent"}
                self.seen.shown(self.name, uid, modseq, flags, line)

    def command(self, imap, what, *args):
        imap.untagged_responses.pop("FETCH", None)
        typ, data = getattr(imap, what)(*args)
        self.commands += 1
        self.check(data)
        self.check(imap.untagged_responses.pop("FETCH", None))
        if typ not in ("OK", "NO"):
            raise AssertionError("%s %r: %s %r" % (what, args, typ, data))
        return typ, data

    def uids(self, imap):
        typ, data = self.command(imap, "uid", "SEARCH", "ALL")
        return [int(x) for x in data[0].split()] if typ == "OK" else []

    def step(self, imap, uids):
        rng = self.rng
        op = rng.randrange(100)
        uid = str(rng.choice(uids)) if uids else "1"
        if op < 25:
            self.command(imap, "uid", "FETCH", rng.choice(
                ["1:*", uid, "%s:*" % uid]), "(UID MODSEQ FLAGS)")
        elif op < 50:
            flag = rng.choice(FLAGS)
            how = rng.choice(["+FLAGS", "-FLAGS", "FLAGS"])
            if rng.random() < 0.5 and int(uid) in self.highest:
                mod = "(UNCHANGEDSINCE %d) " % self.highest[int(uid)]
            else:
                mod = ""
            self.command(imap, "uid", "STORE", uid,
                         "%s%s (%s)" % (mod, how, flag))
        elif op < 58:
            n = rng.randrange(1 << 30)
            typ, data = imap.append("INBOX", None, None,
                                    (MESSAGE % (n, n)).encode())
            self.commands += 1
            if typ != "OK":
                raise AssertionError("APPEND: %s %r" % (typ, data))
        elif op < 66:
            self.command(imap, "uid", "STORE", uid, "+FLAGS.SILENT "
                         "(\\Deleted)")
            self.command(imap, "uid", "EXPUNGE", uid)
        elif op < 72:
            dovecot.imap_ok(imap.close())
            dovecot.select_condstore(imap)
            return self.uids(imap)
        elif op < 90:
            self.command(imap, "noop")
        else:
            return self.uids(imap)
        return uids

    def run(self):
        try:
            imap = self.dc.connect()
            try:
                dovecot.imap_ok(imap._simple_command("ENABLE",
                                                     "CONDSTORE"))
                dovecot.select_condstore(imap)
                uids = self.uids(imap)
                while time.monotonic() < self.deadline:
                    uids = self.step(imap, uids)
            finally:
                imap.logout()
        except Exception as e:  # reported by the test
            self.seen.problem("%s: %r" % (self.name, e))


class Agent:
    """Another agent on the Maildir: renames, unlinks, deliveries."""

    def __init__(self, md, deadline):
        self.md = md
        self.deadline = deadline
        self.rng = random.Random(1)
        self.done = {"renames": 0, "unlinks": 0, "deliveries": 0}
        self.error = None

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                files = self.md.files("INBOX")
                op = self.rng.randrange(10)
                if op < 2 or len(files) < MESSAGES // 2:
                    self.md.deliver("INBOX")
                    self.done["deliveries"] += 1
                    continue
                base = self.rng.choice(sorted(files))
                try:
                    if op < 3:
                        self.md.delete("INBOX", base)
                        self.done["unlinks"] += 1
                    else:
                        self.md.set_flags("INBOX", base, "".join(
                            self.rng.sample("FRST", self.rng.randrange(4))))
                        self.done["renames"] += 1
                except (OSError, TypeError):
                    pass  # an IMAP session moved or expunged it first
                time.sleep(0.005)
        except Exception as e:  # reported by the test
            self.error = repr(e)


class StressCase(watchtest.WatchCase):
    seed = 4551
    daemon = True

    def test_concurrent_sessions(self):
        self.md.populate({"INBOX": MESSAGES}, keywords=("$work",))
        self.cs("reindex")
        if self.daemon:
            self.start_daemon()
            self.sync()
        dc = dovecot.Dovecot(self.md.tmp)
        dc.start()
        ok = False
        try:
            secs = run_seconds()
            deadline = time.monotonic() + secs
            seen = Seen()
            clients = [Client(dc, n, seen, deadline)
                       for n in range(CLIENTS)]
            agent = Agent(self.md, deadline)
            threads = [threading.Thread(target=c.run) for c in clients]
            threads.append(threading.Thread(target=agent.run))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print("%s daemon, %.0f s: %d commands by %d sessions, agent %r"
                  % ("with" if self.daemon else "without", secs,
                     sum(c.commands for c in clients), CLIENTS, agent.done))
            self.assertIsNone(agent.error)
            for p in seen.problems:
                print("PROBLEM", p)
            self.assertEqual(seen.problems, [])
            # the index catches up with the disk: the daemon, or a sync
            # of a session (the plugin reconciles without the daemon)
            if self.daemon:
                self.sync()
            imap = dc.connect()
            dovecot.select_condstore(imap, enable=True)
            dovecot.imap_ok(imap.noop())
            typ, data = imap.uid("SEARCH", "ALL")
            self.assertEqual(typ, "OK", data)
            live = {int(x) for x in data[0].split()}
            imap.logout()
            bad = [text for uid in sorted(seen.conflicts) if uid in live
                   for text in seen.conflicts[uid]]
            print("modseqs shown with other flags for messages expunged "
                  "later: %d" % sum(len(v) for u, v in
                                    seen.conflicts.items()
                                    if u not in live))
            self.assertEqual(bad, [])
            dc.stop()
            text = dc.log_text()
            bad = [line for line in text.splitlines()
                   if LOG_PROBLEMS.search(line)]
            self.assertEqual(bad, [])
            self.assertEqual(dc.valgrind_problems(), [])
            if os.environ.get("CS_VALGRIND"):
                # every imap process that served a login ran under it
                logs = dc.valgrind_logs()
                served = ["valgrind." + pid for pid in
                          re.findall(r"Login: .*\bmpid=(\d+)", text)]
                print("valgrind: %d imap processes served the sessions, "
                      "%d of them logged \"ERROR SUMMARY: 0 errors\""
                      % (len(served), sum("ERROR SUMMARY: 0 errors" in
                                          logs.get(n, "") for n in served)))
                self.assertGreater(len(served), CLIENTS)
                self.assertEqual([n for n in served if n not in logs], [])
            ok = True
        finally:
            dc.close(failed=not ok)
        self.cs("check")


class StressNoDaemonCase(StressCase):
    daemon = False


if __name__ == "__main__":
    cstest.main()
