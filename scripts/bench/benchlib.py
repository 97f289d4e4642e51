"""benchlib.py - what every benchmark script of scripts/bench shares.

Settings come from the environment (see doc/benchmarks.md):

  BENCH_SIZES    mailbox sizes, comma-separated (default 10000,100000;
                 add 1000000 to measure 1M messages, which takes minutes)
  BENCH_RUNS     repetitions of each measurement (default 5); the median
                 is reported; BENCH_RUNS_1M at 1M messages (default 3)
  BENCH_TMPDIR   where the test Maildirs go (default: $TMPDIR or /tmp when
                 it is on a disk, else the build tree); never tmpfs
  BENCH_KEEP     keep the temporary directory (its path is printed)
  BENCH_RESULTS  append every figure as one JSON line to this file (the
                 run driver collects them into its table)
  top_builddir   the build tree (default: the current directory, build/
                 as scripts/run makes it, or the source tree, whichever
                 holds a build)
  CONDSTORE      the condstore program (default: top_builddir/condstore)
  CS_PLUGIN_DIR  the directory of the built Dovecot plugin (default:
                 top_builddir/plugin/.libs)

Each figure is printed as one line: the median of the runs, and, where the
figure has a baseline measured in the same run, the baseline's median, the
ratio, and the goal with "ok" or "MISSED".  Benchmarks never fail on time:
the scripts exit 0 unless something did not work (exit 2) or the data was
wrong (exit 1: a lost event, a wrong answer).

Every process a script starts is ended by its PID.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOST = "127.0.0.1"


class BenchError(Exception):
    """Something did not work: the figure cannot be measured."""


# --- settings ------------------------------------------------------------

def builddir():
    """The build tree: $top_builddir, else the first of the current
    directory, the build directory of scripts/setup ($CS_BUILD_DIR,
    default build/) and the source tree that holds a build."""
    env = os.environ.get("top_builddir")
    if env:
        return os.path.abspath(env)
    setup_dir = os.path.join(SRCDIR, os.environ.get("CS_BUILD_DIR",
                                                    "build"))
    for d in (os.getcwd(), setup_dir, SRCDIR):
        if os.path.exists(os.path.join(d, "scripts", "bench", "bench-gen")):
            return d
    return SRCDIR


def helper(name):
    """A C helper built from scripts/bench (bench-gen, bench-rename...)."""
    path = os.path.join(builddir(), "scripts", "bench", name)
    if not os.access(path, os.X_OK):
        raise BenchError("%s is not built: run ./autogen.sh && ./configure "
                         "&& make (or set top_builddir)" % path)
    return path


def condstore():
    path = os.environ.get("CONDSTORE") or os.path.join(builddir(),
                                                       "condstore")
    if not os.access(path, os.X_OK):
        raise BenchError("%s is not built (set CONDSTORE or top_builddir)"
                         % path)
    return path


def plugin_dir():
    return os.environ.get("CS_PLUGIN_DIR") or \
        os.path.join(builddir(), "plugin", ".libs")


def sizes():
    text = os.environ.get("BENCH_SIZES", "10000,100000")
    try:
        out = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise BenchError("BENCH_SIZES=%s: not a list of numbers" % text)
    if not out or out[0] < 10:
        raise BenchError("BENCH_SIZES=%s: sizes must be >= 10" % text)
    return out


def runs(size=0):
    """Repetitions: BENCH_RUNS (default 5); at a million messages or
    more, where one run takes seconds, BENCH_RUNS_1M (default: at most
    3)."""
    n = max(1, int(os.environ.get("BENCH_RUNS", "5")))
    if size >= 1000000:
        return max(1, int(os.environ.get("BENCH_RUNS_1M", min(n, 3))))
    return n


def size_label(n):
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


# --- the temporary directory ---------------------------------------------

def fs_type(path):
    p = subprocess.run(["stat", "-f", "-c", "%T", path],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True)
    return p.stdout.strip() if p.returncode == 0 else "unknown"


def tmp_base():
    """A directory on a local disk for the test Maildirs."""
    explicit = os.environ.get("BENCH_TMPDIR")
    candidates = [explicit] if explicit else \
        [os.environ.get("TMPDIR") or "/tmp", builddir()]
    for d in candidates:
        if d and os.path.isdir(d) and os.access(d, os.W_OK):
            t = fs_type(d)
            if t in ("tmpfs", "ramfs"):
                if explicit:
                    raise BenchError("BENCH_TMPDIR=%s is on %s: the "
                                     "benchmarks need a disk" % (d, t))
                continue
            return d
    raise BenchError("no writable directory on a disk for the test data: "
                     "set BENCH_TMPDIR")


class Workdir:
    """A temporary directory on the local disk, removed on exit (unless
    BENCH_KEEP is set).  BENCH_WORKDIR, set by as_mail_user(), names one
    made by the parent process, which then removes it."""

    def __init__(self, prefix="cs-bench-"):
        self.given = os.environ.get("BENCH_WORKDIR")
        if self.given:
            self.path = self.given
        else:
            self.path = tempfile.mkdtemp(prefix=prefix, dir=tmp_base())
        self.keep = bool(os.environ.get("BENCH_KEEP"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.keep:
            note("data kept in %s" % self.path)
        elif not self.given:
            shutil.rmtree(self.path, ignore_errors=True)
        return False

    def sub(self, *parts):
        return os.path.join(self.path, *parts)

    def clear(self, name):
        """Remove a subdirectory (a Maildir of the previous size)."""
        shutil.rmtree(self.sub(name), ignore_errors=True)


MAIL_USER = "nobody"


def as_mail_user(main):
    """Dovecot's mail processes refuse root.  Started as root, run main
    as MAIL_USER in a child process, in a work directory made and removed
    here (the child cannot remove a directory in a root-owned parent);
    otherwise just run main.  Returns main's exit code."""
    if os.geteuid() != 0:
        return main()
    pw = pwd.getpwnam(MAIL_USER)
    base = tempfile.mkdtemp(prefix="cs-bench-", dir=tmp_base())
    os.chmod(base, 0o700)
    os.chown(base, pw.pw_uid, pw.pw_gid)
    # every directory above must be searchable by the mail user
    d = os.path.dirname(base)
    while d != "/":
        if os.stat(d).st_mode & 0o001 == 0:
            shutil.rmtree(base)
            raise BenchError("%s is not searchable by user %s: set "
                             "BENCH_TMPDIR to a directory it can reach"
                             % (d, MAIL_USER))
        d = os.path.dirname(d)
    env = dict(os.environ, BENCH_WORKDIR=base, HOME="/",
               USER=pw.pw_name, LOGNAME=pw.pw_name)
    # the child writes its figures into its own directory; they are
    # appended to BENCH_RESULTS here
    results = os.environ.get("BENCH_RESULTS")
    if results:
        env["BENCH_RESULTS"] = os.path.join(base, "results.jsonl")

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    python = shutil.which("python3", path="/usr/bin:/usr/local/bin") or \
        sys.executable
    proc = subprocess.Popen([python, os.path.abspath(sys.argv[0])] +
                            sys.argv[1:], env=env, preexec_fn=drop)
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait()
        if results and os.path.exists(env["BENCH_RESULTS"]):
            with open(env["BENCH_RESULTS"]) as src, \
                    open(results, "a") as dst:
                dst.write(src.read())
        if os.environ.get("BENCH_KEEP"):
            note("data kept in %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)


# --- running programs ----------------------------------------------------

class Result:
    def __init__(self, seconds, rss_kb, stdout, code):
        self.seconds = seconds
        self.rss_kb = rss_kb
        self.stdout = stdout
        self.code = code


def run(argv, ok_codes=(0,)):
    """Run argv and wait for it by its PID (wait4); returns a Result with
    the wall time, the peak RSS of that process and its output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = b"", b""
    try:
        bufs = {}

        def drain(name, f):
            bufs[name] = f.read()
        threads = [threading.Thread(target=drain, args=(n, f))
                   for n, f in (("out", proc.stdout),
                                ("err", proc.stderr))]
        for t in threads:
            t.start()
        _, status, rusage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        for t in threads:
            t.join()
        out, err = bufs.get("out", b""), bufs.get("err", b"")
    except BaseException:
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        raise
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in ok_codes:
        raise BenchError("%s exited with %d: %s" % (
            " ".join(argv), code,
            err.decode(errors="replace").strip()[-500:]))
    return Result(seconds, rusage.ru_maxrss, out.decode(errors="replace"),
                  code)


def vm_status(pid):
    """{"VmHWM": kB, "RssAnon": kB, "RssFile": kB, ...} of a running
    process (/proc/PID/status), empty if it is gone.  VmHWM is the peak
    RSS; it counts the pages of mapped files (the tdb) too, RssAnon the
    process's own memory now."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


def stop(proc, timeout=30):
    """End a process this script started, by its PID: SIGTERM, then
    SIGKILL if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


# --- the data ------------------------------------------------------------

def make_maildir(root, count, seed=4551):
    """A Maildir++ root whose INBOX holds count messages with realistic,
    fully random unique names (bench-gen)."""
    t0 = time.perf_counter()
    os.makedirs(os.path.dirname(root), exist_ok=True)
    run([helper("bench-gen"), "--seed", str(seed), root, str(count)])
    note("generated %s messages in %s (%.1f s)" % (
        size_label(count), root, time.perf_counter() - t0))


def rename(curdir, count=None, skip=0, flag="F"):
    """Toggle flag on count files of curdir (all by default); returns
    (renames, seconds) as the renamer measured them."""
    argv = [helper("bench-rename"), "--flag", flag, "--skip", str(skip)]
    if count is not None:
        argv += ["--count", str(count)]
    out = run(argv + [curdir]).stdout.split()
    return int(out[0]), float(out[1])


def cs(maildir, *args, ok_codes=(0,)):
    """Run condstore --maildir maildir -q args...; returns a Result."""
    argv = [condstore(), "--maildir", maildir, "-q"] + list(args)
    return run(argv, ok_codes)


def status(maildir, mailbox="INBOX"):
    """{"MESSAGES": n, "HIGHESTMODSEQ": n, ...} of condstore status."""
    out = cs(maildir, "status", mailbox).stdout
    m = re.search(r"\((.*)\)", out)
    if not m:
        raise BenchError("condstore status: unexpected output %r" % out)
    items = m.group(1).split()
    return {items[i]: int(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def fetch_lines(out):
    return [line for line in out.splitlines() if " FETCH " in line]


def have_watch():
    """Does the condstore program have the watch and sync commands?"""
    for cmd in ("watch", "sync"):
        r = subprocess.run([condstore(), "help", cmd],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return False
    return True


def watch_start(maildir, log_path, *extra):
    """Start condstore watch on maildir, logging to log_path; returns the
    Popen once the daemon has caught up (condstore sync answers)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([condstore(), "--maildir", maildir,
                                 "watch"] + list(extra),
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log)
    deadline = time.monotonic() + 600
    while True:
        if proc.poll() is not None:
            raise BenchError("condstore watch exited with %d (see %s)" % (
                proc.returncode, log_path))
        r = subprocess.run([condstore(), "--maildir", maildir, "-q", "sync",
                            "--timeout", "60000"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return proc
        if time.monotonic() > deadline:
            stop(proc)
            raise BenchError("condstore watch did not answer sync")
        time.sleep(0.05)


def count_in_file(path, text):
    """Lines of path containing text (0 if there is no file)."""
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if text in line)
    except FileNotFoundError:
        return 0


def sync(maildir, timeout_ms=600000):
    """condstore sync; returns its wall time."""
    return cs(maildir, "sync", "--timeout", str(timeout_ms)).seconds


# --- figures -------------------------------------------------------------

def median(values):
    return statistics.median(values)


def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        if v < 1e-3:
            return "%.0f us" % (v * 1e6)
        if v < 1:
            return "%.1f ms" % (v * 1e3)
        return "%.2f s" % v
    if unit == "kB":
        return "%.1f MB" % (v / 1024) if v >= 10240 else "%d kB" % v
    if unit == "/s":
        return "%.0f/s" % v if v >= 100 else "%.1f/s" % v
    if unit == "%":
        return "%+.1f%%" % v
    if unit == "x":
        return "%.2fx" % v
    if unit == "B":
        return "%.0f B" % v
    return ("%g %s" % (v, unit)).strip()


def note(text):
    sys.stderr.write("  [%s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def figure(scenario, size, name, value, unit, base_name=None,
           base_value=None, goal=None, goal_max=None, goal_min=None,
           ratio_of=None, runs_n=None, extra=None, judge=None):
    """Print one figure (and append it to BENCH_RESULTS).

    The ratio is value / base_value (ratio_of="speedup" gives base_value
    / value).  goal_max / goal_min bound the ratio (or the value itself
    when there is no baseline, or when judge is "value"); goal is its
    text."""
    ratio = None
    if base_value not in (None, 0) and value is not None:
        ratio = base_value / value if ratio_of == "speedup" else \
            value / base_value
    verdict = ""
    judged = value if judge == "value" or ratio is None else ratio
    if judged is not None and (goal_max is not None or
                               goal_min is not None):
        ok = (goal_max is None or judged <= goal_max) and \
             (goal_min is None or judged >= goal_min)
        verdict = "ok" if ok else "MISSED"
    line = "%-12s %5s  %-44s %11s" % (scenario, size_label(size)
                                      if size else "-", name,
                                      fmt_value(value, unit))
    if base_name is not None:
        line += "  | %s %s" % (base_name, fmt_value(base_value, unit))
    if ratio is not None:
        line += "  %s %s" % ("speed-up" if ratio_of == "speedup" else
                             "ratio", "%.2f" % ratio if ratio < 100 else
                             "%.0f" % ratio)
    if goal:
        line += "  [goal %s: %s]" % (goal, verdict or "-")
    if extra:
        line += "  (%s)" % extra
    print(line, flush=True)
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({
                "scenario": scenario, "size": size, "figure": name,
                "value": value, "unit": unit, "baseline": base_name,
                "base_value": base_value, "ratio": ratio,
                "ratio_of": ratio_of, "goal": goal, "verdict": verdict,
                "extra": extra, "runs": runs_n}) + "\n")


def header(scenario, what):
    print("# %s: %s  (%s, %d cores, runs %s, sizes %s)" % (
        scenario, what, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(),
        os.environ.get("BENCH_RUNS", "5"),
        ",".join(size_label(s) for s in sizes())), flush=True)


def main_wrapper(main):
    """Run a scenario's main(): BenchError -> exit 2 with the message."""
    try:
        code = main()
    except BenchError as e:
        sys.stderr.write("bench: %s\n" % e)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code or 0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]
