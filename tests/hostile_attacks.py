#!/usr/bin/env python3
"""The attacks of a hostile user on their own Maildir, in a loop, for the
end-to-end test of a root daemon serving several users
(tests/test_watch_hostile_users.py runs this as that user).

usage: hostile_attacks.py MAILDIR OUTSIDE SECONDS

OUTSIDE is a directory outside the Maildir the user can read (with new/
and cur/ full of names that must never reach the index).  Every attack
puts things back afterwards, so that the next one finds the Maildir
whole.  Prints the number of rounds."""

import os
import sys
import time


def swap_in(path, make):
    """Put what make(path) creates at path for a moment, then the old
    file back."""
    aside = path + ".aside"
    had = os.path.lexists(path)
    if had:
        os.rename(path, aside)
    try:
        make(path)
        time.sleep(0.002)
    finally:
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        if had:
            os.rename(aside, path)


def garbage(path):
    with open(path, "wb") as f:
        f.write(b"not a tdb at all\n" * 10)


def hwm_garbage(path):
    with open(path, "w") as f:
        f.write("maildir-condstore-hwm 2 18446744073709551615 -1\n")


def attack_round(root, outside, n):
    db = os.path.join(root, "condstore.tdb")
    swap_in(db, lambda p: os.mkfifo(p, 0o600))
    swap_in(db + ".hwm", lambda p: os.mkfifo(p, 0o600))
    swap_in(db, garbage)
    swap_in(db, lambda p: os.mkdir(p))
    swap_in(db + ".hwm", hwm_garbage)
    # a folder whose new/ and cur/ become symlinks to the outside
    box = os.path.join(root, ".Evil%d" % (n % 20))
    for sub in ("", "cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
    for sub in ("new", "cur"):
        path = os.path.join(box, sub)
        if os.path.isdir(path) and not os.path.islink(path):
            os.rename(path, path + ".x%d" % n)
        elif os.path.islink(path):
            os.unlink(path)
        os.symlink(os.path.join(outside, sub), path)
    # a FIFO for dovecot-uidlist and dovecot-keywords in that folder
    for name in ("dovecot-uidlist", "dovecot-keywords"):
        path = os.path.join(box, name)
        if not os.path.lexists(path):
            os.mkfifo(path, 0o600)
    # a symlinked folder
    link = os.path.join(root, ".Link%d" % (n % 5))
    if not os.path.lexists(link):
        os.symlink(outside, link)


def main():
    root, outside, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        attack_round(root, outside, n)
        n += 1
    print(n)


if __name__ == "__main__":
    main()
