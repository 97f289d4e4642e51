#!/usr/bin/env python3
"""test_plugin_load.py - Dovecot loads the plugin, enables it for the
user, and neither advertises nor enables QRESYNC."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402


def main():
    dovecot.require()
    with dovecot.Dovecot() as dc:
        box = dc.make_maildir()
        dovecot.deliver(box, 3, flags="S")
        dc.user.chown_tree(dc.maildir)
        imap = dc.connect()
        try:
            # the capabilities in the login reply's response code
            login_caps = " ".join(dovecot.response_text(
                imap.untagged_responses.pop("CAPABILITY", []))).upper()
            assert "CONDSTORE" in login_caps.split(), login_caps
            assert "QRESYNC" not in login_caps.split(), login_caps
            data = dovecot.imap_ok(imap.capability(), "CAPABILITY")
            line = dovecot.response_text(data)[0].upper().split()
            assert "CONDSTORE" in line, line
            assert "QRESYNC" not in line, line
            typ, data = imap._simple_command("ENABLE", "QRESYNC",
                                             "CONDSTORE")
            assert typ == "OK", (typ, data)
            enabled = " ".join(dovecot.response_text(
                imap.untagged_responses.pop("ENABLED", []))).upper()
            assert "QRESYNC" not in enabled.split(), enabled
            assert "CONDSTORE" in enabled.split(), enabled
            # SELECT with QRESYNC parameters must be refused now
            try:
                typ, data = imap._simple_command(
                    "SELECT", "INBOX", "(QRESYNC (1 1))")
            except imap.error as e:
                typ, data = "BAD", str(e)
            assert typ != "OK" and "QRESYNC not enabled" in str(data), \
                (typ, data)
            dovecot.imap_ok(imap.select("INBOX"), "SELECT")
            imap.logout()
        finally:
            imap.shutdown() if imap.state != "LOGOUT" else None
        log = dc.check_log()
        assert "Module loaded: " in log and dovecot.PLUGIN_SO in log, \
            "plugin not loaded:\n" + log
        assert "maildir_condstore: enabled" in log, log
    print("ok: plugin loaded, QRESYNC neither advertised nor enabled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
