#!/usr/bin/env python3
"""The watch daemon against a hostile user of a Maildir it serves: new/
swapped for a symlink to a directory outside the Maildir right after a
folder appears (the daemon must never read it: no outside name lands in
the index), and a FIFO where the index belongs (the daemon does not
block, other Maildirs stay served)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402

FOLDERS = int(os.environ.get("CSTEST_SWAP_FOLDERS", "200"))


def make_secret(path, marker="SECRETNAME"):
    cstest.Maildir.make_dirs(path)
    for i in range(5):
        for sub in ("new", "cur"):
            with open(os.path.join(path, sub, "16000000%02d.M%dP1.%s%s" % (
                    i, i, marker, sub)), "w") as f:
                f.write("secret\n")


def index_has(db, marker):
    try:
        with open(db, "rb") as f:
            return marker.encode() in f.read()
    except FileNotFoundError:
        return False


class WatchHostile(watchtest.WatchCase):

    @staticmethod
    def swap(box, secret, sub, to_link):
        """Make box/sub a symlink to secret/sub (to_link), or the real
        directory again (kept as sub.x meanwhile, with a message put in
        it so that there is something to scan)."""
        path = os.path.join(box, sub)
        if to_link:
            os.rename(path, path + ".x")
            os.symlink(os.path.join(secret, sub), path)
        else:
            os.unlink(path)
            os.rename(path + ".x", path)

    def test_new_swapped_for_symlink(self):
        md = self.md
        secret = os.path.join(md.tmp, "secret")
        make_secret(secret)
        md.deliver("INBOX", "S")
        self.cs("reindex")
        daemon = self.start_daemon()
        # each folder appears whole, then its new/ (and for half of them
        # cur/) is swapped for a symlink to the secret directory and back,
        # ending as a symlink: the daemon sees real directories come and
        # go while it sets the folder up and scans it
        boxes = []
        for i in range(FOLDERS):
            box = os.path.join(md.root, ".F%d" % i)
            os.mkdir(box)
            for sub in ("cur", "tmp", "new"):
                os.mkdir(os.path.join(box, sub))
            boxes.append(box)
            self.swap(box, secret, "new", to_link=True)
            if i % 2:
                self.swap(box, secret, "cur", to_link=True)
        for _ in range(3):
            for i, box in enumerate(boxes):
                for to_link in (False, True):
                    self.swap(box, secret, "new", to_link)
                    if i % 2:
                        self.swap(box, secret, "cur", to_link)
        self.sync()
        md.deliver("INBOX", "S")
        self.sync()
        self.assertFalse(index_has(self.db(), "SECRETNAME"))
        self.assertEqual(len(self.uids("INBOX")), 2)
        self.stop_daemon(daemon)

    def test_fifo_index_other_root_served(self):
        md = self.md
        other = cstest.Maildir(root=os.path.join(md.tmp, "other"))
        md.deliver("INBOX", "S")
        other.deliver("INBOX", "S")
        self.cs("reindex")
        cstest.run(["reindex"], maildir=other.root)
        os.unlink(self.db())
        os.mkfifo(self.db(), 0o600)
        daemon = self.start_daemon("--maildir", md.root, "--maildir",
                                   other.root, maildirs=[other.root])
        for _ in range(3):
            other.deliver("INBOX", "S")
            md.deliver("INBOX", "S")
            res = watchtest.sync(other.root, 60000)
            self.assertEqual(res.rc, 0, res)
        self.assertEqual(len(cstest.index_uids(
            os.path.join(other.root, "condstore.tdb"))), 4)
        self.assertIn("not a regular file", daemon.log())
        self.assertEqual(daemon.stop(timeout=60), 0, daemon.log())


    def test_glob_symlinked_root_not_followed(self):
        md = self.md
        vmail = os.path.join(md.tmp, "vmail")
        real = cstest.Maildir(root=os.path.join(vmail, "a", "Maildir"))
        target = cstest.Maildir(root=os.path.join(md.tmp, "elsewhere"))
        os.makedirs(os.path.join(vmail, "b"))
        os.symlink(target.root, os.path.join(vmail, "b", "Maildir"))
        real.deliver("INBOX", "S")
        target.deliver("INBOX", "S")
        daemon = self.start_daemon(
            "--maildirs-glob", os.path.join(vmail, "*", "Maildir"),
            maildirs=[real.root])
        real.deliver("INBOX")
        self.sync(real.root)
        self.assertEqual(len(cstest.index_uids(
            os.path.join(real.root, "condstore.tdb"))), 2)
        self.assertFalse(os.path.exists(os.path.join(target.root,
                                                     "condstore.tdb")))
        self.assertIn("is a symlink", daemon.log())
        self.stop_daemon(daemon)


if __name__ == "__main__":
    cstest.main()
