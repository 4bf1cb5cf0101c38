#!/usr/bin/python3
"""Test-rig benchmark driver (run through spec/bench/rigs.sh).

1. N concurrent sessions (50): one dpty process running spec/bench/rig50.lua against
   spec/bench/pexpect50.py (N `docker run -it` CLI processes driven by pexpect). Each session
   starts busybox sh, waits for its prompt, runs `echo task-$i-$((i*i))`, matches the answer,
   exits and is reaped (--rm / AutoRemove: both sides wait for the removal). The sides run
   one after the other, each once with the memory sampler and once without (the wall-time
   comparison: on 2 cores the sampler's /proc reading competes with the side), in an order
   that rotates round by round; medians.
   Memory: the process tree of each side (dpty: the one process; docker side: the python
   driver and its docker CLI children) is sampled every 0.1 s from /proc/PID/smaps_rollup;
   the peak of the SUM over the tree of Rss, Pss and Private (USS) is reported. Pss splits
   shared pages between the processes that map them, so the sum of Pss is the side's fair
   total; the sum of Rss counts the docker binary's and libc's shared pages once per process.
   Wall = fork of the side to its exit; CPU = user+sys of the side's whole tree (wait4 in
   launch.c: reaped children included).
2. Expect over a flood: one dpty process (spec/bench/bigexpect.lua) whose session prints N MB
   (`yes abcdefghij | head -c N`) then a marker that s:expect waits for; sizes interleaved
   round by round; a local pty (dpty.spawn) and a container once per size.
"""
import argparse
import datetime
import json
import os
import platform
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
LAUNCH = None
CURRENT_PGID = None
SAMPLE_EVERY = 0.1


# ----------------------------------------------------------------------------------------------
# Memory of a process tree

def read_rollup(pid):
    """-> (rss KiB, pss KiB, private KiB) of pid from smaps_rollup, or None."""
    rss = pss = priv = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Private_Clean:") or line.startswith("Private_Dirty:"):
                    priv += int(line.split()[1])
    except (OSError, ValueError):
        return None
    return rss, pss, priv


def children_of(pid, all_threads):
    """Child pids of pid: of every thread when all_threads (a threaded driver forks from its
    threads, and /proc lists a child under the thread that forked it), else of the main one."""
    kids = []
    tids = [pid]
    if all_threads:
        try:
            tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
        except OSError:
            return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%d/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
    return kids


class TreeSampler:
    """Every SAMPLE_EVERY s: the processes under the launcher (not the launcher itself), the
    sum of their Rss/Pss/Private; keeps the peak of each sum (peaks taken independently), the
    largest number of processes seen, and the largest single-process Rss. tree=False samples
    the launcher's child only. A sampled peak: spikes shorter than 0.1 s can be missed."""

    def __init__(self, launcher, tree=True, enabled=True):
        self.enabled = enabled
        self.launcher = launcher
        self.tree = tree
        self.root = None
        self.peak = {"rss": 0, "pss": 0, "priv": 0}
        self.max_procs = 0
        self.max_single_rss = 0
        self.samples = 0
        self.cost = 0.0   # CPU seconds spent sampling
        self.next = 0.0

    def poll(self):
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + SAMPLE_EVERY
        if not self.enabled:
            return
        c0 = time.thread_time()
        if self.root is None:
            kids = children_of(self.launcher, False)
            if not kids:
                return
            self.root = kids[0]
        pids = [self.root]
        if self.tree:
            todo = [(self.root, True)]
            while todo:
                p, root = todo.pop()
                for k in children_of(p, root):
                    pids.append(k)
                    todo.append((k, False))
        tot = {"rss": 0, "pss": 0, "priv": 0}
        n = 0
        for p in pids:
            r = read_rollup(p)
            if r is None or r[0] == 0:   # gone, or a zombie
                continue
            n += 1
            tot["rss"] += r[0]
            tot["pss"] += r[1]
            tot["priv"] += r[2]
            self.max_single_rss = max(self.max_single_rss, r[0])
        if n:
            self.samples += 1
            for k in tot:
                self.peak[k] = max(self.peak[k], tot[k])
            self.max_procs = max(self.max_procs, n)
        self.cost += time.thread_time() - c0


