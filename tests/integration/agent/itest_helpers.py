#!/usr/bin/env python3
"""itest_helpers.py - workload pieces for the agent integration tests.

Each subcommand does one real thing and prints a JSON line of facts (its pid, ports, ...)
so the test can check the agent's events against what actually happened.

  files DIR                  create, modify, rename, delete a file in DIR
  tcp-server PORTFILE HOLD   listen on 127.0.0.1 (ephemeral port, written to PORTFILE),
                             accept one connection, hold it HOLD s
  tcp-client PORT HOLD       connect to 127.0.0.1:PORT, send a line, hold HOLD s
  finit-module PATH          finit_module(2) on PATH (expected to fail: not a module)
  http-serve DIR PORTFILE ADDR SECONDS
                             serve DIR over HTTP on ADDR (ephemeral port, written to
                             PORTFILE) for at most SECONDS
  accept-close PORTFILE ADDR SECONDS
                             listen on ADDR, accept and at once close every connection,
                             for at most SECONDS (a reverse shell's listener that hangs up)
  unix-dgram-state PATH      print what is at PATH for a syslog sender: absent, stale (a
                             socket nobody receives on), live, or other (not a socket)
"""
import ctypes
import json
import os
import socket
import sys
import time


def out(**kw):
    kw["pid"] = os.getpid()
    print(json.dumps(kw), flush=True)


def files(d):
    a = os.path.join(d, "bn-file-a")
    b = os.path.join(d, "bn-file-b")
    fd = os.open(a, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    os.write(fd, b"created\n")
    os.close(fd)
    time.sleep(0.05)
    fd = os.open(a, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"modified\n")
    os.close(fd)
    time.sleep(0.05)
    os.rename(a, b)
    time.sleep(0.05)
    os.unlink(b)
    out(created=a, renamed=b)


def tcp_server(portfile, hold):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    s.settimeout(20)
    port = s.getsockname()[1]
    with open(portfile + ".tmp", "w") as f:
        f.write("%d %d\n" % (port, os.getpid()))
    os.rename(portfile + ".tmp", portfile)
    c, peer = s.accept()
    c.settimeout(5)
    try:
        c.recv(64)
    except OSError:
        pass
    time.sleep(hold)
    c.close()
    s.close()
    out(port=port, peer_port=peer[1])


def tcp_client(port, hold):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    local = c.getsockname()[1]
    c.sendall(b"hello\n")
    time.sleep(hold)
    c.close()
    out(port=port, local_port=local)


def finit_module(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    # x86-64 finit_module = 313; the agent's probe is x86-64 only as well.
    r = libc.syscall(313, fd, b"", 0)
    err = ctypes.get_errno()
    os.close(fd)
    out(result=r, errno=err)


def write_port(portfile, port):
    with open(portfile + ".tmp", "w") as f:
        f.write("%d %d\n" % (port, os.getpid()))
    os.rename(portfile + ".tmp", portfile)


def http_serve(d, portfile, addr, seconds):
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=d)
    srv = http.server.ThreadingHTTPServer((addr, 0), handler)
    write_port(portfile, srv.server_address[1])
    threading.Timer(seconds, srv.shutdown).start()
    srv.serve_forever()


def accept_close(portfile, addr, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.listen(8)
    write_port(portfile, s.getsockname()[1])
    end = time.time() + seconds
    while time.time() < end:
        s.settimeout(max(0.1, end - time.time()))
        try:
            c, _ = s.accept()
        except OSError:
            break
        c.close()
    s.close()


def unix_dgram_state(path):
    import stat
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        print("absent")
        return
    if not stat.S_ISSOCK(st.st_mode):
        print("other")
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(path)
        print("live")
    except ConnectionRefusedError:
        print("stale")
    finally:
        s.close()


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "files":
        files(sys.argv[2])
    elif cmd == "tcp-server":
        tcp_server(sys.argv[2], float(sys.argv[3]))
    elif cmd == "tcp-client":
        tcp_client(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "finit-module":
        finit_module(sys.argv[2])
    elif cmd == "http-serve":
        http_serve(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    elif cmd == "unix-dgram-state":
        unix_dgram_state(sys.argv[2])
    elif cmd == "accept-close":
        accept_close(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
