"""A small hand-written SMTP server on 127.0.0.1 that misbehaves on purpose, and counts what it got.

Faults (``fault=``), applied to the first ``faulty`` connections that reach them (later
connections behave), at the message with index ``at`` (messages completed so far):

- ``trickle-greeting``: the 220 greeting comes one byte every ``pace`` seconds, forever;
- ``endless-ehlo``:     EHLO is answered with ``250-`` lines that never end;
- ``close-mid-data``:   the server ends the connection after 354 and closes it once some content
                        has arrived (the final dot is never read);
- ``no-final-reply``:   the whole message arrives, the final dot is never answered;
- ``hold-final-reply``: the final dot is answered (250) only once ``release`` is set;
- ``hold-354``:         the DATA command is answered (354) only once ``release`` is set.

``reached`` is set when the fault happens. Everything is bounded by ``WAIT`` seconds.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

WAIT = 30.0


class FaultServer:
    def __init__(self, fault: str | None = None, *, at: int = 0, faulty: int = 1, pace: float = 0.3):
        self.fault = fault
        self.at = at
        self.faulty = faulty
        self.pace = pace
        self.reached = threading.Event()
        self.release = threading.Event()
        self.closing = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self.commands: list[bytes] = []
        self.messages: list[bytes] = []  # complete contents (final dot received)
        self.final_dots = 0
        self.bytes_sent = 0  # everything sent to clients
        self.threads: list[threading.Thread] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FaultServer:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.release.set()
        for t in self.threads:
            t.join(WAIT)
        self.sock.close()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _take_fault(self, name: str) -> bool:
        with self.lock:
            if self.fault == name and self.faulty > 0 and len(self.messages) == self.at:
                self.faulty -= 1
                return True
            return False

    # ------------------------------------------------------------------ one connection

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self.lock:
            self.bytes_sent += len(data)

    def _wait(self, event: threading.Event) -> None:
        end = time.monotonic() + WAIT
        while not event.is_set() and not self.closing.is_set() and time.monotonic() < end:
            event.wait(0.05)

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        conn.settimeout(WAIT)
        buf = b""
        try:
            if self._take_fault("trickle-greeting"):
                self.reached.set()
                end = time.monotonic() + WAIT
                while not self.closing.is_set() and time.monotonic() < end:
                    for byte in b"220 slow.example ESMTP\r\n"[:-2]:
                        self._send(conn, bytes([byte]))
                        time.sleep(self.pace)
                return
            self._send(conn, b"220 fault.example ESMTP\r\n")
            while not self.closing.is_set():
                while b"\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                with self.lock:
                    self.commands.append(line)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    if self._take_fault("endless-ehlo"):
                        self.reached.set()
                        filler = b"250-" + b"X" * 70 + b"\r\n"
                        while not self.closing.is_set() and self.bytes_sent < 256 * 1024 * 1024:
                            self._send(conn, filler * 64)
                        return
                    self._send(conn, b"250-fault.example\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    if self._take_fault("hold-354"):
                        self.reached.set()
                        self._wait(self.release)
                    self._send(conn, b"354 go ahead\r\n")
                    mid_data = self._take_fault("close-mid-data")
                    if mid_data:  # the client sees the end of the connection before it can write the final dot
                        conn.shutdown(socket.SHUT_WR)
                    while b"\r\n.\r\n" not in buf:
                        if mid_data and len(buf) >= 1000:
                            self.reached.set()
                            return  # closed before the final dot
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    content, buf = buf.split(b"\r\n.\r\n", 1)
                    with self.lock:
                        self.final_dots += 1
                        index = len(self.messages)
                    if self._take_fault("no-final-reply"):
                        with self.lock:
                            self.messages.append(content)
                        self.reached.set()
                        while conn.recv(65536) and not self.closing.is_set():
                            pass
                        return
                    held = self._take_fault("hold-final-reply")
                    with self.lock:
                        self.messages.append(content)
                    if held:
                        self.reached.set()
                        self._wait(self.release)
                    self._send(conn, f"250 2.0.0 OK queued as F{index + 1}\r\n".encode())
                elif verb == b"QUIT":
                    self._send(conn, b"221 bye\r\n")
                    return
                else:  # MAIL, RCPT, RSET, NOOP, HELO
                    self._send(conn, b"250 OK\r\n")
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()
