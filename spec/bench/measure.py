#!/usr/bin/python3
"""Side-by-side benchmark driver: dpty vs the docker CLI vs dockerpty (and a bare socket reader).

Run through spec/bench/run.sh, which builds dpty if needed, snapshots the binary and removes
leftover containers (label dpty.bench=1) whatever happens.

Each client runs the same workload; clients are interleaved round by round (the order rotates
each round) and medians are reported. Client CPU (user+sys), peak RSS and exit status come from
wait4() on the client process (its reaped children included). Tty workloads run the client
with stdin and stdout on a fresh pty (24x80, its controlling terminal) whose master this driver
drains as fast as it can and counts; the client therefore runs `run -it` as from a terminal.
stderr goes to a file, shown when a run fails (wrong exit code or byte count, timeout). Clients
are started through the small C launcher (launch.c) so that ru_maxrss is theirs, not the
driver's (the RSS high-water mark survives exec).
"""
import argparse
import datetime
import errno
import fcntl
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LABEL = "dpty.bench=1"
IMAGE = "busybox"
PY = "/usr/bin/python3"

LAUNCH = None        # spec/bench/launch.c, compiled by run.sh
SHOWN = {}           # executable path -> how to show it in reproduction commands
CURRENT_PGID = None  # process group of the client being measured, killed on SIGINT/SIGTERM


# ----------------------------------------------------------------------------------------------
# Running one client

class Run:
    def __init__(self, client, workload):
        self.client = client
        self.workload = workload
        self.wall = None
        self.cpu = None
        self.user = None
        self.sys = None
        self.rss_kib = None
        self.anon_kib = None
        self.nbytes = 0
        self.code = None
        self.signal = None
        self.timed_out = False
        self.stderr = ""
        self.head = b""     # first bytes of the output, for diagnostics
        self.tail = b""     # last bytes of the output, for diagnostics
        self.problems = []

    def ok(self):
        return not self.problems

    def to_json(self):
        return {k: (v.decode("latin-1") if isinstance(v, bytes) else v)
                for k, v in self.__dict__.items()}


def spawn(argv, mode, env, stderr_path):
    """Fork/exec argv. mode "pty": stdin/stdout on a new pty (the controlling terminal);
    mode "pipe": stdin /dev/null, stdout a pipe. stderr goes to stderr_path in both modes so
    that messages do not mix with the counted output. -> (pid, read fd)"""
    if mode == "pty":
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        rd, wr_in, wr_out = master, slave, slave
    else:
        rd, wr_out = os.pipe()
        wr_in = os.open(os.devnull, os.O_RDONLY)
        slave = None
    errfd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if mode == "pty":
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            os.dup2(wr_in, 0)
            os.dup2(wr_out, 1)
            os.dup2(errfd, 2)
            os.closerange(3, 65536)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)
        except BaseException as e:  # noqa: BLE001
            os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
        os._exit(127)
    os.close(errfd)
    if mode == "pty":
        os.close(slave)
    else:
        os.close(wr_out)
        os.close(wr_in)
    return pid, rd