# ----------------------------------------------------------------------------------------------
# Running one side

class Run:
    def __init__(self, kind, client, size=None):
        self.kind, self.client, self.size = kind, client, size
        self.wall = self.cpu = self.maxrss = None
        self.code = None
        self.signal = None
        self.peak = {}
        self.max_procs = 0
        self.max_single_rss = 0
        self.samples = 0
        self.sample_cost = 0.0
        self.lines = []
        self.sessions = {}
        self.sampled = True
        self.stderr = ""
        self.problems = []
        self.argv = []

    def ok(self):
        return not self.problems

    def to_json(self):
        return dict(self.__dict__)


def run_side(kind, client, argv, timeout, env, tree=True, size=None, sample=True):
    global CURRENT_PGID
    r = Run(kind, client, size)
    r.sampled = sample
    r.argv = argv
    errf = tempfile.NamedTemporaryFile(prefix="dpty-rigs-err-", delete=False)
    errf.close()
    usef = tempfile.NamedTemporaryFile(prefix="dpty-rigs-ru-", delete=False)
    usef.close()
    os.unlink(usef.name)
    rd, wr = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            nul = os.open(os.devnull, os.O_RDONLY)
            err = os.open(errf.name, os.O_WRONLY | os.O_TRUNC)
            os.dup2(nul, 0)
            os.dup2(wr, 1)
            os.dup2(err, 2)
            os.closerange(3, 65536)
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
                signal.signal(s, signal.SIG_DFL)
            os.execvpe(LAUNCH, [LAUNCH, usef.name] + argv, env)
        except BaseException as e:  # noqa: BLE001
            os.write(2, ("exec: %s\n" % e).encode())
        os._exit(127)
    os.close(wr)
    CURRENT_PGID = pid
    sampler = TreeSampler(pid, tree, sample)
    out = b""
    eof = False
    status = None
    t_exit = None
    deadline = t0 + timeout
    while True:
        sampler.poll()
        wait = max(0.0, min(sampler.next - time.monotonic(), 0.1))
        if not eof:
            ready, _, _ = select.select([rd], [], [], wait)
            if ready:
                d = os.read(rd, 65536)
                if d:
                    out += d
                else:
                    eof = True
        else:
            time.sleep(min(wait, 0.01) or 0.001)
        if status is None:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p:
                status, t_exit = st, time.monotonic()
        if status is not None and (eof or time.monotonic() - t_exit > 3):
            break
        if time.monotonic() > deadline:
            r.problems.append("timed out after %.0f s (killed)" % timeout)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if status is None:
                _, status = os.waitpid(pid, 0)
                t_exit = time.monotonic()
            break
    CURRENT_PGID = None
    os.close(rd)
    r.wall = t_exit - t0
    r.peak = sampler.peak
    r.max_procs = sampler.max_procs
    r.max_single_rss = sampler.max_single_rss
    r.samples = sampler.samples
    r.sample_cost = sampler.cost
    try:
        with open(usef.name) as f:
            u, s_, m, st = f.read().split()
        os.unlink(usef.name)
        r.cpu, r.maxrss, status = float(u) + float(s_), int(m), int(st)
    except (OSError, ValueError):
        r.problems.append("no resource usage from the launcher")
    if os.WIFEXITED(status):
        r.code = os.WEXITSTATUS(status)
    else:
        r.signal = os.WTERMSIG(status)
    with open(errf.name, "rb") as f:
        r.stderr = f.read(8192).decode(errors="replace")
    os.unlink(errf.name)
    r.lines = out.decode(errors="replace").splitlines()
    if r.signal is not None:
        r.problems.append("killed by signal %d" % r.signal)
    elif r.code != 0:
        r.problems.append("exit code %s" % r.code)
    if sample and not r.samples:
        r.problems.append("no memory sample")
    return r


