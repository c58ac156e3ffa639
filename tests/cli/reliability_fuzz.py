#!/usr/bin/env python3
"""reliability_fuzz.py -- hostile peers for weft serve's board and client endpoints.

Used by reliability_test.sh (scenario d) while a real run goes on.  Speaks ZMTP 3.0 by hand
over plain sockets (NULL mechanism, DEALER), so it needs nothing but the Python standard
library: no pyzmq, no msgpack module.  What it sends, over many short connections:

  raw TCP    random bytes with no handshake; half greetings; greetings of other ZMTP versions
             and mechanisms; a READY naming an incompatible socket type (to the event port
             too with --events: see reliability_test.sh for why that is not the default)
  DEALER     after a valid handshake: random frames, empty frames, multi-frame messages, frames
             whose header claims more bytes than ZMQ_MAXMSGSIZE, and msgpack built to be
             wrong: every weft message kind encoded then truncated, with trailing bytes, with
             another signature, version or kind, containers claiming 2^32 elements, deep
             nesting, the reserved byte 0xc1
  forged     well-formed board messages that must change nothing: DONE and FAILED naming real
             attempts of the running request -- with --log, the very attempts running right
             now, read from the test's job log -- from a peer that never said HELLO, and from
             a registered consumer of a type nobody submits (reports count only for attempts
             leased to their sender); and HELLOs whose `running` list claims those attempts
             (re-adoption takes only attempts no live consumer holds)

Never sent: a complete valid client request that changes anything (CANCEL, RETRY, PAUSE,
DRAIN, SUBMIT); only PING, LIST, WORKERS and STATUS are sent whole, to see that the server
still answers on the same connection after the garbage.

Bounded: it stops after --seconds or when --stop-file exists, whichever comes first, and
only ever connects to the 127.0.0.1 ports it is given.  Prints one line of counts per
endpoint and exits 0 if at least one handshake per endpoint succeeded (so the garbage really
reached weft's decoders), 1 otherwise.

usage: reliability_fuzz.py --port BASE --req REQ --jobs N [--seconds S] [--stop-file F]
                           [--seed N] [--log LOG --done DONE] [--events]
LOG and DONE hold "<job> <attempt> <worker>" lines written when a job starts and ends; job
lNNjMM is index NN*50+MM of the request (the test's lattice).
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

HOST = "127.0.0.1"


# ---- msgpack, the few types weft uses ----

def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v <= 0xFF:
            return b"\xcc" + bytes([v])
        if 0 <= v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        if len(v) < 256:
            return b"\xc4" + bytes([len(v)]) + bytes(v)
        return b"\xc5" + struct.pack(">H", len(v)) + bytes(v)
    if isinstance(v, (list, tuple)):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + struct.pack(">H", len(v))
        return head + b"".join(mp(x) for x in v)
    raise TypeError(type(v))


# ---- ZMTP 3.0, NULL mechanism ----

def greeting(major=3, minor=0, mech=b"NULL"):
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([major, minor]) +
            mech.ljust(20, b"\x00") + b"\x00" + b"\x00" * 31)


def command(name, body):
    data = bytes([len(name)]) + name + body
    if len(data) < 256:
        return b"\x04" + bytes([len(data)]) + data
    return b"\x06" + struct.pack(">Q", len(data)) + data


def ready(socket_type=b"DEALER"):
    prop = bytes([11]) + b"Socket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    return command(b"READY", prop)


def frame(data, more=False):
    flags = 0x01 if more else 0x00
    if len(data) < 256:
        return bytes([flags]) + bytes([len(data)]) + data
    return bytes([flags | 0x02]) + struct.pack(">Q", len(data)) + data


class Peer:
    """One TCP connection; after handshake() it is a ZMTP DEALER."""

    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=2)
        self.buf = b""
        self.replies = []

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, data):
        self.s.sendall(data)

    def _read_exact(self, n, timeout=2.0):
        self.s.settimeout(timeout)
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        self.send(greeting() + ready())
        g = self._read_exact(64)
        if g[0] != 0xFF or g[9] != 0x7F:
            raise ConnectionError("not a ZMTP peer")
        flags = self._read_exact(1)[0]
        size = (struct.unpack(">Q", self._read_exact(8))[0] if flags & 0x02
                else self._read_exact(1)[0])
        cmd = self._read_exact(size)
        if not (flags & 0x04) or not cmd[1:6] == b"READY":
            raise ConnectionError("no READY")

    def drain(self, timeout=0.0):
        """Collect whole reply messages (lists of frames) already received."""
        self.s.settimeout(timeout if timeout > 0 else 0.0001)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except (socket.timeout, BlockingIOError):
            pass
        msg = []
        while True:
            if len(self.buf) < 2:
                break
            flags = self.buf[0]
            if flags & 0x02:
                if len(self.buf) < 9:
                    break
                size, hdr = struct.unpack(">Q", self.buf[1:9])[0], 9
            else:
                size, hdr = self.buf[1], 2
            if len(self.buf) < hdr + size:
                break
            data, self.buf = self.buf[hdr:hdr + size], self.buf[hdr + size:]
            if flags & 0x04:
                continue  # a command (PING and the like)
            msg.append(data)
            if not flags & 0x01:
                self.replies.append(msg)
                msg = []
        return self.replies


def reply_kind(frames):
    """The kind of a weft reply [ "WEFT", version, kind, ... ], or None."""
    if not frames:
        return None
    f = frames[-1]
    if len(f) >= 8 and 0x90 <= f[0] <= 0x9F and f[1:6] == b"\xa4WEFT":
        k = f[7]
        return k if k < 0x80 else (f[8] if k == 0xCC and len(f) > 8 else None)
    return None


# ---- what to send ----

# The type every HELLO here registers: no job of the run has it, so the board never hands a
# fuzzing peer real work (v1 has no authentication: a peer registering `shell` would be given
# jobs, and leaving would spend their lost_retries -- the designed behaviour, not a bug).
NO_TYPE = "reltest-no-such-type"


def board_messages(rnd, req, jobs):
    ref = [req, rnd.randrange(jobs), rnd.randint(1, 3)]
    return [
        ["WEFT", 1, 1, "fz", [NO_TYPE], 2, 0, 1, "host", []],     # HELLO
        ["WEFT", 1, 2],                                            # HEARTBEAT
        ["WEFT", 1, 3] + ref + [50, "half"],                       # PROGRESS
        ["WEFT", 1, 4] + ref + [b""],                              # DONE
        ["WEFT", 1, 5] + ref + [1, "forged"],                      # FAILED
        ["WEFT", 1, 6],                                            # BYE
        ["WEFT", 1, 17] + ref + ["j", "shell", b"true", 0],        # JOB: board only
        ["WEFT", 1, 19] + ref,                                     # ACK: board only
        ["WEFT", 1, 1, "bad name!", [NO_TYPE], 2, 0, 1, "h", []],  # bad name
        ["WEFT", 1, 1, "fz", [], 2, 0, 1, "h", []],                # no types
        ["WEFT", 1, 1, "fz", [NO_TYPE], 0, 0, 1, "h", []],         # 0 slots
        ["WEFT", 1, 1, "fz", [NO_TYPE], 5000, 0, 1, "h", []],      # too many slots
        ["WEFT", 1, 1, "fz", [NO_TYPE], 1, 0, 1, "h", [[req, 0]]], # short running entry
        ["WEFT", 1, 3] + ref + [101, "x"],                         # percent out of range
        ["WEFT", 1, 4, 0, 0, 1, b""],                              # request 0
        ["WEFT", 1, 4, req, 2000000, 1, b""],                      # index out of range
        ["WEFT", 1, 4, req, 0, 0, b""],                            # attempt 0
        ["WEFT", 1, 5] + ref + [1, "a\x00b"],                      # NUL in a text
        ["WEFT", 1, 4] + ref + ["not bin"],                        # str for bin
        ["WEFT", 2, 2],                                            # another version
        ["WEFT", 1, 99],                                           # unknown kind
        ["WEFT", 1, 2, 7],                                         # a field too many
        ["WEFX", 1, 2],                                            # wrong signature
        ["WEFT", -1, 2],                                           # negative version
        ["WEFT", 1, None],                                         # nil kind
    ]


def client_messages(rnd, req, jobs):
    corr = rnd.randrange(1 << 32)
    job = ["j1", "shell", b"echo never", [], 0, 3, 0, 0, 0, None, 0]
    return [
        ["WEFT", 1, 1, corr, "fuzz", None, None, [], [job]],      # SUBMIT (only ever cut)
        ["WEFT", 1, 2, corr, req],                                # STATUS
        ["WEFT", 1, 4, corr, req, None],                          # CANCEL (only ever cut)
        ["WEFT", 1, 5, corr, req, None],                          # RETRY (only ever cut)
        ["WEFT", 1, 6, corr, req],                                # WAIT (only ever cut)
        ["WEFT", 1, 10, corr],                                    # DRAIN (only ever cut)
        ["WEFT", 1, 11, corr, req, "l00j00"],                     # WHY
        ["WEFT", 1, 64, corr],                                    # OK: a reply kind
        ["WEFT", 1, 96, 0, req, 0, "j", 1, 0, 1, 0, 0],           # EVENT: a server kind
        ["WEFT", 2, 12, corr],                                    # another version
        ["WEFT", 1, 200, corr],                                   # unknown kind
        ["WEFT", 1, 2, corr, 0],                                  # request 0
        ["WEFT", 1, 2, corr, "1"],                                # str for uint
        ["WEFT", 1, 1, corr, "bad name!", None, None, [], [job]],  # bad name
        ["WEFT", 1, 1, corr, "x", "", None, [], [job]],           # empty optname
    ]


# Kinds that would change something if a whole, valid frame of them got through.
MUTATING_CLIENT_KINDS = {1, 4, 5, 6, 8, 9, 10}
HARMLESS_CLIENT = [lambda c: ["WEFT", 1, 12, c],  # PING
                   lambda c: ["WEFT", 1, 3, c],   # LIST
                   lambda c: ["WEFT", 1, 7, c]]   # WORKERS


def hostile_frames(rnd, msgs, mutating):
    """Yield (label, [frames]) of msgpack built to be refused."""
    m = rnd.choice(msgs)
    enc = mp(m)
    kind = m[2] if len(m) > 2 and isinstance(m[2], int) else None
    cut = rnd.randrange(0, len(enc))  # always at least one byte short
    choices = [
        ("truncated", [enc[:cut]]),
        ("trailing", [enc + bytes([rnd.randrange(256)])]),
        ("random", [os.urandom(rnd.randint(1, 600))]),
        ("empty", [b""]),
        ("two-frames", [enc[:cut], enc[:cut]]),
        ("array32-huge", [b"\xdd\xff\xff\xff\xff" + mp("WEFT") + b"\x01\x02"]),
        ("bin32-huge", [b"\x93\xa4WEFT\x01\xc6\xff\xff\xff\xff"]),
        ("map", [b"\x81\xa4WEFT\x01"]),
        ("deep", [b"\x91" * rnd.randint(8, 2000) + b"\x00"]),
        ("c1", [b"\x93\xa4WEFT\x01\xc1"]),
        ("fixarray-lie", [bytes([0x9F]) + enc[1:cut]]),
    ]
    # Whole frames go out only for kinds that cannot change anything.
    if kind not in mutating:
        choices.append(("whole", [enc]))
    return rnd.choice(choices)


def connect_dealer(port, stats):
    p = Peer(port)
    try:
        p.handshake()
    except (OSError, ConnectionError):
        p.close()
        stats["handshake_failed"] += 1
        return None
    stats["handshakes"] += 1
    return p


def raw_garbage(port, rnd, stats):
    what = rnd.randrange(6)
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError:
        stats["connect_failed"] += 1
        return
    try:
        if what == 0:
            s.sendall(os.urandom(rnd.randint(1, 4096)))
        elif what == 1:
            s.sendall(greeting()[:rnd.randint(1, 63)])
        elif what == 2:
            s.sendall(greeting(major=rnd.choice([1, 2, 4, 255])) + os.urandom(64))
        elif what == 3:
            s.sendall(greeting(mech=rnd.choice([b"PLAIN", b"CURVE", b"GSSAPI", b"XYZ"])))
            s.sendall(os.urandom(rnd.randint(1, 300)))
        elif what == 4:
            s.sendall(greeting() + ready(rnd.choice([b"PUB", b"REP", b"XYZ", b""])))
            s.sendall(frame(os.urandom(20)))
        else:
            # A valid handshake, then a frame header claiming far more than
            # ZMQ_MAXMSGSIZE: libzmq must drop the connection, not allocate.
            s.sendall(greeting() + ready() + b"\x02" + struct.pack(">Q", 1 << 40) + b"xx")
        stats["raw"] += 1
        s.settimeout(0.05)
        try:
            s.recv(4096)
        except OSError:
            pass
    except OSError:
        stats["raw"] += 1  # the server closed on us: what it should do with garbage
    finally:
        s.close()


def fuzz_board(port, rnd, req, jobs, stats):
    p = connect_dealer(port, stats)
    if not p:
        return
    try:
        for _ in range(rnd.randint(20, 200)):
            label, frames = hostile_frames(rnd, board_messages(rnd, req, jobs), set())
            p.send(b"".join(frame(f, more=(i < len(frames) - 1)) for i, f in enumerate(frames)))
            stats["sent"] += 1
        p.drain(0.02)
    except OSError:
        stats["dropped_by_server"] += 1
    finally:
        count_replies(p, stats, error_kind=20)
        p.close()


def running_now(log, done, req):
    """[req, idx, attempt] of the attempts started and not yet ended, from the job logs."""
    def tail(path, n=4096):
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                return f.read().decode(errors="replace").splitlines()[1:]
        except OSError:
            return []
    ended = set(tuple(x.split()[:2]) for x in tail(done, 16384) if len(x.split()) >= 2)
    refs = []
    for x in tail(log):
        w = x.split()
        if len(w) < 2 or tuple(w[:2]) in ended:
            continue
        if len(w[0]) == 6 and w[0][0] == "l" and w[0][3] == "j" and w[1].isdigit():
            try:
                refs.append([req, int(w[0][1:3]) * 50 + int(w[0][4:6]), int(w[1])])
            except ValueError:
                pass
    return refs


def forge_reports(port, rnd, req, jobs, stats, register, log=None, done=None):
    """DONE / FAILED for real attempts of REQ -- running ones if the logs are given -- from a
    registered consumer if REGISTER."""
    live = running_now(log, done, req) if log else []
    p = connect_dealer(port, stats)
    if not p:
        return
    try:
        if register:
            # A type nobody submits: the board never leases it anything.  Its `running` claims
            # attempts real workers hold right now.
            p.send(frame(mp(["WEFT", 1, 1, "fuzz-consumer", [NO_TYPE], 8, 0,
                             os.getpid(), "fuzzhost", live[:8]])))
            stats["forged"] += 1
        for _ in range(rnd.randint(50, 200)):
            if live and rnd.random() < 0.7:
                ref = list(rnd.choice(live))
                stats["forged_live"] += 1
            else:
                ref = [req, rnd.randrange(jobs), rnd.randint(1, 3)]
            if rnd.random() < 0.5:
                m = ["WEFT", 1, 5] + ref + [rnd.choice([1, 2, -9, 127]), "forged failure"]
            else:
                m = ["WEFT", 1, 4] + ref + [b"forged"]
            p.send(frame(mp(m)))
            stats["forged"] += 1
        p.drain(0.02)
    except OSError:
        stats["dropped_by_server"] += 1
    finally:
        count_replies(p, stats, error_kind=20)
        p.close()


def fuzz_client(port, rnd, req, jobs, stats):
    p = connect_dealer(port, stats)
    if not p:
        return
    try:
        for _ in range(rnd.randint(20, 200)):
            label, frames = hostile_frames(rnd, client_messages(rnd, req, jobs),
                                           MUTATING_CLIENT_KINDS)
            p.send(b"".join(frame(f, more=(i < len(frames) - 1)) for i, f in enumerate(frames)))
            stats["sent"] += 1
        # Still answering on this very connection?  (Replies come in order of the requests.)
        p.send(frame(mp(rnd.choice(HARMLESS_CLIENT)(rnd.randrange(1 << 32)))))
        stats["sent"] += 1
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            p.drain(0.05)
            if any(reply_kind(r) in (68, 70, 73) for r in p.replies):
                stats["answered_after_garbage"] += 1
                break
    except OSError:
        stats["dropped_by_server"] += 1
    finally:
        count_replies(p, stats, error_kind=65)
        p.close()


def count_replies(p, stats, error_kind):
    for r in p.replies:
        k = reply_kind(r)
        if k == error_kind:
            stats["error_replies"] += 1
        elif k is not None:
            stats["other_replies"] += 1
        if k is not None:
            stats["kinds"][k] = stats["kinds"].get(k, 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="the server's base port")
    ap.add_argument("--req", type=int, required=True, help="the running request's id")
    ap.add_argument("--jobs", type=int, required=True, help="its number of jobs")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--stop-file", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", default=None)
    ap.add_argument("--done", default=None)
    ap.add_argument("--events", action="store_true", help="raw garbage to BASE+2 as well")
    a = ap.parse_args()
    if not 1024 <= a.port <= 65533:
        sys.exit("bad port")
    rnd = random.Random(a.seed)
    keys = ["handshakes", "handshake_failed", "connect_failed", "raw", "sent", "forged",
            "forged_live", "dropped_by_server", "error_replies", "other_replies",
            "answered_after_garbage"]
    board, client, events = ({k: 0 for k in keys} for _ in range(3))
    for st in (board, client, events):
        st["kinds"] = {}
    end = time.monotonic() + a.seconds
    rounds = 0
    while time.monotonic() < end and not (a.stop_file and os.path.exists(a.stop_file)):
        rounds += 1
        raw_garbage(a.port, rnd, board)
        raw_garbage(a.port + 1, rnd, client)
        if a.events:
            raw_garbage(a.port + 2, rnd, events)
        fuzz_board(a.port, rnd, a.req, a.jobs, board)
        fuzz_client(a.port + 1, rnd, a.req, a.jobs, client)
        forge_reports(a.port, rnd, a.req, a.jobs, board, register=rounds % 2 == 0,
                      log=a.log, done=a.done)
    for name, st in (("board", board), ("client", client), ("events", events)):
        print("fuzz %s: rounds=%d %s reply_kinds=%s" % (
            name, rounds, " ".join("%s=%d" % (k, st[k]) for k in keys),
            ",".join("%d:%d" % kv for kv in sorted(st["kinds"].items()))))
    ok = board["handshakes"] > 0 and client["handshakes"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
