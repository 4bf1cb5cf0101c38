#!/usr/bin/python3
"""The docker CLI side of spec/bench/rigs.sh: N concurrent `docker run -it --rm --network none
busybox sh` processes driven by pexpect (Debian's python3-pexpect), one thread each, all
released together; each waits for its prompt, sends `echo task-$i-$((i * i))`, expects the
answer, sends exit and expects EOF, then reaps its docker CLI.

Prints the same lines as rig50.lua (seconds since the script started):
  S <i> <spawned> <spawned> <prompt> <answer> <eof> <exited> <exit code>
  T <wall s> <cpu s> 0
and exits non-zero if any session failed.

  /usr/bin/python3 spec/bench/pexpect50.py [N] [--docker PATH] [--labels k=v,k=v] [--image busybox]

pexpect's delaybeforesend (a 50 ms sleep before each send, there for slow programs) is set to
None: no artificial delay on this side either (--delaybeforesend restores a value).
"""
import argparse
import os
import shutil
import sys
import threading
import time

import pexpect

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def session(i, a, start, out):
    start.wait()
    t = {}
    argv = ["run", "-it", "--rm", "--network", "none", "-e", "PS1=c%d$ " % i]
    for kv in a.labels.split(","):
        argv += ["-l", kv]
    argv += [a.image, "sh"]
    child = None
    try:
        child = pexpect.spawn(a.docker, argv, timeout=a.timeout, dimensions=(24, 80),
                              env=dict(os.environ, TERM="xterm"))
        child.delaybeforesend = a.delaybeforesend
        child.delayafterclose = 0
        t["spawned"] = now()
        child.expect_exact(b"c%d$ " % i)
        t["prompt"] = now()
        child.sendline("echo task-%d-$((%d * %d))" % (i, i, i))
        child.expect_exact(b"task-%d-%d" % (i, i * i))
        t["answer"] = now()
        child.sendline("exit")
        child.expect(pexpect.EOF)
        t["eof"] = now()
        child.wait()
        child.close()
        t["exited"] = now()
        code = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
        out[i] = (t, code, None)
    except Exception as e:  # noqa: BLE001
        detail = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        if child is not None:
            detail += "; last output %r" % (child.before[-200:] if isinstance(child.before, bytes) else None)
            try:
                child.close(force=True)
            except Exception:  # noqa: BLE001
                pass
        out[i] = (t, None, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=50)
    ap.add_argument("--docker", default=shutil.which("docker") or "docker")
    ap.add_argument("--labels", default="dpty.bench=1")
    ap.add_argument("--image", default="busybox")
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--delaybeforesend", type=float, default=None)
    a = ap.parse_args()

    start = threading.Event()
    out = {}
    threads = [threading.Thread(target=session, args=(i, a, start, out)) for i in range(1, a.n + 1)]
    for th in threads:
        th.start()
    start.set()
    for th in threads:
        th.join()
    failed = 0
    for i in range(1, a.n + 1):
        t, code, err = out.get(i, ({}, None, "no result"))
        if err is None:
            print("S %d %.4f %.4f %.4f %.4f %.4f %.4f %s" % (i, t["spawned"], t["spawned"], t["prompt"],
                                                          t["answer"], t["eof"], t["exited"], code))
            if code != 0:
                failed += 1
        else:
            failed += 1
            sys.stderr.write("session %d failed: %s\n" % (i, err))
            print("F %d" % i)
    ru = os.times()
    print("T %.4f %.4f 0" % (now(), ru.user + ru.system))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