def parse_rig(r, n):
    """S lines -> per-session timings; checks that all n sessions reported exit code 0."""
    sess = {}
    for line in r.lines:
        f = line.split()
        if f and f[0] == "S" and len(f) == 9:
            sess[int(f[1])] = {"created": float(f[2]), "started": float(f[3]), "prompt": float(f[4]),
                               "answer": float(f[5]), "eof": float(f[6]), "exited": float(f[7]),
                               "code": f[8]}
        elif f and f[0] == "T":
            r.inner_wall, r.inner_cpu = float(f[1]), float(f[2])
    r.sessions = sess
    bad = [i for i in range(1, n + 1) if i not in sess or sess[i]["code"] != "0"]
    if bad:
        r.problems.append("%d of %d sessions failed (%s)" % (len(bad), n, ",".join(map(str, bad[:10]))))


def parse_big(r):
    for line in r.lines:
        f = line.split()
        if f and f[0] == "R" and len(f) == 6:
            r.bytes, r.expect_wall, r.expect_cpu = int(f[1]), float(f[2]), float(f[3])
            r.heap0, r.heap1 = float(f[4]), float(f[5])
            return
    r.problems.append("no R line in the output")


def describe(r):
    lines = ["!! %s %s%s: %s" % (r.kind, r.client, "" if r.size is None else " %g MB" % r.size,
                                 "; ".join(r.problems)),
             "   command: %s" % " ".join(shq(SHOWN.get(a, a)) for a in r.argv)]
    if r.stderr.strip():
        lines.append("   stderr: " + r.stderr.strip()[-3000:].replace("\n", "\n           "))
    return "\n".join(lines)


SHOWN = {}


def shq(a):
    return a if re.match(r"^[\w%+,./:=@-]+$", a) else "'" + a.replace("'", "'\\''") + "'"


def leftovers(docker, label, wait):
    """Waits up to `wait` s for the containers with label to be gone; -> the ones left."""
    end = time.monotonic() + wait
    while True:
        ids = subprocess.run([docker, "ps", "-aq", "--filter", "label=" + label],
                             capture_output=True, text=True).stdout.split()
        if not ids or time.monotonic() > end:
            return ids
        time.sleep(0.5)


# ----------------------------------------------------------------------------------------------
# Statistics and report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "–" if x is None else "%.*f" % (nd, x)


def mib(kib):
    return None if kib is None else kib / 1024


def ratio(a, b):
    return None if a is None or not b else a / b


def fr(x):
    return "–" if x is None else "%.2f×" % x


def rotate(seq, k):
    k %= len(seq)
    return seq[k:] + seq[:k]


TITLE = {"dpty": "dpty (1 process)", "docker": "docker CLI × N + pexpect driver"}


