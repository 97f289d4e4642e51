#!/usr/bin/env python3
"""The library's files call only downward: scripts/libgraph finds no call
cycle among indexer/lib/*.c, and it does find one when two files call
each other (so that a cycle added later fails "make check")."""

import os
import subprocess
import sys
import tempfile
import unittest

SRCDIR = os.environ.get("top_srcdir") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBGRAPH = os.path.join(SRCDIR, "scripts", "libgraph")


def libgraph(top):
    return subprocess.run([sys.executable, LIBGRAPH, top],
                          capture_output=True, text=True)


class TestLayers(unittest.TestCase):
    def test_library_has_no_cycle(self):
        res = libgraph(SRCDIR)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotIn("CYCLE", res.stdout)
        listed = [l.split(":")[0] for l in res.stdout.splitlines()]
        files = sorted(f[:-2] for f in
                       os.listdir(os.path.join(SRCDIR, "indexer", "lib"))
                       if f.endswith(".c"))
        self.assertEqual(sorted(listed), files)
        # bottom-up: the db layer before what uses it
        self.assertLess(listed.index("cs-db"), listed.index("cs-index"))
        self.assertLess(listed.index("cs-index"), listed.index("cs-open"))

    def test_cycle_is_found(self):
        with tempfile.TemporaryDirectory() as top:
            lib = os.path.join(top, "indexer", "lib")
            os.makedirs(lib)
            with open(os.path.join(lib, "cs-a.c"), "w") as f:
                f.write("int a(void)\n{\n\treturn b();\n}\n")
            with open(os.path.join(lib, "cs-b.c"), "w") as f:
                f.write("/* a() */\nint b(void)\n{\n\treturn a();\n}\n")
            with open(os.path.join(lib, "cs-c.c"), "w") as f:
                f.write("int c(void)\n{\n\treturn a();\n}\n")
            res = libgraph(top)
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertIn("CYCLE: cs-a <-> cs-b", res.stdout)
        self.assertIn("cs-c: cs-a\n", res.stdout)


if __name__ == "__main__":
    unittest.main()
