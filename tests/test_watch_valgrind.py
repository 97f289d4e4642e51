#!/usr/bin/env python3
"""The watch daemon under valgrind (memcheck, full leak check): every
event kind, folder changes, the watch-limit fallback, SIGHUP and a clean
stop, and "condstore sync" itself; any invalid access or leak makes
valgrind exit 99.  Skipped without valgrind."""

import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cstest  # noqa: E402
import watchtest  # noqa: E402


def valgrind(log):
    return ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--log-file=" + log]


class Valgrind(watchtest.WatchCase):
    seed = 71

    def test_daemon_under_valgrind(self):
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed")
        made = self.md.populate({"INBOX": 20, "Work": 5}, keywords=())
        vlog = os.path.join(self.md.tmp, "valgrind.log")
        # two watches: the rest runs on the fallback rescans
        daemon = self.start_daemon("-v", "--max-watches", "2",
                                   "--rescan-interval", "0.5",
                                   wrapper=valgrind(vlog))
        md = self.md
        md.set_flags("INBOX", made["INBOX"][0], "FS")
        md.deliver("INBOX")
        md.move("INBOX", made["INBOX"][1], "Work")
        md.delete("INBOX", made["INBOX"][2])
        self.sync()
        self.assertIn("limit reached", daemon.log())
        # again with every watch, for the event paths
        self.stop_daemon(daemon)
        daemon = self.start_daemon("-v", wrapper=valgrind(vlog + ".2"),
                                   log_name="watch2.log")
        base = md.deliver("INBOX")
        md.see("INBOX", base, "S")
        md.set_flags("Work", made["Work"][0], "RS")
        md.move("Work", made["Work"][1], "INBOX")
        md.delete("INBOX", made["INBOX"][3])
        os.mkdir(os.path.join(md.root, ".New"))
        for sub in ("cur", "new", "tmp"):
            os.mkdir(os.path.join(md.root, ".New", sub))
        md.deliver("New", "S")
        self.sync()
        os.rename(os.path.join(md.root, ".New"),
                  os.path.join(md.root, ".Old"))
        self.sync()
        shutil.rmtree(os.path.join(md.root, ".Old"))
        daemon.signal(signal.SIGHUP)
        # sync itself under valgrind
        vsync = os.path.join(self.md.tmp, "valgrind-sync.log")
        proc = subprocess.run(valgrind(vsync) + [
            cstest.condstore_path(), "--maildir", md.root, "sync"])
        self.assertEqual(proc.returncode, 0)
        for mailbox in ("INBOX", "Work"):
            self.assert_matches_disk(mailbox)
        self.assert_clean()
        self.assertTrue(re.search(r"modseq \d+", daemon.log()))
        self.stop_daemon(daemon)
        for log in (vlog, vlog + ".2", vsync):
            # created by valgrind; with -q it stays empty unless an error
            # or a leak was found
            with open(log) as f:
                text = f.read()
            self.assertEqual(text, "", text)


if __name__ == "__main__":
    cstest.main()