def rig_section(runs, n, L):
    """runs: side -> [Run], sampled runs under "dpty"/"docker", timing-only runs under
    "dpty-t"/"docker-t". The wall-time comparison uses the timing-only runs."""
    L.append("| side | wall s (not sampled) | wall s (sampled) | total PSS MiB (peak of sum) | "
             "total RSS MiB (peak of sum) | total private MiB | processes | CPU s (user+sys, tree) | "
             "per session: prompt s (median / max) | per session: exited s (median / max) | runs ok |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    meds = {}
    for c in ("dpty", "docker"):
        allr = runs.get(c, []) + runs.get(c + "-t", [])
        if not allr:
            continue
        good = [r for r in allr if r.ok()]
        gs = [r for r in good if r.sampled]
        gt = [r for r in good if not r.sampled]
        m = {
            "wall_t": med([r.wall for r in gt]),
            "wall_s": med([r.wall for r in gs]),
            "pss": mib(med([r.peak.get("pss") for r in gs])),
            "rss": mib(med([r.peak.get("rss") for r in gs])),
            "priv": mib(med([r.peak.get("priv") for r in gs])),
            "procs": med([r.max_procs for r in gs]),
            "cpu": med([r.cpu for r in gt] or [r.cpu for r in gs]),
            "prompt_med": med([statistics.median(s["prompt"] for s in r.sessions.values()) for r in good]),
            "prompt_max": med([max(s["prompt"] for s in r.sessions.values()) for r in good]),
            "exit_med": med([statistics.median(s["exited"] for s in r.sessions.values()) for r in good]),
            "exit_max": med([max(s["exited"] for s in r.sessions.values()) for r in good]),
            "maxrss": mib(med([r.maxrss for r in gs])),
            "single": mib(med([r.max_single_rss for r in gs])),
            "cost": med([r.sample_cost / r.wall for r in gs if r.wall]),
        }
        m["wall"] = m["wall_t"] if m["wall_t"] is not None else m["wall_s"]
        meds[c] = m
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %d/%d |" % (
            TITLE[c], fmt(m["wall_t"]), fmt(m["wall_s"]), fmt(m["pss"], 1), fmt(m["rss"], 1),
            fmt(m["priv"], 1), fmt(m["procs"], 0), fmt(m["cpu"]), fmt(m["prompt_med"]),
            fmt(m["prompt_max"]), fmt(m["exit_med"]), fmt(m["exit_max"]), len(good), len(allr)))
    L.append("")
    if "dpty" in meds and "docker" in meds:
        d, k = meds["dpty"], meds["docker"]
        L.append("- dpty / docker side: wall %s (not sampled; sampled: %s), total PSS %s, total RSS %s, "
                 "total private %s, CPU %s"
                 % (fr(ratio(d["wall_t"], k["wall_t"])), fr(ratio(d["wall_s"], k["wall_s"])),
                    fr(ratio(d["pss"], k["pss"])), fr(ratio(d["rss"], k["rss"])),
                    fr(ratio(d["priv"], k["priv"])), fr(ratio(d["cpu"], k["cpu"]))))
    for c in meds:
        L.append("- %s, each run: wall not sampled %s; wall sampled %s; PSS MiB %s; RSS MiB %s" % (
            c, ", ".join(fmt(r.wall) + ("" if r.ok() else "!") for r in runs.get(c + "-t", [])) or "–",
            ", ".join(fmt(r.wall) + ("" if r.ok() else "!") for r in runs.get(c, [])) or "–",
            ", ".join(fmt(mib(r.peak.get("pss")), 1) + ("" if r.ok() else "!") for r in runs.get(c, [])) or "–",
            ", ".join(fmt(mib(r.peak.get("rss")), 1) + ("" if r.ok() else "!") for r in runs.get(c, [])) or "–"))
    if "dpty" in meds:
        L.append("- dpty's own peak RSS from wait4 (ru_maxrss, a true peak): %s MiB; the sampled "
                 "peak: %s MiB" % (fmt(meds["dpty"]["maxrss"], 1), fmt(meds["dpty"]["rss"], 1)))
    if "docker" in meds:
        L.append("- docker side: largest single process sampled %s MiB RSS; ≈ %s MiB PSS per process "
                 "(total / processes)"
                 % (fmt(meds["docker"]["single"], 1),
                    fmt(ratio(meds["docker"]["pss"], meds["docker"]["procs"]), 1)))
    L.append("- sampling cost (the driver's CPU reading /proc, per second of the side's wall; on 2 "
             "cores it competes with the side, hence the wall comparison on runs not sampled): %s"
             % ", ".join("%s %.1f%%" % (c, 100 * meds[c]["cost"]) for c in meds if meds[c]["cost"] is not None))
    L.append("")
    return meds


