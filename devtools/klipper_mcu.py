"""A simulated Klipper microcontroller on a pseudo-terminal, for a real klippy to talk to.

Klipper's host program (klippy) drives the printer's microcontroller over a serial line
in Klipper's own protocol. No MCU firmware or simulator is in the package registries,
so this program plays the MCU: it opens a pseudo-terminal, links its slave side at the
path given, and answers klippy there. It encodes and decodes messages with klippy's
own protocol module (`klippy.msgproto`), so it runs on klippy's interpreter:

    .venv-klippy/bin/python devtools/klipper_mcu.py /tmp/…/klipper-mcu

It serves the commands klippy needs to connect, configure and run a printer whose
configuration uses no pins (`kinematics: none`): identify, the clock queries,
get_config, allocate_oids, finalize_config, emergency_stop (it then reports the
shutdown) and reset (a firmware restart: it starts unconfigured again). Frames follow
Klipper's protocol: length, sequence, messages, CRC-16, sync byte; each frame received
in sequence is acknowledged with the next sequence number. It stops on SIGTERM.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
import pty
import select
import signal
import sys
import time
import tty
import zlib

from klippy import msgproto

CLOCK_FREQ = 1_000_000
MOVE_COUNT = 512
# The data dictionary: Klipper's identify messages keep their ids 0 and 1.
COMMANDS = {
    "identify offset=%u count=%c": 1,
    "get_uptime": 2,
    "get_clock": 3,
    "get_config": 4,
    "allocate_oids count=%c": 5,
    "finalize_config crc=%u": 6,
    "emergency_stop": 7,
    "reset": 8,
    "clear_shutdown": 9,
}
RESPONSES = {
    "identify_response offset=%u data=%.*s": 0,
    "uptime high=%u clock=%u": 20,
    "clock clock=%u": 21,
    "config is_config=%c crc=%u is_shutdown=%c move_count=%hu": 22,
    "shutdown clock=%u static_string_id=%hu": 23,
    "is_shutdown static_string_id=%hu": 24,
    "starting": 25,
    "stats count=%u sum=%u sumsq=%u": 26,
}
STATIC_STRINGS = {"Command request": 1, "Shutdown cleared when not shutdown": 2}
DICTIONARY = {
    "version": "usage-stats-simulated-mcu",
    "build_versions": "python",
    "commands": COMMANDS,
    "responses": RESPONSES,
    "enumerations": {"static_string_id": STATIC_STRINGS},
    "config": {"CLOCK_FREQ": CLOCK_FREQ, "MCU": "linux", "STATS_SUMSQ_BASE": 256},
}
IDENTIFY_DATA = zlib.compress(json.dumps(DICTIONARY).encode())


class SimulatedMcu:
    """The MCU's state and its answers to klippy's commands."""

    def __init__(self) -> None:
        """Start unconfigured, with the clock at zero."""
        self.parser = msgproto.MessageParser()
        self.parser.process_identify(IDENTIFY_DATA)
        self.started = time.monotonic()
        # The sequence number of the next frame expected; None until the first frame.
        self.next_seq: int | None = None
        self.reset()

    def reset(self) -> None:
        """Start again unconfigured and not shut down (power on, or `reset`)."""
        self.configured = False
        self.config_crc = 0
        self.shutdown = False

    def clock(self) -> int:
        """Return the MCU's 64-bit clock."""
        return int((time.monotonic() - self.started) * CLOCK_FREQ)

    def respond(self, name: str, **params: object) -> list[int]:
        """Return the encoded response `name`."""
        message = self.parser.messages_by_name[name]
        return message.encode_by_name(**params)

    def handle(self, params: dict[str, object]) -> list[list[int]]:
        """Return the responses to one command."""
        name = params["#name"]
        clock = self.clock()
        if name == "identify":
            offset, count = int(params["offset"]), int(params["count"])  # type: ignore[call-overload]
            data = list(IDENTIFY_DATA[offset : offset + count])
            return [self.respond("identify_response", offset=offset, data=data)]
        if name == "get_uptime":
            return [self.respond("uptime", high=clock >> 32, clock=clock & 0xFFFFFFFF)]
        if name == "get_clock":
            return [self.respond("clock", clock=clock & 0xFFFFFFFF)]
        if name == "get_config":
            return [
                self.respond(
                    "config",
                    is_config=int(self.configured),
                    crc=self.config_crc,
                    is_shutdown=int(self.shutdown),
                    move_count=MOVE_COUNT,
                )
            ]
        if name == "finalize_config":
            self.configured, self.config_crc = True, int(params["crc"])  # type: ignore[call-overload]
        elif name == "emergency_stop":
            self.shutdown = True
            return [
                self.respond(
                    "shutdown",
                    clock=clock & 0xFFFFFFFF,
                    static_string_id="Command request",
                )
            ]
        elif name == "reset":
            self.reset()
            self.next_seq = None  # Rebooted: the next connection sets the sequence.
        elif name == "clear_shutdown":
            self.shutdown = False
        return []

    @staticmethod
    def _valid(frame: bytes) -> bool:
        return (
            frame[-1] == msgproto.MESSAGE_SYNC
            and (frame[1] & ~msgproto.MESSAGE_SEQ_MASK) == msgproto.MESSAGE_DEST
            and list(frame[-3:-1]) == msgproto.crc16_ccitt(frame[:-3])
        )

    def _next_frame(self, buffer: bytearray) -> bytes | None:
        """Take the first whole valid frame out of `buffer`, with what came before it.

        Bytes before a valid frame are noise or sync bytes (a real MCU drops them
        too, up to the next sync byte); a partial frame at the end stays.
        """
        for start in range(len(buffer)):
            length = buffer[start]
            if not msgproto.MESSAGE_MIN <= length <= msgproto.MESSAGE_MAX:
                continue
            if start + length > len(buffer):
                continue
            frame = bytes(buffer[start : start + length])
            if self._valid(frame):
                del buffer[: start + length]
                return frame
        return None

    def frames(self, buffer: bytearray) -> list[bytes]:
        """Take every whole frame out of `buffer` and return the answers to send."""
        out: list[bytes] = []
        while (frame := self._next_frame(buffer)) is not None:
            seq = frame[1] & msgproto.MESSAGE_SEQ_MASK
            responses: list[list[int]] = []
            if self.next_seq is None:  # A new connection starts where the host is.
                self.next_seq = seq
            if seq == self.next_seq:
                self.next_seq = (seq + 1) & msgproto.MESSAGE_SEQ_MASK
                position = msgproto.MESSAGE_HEADER_SIZE
                while position < len(frame) - msgproto.MESSAGE_TRAILER_SIZE:
                    message = self.parser.messages_by_id[frame[position]]
                    params, position = message.parse(frame, position)
                    params["#name"] = message.name
                    responses += self.handle(params)
            if self.next_seq is None:
                continue  # Reset: a rebooting MCU answers nothing.
            # The responses, then the acknowledgement on its own (the next sequence
            # expected): klippy counts only an empty frame as the ack of its last command.
            out.append(self.encode(responses) if responses else b"")
            out.append(self.encode([]))
        # Noise that cannot start a frame any more (over a frame's length) goes.
        if len(buffer) > msgproto.MESSAGE_MAX:
            del buffer[: len(buffer) - msgproto.MESSAGE_MAX]
        return out

    def encode(self, responses: list[list[int]]) -> bytes:
        """Return one frame per response (klippy reads one message a frame), or an ack.

        Each carries the next sequence expected. A sync byte goes first: klippy drops
        what it reads until one (a new connection), and between frames it is no more
        than a sync byte again.
        """
        out = bytearray([msgproto.MESSAGE_SYNC])
        for payload in responses or [[]]:
            seq = (self.next_seq or 0) | msgproto.MESSAGE_DEST
            head = [msgproto.MESSAGE_MIN + len(payload), seq]
            body = head + payload
            out += bytes(body + msgproto.crc16_ccitt(body) + [msgproto.MESSAGE_SYNC])
        return bytes(out)


def serve(link: str) -> None:
    """Open a pseudo-terminal, link its slave at `link`, and answer klippy until SIGTERM."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    slave_name = os.ttyname(slave)
    path = Path(link)
    path.unlink(missing_ok=True)
    path.symlink_to(slave_name)
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    mcu = SimulatedMcu()
    buffer = bytearray()
    sys.stdout.write(f"simulated MCU on {link}\n")
    sys.stdout.flush()
    try:
        while running:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError as err:
                if err.errno != errno.EIO:  # EIO: klippy closed its side for now.
                    raise
                time.sleep(0.1)
                continue
            buffer += data
            for frame in mcu.frames(buffer):
                os.write(master, frame)
    finally:
        if path.is_symlink() and str(path.readlink()) == slave_name:
            path.unlink()
        os.close(slave)
        os.close(master)


if __name__ == "__main__":
    serve(sys.argv[1])
