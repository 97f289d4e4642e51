#!/usr/bin/env python3
"""test_plugin_load.py - Dovecot loads the plugin from the build tree and
enables it for the user; QRESYNC is advertised (in the login reply and
CAPABILITY) and enabled (ENABLE, SELECT ... (QRESYNC ...)), its VANISHED
served from the index (tests/test_plugin_qresync.py).  A process other
than imap (doveadm) loads it too and reports the same HIGHESTMODSEQ.
The plugin's settings (plugin { } on Dovecot 2.3, its declared settings
on 2.4) reach it: another index file, fsync per commit."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402
import dovecotconf  # noqa: E402


def make_maildir(home):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(home, "Maildir", sub))
    path = os.path.join(home, "Maildir", "cur",
                        "1700000000.M1P2.cstest,S=42:2,S")
    with open(path, "w") as f:
        f.write("Subject: load test\n\nbody\n")


def words(text):
    return text.upper().split()


def check_qresync_offered(imap):
    # the capabilities in the login reply's response code
    login_caps = " ".join(dovecot.response_text(
        imap.untagged_responses.pop("CAPABILITY", [])))
    assert "CONDSTORE" in words(login_caps), login_caps
    assert "QRESYNC" in words(login_caps), login_caps

    data = dovecot.imap_ok(imap.capability(), "CAPABILITY")
    caps = dovecot.response_text(data)[0]
    assert "CONDSTORE" in words(caps), caps
    assert "QRESYNC" in words(caps), caps

    typ, data = imap._simple_command("ENABLE", "QRESYNC", "CONDSTORE")
    assert typ == "OK", (typ, data)
    enabled = " ".join(dovecot.response_text(
        imap.untagged_responses.pop("ENABLED", [])))
    assert "QRESYNC" in words(enabled), enabled
    assert "CONDSTORE" in words(enabled), enabled

    # a UIDVALIDITY that does not match: selected, nothing resynchronised
    typ, data = imap._simple_command("SELECT", "INBOX", "(QRESYNC (1 1))")
    assert typ == "OK", (typ, data)
    assert not imap.untagged_responses.pop("VANISHED", None)


def check_settings():
    """maildir_condstore_db (with the home expanded by Dovecot) and
    maildir_condstore_nosync = no are what the plugin uses."""
    home = tempfile.mkdtemp(prefix="cs-home-")
    try:
        make_maildir(home)
        db = os.path.join(home, "Maildir", "other.tdb")
        settings = {
            "maildir_condstore_db":
                dovecotconf.home_var() + "/Maildir/other.tdb",
            "maildir_condstore_nosync": "no"}
        with dovecot.Dovecot(home, plugin_settings=settings) as dc:
            imap = dc.connect()
            try:
                dovecot.imap_ok(imap.select("INBOX"), "SELECT")
            finally:
                imap.logout()
            dc.stop()
            log = dc.check_log()
            want = "maildir_condstore: enabled (db %s, fsync per commit)" \
                % db
            assert want in log, (want, log)
            assert os.path.exists(db), db
            assert not os.path.exists(os.path.join(
                home, "Maildir", "condstore.tdb")), "default index used"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main():
    dovecot.start_test()
    home = tempfile.mkdtemp(prefix="cs-home-")
    try:
        make_maildir(home)
        with dovecot.Dovecot(home) as dc:
            imap = dc.connect()
            try:
                check_qresync_offered(imap)
                dovecot.imap_ok(imap.select("INBOX"), "SELECT")
                hms = dovecot.response_code(imap, "HIGHESTMODSEQ")
            finally:
                imap.logout()
            # the imap-side symbols are missing in doveadm: the plugin's
            # storage part works there all the same
            p = subprocess.run(
                [dovecot.DOVEADM, "-c", dc.conf, "mailbox", "status",
                 "-u", dc.user.name, "highestmodseq", "INBOX"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                universal_newlines=True)
            assert p.returncode == 0, p
            assert re.search(r"\b(Panic|Fatal|Error):", p.stderr) is None, p
            assert p.stdout.split() == ["INBOX", "highestmodseq=" + hms], \
                (p.stdout, hms)
            dc.stop()
            log = dc.check_log()
            assert "Module loaded: " in log and dovecot.PLUGIN_SO in log, \
                "plugin not loaded:\n" + log
            assert "maildir_condstore: enabled" in log, log
    finally:
        shutil.rmtree(home, ignore_errors=True)
    check_settings()
    print("ok: plugin loaded, QRESYNC advertised and enabled, settings read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