def big_section(runs, sizes, L, title):
    L.append("| output MB | runs ok | expect wall s | wall ms/MB | dpty CPU ms/MB (expect) | "
             "peak RSS MiB (ru_maxrss) | sampled peak RSS MiB | sampled peak PSS MiB | "
             "Lua heap KiB after | wall ms/MB, each run |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = {}
    for mb in sizes:
        allr = runs.get(mb, [])
        good = [r for r in allr if r.ok()]
        if not allr:
            continue
        m = {
            "wall": med([r.expect_wall for r in good]),
            "wpm": med([r.expect_wall * 1000 / mb for r in good]),
            "cpm": med([r.expect_cpu * 1000 / mb for r in good]),
            "maxrss": mib(med([r.maxrss for r in good])),
            "rss": mib(med([r.peak.get("rss") for r in good])),
            "pss": mib(med([r.peak.get("pss") for r in good])),
            "heap": med([r.heap1 for r in good]),
        }
        rows[mb] = m
        L.append("| %g | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            mb, len(good), len(allr), fmt(m["wall"]), fmt(m["wpm"], 1), fmt(m["cpm"], 1),
            fmt(m["maxrss"], 1), fmt(m["rss"], 1), fmt(m["pss"], 1), fmt(m["heap"], 0),
            ", ".join(fmt(r.expect_wall * 1000 / mb, 1) if r.ok() else "!" for r in allr)))
    L.append("")
    return rows


def linear_flat(rows):
    """-> (time ratio: ms/MB at the largest size / at the smallest, by CPU and wall;
    memory: peak RSS growth MiB from the smallest to the largest)"""
    ks = sorted(k for k in rows if rows[k]["wpm"] is not None)
    if len(ks) < 2:
        return None, None, None, None
    lo, hi = rows[ks[0]], rows[ks[-1]]
    return (ratio(hi["cpm"], lo["cpm"]), ratio(hi["wpm"], lo["wpm"]),
            None if hi["maxrss"] is None or lo["maxrss"] is None else hi["maxrss"] - lo["maxrss"],
            (ks[0], ks[-1]))


def report(cfg, env_info, rig_runs, big_runs, cont_runs, problems, elapsed):
    L = []
    n = cfg["sessions"]
    L.append("# Test-rig benchmark results")
    L.append("")
    L.append("Generated by `spec/bench/rigs.sh%s` on %s; total run time %s. Runs interleaved "
             "(the order rotates round by round), medians."
             % (" --quick" if cfg["quick"] else "", env_info["date"],
                time.strftime("%M:%S", time.gmtime(elapsed)) if elapsed < 3600 else "%.0f s" % elapsed))
    L.append("")
    L.append("- dpty: %s (%s)" % (env_info["dpty"], env_info["commit"]))
    L.append("- docker CLI: %s `%s`; Engine %s; image busybox, `--network none`"
             % (env_info["docker_client"], env_info["docker_path"], env_info["docker_server"]))
    L.append("- pexpect %s (Debian python3-pexpect), ptyprocess %s, Python %s `%s`"
             % (env_info["pexpect"], env_info["ptyprocess"], env_info["python"], PY))
    L.append("- %s, %s CPUs, kernel %s; load average at start %s, at end %s (other engineers' "
             "tests share the machine: absolute times are noisy, read the ratios)"
             % (env_info["machine"], env_info["cpus"], env_info["kernel"], env_info["load_start"],
                env_info["load_end"]))
    L.append("")
    meds = {}
    if rig_runs:
        section1(L, cfg, n)
        meds = rig_section(rig_runs, n, L)
    rows, crow = {}, {}
    if big_runs or cont_runs:
        rows, crow = section2(L, cfg, big_runs, cont_runs)
    goals_section(L, n, meds, rows, crow)
    if problems:
        L.append("## Problems seen")
        L.append("")
        L.append("Runs marked `!` are excluded from the medians.")
        L.append("")
        L.append("```")
        L += problems
        L.append("```")
        L.append("")
    return "\n".join(L)


