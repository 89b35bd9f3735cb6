"""
A TCP proxy for the tests, in front of PostgreSQL or Redis, that can forward, refuse, or accept and stall.

It listens on 127.0.0.1 on a port the system picks, and forwards to a host and port or
to a Unix socket (the embedded PostgreSQL's), with one thread accepting and two
per connection pumping bytes. ``refuse()`` closes the listening socket and every open
connection (a server that is down); ``stall()`` accepts new connections and holds them
open, and stops pumping on the open ones (a server that accepts and never answers);
``forward()`` restores both.
"""

import select
import socket
import threading
import time

FORWARD, REFUSE, STALL = "forward", "refuse", "stall"


class Proxy:
    def __init__(self, target):
        """Forward to ``target``: a (host, port) pair, or the path of a Unix socket."""
        self.target = target
        self.mode = FORWARD
        self._lock = threading.Lock()
        self._sockets = []
        self._stopped = threading.Event()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _listen(self, port):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    # ------------------------------------------------------------------ modes
    def forward(self):
        with self._lock:
            if self._listener is None:
                self._listener = self._listen(self.port)
            self.mode = FORWARD

    def refuse(self):
        with self._lock:
            self.mode = REFUSE
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._close_all()

    def stall(self):
        with self._lock:
            if self._listener is None:
                self._listener = self._listen(self.port)
            self.mode = STALL

    def stop(self):
        self._stopped.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._close_all()
        self._thread.join(5)

    # -------------------------------------------------------------- internals
    def _close_all(self):
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._sockets = []

    def _accept_loop(self):
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                readable, _, _ = select.select([listener], [], [], 0.1)
                if not readable:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                continue  # closed by refuse() or stop() meanwhile
            with self._lock:
                self._sockets.append(client)
                if self.mode == STALL:
                    continue  # held open, never answered
            try:
                upstream = self._connect_upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _connect_upstream(self):
        if isinstance(self.target, tuple):
            return socket.create_connection(self.target, timeout=5)
        upstream = socket.socket(socket.AF_UNIX)
        upstream.settimeout(5)
        try:
            upstream.connect(self.target)
        except OSError:
            upstream.close()
            raise
        return upstream

    def _pump(self, source, sink):
        while not self._stopped.is_set():
            if self.mode == STALL:
                time.sleep(0.05)
                continue
            try:
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            except (OSError, ValueError):
                break
        for sock in (source, sink):
            try:
                sock.close()
            except OSError:
                pass