def run_client(client, workload, argv, mode, timeout, env):
    """Run argv to completion, draining its output. -> Run"""
    global CURRENT_PGID
    r = Run(client, workload)
    errf = tempfile.NamedTemporaryFile(prefix="dpty-bench-err-", delete=False)
    errf.close()
    usef = tempfile.NamedTemporaryFile(prefix="dpty-bench-ru-", delete=False)
    usef.close()
    os.unlink(usef.name)
    t0 = time.monotonic()
    pid, fd = spawn([LAUNCH, usef.name] + argv, mode, env, errf.name)
    CURRENT_PGID = pid
    status = ru = None
    t_exit = None
    eof = False
    head = bytearray()
    tail = b""
    deadline = t0 + timeout
    sampler = AnonSampler(pid)
    while True:
        sampler.poll()
        if not eof:
            ready, _, _ = select.select([fd], [], [], 0.25)
            if ready:
                try:
                    data = os.read(fd, 1 << 16)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if data:
                    r.nbytes += len(data)
                    if len(head) < 4096:
                        head += data[:4096 - len(head)]
                    tail = (tail + data)[-256:]
                else:
                    eof = True
                    t_eof = time.monotonic()
        else:
            time.sleep(0.002)  # output closed, client not yet reaped: do not spin
        if status is None:
            p, st, usage = os.wait4(pid, os.WNOHANG)
            if p:
                status, ru, t_exit = st, usage, time.monotonic()
        now = time.monotonic()
        if status is not None and eof:
            break
        if status is not None and not eof and now - t_exit > 3:
            r.problems.append("output still open 3 s after the client exited (a child holds it)")
            break
        if status is None and eof and now - t_eof > 60:
            r.problems.append("client still running 60 s after its output closed")
            os.killpg(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            t_exit = time.monotonic()
            break
        if now > deadline:
            r.timed_out = True
            r.problems.append("timed out after %.0f s (killed)" % timeout)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if status is None:
                _, status, ru = os.wait4(pid, 0)
                t_exit = time.monotonic()
            break
    CURRENT_PGID = None
    os.close(fd)
    r.wall = (max(t_exit, t_eof) if eof else t_exit) - t0
    # The launcher's report is the client's own usage; without it (client killed with the
    # launcher) fall back to the launcher's, whose peak RSS is the driver's and meaningless.
    r.user, r.sys, r.rss_kib = ru.ru_utime, ru.ru_stime, None
    try:
        with open(usef.name) as f:
            u, s_, m, st = f.read().split()
        os.unlink(usef.name)
        r.user, r.sys, r.rss_kib, status = float(u), float(s_), int(m), int(st)
    except (OSError, ValueError):
        r.problems.append("no resource usage from the launcher")
    r.cpu = r.user + r.sys
    if os.WIFEXITED(status):
        r.code = os.WEXITSTATUS(status)
    else:
        r.signal = os.WTERMSIG(status)
    with open(errf.name, "rb") as f:
        r.stderr = f.read(4096).decode(errors="replace")
    os.unlink(errf.name)
    r.head, r.tail = bytes(head), tail
    r.anon_kib = sampler.peak
    return r


class AnonSampler:
    """Samples RssAnon (private memory; ru_maxrss also counts shared-library pages) of the
    launcher's child from /proc every 0.1 s. A sampled peak: may miss short spikes."""

    def __init__(self, launcher_pid):
        self.launcher = launcher_pid
        self.child = None
        self.peak = None
        self.next = 0.0

    def poll(self):
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + 0.1
        try:
            if self.child is None:
                with open("/proc/%d/task/%d/children" % (self.launcher, self.launcher)) as f:
                    kids = f.read().split()
                if not kids:
                    return
                self.child = int(kids[0])
            with open("/proc/%d/status" % self.child) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        kib = int(line.split()[1])
                        self.peak = kib if self.peak is None else max(self.peak, kib)
                        break
        except (OSError, ValueError):
            pass


# ----------------------------------------------------------------------------------------------
# Clients and workloads

def client_argv(name, tools, tty, cmd):
    common = ["--rm", "--network", "none", "-l", LABEL, IMAGE] + cmd
    flags = ["-i", "-t"] if tty else []
    if name == "dpty":
        return [tools["dpty"], "--no-config", "run"] + flags + common
    if name == "dpty+bindings":  # the same, with an init file of idle bindings and hooks
        return ["/usr/bin/env", "DPTY_CONFIG=" + os.path.join(HERE, "idle-bindings.lua"),
                tools["dpty"], "run"] + flags + common
    if name == "dpty-eager":  # output read and written as each piece arrives (src/loop.c)
        return ["/usr/bin/env", "DPTY_COALESCE_US=0", tools["dpty"], "--no-config", "run"] + flags + common
    if name == "docker":
        return [tools["docker"], "run"] + flags + common
    if name == "dockerpty":
        return [PY, os.path.join(HERE, "dockerpty_run.py")] + flags + common
    if name == "floor":  # no container: libcurl loaded, initialised, one ping (libcurl_floor.c)
        host = os.environ.get("DOCKER_HOST", "")
        return [tools["floor"]] + ([host[len("unix://"):]] if host.startswith("unix://") else [])
    if name == "raw":
        return [PY, os.path.join(HERE, "raw_attach.py")] + (["--tty"] if tty else []) + \
            ["-l", LABEL, IMAGE] + cmd
    raise ValueError(name)


CLIENT_TITLES = {
    "dpty": "dpty",
    "dpty+bindings": "dpty + 13 idle bindings, 3 hooks",
    "dpty-eager": "dpty without output coalescing",
    "docker": "docker CLI",
    "dockerpty": "dockerpty 0.4.1",
    "raw": "bare socket reader",
    "floor": "libcurl floor: a C program that loads Debian's libcurl and pings (no container)",
}


def check_run(r, expect_bytes, expect_code=0):
    if r.client == "raw":
        m = re.search(rb"RAW_BYTES=(\d+)", r.head + r.tail)
        r.nbytes = int(m.group(1)) if m else -1
    if r.signal is not None:
        r.problems.append("killed by signal %d" % r.signal)
    elif r.code != expect_code:
        r.problems.append("exit code %s, expected %d" % (r.code, expect_code))
    if expect_bytes is not None and r.nbytes != expect_bytes:
        r.problems.append("received %d bytes, expected %d" % (r.nbytes, expect_bytes))


def describe_problem(r, argv):
    lines = ["  !! %s on %s: %s" % (CLIENT_TITLES[r.client], r.workload, "; ".join(r.problems)),
             "     command: %s" % " ".join(shq(SHOWN.get(a, a)) for a in argv)]
    if r.stderr.strip():
        lines.append("     stderr: %s" % r.stderr.strip().replace("\n", "\n             "))
    lines.append("     output head: %r" % r.head[:160])
    lines.append("     output tail: %r" % r.tail[-160:])
    return "\n".join(lines)


def shq(a):
    return a if re.match(r"^[\w%+,./:=@-]+$", a) else "'" + a.replace("'", "'\\''") + "'"


def rotate(seq, k):
    k %= len(seq)
    return seq[k:] + seq[:k]


def cleanup_pause():
    # Let the engine finish removing the previous container before the next measurement.
    time.sleep(0.5)


# ----------------------------------------------------------------------------------------------
# Statistics and report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit="", nd=2):
    if x is None:
        return "–"
    return ("%.*f" % (nd, x)) + unit


def fmt_cpu(x):
    return fmt(x, "", 3 if x is not None and x < 1 else 2)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(x):
    return "–" if x is None else "%.2f×" % x


class Results:
    def __init__(self):
        self.runs = {}   # workload -> client -> [Run]

    def add(self, r):
        self.runs.setdefault(r.workload, {}).setdefault(r.client, []).append(r)

    def good(self, workload, client):
        return [r for r in self.runs.get(workload, {}).get(client, []) if r.ok()]

    def median(self, workload, client, attr):
        return med([getattr(r, attr) for r in self.good(workload, client)])


def workload_table(res, wl, clients, show_bytes, mb=None, anon=True):
    out = []
    hdr = "| client | wall s | client CPU s (user+sys) | peak RSS MiB |"
    sep = "|---|---:|---:|---:|"
    if anon:
        hdr += " anon RSS MiB |"
        sep += "---:|"
    if mb:
        hdr += " CPU ms/MB |"
        sep += "---:|"
    if show_bytes:
        hdr += " bytes received |"
        sep += "---:|"
    hdr += " runs ok | wall, each run | CPU, each run |"
    sep += "---:|---|---|"
    out += [hdr, sep]
    for c in clients:
        allruns = res.runs.get(wl, {}).get(c, [])
        if not allruns:
            continue
        good = res.good(wl, c)
        wall = res.median(wl, c, "wall")
        cpu = res.median(wl, c, "cpu")
        rss = res.median(wl, c, "rss_kib")
        rss_s = fmt(rss / 1024 if rss else None, "", 1)
        row = "| %s | %s | %s | %s |" % (CLIENT_TITLES[c], fmt(wall), fmt_cpu(cpu), rss_s)
        if anon:
            a_ = res.median(wl, c, "anon_kib")
            row += " %s |" % fmt(a_ / 1024 if a_ else None, "", 1)
        if mb:
            row += " %s |" % fmt(cpu * 1000 / mb if cpu is not None else None, "", 1)
        if show_bytes:
            counts = sorted({r.nbytes for r in allruns})
            row += " %s |" % " / ".join("{:,}".format(n) for n in counts)
        each = ", ".join(("%.2f" % r.wall) + ("" if r.ok() else "!") for r in allruns)
        each_cpu = ", ".join(fmt_cpu(r.cpu) + ("" if r.ok() else "!") for r in allruns)
        row += " %d/%d | %s | %s |" % (len(good), len(allruns), each, each_cpu)
        out.append(row)
    out.append("")
    if "dpty+bindings" in clients and "dpty" in clients and res.good(wl, "dpty") and res.good(wl, "dpty+bindings"):
        out.append("- dpty with idle bindings / without: wall %s, CPU %s (the data path enters no Lua)" % (
            fmt_ratio(ratio(res.median(wl, "dpty+bindings", "wall"), res.median(wl, "dpty", "wall"))),
            fmt_ratio(ratio(res.median(wl, "dpty+bindings", "cpu"), res.median(wl, "dpty", "cpu")))))
    if "dpty-eager" in clients and "dpty" in clients and res.good(wl, "dpty") and res.good(wl, "dpty-eager"):
        out.append("- dpty / dpty without output coalescing: wall %s, CPU %s" % (
            fmt_ratio(ratio(res.median(wl, "dpty", "wall"), res.median(wl, "dpty-eager", "wall"))),
            fmt_ratio(ratio(res.median(wl, "dpty", "cpu"), res.median(wl, "dpty-eager", "cpu")))))
    for other in ("docker", "dockerpty", "raw"):
        if other not in clients or "dpty" not in clients:
            continue
        if not res.good(wl, other) or not res.good(wl, "dpty"):
            continue
        w = ratio(res.median(wl, "dpty", "wall"), res.median(wl, other, "wall"))
        c = ratio(res.median(wl, "dpty", "cpu"), res.median(wl, other, "cpu"))
        m = ratio(res.median(wl, "dpty", "rss_kib"), res.median(wl, other, "rss_kib"))
        if other == "raw":
            out.append("- dpty / %s: wall %s (the engine's ceiling)" % (CLIENT_TITLES[other], fmt_ratio(w)))
        else:
            line = "- dpty / %s: wall %s, CPU %s, peak RSS %s" % (
                CLIENT_TITLES[other], fmt_ratio(w), fmt_ratio(c), fmt_ratio(m))
            an = ratio(res.median(wl, "dpty", "anon_kib"), res.median(wl, other, "anon_kib"))
            if anon and an is not None:
                line += " (anon RSS %s)" % fmt_ratio(an)
            out.append(line)
    return out


def goals(res):
    rows = []

    def g(name, measured, met):
        rows.append("| %s | %s | %s |" % (name, measured, "–" if met is None else ("met" if met else "**not met**")))

    b = "bulk"
    cpu_r = ratio(res.median(b, "dpty", "cpu"), res.median(b, "docker", "cpu"))
    wall_r = ratio(res.median(b, "dpty", "wall"), res.median(b, "docker", "wall"))
    met = None if cpu_r is None or wall_r is None else (cpu_r <= 0.5 and wall_r <= 1.05)
    g("bulk tty output: client CPU ≤ 0.5× the CLI's, wall ≤ 1.05× the CLI's",
      "CPU %s, wall %s" % (fmt_ratio(cpu_r), fmt_ratio(wall_r)), met)
    s = "small"
    wall_s = ratio(res.median(s, "dpty", "wall"), res.median(s, "docker", "wall"))
    g("small writes (`seq 1 1000000`): wall ≤ 0.8× the CLI's", "wall %s" % fmt_ratio(wall_s),
      None if wall_s is None else wall_s <= 0.8)
    rss = [ratio(res.median(w, "dpty", "rss_kib"), res.median(w, "docker", "rss_kib")) for w in (b, s)]
    rss = [x for x in rss if x is not None]
    floor = ratio(res.median("true", "floor", "rss_kib"), res.median("true", "docker", "rss_kib"))
    g("peak RSS ≤ 0.25× the CLI's (bulk and small writes)",
      (", ".join(fmt_ratio(x) for x in rss) or "–") +
      ("" if floor is None else " (a program that only loads Debian's libcurl and pings: %s)" % fmt_ratio(floor)),
      None if not rss else max(rss) <= 0.25)
    t = "true"
    wall_t = ratio(res.median(t, "dpty", "wall"), res.median(t, "docker", "wall"))
    g("`run --rm busybox true` no slower than the CLI (wall)", "wall %s" % fmt_ratio(wall_t),
      None if wall_t is None else wall_t <= 1.0)
    return ["| goal | measured (dpty / docker CLI, medians) | |", "|---|---|---|"] + rows


def report(res, cfg, env_info, problems, elapsed):
    clients = cfg["clients"]
    L = []
    L.append("# dpty benchmark results")
    L.append("")
    L.append("Generated by `spec/bench/run.sh%s` on %s; %d round(s), clients interleaved, medians; "
             "total run time %s."
             % (" --quick" if cfg["quick"] else "", env_info["date"], cfg["rounds"],
                time.strftime("%M:%S", time.gmtime(elapsed)) if elapsed < 3600 else "%.0f s" % elapsed))
    L.append("")
    L.append("- dpty: %s (%s)" % (env_info["dpty"], env_info["commit"]))
    L.append("- docker CLI: %s `%s`; Engine %s" % (env_info["docker_client"], env_info["docker_path"],
                                                    env_info["docker_server"]))
    L.append("- dockerpty %s with docker-py %s, Python %s" % (env_info["dockerpty"], env_info["docker_py"],
                                                              env_info["python"]))
    L.append("- %s, %s CPUs, kernel %s" % (env_info["machine"], env_info["cpus"], env_info["kernel"]))
    L.append("")
    L.append("CPU = user+sys of the client process and its children (wait4); peak RSS = ru_maxrss "
             "(counts the pages of shared libraries too); anon RSS = peak of RssAnon (private memory) "
             "sampled from /proc every 0.1 s. "
             "Tty workloads run `run -it` on a 24×80 pty whose master is drained and counted. "
             "Absolute times on this machine are noisy (the engine's tty path, ~1.5–2 MB/s, dominates); "
             "read the ratios.")
    L.append("")
    mb = cfg["bulk_bytes"] / 1e6
    L.append("## 1. Bulk tty output: `sh -c 'yes | head -c %d'` (%g MB; %s bytes at the terminal)"
             % (cfg["bulk_bytes"], mb, "{:,}".format(cfg["bulk_bytes"] * 3 // 2)))
    L.append("")
    L += workload_table(res, "bulk", clients, True, mb=mb)
    L.append("")
    L.append("## 2. Many small writes: `seq 1 1000000` in a tty (%s bytes at the terminal), "
             "%d run(s) per client per round" % ("{:,}".format(SEQ_BYTES), cfg["small_reps"]))
    L.append("")
    L += workload_table(res, "small", [c for c in clients if c != "raw"], True)
    L.append("")
    L.append("## 3. `run --rm busybox true` (no tty, stdout a pipe), %d repetitions per client"
             % cfg["true_reps"])
    L.append("")
    L += workload_table(res, "true", [c for c in clients if c != "raw"], False, anon=False)
    L.append("")
    L.append("## Goals")
    L.append("")
    L += goals(res)
    L.append("")
    if problems:
        L.append("## Problems seen")
        L.append("")
        L.append("Runs marked `!` above are excluded from the medians.")
        L.append("")
        L.append("```")
        L += problems
        L.append("```")
        L.append("")
    return "\n".join(L)


SEQ_BYTES = sum(len(str(i)) + 2 for i in range(1, 1000001))


# ----------------------------------------------------------------------------------------------

def cmd_out(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return "? (%s)" % e


def environment(tools):
    import docker as docker_py
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dpty": cmd_out([tools["dpty"], "version"]).splitlines()[0] if tools["dpty"] else "?",
        "commit": os.environ.get("DPTY_COMMIT", "?"),
        "docker_path": tools["docker"],
        "docker_client": cmd_out([tools["docker"], "version", "--format", "{{.Client.Version}}"]),
        "docker_server": cmd_out([tools["docker"], "version", "--format", "{{.Server.Version}}"]),
        "dockerpty": "0.4.1",
        "docker_py": docker_py.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
    }
    try:
        from importlib.metadata import version
        info["dockerpty"] = version("dockerpty")
    except Exception:  # noqa: BLE001
        pass
    return info


def on_signal(signum, _frame):
    if CURRENT_PGID:
        try:
            os.killpg(CURRENT_PGID, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.stderr.write("\nmeasure.py: interrupted\n")
    os._exit(130)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 round, 10 MB bulk")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--bulk-mb", type=int)
    ap.add_argument("--true-reps", type=int, default=30, help="runs of `true` per client")
    ap.add_argument("--small-reps", type=int, default=3, help="runs of `seq` per client per round")
    ap.add_argument("--clients", default="dpty,dpty-eager,dpty+bindings,docker,dockerpty,raw,floor")
    ap.add_argument("--floor", help="the compiled spec/bench/libcurl_floor.c")
    ap.add_argument("--workloads", default="bulk,small,true")
    ap.add_argument("--dpty", required=True)
    ap.add_argument("--launch", required=True, help="the compiled spec/bench/launch.c")
    ap.add_argument("--dpty-shown", help="the dpty path to show in reproduction commands")
    ap.add_argument("--docker", default=shutil.which("docker"))
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"))
    ap.add_argument("--json", help="also write every run as JSON here")
    a = ap.parse_args()

    global LAUNCH
    LAUNCH = a.launch
    if a.dpty_shown:
        SHOWN[a.dpty] = a.dpty_shown
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    rounds = a.rounds or (1 if a.quick else 3)
    bulk_bytes = (a.bulk_mb or (10 if a.quick else 100)) * 1000 * 1000
    clients = a.clients.split(",")
    workloads = a.workloads.split(",")
    tools = {"dpty": a.dpty, "docker": a.docker, "floor": a.floor}
    if "floor" in clients and not a.floor:
        clients.remove("floor")
    cfg = {"quick": a.quick, "rounds": rounds, "bulk_bytes": bulk_bytes, "clients": clients,
           "true_reps": a.true_reps, "small_reps": a.small_reps}
    env = dict(os.environ, TERM="xterm")

    # Timeouts: generous next to the ~1.5-2 MB/s the engine's tty path manages here.
    bulk_timeout = 120 + 6 * bulk_bytes / 1e6
    small_timeout = 300

    t_start = time.monotonic()
    env_info = environment(tools)
    res = Results()
    problems = []

    def one(client, wl, tty, cmd, expect, timeout, mode):
        argv = client_argv(client, tools, tty, cmd)
        r = run_client(client, wl, argv, mode, timeout, env)
        check_run(r, expect)
        res.add(r)
        line = "  %-10s %-6s wall %7.2f s  cpu %6.2f s  rss %6.1f MiB  bytes %s  rc %s" % (
            client, wl, r.wall, r.cpu, (r.rss_kib or 0) / 1024, "{:,}".format(r.nbytes),
            r.code if r.signal is None else "sig%d" % r.signal)
        print(line + ("" if r.ok() else "  <-- " + "; ".join(r.problems)), flush=True)
        if not r.ok():
            msg = describe_problem(r, argv)
            print(msg, flush=True)
            problems.append(msg)
        cleanup_pause()
        return r

    bulk_cmd = ["sh", "-c", "yes | head -c %d" % bulk_bytes]
    seq_cmd = ["seq", "1", "1000000"]
    for rnd in range(rounds):
        order = rotate(clients, rnd)
        print("round %d/%d (order: %s)" % (rnd + 1, rounds, ", ".join(order)), flush=True)
        if "bulk" in workloads:
            for c in order:
                if c == "floor":
                    continue
                one(c, "bulk", True, bulk_cmd, bulk_bytes * 3 // 2, bulk_timeout,
                    "pipe" if c == "raw" else "pty")
        if "small" in workloads:
            for k in range(a.small_reps):
                for c in rotate(order, k):
                    if c in ("raw", "floor"):
                        continue
                    one(c, "small", True, seq_cmd, SEQ_BYTES, small_timeout, "pty")
    if "true" in workloads:
        tc = [c for c in clients if c != "raw"]
        print("run --rm busybox true x%d per client" % a.true_reps, flush=True)
        for k in range(a.true_reps):
            for c in rotate(tc, k):
                one(c, "true", False, ["true"], 0, 60, "pipe")

    elapsed = time.monotonic() - t_start
    text = report(res, cfg, env_info, problems, elapsed)
    with open(a.out, "w") as f:
        f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({wl: {c: [r.to_json() for r in rs] for c, rs in d.items()}
                       for wl, d in res.runs.items()}, f, indent=1)
    print()
    print(text)
    print("(written to %s; %.0f s)" % (os.path.relpath(a.out), elapsed))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