def section1(L, cfg, n):
    L.append("## 1. %d concurrent sessions: one dpty process vs %d docker CLI processes under pexpect" % (n, n))
    L.append("")
    L.append("Each session: create/run busybox `sh` (tty, `PS1=c$i$ `, --rm), wait for the prompt, "
             "send `echo task-$i-$(($i * $i))`, expect `task-$i-<i²>`, send `exit`, expect EOF, "
             "reap (both sides wait for the removal: AutoRemove + wait `condition=removed`, as "
             "`docker run --rm`). dpty: `dpty spec/bench/rig50.lua %d` (tasks with dpty.go, "
             "dpty.wait_all). docker side: `%s spec/bench/pexpect50.py %d` (one thread per "
             "session, all released together, pexpect's 50 ms delaybeforesend disabled). %d round(s); "
             "in each, every side runs once with the memory sampler and once without (wall only), "
             "in an order that rotates round by round. Wall = from the fork of the side to its "
             "exit; CPU = user+sys of the side's whole process tree (wait4)."
             % (n, PY, n, cfg["rounds"]))
    L.append("")
    L.append("Memory: every 0.1 s, smaps_rollup of every process of the side (dpty: the one process; "
             "docker side: the python driver and its docker CLI children; the containers' shims and "
             "shells are the engine's, not counted on either side); the peak of the sum. **Pss** "
             "(proportional set size) charges each shared page to its N users by 1/N, so the sum "
             "over the side is its true total; summed **Rss** counts a shared page (the docker "
             "binary's text, libc) once per process and so overstates the docker side; private = "
             "Private_Clean + Private_Dirty. Per-session times are seconds since the side's script "
             "started.")
    L.append("")


def section2(L, cfg, big_runs, cont_runs):
    L.append("## 2. Expect over a flood of output: `yes abcdefghij | head -c N`, then `s:expect(\"END-MARKER\")`")
    L.append("")
    L.append("One dpty process per run (`dpty spec/bench/bigexpect.lua N local`): a local pty "
             "(dpty.spawn, no engine); sizes interleaved, %d round(s). The output feeds the "
             "session's virtual screen (libvterm, 24×80) and the expect buffer (64 KiB window). "
             "expect wall = from the session's start to the marker's match; CPU = the dpty "
             "process's (os.clock) over the same span (the producer's `yes`/`head` are not "
             "counted); peak RSS = ru_maxrss of dpty (its reaped `sh`/`yes`/`head`, < 2 MiB, "
             "cannot raise it); sampled = dpty alone." % cfg["big_rounds"])
    L.append("")
    rows = big_section(big_runs, cfg["sizes"], L, "local")
    crow = {}
    if cfg["container_sizes"]:
        L.append("The same through a busybox container (tty; `dpty spec/bench/bigexpect.lua N "
                 "container`), one run per size; here the engine's tty path, not dpty, sets "
                 "the wall time:")
        L.append("")
        crow = big_section(cont_runs, cfg["container_sizes"], L, "container")
    return rows, crow


def goals_section(L, n, meds, rows, crow):
    L.append("## Goals")
    L.append("")
    L.append("| goal | measured | |")
    L.append("|---|---|---|")

    def g(name, measured, met):
        L.append("| %s | %s | %s |" % (name, measured, "–" if met is None else ("met" if met else "**not met**")))

    d, k = meds.get("dpty"), meds.get("docker")
    if d and k:
        goals_rigs(L, g, n, d, k)
    goals_big(L, g, rows, crow)


def goals_rigs(L, g, n, d, k):
    wr = ratio(d and d["wall"], k and k["wall"])
    g("%d sessions: less wall time than the docker CLI side (runs not sampled)" % n, "wall %s (%s vs %s s)"
      % (fr(wr), fmt(d and d["wall"]), fmt(k and k["wall"])), None if wr is None else wr < 1)
    pr = ratio(d and d["pss"], k and k["pss"])
    g("%d sessions: total memory ≤ 0.1× the docker CLI side's — **the goal's metric: summed PSS**" % n,
      "PSS %s (%s vs %s MiB)" % (fr(pr), fmt(d and d["pss"], 1), fmt(k and k["pss"], 1)),
      None if pr is None else pr <= 0.1)
    rr = ratio(d and d["rss"], k and k["rss"])
    g("(same, by summed RSS, for reference)", "RSS %s (%s vs %s MiB)"
      % (fr(rr), fmt(d and d["rss"], 1), fmt(k and k["rss"], 1)), None if rr is None else rr <= 0.1)


