#!/usr/bin/python3
"""A minimal `docker run` built on dockerpty 0.4.1, the way its users write one.

    dockerpty_run.py [-i] [-t] [--rm] [--network NET] [-l K=V]... IMAGE [CMD...]

Creates the container with docker-py's low-level APIClient, hands it to dockerpty.start()
(which attaches, starts and pumps), then exits with the container's exit code. dockerpty itself
returns no exit code, so the code comes from client.wait(); with --rm the wait (condition
"removed") is registered before the start, as the docker CLI does, because an auto-removed
container may be gone by the time dockerpty returns.
"""
import sys
import threading

import docker
import dockerpty


def usage(msg):
    sys.stderr.write("dockerpty_run.py: %s\n" % msg)
    sys.exit(125)


def parse(argv):
    o = {"i": False, "t": False, "rm": False, "network": None, "labels": {}}
    k = 0
    while k < len(argv) and argv[k].startswith("-"):
        a = argv[k]
        k += 1
        if a == "--":
            break
        if a in ("--rm",):
            o["rm"] = True
        elif a in ("--network", "-l", "--label"):
            if k >= len(argv):
                usage("flag needs an argument: " + a)
            v = argv[k]
            k += 1
            if a == "--network":
                o["network"] = v
            else:
                key, _, val = v.partition("=")
                o["labels"][key] = val
        elif a.startswith("--network="):
            o["network"] = a.split("=", 1)[1]
        elif len(a) > 1 and a[1] != "-" and set(a[1:]) <= {"i", "t"}:
            o["i"] = o["i"] or "i" in a
            o["t"] = o["t"] or "t" in a
        else:
            usage("unknown flag: " + a)
    if k >= len(argv):
        usage("requires at least 1 argument (the image)")
    return o, argv[k], argv[k + 1:]


def main():
    o, image, cmd = parse(sys.argv[1:])
    client = docker.APIClient(**docker.utils.kwargs_from_env())
    host_config = client.create_host_config(auto_remove=o["rm"], network_mode=o["network"])
    container = client.create_container(
        image, command=cmd or None, tty=o["t"], stdin_open=o["i"],
        labels=o["labels"] or None, host_config=host_config)
    cid = container["Id"]

    result = {}
    waiter = None
    if o["rm"]:
        # The container is removed at exit: register the wait before starting it.
        def wait_removed():
            try:
                result["wait"] = client.wait(cid, condition="removed")
            except Exception as e:  # noqa: BLE001 - report below
                result["error"] = e
        waiter = threading.Thread(target=wait_removed, daemon=True)
        waiter.start()

    try:
        dockerpty.start(client, cid, interactive=o["i"], logs=0)
    except Exception:
        if o["rm"]:
            try:
                client.remove_container(cid, force=True)
            except Exception:
                pass
        raise
    if waiter is not None:
        waiter.join()
        if "error" in result:
            sys.stderr.write("dockerpty_run.py: wait: %s\n" % result["error"])
            return 125
        res = result["wait"]
    else:
        res = client.wait(cid)
    return int(res.get("StatusCode", 125))


if __name__ == "__main__":
    sys.exit(main())
