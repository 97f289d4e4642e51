#!/usr/bin/env python3
"""A rescan racing a rename storm: while another process keeps renaming
files (flag changes, as mutt does, as fast as it can), repeated reindexes
must never take a renamed message for an expunged one.  A false expunge
would show as a tombstone (VANISHED) and as a second UID for the message
when it is seen again; neither may happen, and once the storm is over a
reindex makes check clean."""

import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402

MESSAGES = 2000


def storm(cur, stop, seed):
    """Rename every file of cur/ back and forth between two flag sets."""
    import random
    rng = random.Random(seed)
    names = [n for n in os.listdir(cur) if not n.startswith(".")]
    while not stop.is_set():
        i = rng.randrange(len(names))
        old = names[i]
        base, info = old.split(":2,")
        new = base + ":2," + ("FS" if info == "S" else "S")
        try:
            os.rename(os.path.join(cur, old), os.path.join(cur, new))
            names[i] = new
        except FileNotFoundError:
            pass


class ScanRace(cstest.CondstoreCase):
    seed = 11

    def test_no_false_expunge(self):
        for _ in range(MESSAGES):
            self.md.deliver("INBOX", "S")
        self.cs("-q", "reindex")
        h0 = self.hms()
        stop = multiprocessing.Event()
        renamer = multiprocessing.Process(
            target=storm, args=(os.path.join(self.md.root, "cur"), stop, 5))
        renamer.start()
        try:
            for _ in range(15):
                res = self.cs("-q", "reindex", rc=None)
                self.assertIn(res.rc, (0,), res)
        finally:
            stop.set()
            renamer.join(30)
            if renamer.is_alive():
                renamer.kill()
                renamer.join()
        self.cs("-q", "reindex")
        self.assert_clean()
        st = self.status()["INBOX"]
        # no message was numbered twice, none was taken for expunged
        self.assertEqual(st["MESSAGES"], MESSAGES)
        self.assertEqual(st["UIDNEXT"], MESSAGES + 1)
        res = self.cs("vanished", "INBOX", "--since", str(h0))
        self.assertEqual(res.out.strip(), "", res)
        self.assertGreater(self.hms(), h0)


if __name__ == "__main__":
    cstest.main()