def goals_big(L, g, rows, crow):
    for name, rw in (("local pty", rows), ("container", crow)):
        if not rw:
            continue
        cr, wr2, grow, span = linear_flat(rw)
        if span is None:
            continue
        g("expect over %g→%g MB (%s): time linear in the size — ms/MB at %g MB ≤ 1.25× that at %g MB"
          % (span[0], span[1], name, span[1], span[0]),
          "CPU ms/MB %s, wall ms/MB %s" % (fr(cr), fr(wr2)),
          None if cr is None else (cr <= 1.25 and (wr2 is None or wr2 <= 1.25)))
        lo = rw[span[0]]["maxrss"]
        g("expect over %g→%g MB (%s): memory flat — peak RSS at %g MB ≤ 1.1× that at %g MB"
          % (span[0], span[1], name, span[1], span[0]),
          "%s MiB → %s MiB (%+.1f MiB, %.1f KiB per extra MB)"
          % (fmt(lo, 1), fmt(rw[span[1]]["maxrss"], 1), grow or 0,
             (grow or 0) * 1024 / (span[1] - span[0])),
          None if grow is None or lo is None else grow <= 0.1 * lo)
    L.append("")


def cmd_out(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return "? (%s)" % e


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def environment(dpty, docker):
    import pexpect
    try:
        import ptyprocess
        ptv = ptyprocess.__version__
    except Exception:  # noqa: BLE001
        ptv = "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dpty": (cmd_out([dpty, "version"]).splitlines() or ["?"])[0],
        "commit": os.environ.get("DPTY_COMMIT", "?"),
        "docker_path": docker,
        "docker_client": cmd_out([docker, "version", "--format", "{{.Client.Version}}"]),
        "docker_server": cmd_out([docker, "version", "--format", "{{.Server.Version}}"]),
        "pexpect": pexpect.__version__, "ptyprocess": ptv,
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "kernel": platform.release(), "load_start": loadavg(),
    }


