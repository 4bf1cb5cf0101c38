#!/usr/bin/python3
"""The engine's ceiling: a bare socket reader, no client library, no terminal.

    raw_attach.py [--tty] [-l K=V]... IMAGE CMD...

Over the Engine's unix socket: create (AutoRemove, NetworkMode none), register
wait?condition=removed, POST attach with `Upgrade: tcp`, start, then read the hijacked
stream to EOF into one reused buffer (discarded). Prints `RAW_BYTES=<n>` (stream bytes after
the 101 head; multiplexed frame headers included when not --tty) and exits with the
container's exit code.
"""
import json
import os
import re
import socket
import sys

API = "/v1.41"


def socket_path():
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        sys.stderr.write("raw_attach.py: only unix:// DOCKER_HOST is supported\n")
        sys.exit(125)
    return "/var/run/docker.sock"


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(socket_path())
    return s


def send(s, method, path, body=None, extra=""):
    data = b"" if body is None else json.dumps(body).encode()
    head = ("%s %s%s HTTP/1.1\r\nHost: docker\r\nContent-Length: %d\r\n%s"
            % (method, API, path, len(data), extra))
    if body is not None:
        head += "Content-Type: application/json\r\n"
    s.sendall(head.encode() + b"\r\n" + data)


def read_head(s):
    """-> (status, head bytes, bytes already read past the head)"""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed in response head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, rest


def read_all(s, rest=b""):
    parts = [rest]
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def request(method, path, body=None):
    s = connect()
    send(s, method, path, body, "Connection: close\r\n")
    status, head, rest = read_head(s)
    data = read_all(s, rest)
    s.close()
    if b"chunked" in head.lower():
        data = dechunk(data)
    return status, data


def dechunk(data):
    out, k = [], 0
    while True:
        nl = data.index(b"\r\n", k)
        size = int(data[k:nl].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[nl + 2:nl + 2 + size])
        k = nl + 2 + size + 2


def main():
    argv = sys.argv[1:]
    tty, labels = False, {}
    while argv and argv[0].startswith("-"):
        a = argv.pop(0)
        if a == "--tty":
            tty = True
        elif a in ("-l", "--label"):
            k, _, v = argv.pop(0).partition("=")
            labels[k] = v
        else:
            sys.stderr.write("raw_attach.py: unknown flag %s\n" % a)
            return 125
    image, cmd = argv[0], argv[1:]
    status, data = request("POST", "/containers/create", {
        "Image": image, "Cmd": cmd or None, "Tty": tty, "OpenStdin": False,
        "AttachStdout": True, "AttachStderr": True, "Labels": labels,
        "HostConfig": {"AutoRemove": True, "NetworkMode": "none"}})
    if status != 201:
        sys.stderr.write("raw_attach.py: create: %d %s\n" % (status, data.decode(errors="replace")))
        return 125
    cid = json.loads(data)["Id"]

    waiter = connect()
    send(waiter, "POST", "/containers/%s/wait?condition=removed" % cid, None, "Connection: close\r\n")
    wstatus, whead, wrest = read_head(waiter)

    att = connect()
    send(att, "POST", "/containers/%s/attach?stdout=1&stderr=1&stream=1" % cid, None,
         "Connection: Upgrade\r\nUpgrade: tcp\r\n")
    astatus, _, rest = read_head(att)
    if astatus not in (101, 200):
        sys.stderr.write("raw_attach.py: attach: %d\n" % astatus)
        request("DELETE", "/containers/%s?force=1" % cid)
        return 125

    status, data = request("POST", "/containers/%s/start" % cid)
    if status not in (204, 304):
        sys.stderr.write("raw_attach.py: start: %d %s\n" % (status, data.decode(errors="replace")))
        request("DELETE", "/containers/%s?force=1" % cid)
        return 125

    n = len(rest)
    buf = bytearray(1 << 20)
    while True:
        k = att.recv_into(buf)
        if k == 0:
            break
        n += k
    att.close()

    wdata = read_all(waiter, wrest)
    waiter.close()
    m = re.search(rb'"StatusCode":\s*(\d+)', wdata)
    sys.stdout.write("RAW_BYTES=%d\n" % n)
    sys.stdout.flush()
    if wstatus != 200 or not m:
        sys.stderr.write("raw_attach.py: wait: %d %r\n" % (wstatus, wdata))
        return 125
    return int(m.group(1))


if __name__ == "__main__":
    sys.exit(main())
