#!/usr/bin/env python3
"""The attacks of a hostile user on their own Maildir, in a loop, for the
end-to-end test of a root daemon serving several users
(tests/test_watch_hostile_users.py runs this as that user).

usage: hostile_attacks.py MAILDIR OUTSIDE SECONDS CONDSTORE

OUTSIDE is a directory outside the Maildir the user can read (with new/
and cur/ full of names that must never reach the index); CONDSTORE the
condstore binary, run as the user for the attacks made with it.  Every
attack of the table of issue 10 (D1-D13 but D7, a full disk, which is
not one user's doing: tests/test_watch_fulldisk.py) and the lesser
items is run once per round, in the order of ATTACKS; each puts things
back afterwards, so that the next one finds the Maildir whole.  The
last round also swaps the Maildir itself for a symlink (the daemon stops
serving it).  Prints one JSON object: rounds, and how many times each
attack ran."""

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

GB = 1 << 30
# tdb's transaction lock (tdb lock.c), what a long "store" holds
TDB_TRANSACTION_LOCK = 8


class Attacker:
    def __init__(self, root, outside, condstore):
        self.root, self.outside, self.condstore = root, outside, condstore
        self.db = os.path.join(root, "condstore.tdb")
        self.rng = random.Random(os.getpid())
        self.n = 0
        self.serial = 0
        self.away = os.path.join(os.path.dirname(root), "away")
        os.makedirs(self.away, exist_ok=True)
        self.backup = None

    # -- helpers --

    def name(self, tag=""):
        self.serial += 1
        return "16%08d.M%dP%d.evil%s" % (self.serial, self.rng.randrange(
            1000000), os.getpid(), tag)

    def folder(self, name):
        path = os.path.join(self.root, "." + name) if name else self.root
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        return path

    def deliver(self, box, name=None, sub="new", suffix=""):
        name = name or self.name()
        tmp = os.path.join(box, "tmp", name)
        with open(tmp, "w") as f:
            f.write("From: evil@example.org\n\nx\n")
        os.rename(tmp, os.path.join(box, sub, name + suffix))
        return name

    def cs(self, *args, timeout=120):
        """condstore as this user; its exit status (any is fine: the
        attack is what it does to the daemon)."""
        try:
            return subprocess.run(
                [self.condstore, "--maildir", self.root] + list(args),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return None

    @staticmethod
    def swap_in(path, make, hold=0.002):
        """Put what make(path) creates at path for a moment, then the old
        file back."""
        aside = path + ".aside"
        had = os.path.lexists(path)
        if had:
            os.rename(path, aside)
        try:
            make(path)
            time.sleep(hold)
        finally:
            if os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            if had:
                os.rename(aside, path)

    @staticmethod
    def sparse(path, head):
        with open(path, "wb") as f:
            f.write(head)
            f.truncate(GB)

    @staticmethod
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)

    # -- D1, D10: what is not an index where the index belongs --

    def d1_fifos(self):
        self.swap_in(self.db, lambda p: os.mkfifo(p, 0o600))
        self.swap_in(self.db + ".hwm", lambda p: os.mkfifo(p, 0o600))
        self.swap_in(self.db, lambda p: os.mkdir(p))

    def d10_foreign_and_truncated_index(self):
        self.swap_in(self.db, lambda p: self.write(
            p, b"not a tdb at all\n" * 10))
        if os.path.isfile(self.db) and not os.path.islink(self.db):
            with open(self.db, "rb") as f:
                head = f.read(1000)
            self.swap_in(self.db, lambda p: self.write(p, head), hold=0.05)

    # -- D2, D3: folders appear; new/ and cur/ become symlinks outside --

    def d2_d3_symlinked_folders(self):
        box = self.folder("Evil%d" % (self.n % 20))
        for sub in ("new", "cur"):
            path = os.path.join(box, sub)
            if os.path.isdir(path) and not os.path.islink(path):
                os.rename(path, path + ".x%d" % self.n)
            elif os.path.islink(path):
                os.unlink(path)
            os.symlink(os.path.join(self.outside, sub), path)
        # a FIFO for dovecot-uidlist and dovecot-keywords in that folder
        for name in ("dovecot-uidlist", "dovecot-keywords"):
            path = os.path.join(box, name)
            if not os.path.lexists(path):
                os.mkfifo(path, 0o600)
        # a symlinked folder
        link = os.path.join(self.root, ".Link%d" % (self.n % 5))
        if not os.path.lexists(link):
            os.symlink(self.outside, link)
        # a new folder whose new/ is swapped for a symlink right after it
        # appears (what a race with the daemon's setup looks like)
        tmp = os.path.join(os.path.dirname(self.root), "mk%d" % self.n)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(tmp, sub))
        race = os.path.join(self.root, ".Race%d" % self.n)
        os.rename(tmp, race)
        os.rename(os.path.join(race, "new"), os.path.join(race, "new.x"))
        os.symlink(os.path.join(self.outside, "new"),
                   os.path.join(race, "new"))

    # -- D4: a sparse 1 GB dovecot-uidlist / dovecot-keywords, no newline --

    def d4_sparse_files(self):
        box = self.folder("Big")
        self.deliver(box)
        for name, head in (("dovecot-uidlist", b"3 V1234 N2\n1 :"),
                           ("dovecot-keywords", b"0 ")):
            self.sparse(os.path.join(box, name + ".new"), head)
            os.rename(os.path.join(box, name + ".new"),
                      os.path.join(box, name))
        self.sparse(os.path.join(self.root, "dovecot-keywords.new"), b"0 ")
        os.rename(os.path.join(self.root, "dovecot-keywords.new"),
                  os.path.join(self.root, "dovecot-keywords"))
        # a batch of unpaired moves makes the daemon scan the folder
        moved = []
        for sub in ("new",):
            for entry in os.listdir(os.path.join(box, sub))[:3]:
                os.rename(os.path.join(box, sub, entry),
                          os.path.join(self.away, entry))
                moved.append(entry)
        self.deliver(self.root)
        time.sleep(0.05)
        for entry in moved:
            os.rename(os.path.join(self.away, entry),
                      os.path.join(box, "cur", entry))
        time.sleep(0.2)
        # gone again: the daemon serves this Maildir again afterwards,
        # and the next attacks find it served
        for path in (os.path.join(self.root, "dovecot-keywords"),
                     os.path.join(box, "dovecot-uidlist"),
                     os.path.join(box, "dovecot-keywords")):
            os.unlink(path)

    # -- D5: a lock held on the user's own index --

    def d5_index_locked(self):
        if not os.path.isfile(self.db) or os.path.islink(self.db):
            return
        fd = os.open(self.db, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            for start, length in ((0, 0), (TDB_TRANSACTION_LOCK, 1)):
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length,
                                start)
                except OSError:
                    continue
                # the daemon has work there meanwhile
                self.deliver(self.root)
                time.sleep(0.2)
                fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
        finally:
            os.close(fd)

    # -- D6: a store where one name would pass 255 bytes --

    def d6_store_name_too_long(self):
        if not hasattr(self, "long_made"):
            self.deliver(self.root, "1600000099." + "y" * 239, "cur",
                         ":2,S")
            self.long_made = True
        self.cs("store", "INBOX", "1:*", "+FLAGS",
                "(\\Flagged \\Answered \\Draft)")
        self.cs("store", "INBOX", "1:*", "-FLAGS",
                "(\\Flagged \\Answered \\Draft)")

    # -- D8: a batch of messages moved out of a large cur/ --

    def d8_moves_out(self):
        box = self.folder("Moves")
        cur = os.path.join(box, "cur")
        names = os.listdir(cur)
        if len(names) < 2000:
            for _ in range(2000 - len(names)):
                self.deliver(box, sub="cur", suffix=":2,S")
            return
        moved = self.rng.sample(names, 300)
        for entry in moved:
            os.rename(os.path.join(cur, entry),
                      os.path.join(self.away, entry))
        time.sleep(0.05)
        for entry in moved:
            os.rename(os.path.join(self.away, entry),
                      os.path.join(cur, entry))

    # -- D9: a dovecot-uidlist with N4294967295 --

    def d9_huge_uid_range(self):
        box = self.folder("Huge")
        if not os.listdir(os.path.join(box, "cur")):
            bases = [self.deliver(box, sub="cur", suffix=":2,S")
                     for _ in range(3)]
            lines = [b"3 V1234 N4294967295"]
            lines += [b"%d :%s" % (4294967290 + i, base.encode())
                      for i, base in enumerate(bases)]
            self.write(os.path.join(box, "dovecot-uidlist.tmp"),
                       b"\n".join(lines) + b"\n")
            os.rename(os.path.join(box, "dovecot-uidlist.tmp"),
                      os.path.join(box, "dovecot-uidlist"))
            self.cs("reindex", "Huge")
        self.cs("fetch", "Huge", "--changedsince", "0")
        self.cs("store", "Huge", "1:*", "+FLAGS", "(\\Flagged)")
        self.cs("store", "Huge", "1:*", "-FLAGS", "(\\Flagged)")
        self.cs("vanished", "Huge", "--since", "1")

    # -- D11: a rebuild that fails, a rebuild killed --

    def d11_rebuilds(self):
        hwm = self.db + ".hwm"
        self.swap_in(hwm, lambda p: self.write(
            p, b"maildir-condstore-hwm 2 18446744073709551615 -1\n"))
        # a failing rebuild: the .hwm is garbage while it runs
        aside = hwm + ".keep"
        if os.path.lexists(hwm):
            os.rename(hwm, aside)
        self.write(hwm, b"maildir-condstore-hwm -1\n")
        self.cs("reindex", "--rebuild")
        os.unlink(hwm)
        if os.path.lexists(aside):
            os.rename(aside, hwm)
        # a rebuild killed at some point
        proc = subprocess.Popen(
            [self.condstore, "--maildir", self.root, "reindex",
             "--rebuild"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(self.rng.random() * 0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    # -- D12: one base name in new/ and cur/ --

    def d12_same_base(self):
        cur = os.path.join(self.root, "cur")
        for entry in os.listdir(cur)[:3]:
            base = entry.split(":", 1)[0]
            path = os.path.join(self.root, "new", base)
            if not os.path.lexists(path):
                shutil.copyfile(os.path.join(cur, entry), path)

    # -- D13: an older index restored from a backup, the .hwm kept --

    def d13_restored_backup(self):
        if not os.path.isfile(self.db) or os.path.islink(self.db):
            return
        if self.backup is None:
            self.backup = self.db + ".backup"
            shutil.copyfile(self.db, self.backup)
            return
        self.deliver(self.root)
        os.rename(self.backup, self.db)
        self.backup = None

    # -- the lesser items --

    def lesser(self):
        box = self.folder("Odd")
        self.deliver(box)
        uidlist = os.path.join(box, "dovecot-uidlist")
        base = self.deliver(box, sub="cur", suffix=":2,Sa")
        for data in (b"3 V0 N1\n",                      # UIDVALIDITY 0
                     b"3 V12",                          # header cut short
                     b"3 V1234 N9\n1 :%s\n1 :other\n" % base.encode()):
            self.swap_in(uidlist, lambda p, d=data: self.write(p, d),
                         hold=0.02)
        # keyword names that are not atoms, control characters, ESC
        self.write(os.path.join(box, "dovecot-keywords"),
                   b"0 a b\n1 (paren)\n2 \\Seen\n3 \x1b[2Jesc\n")
        # names with control characters, ESC, a forged output line
        for tag in ("\x1b[31mred", "\n* 1 FETCH (UID 9)", "\r\t"):
            self.deliver(box, self.name(tag))
        self.swap_in(self.db + ".hwm", lambda p: self.write(
            p, b"maildir-condstore-hwm 2 +42 -1\n"))
        self.cs("fetch", "Odd")

    def last_round(self):
        """The Maildir itself swapped for a symlink (the glob must not
        follow it), and back."""
        self.swap_in(self.root, lambda p: os.symlink(self.outside, p),
                     hold=0.5)

    ATTACKS = ("d1_fifos", "d10_foreign_and_truncated_index",
               "d2_d3_symlinked_folders", "d4_sparse_files",
               "d5_index_locked", "d6_store_name_too_long",
               "d8_moves_out", "d9_huge_uid_range", "d11_rebuilds",
               "d12_same_base", "d13_restored_backup", "lesser")


def main():
    root, outside, seconds, condstore = sys.argv[1:5]
    end = time.monotonic() + float(seconds)
    attacker = Attacker(root, outside, condstore)
    counts = {name: 0 for name in Attacker.ATTACKS}
    while True:
        for name in Attacker.ATTACKS:
            getattr(attacker, name)()
            counts[name] += 1
        attacker.n += 1
        if time.monotonic() >= end:
            break
    attacker.last_round()
    counts["root_symlink"] = 1
    print(json.dumps({"rounds": attacker.n, "attacks": counts}))


if __name__ == "__main__":
    main()