def on_signal(signum, _frame):
    if CURRENT_PGID:
        try:
            os.killpg(CURRENT_PGID, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.stderr.write("\nrigs.py: interrupted\n")
    os._exit(130)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    help="1 round of sessions; sizes 10,25 MB once; container 5 MB")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--rounds", type=int, help="rounds of the sessions benchmark (5; quick 1)")
    ap.add_argument("--sizes", help="MB, comma-separated (10,25,50,100; quick 10,25)")
    ap.add_argument("--big-rounds", type=int, help="rounds over the sizes (3; quick 1)")
    ap.add_argument("--container-sizes", help="MB through a container, one run each "
                    "(10,100; quick 5; empty: none)")
    ap.add_argument("--parts", default="rigs,big", help="rigs,big")
    ap.add_argument("--dpty", required=True)
    ap.add_argument("--dpty-shown")
    ap.add_argument("--launch", required=True)
    ap.add_argument("--docker", required=True)
    ap.add_argument("--run-label", required=True, help="k=v carried by this run's containers")
    ap.add_argument("--out", default=os.path.join(HERE, "rigs-results.md"))
    ap.add_argument("--json")
    a = ap.parse_args()

    global LAUNCH
    LAUNCH = a.launch
    if a.dpty_shown:
        SHOWN[a.dpty] = a.dpty_shown
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    q = a.quick
    n = a.sessions
    cfg = {
        "quick": q, "sessions": n,
        "rounds": a.rounds or (1 if q else 5),
        "sizes": [float(x) for x in (a.sizes if a.sizes is not None
                                     else ("10,25" if q else "10,25,50,100")).split(",") if x],
        "big_rounds": a.big_rounds or (1 if q else 3),
        "container_sizes": [float(x) for x in (a.container_sizes if a.container_sizes is not None
                                               else ("5" if q else "10,100")).split(",") if x],
    }
    cfg["sizes"] = [int(x) if x == int(x) else x for x in cfg["sizes"]]
    cfg["container_sizes"] = [int(x) if x == int(x) else x for x in cfg["container_sizes"]]
    parts = a.parts.split(",")
    labels = "dpty.bench=1," + a.run_label
    env = dict(os.environ, TERM="xterm")
    t_start = time.monotonic()
    env_info = environment(a.dpty, a.docker)
    problems = []
    rig_runs, big_runs, cont_runs = {}, {}, {}

    def settle():
        left = leftovers(a.docker, a.run_label, 60)
        if left:
            problems.append("!! containers left after a run (removed): %s" % " ".join(left))
            subprocess.run([a.docker, "rm", "-f"] + left, capture_output=True)
        time.sleep(1)

    if "rigs" in parts:
        sides = {
            "dpty": [a.dpty, os.path.join(HERE, "rig50.lua"), str(n), labels],
            "docker": [PY, os.path.join(HERE, "pexpect50.py"), str(n), "--docker", a.docker,
                       "--labels", labels],
        }
        for rnd in range(cfg["rounds"]):
            # each round: every side once sampled (memory) and once not (wall time), in an
            # order that rotates round by round
            plan = rotate([("dpty", True), ("docker", True), ("dpty", False), ("docker", False)], rnd)
            print("sessions round %d/%d (order: %s)" % (rnd + 1, cfg["rounds"], ", ".join(
                c + ("" if smp else " (wall only)") for c, smp in plan)), flush=True)
            for c, smp in plan:
                r = run_side("rigs", c, sides[c], 600, env, sample=smp)
                parse_rig(r, n)
                rig_runs.setdefault(c if smp else c + "-t", []).append(r)
                mem = ("PSS %7.1f MiB  RSS %7.1f MiB  procs %d" % (
                    r.peak["pss"] / 1024, r.peak["rss"] / 1024, r.max_procs)) if smp else "(not sampled)"
                print("  %-6s wall %6.2f s  cpu %5.2f s  %s  %s"
                      % (c, r.wall, r.cpu or 0, mem, "ok" if r.ok() else "; ".join(r.problems)), flush=True)
                if not r.ok():
                    msg = describe(r)
                    print(msg, flush=True)
                    problems.append(msg)
                settle()

    if "big" in parts:
        def big(mode, mb, store):
            argv = [a.dpty, os.path.join(HERE, "bigexpect.lua"), str(mb), mode]
            if mode == "container":
                argv.append(labels)
            r = run_side("big-" + mode, "dpty", argv, 120 + 10 * mb, env, tree=False, size=mb)
            parse_big(r)
            store.setdefault(mb, []).append(r)
            if r.ok():
                print("  %-9s %5g MB  expect %6.2f s (%5.1f ms/MB, cpu %5.1f ms/MB)  maxrss %5.1f MiB  "
                      "PSS %5.1f MiB" % (mode, mb, r.expect_wall, r.expect_wall * 1000 / mb,
                                         r.expect_cpu * 1000 / mb, r.maxrss / 1024, r.peak["pss"] / 1024),
                      flush=True)
            else:
                msg = describe(r)
                print(msg, flush=True)
                problems.append(msg)

        sizes = cfg["sizes"]
        for rnd in range(cfg["big_rounds"] if sizes else 0):
            k = rnd % len(sizes)
            order = sizes[k:] + sizes[:k]
            print("expect-flood round %d/%d (local pty; order %s MB)"
                  % (rnd + 1, cfg["big_rounds"], ", ".join("%g" % s for s in order)), flush=True)
            for mb in order:
                big("local", mb, big_runs)
        if cfg["container_sizes"]:
            print("expect-flood through a container", flush=True)
            for mb in cfg["container_sizes"]:
                big("container", mb, cont_runs)
                settle()

    env_info["load_end"] = loadavg()
    elapsed = time.monotonic() - t_start
    text = report(cfg, env_info, rig_runs, big_runs, cont_runs, problems, elapsed)
    with open(a.out, "w") as f:
        f.write(text)
    if a.json:
        def js(runs):
            return {str(k): [r.to_json() for r in v] for k, v in runs.items()}
        with open(a.json, "w") as f:
            json.dump({"rigs": js(rig_runs), "big": js(big_runs), "container": js(cont_runs)}, f, indent=1)
    print()
    print(text)
    print("(written to %s; %.0f s)" % (os.path.relpath(a.out), elapsed))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
