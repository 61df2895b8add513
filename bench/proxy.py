"""A TCP proxy on loopback, in its own process, steered through stdin: `python -m bench.proxy TARGET_PORT`.

It prints the port it listens on, then reads one command a line and answers `ok` once it is done:

  hold         stop forwarding, both ways: bytes stay in the kernel's buffers, as on a partitioned link
  target PORT  close every connection and send new ones to PORT: a virtual IP moved to another server

bench_faults puts one between a Redis master and its replica (hold: the replica stops receiving the master's writes,
and the master its acknowledgements) and one between the app and Redis (target: the app's address now reaches the
promoted replica, and its open connections break, as they do when a virtual IP moves). A process of its own so that
forwarding the servers' Redis traffic takes no time from the bench's threads. One thread, a selector: loopback
peers read fast, so a blocking send is short.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import sys

CHUNK = 1 << 16


class Proxy:
    def __init__(self, target: int) -> None:
        self.target = target
        self.held = False
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(sys.stdin, selectors.EVENT_READ, "command")
        self.peers: dict[socket.socket, socket.socket] = {}

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def run(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data == "accept":
                    self.accept()
                elif key.data == "command":
                    if not self.command(sys.stdin.readline()):
                        return
                else:
                    self.forward(key.fileobj)

    def accept(self) -> None:
        client, _ = self.listener.accept()
        try:
            server = socket.create_connection(("127.0.0.1", self.target), timeout=1)
        except OSError:
            client.close()  # the target is down: the client sees its connection refused, near enough
            return
        for sock in (client, server):
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.peers[client], self.peers[server] = server, client
        if not self.held:
            self.watch(client, server)

    def watch(self, *socks: socket.socket) -> None:
        for sock in socks:
            self.selector.register(sock, selectors.EVENT_READ, "forward")

    def forward(self, sock: socket.socket) -> None:
        peer = self.peers.get(sock)
        try:
            data = sock.recv(CHUNK)
            if data and peer is not None:
                peer.sendall(data)
                return
        except OSError:
            pass
        self.close(sock)

    def close(self, sock: socket.socket) -> None:
        peer = self.peers.pop(sock, None)
        for one in (sock, peer):
            if one is None:
                continue
            self.peers.pop(one, None)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(one)
            one.close()

    def command(self, line: str) -> bool:
        words = line.split()
        if not words or words[0] == "quit":
            return False
        if words[0] == "hold":
            self.held = True
            for sock in list(self.peers):
                with contextlib.suppress(KeyError):
                    self.selector.unregister(sock)
        elif words[0] == "target":
            self.target = int(words[1])
            self.held = False
            for sock in list(self.peers):
                self.close(sock)
        print("ok", flush=True)
        return True


def main() -> None:
    proxy = Proxy(int(sys.argv[1]))
    print(proxy.port, flush=True)
    proxy.run()


if __name__ == "__main__":
    main()
