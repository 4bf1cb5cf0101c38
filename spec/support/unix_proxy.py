#!/usr/bin/python3
"""A unix-socket forwarder between dpty and dockerd, for specs that take the engine away
mid-session: kill this process and every connection through it drops at once.
Usage: unix_proxy.py LISTEN_PATH [TARGET_PATH]   (prints "ready" when listening)"""
import os
import socket
import sys
import threading

listen_path = sys.argv[1]
target_path = sys.argv[2] if len(sys.argv) > 2 else "/var/run/docker.sock"


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(target_path)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


if os.path.exists(listen_path):
    os.unlink(listen_path)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(listen_path)
server.listen(16)
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    serve(conn)
