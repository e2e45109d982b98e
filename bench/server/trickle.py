#!/usr/bin/env python3
"""Slow clients against reds-server: how long a normal POST /plan takes while many connections trickle
their headers, one line at a time.

Starts build/bin/reds-server with its default options (plus --server-arg ...), or uses --url. Opens
--connections connections that each send a request line, then one header line every --line-interval
seconds, never ending their headers (the server answers them 408 at its --header-timeout-ms, and they
reconnect). Meanwhile a client posts a DNN S plan request (`reds example dnn_s`) every --every seconds on a
fresh connection for --duration seconds, and reports the latency of those requests (connect to last byte
of the answer): first with no trickling connections, then with them.

    bench/server/trickle.py                        # 1,000 trickling connections
    bench/server/trickle.py --connections 64 --duration 5

Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request


def start_server(binary, extra_args):
    server = subprocess.Popen([binary, "--port", "0", *extra_args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("listening on "):
        server.kill()
        sys.exit("trickle.py: the server did not start: " + line + server.stderr.read())
    return server, line[len("listening on "):]


class Trickler:
    """Keeps `count` connections open, each sending a header line every `interval` seconds."""

    def __init__(self, host, port, count, interval):
        self.host, self.port, self.count, self.interval = host, port, count, interval
        self.stop = threading.Event()
        self.opened = 0
        self.reconnects = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self):
        connection = socket.create_connection((self.host, self.port))
        connection.setblocking(False)
        connection.send(b"POST /plan HTTP/1.1\r\nHost: trickle\r\n")
        self.opened += 1
        return connection

    def run(self):
        selector = selectors.DefaultSelector()
        lines = {}
        for _ in range(self.count):
            connection = self.connect()
            selector.register(connection, selectors.EVENT_READ)
            lines[connection] = 0
        self.ready.set()
        # Spread the sends over the interval: one slice of the connections per tick.
        ticks = 20
        tick = 0
        while not self.stop.is_set():
            for key, _ in selector.select(timeout=self.interval / ticks):
                connection = key.fileobj
                try:  # the server answered (408) or closed: reconnect
                    connection.recv(65536)
                except OSError:
                    pass
                selector.unregister(connection)
                connection.close()
                del lines[connection]
                replacement = self.connect()
                self.reconnects += 1
                selector.register(replacement, selectors.EVENT_READ)
                lines[replacement] = 0
            for index, connection in enumerate(list(lines)):
                if index % ticks != tick:
                    continue
                lines[connection] += 1
                try:
                    connection.send(b"X-Trickle-%d: %s\r\n" % (lines[connection], b"a" * 20))
                except OSError:
                    pass
            tick = (tick + 1) % ticks
        for connection in lines:
            connection.close()


def timed_plans(host, port, body, duration, every):
    """Latencies (ms) of POST /plan on fresh connections, and the statuses that were not 200."""
    latencies, failures = [], []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            connection = http.client.HTTPConnection(host, port, timeout=30)
            connection.request("POST", "/plan", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status != 200:
                failures.append(response.status)
        except OSError as error:
            failures.append(str(error))
        latencies.append(1000 * (time.monotonic() - start))
        time.sleep(max(0.0, every - (time.monotonic() - start)))
    return latencies, failures


def summary(latencies):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (f"{len(ordered)} requests: min {ordered[0]:.2f} ms, median {statistics.median(ordered):.2f} ms, "
            f"p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start BUILD/bin/reds-server)")
    parser.add_argument("--build", default="build", help="build directory (default: build)")
    parser.add_argument("--server-arg", action="append", default=[], help="an option for reds-server")
    parser.add_argument("--connections", type=int, default=1000, help="trickling connections (1000)")
    parser.add_argument("--line-interval", type=float, default=1.0, help="seconds between header lines (1)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of timed requests (15)")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between timed requests (0.05)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    body = subprocess.run([os.path.join(args.build, "bin", "reds"), "example", "dnn_s"], check=True,
                          capture_output=True).stdout
    server = None
    url = args.url
    if url is None:
        server, url = start_server(os.path.join(args.build, "bin", "reds-server"), args.server_arg)
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname, parsed.port
    try:
        print(f"reds-server at {url} {' '.join(args.server_arg) or '(default options)'}, "
              f"{os.cpu_count()} cores; DNN S plan request of {len(body)} bytes every {args.every} s")
        latencies, failures = timed_plans(host, port, body, min(args.duration, 5.0), args.every)
        print(f"no trickling connections:      {summary(latencies)}; not 200: {len(failures)}")

        trickler = Trickler(host, port, args.connections, args.line_interval)
        trickler.thread.start()
        trickler.ready.wait()
        time.sleep(2 * args.line_interval)  # every connection has sent a few lines
        with urllib.request.urlopen(url + "/metrics") as response:
            metrics = response.read().decode()
        open_connections = next((line.split()[1] for line in metrics.splitlines()
                                 if line.startswith("reds_http_connections_open ")), "?")
        latencies, failures = timed_plans(host, port, body, args.duration, args.every)
        trickler.stop.set()
        trickler.thread.join()
        print(f"{args.connections} trickling connections: {summary(latencies)}; not 200: {len(failures)}"
              f"{' ' + json.dumps(failures[:5]) if failures else ''}")
        print(f"  (server's open connections while timing began: {open_connections}; the tricklers "
              f"reconnected {trickler.reconnects} times after the server's 408)")
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
