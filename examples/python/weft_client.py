#!/usr/bin/python3
"""weft_client.py -- a small Python client for a weft server, library and command line.

Written from docs/protocol.md ("Client protocol", WCP version 1) as the only contract: every
message kind, field order, type and range below comes from that document (section numbers in
comments refer to it), so this file doubles as a check that the document is enough.

What it speaks
  * requests and replies: one DEALER on the client endpoint (base port + 1); every request is one
    frame, one msgpack array ["WEFT", 1, kind, corr, fields...] (sec. C2, C3); replies are matched
    to requests by corr, so several can be in flight (a WAIT stays open while others are answered);
  * events: one SUB on the events endpoint (base port + 2); an event is two frames, the request id
    as 8 big-endian bytes and an EVENT array (sec. C6).

Invariants
  * Nothing the server sends can crash the client: every frame is checked against the schema of
    its kind (field count, msgpack types, nested record sizes) before use; a frame that fails is
    logged and dropped (sec. C7), never trusted.
  * Types are exact, as the server wants them: integers are Python ints (bool is refused), names
    and texts are str (msgpack str), payloads are bytes (msgpack bin), "none" is None (nil).

Workload: one process, a handful of requests, a stream of events for one request; the largest
message is a SUBMIT or a STATUS_R of a big workflow, bounded by ZMQ_MAXMSGSIZE (256 MiB).

Needs Debian's python3-zmq and python3-msgpack (run it with /usr/bin/python3).

Library use:
    with Client("tcp://127.0.0.1:7400") as c:          # base address: client = +1, events = +2
        c.ping()
        c.subscribe()                                   # every event, before they can happen
        sub = c.submit("demo", [Job("a", payload=shell_payload("echo hi > a.txt"))])
        state = c.follow(sub.req, print)                # its events until the request ends
Command line: see `weft_client.py --help`; exit status 0 on success, 1 on any failure.
"""

import argparse
import collections
import itertools
import json
import os
import re
import struct
import sys
import time

import msgpack
import zmq

# ---- constants of the protocol (sec. C3, C4, C7, C9) -------------------------------------------

SIGNATURE = "WEFT"
VERSION = 1                           # the client protocol version this file speaks
MAX_CLIENT_MSG = 256 << 20            # WF_MAX_CLIENT_MSG: the largest frame either way
REQUEST_EVENT = 0xFFFFFFFF            # an EVENT's job_index when it is about the request itself
NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")  # WF_MAX_NAME, wf_name_ok()

# Request kinds (client -> server).
SUBMIT, STATUS, LIST, CANCEL, RETRY, WAIT, WORKERS, PAUSE, RESUME, DRAIN, WHY, PING = range(1, 13)
# Reply kinds (server -> client) and the event kind.
OK, ERROR, SUBMITTED, STATUS_R, LIST_R, FINISHED, WORKERS_R, BOARD, WHY_R, PONG = range(64, 74)
EVENT = 96

ERRORS = ("", "WEFT_EINVAL", "WEFT_ENOMEM", "WEFT_ENOTFOUND", "WEFT_EAGAIN", "WEFT_EEXIST",
          "WEFT_ESTATE", "WEFT_EPROTO", "WEFT_ETOOBIG", "WEFT_ELIMIT", "WEFT_ESTORE", "WEFT_EFULL",
          "WEFT_EVERSION", "WEFT_ECLOSED", "WEFT_ETIMEDOUT", "WEFT_ECYCLE", "WEFT_EBUSY",
          "WEFT_ESYS")
JOB_STATES = ("pending", "ready", "running", "done", "failed", "cancelled", "skipped")
REQ_STATES = ("running", "succeeded", "failed", "cancelled")
WHEN = ("success", "always", "failure")
REASONS = ("", "waiting on parents", "waiting for a consumer of its type",
           "waiting for a free slot", "waiting for its pool", "backing off before a retry",
           "the board is paused", "requeued", "leased to a consumer", "succeeded",
           "failed with an exit status", "timed out", "its consumer was lost too often",
           "cancelled by request", "cancelled because a parent failed",
           "skipped because a parent was skipped", "skipped: no parent failed",
           "done in an earlier run")


def _name_of(table, i):
    return table[i] if 0 <= i < len(table) else str(i)


# ---- errors --------------------------------------------------------------------------------------

class WeftError(Exception):
    """The server answered ERROR: code is a weft_err (1..17), message says why."""

    def __init__(self, code, message):
        super().__init__(f"{_name_of(ERRORS, code)}: {message}")
        self.code = code
        self.message = message


class ProtocolError(Exception):
    """A frame from the server that does not follow docs/protocol.md."""


# ---- schemas: every reply, record and event as data (sec. C4.2, C4.3) ----------------------------
#
# A field type is "u" (uint), "i" (int), "s" (str), "n" (str or nil), a list [T] (array of T)
# or a record (a namedtuple class made by _record). Decoding walks the schema, so a frame of the
# wrong shape is refused before any of it is used.

_SCHEMA = {}


def _record(name, fields):
    cls = collections.namedtuple(name, [f for f, _ in fields])
    _SCHEMA[cls] = tuple(t for _, t in fields)
    return cls


ReqInfo = _record("ReqInfo", [("id", "u"), ("name", "s"), ("session", "s"), ("state", "u"),
                              ("njobs", "u"), ("counts", ["u"]), ("created_ms", "i"),
                              ("finished_ms", "i")])
JobInfo = _record("JobInfo", [("index", "u"), ("id", "s"), ("type", "s"), ("pool", "n"),
                              ("state", "u"), ("reason", "u"), ("when", "u"), ("priority", "i"),
                              ("attempts", "u"), ("failures", "u"), ("lost", "u"),
                              ("retries", "u"), ("lost_retries", "u"), ("exit_code", "i"),
                              ("cause", "n"), ("progress", "u"), ("progress_msg", "s"),
                              ("error", "s"), ("started_ms", "i"), ("finished_ms", "i")])
Worker = _record("Worker", [("name", "s"), ("host", "s"), ("pid", "u"), ("types", ["s"]),
                            ("slots", "u"), ("running", "u"), ("idle_ms", "u")])
Event = _record("Event", [("req", "u"), ("job_index", "u"), ("job", "s"), ("state", "u"),
                          ("reason", "u"), ("attempt", "u"), ("progress", "u"),
                          ("time_ms", "i")])

Ok = _record("Ok", [])
Error = _record("Error", [("code", "u"), ("message", "s")])
Submitted = _record("Submitted", [("req", "u"), ("warnings", ["s"])])
Status = _record("Status", [("info", ReqInfo), ("jobs", [JobInfo])])
Listing = _record("Listing", [("requests", [ReqInfo])])
Finished = _record("Finished", [("req", "u"), ("state", "u")])
Workers = _record("Workers", [("workers", [Worker])])
Board = _record("Board", [("mode", "s"), ("running", "u")])
Why = _record("Why", [("job", JobInfo), ("waiting_on", ["s"])])
Pong = _record("Pong", [("version", "s"), ("proto_min", "u"), ("proto_max", "u")])

_BODY = {OK: Ok, ERROR: Error, SUBMITTED: Submitted, STATUS_R: Status, LIST_R: Listing,
         FINISHED: Finished, WORKERS_R: Workers, BOARD: Board, WHY_R: Why, PONG: Pong,
         EVENT: Event}
_CHECK = {"u": lambda v: type(v) is int and v >= 0,      # type(): a bool is not an integer
          "i": lambda v: type(v) is int,
          "s": lambda v: type(v) is str,
          "n": lambda v: v is None or (type(v) is str and v != "")}
_WORDS = {"u": "a uint", "i": "an int", "s": "a str", "n": "nil or a non-empty str"}


def _parse(t, v, where):
    if isinstance(t, str):
        if not _CHECK[t](v):
            raise ProtocolError(f"{where}: expected {_WORDS[t]}, got {v!r:.40}")
        return v
    if isinstance(t, list):
        if type(v) is not list:
            raise ProtocolError(f"{where}: expected an array, got {type(v).__name__}")
        return [_parse(t[0], e, f"{where}[{i}]") for i, e in enumerate(v)]
    spec = _SCHEMA[t]
    if type(v) is not list or len(v) != len(spec):
        raise ProtocolError(f"{where}: expected an array of {len(spec)} fields")
    return t(*(_parse(ft, fv, f"{where}.{fn}") for ft, fv, fn in zip(spec, v, t._fields)))


def encode(kind, corr, *fields):
    """One request frame: ["WEFT", 1, kind, corr, fields...] in msgpack's shortest forms."""
    return msgpack.packb([SIGNATURE, VERSION, kind, corr, *fields], use_bin_type=True)


def decode(frame):
    """(kind, corr, body) of a frame from the server; body is the namedtuple of its kind.

    Raises ProtocolError for anything sec. C3/C4 does not allow. An ERROR of another version is
    still read: its layout is frozen across versions (sec. C8)."""
    try:
        # Texts are not checked for UTF-8 by the server (sec. C3): never fail on them.
        v = msgpack.unpackb(frame, raw=False, unicode_errors="replace")
    except Exception as e:  # msgpack raises several types (ExtraData, FormatError, ...)
        raise ProtocolError(f"not one msgpack value ({type(e).__name__}: {e})") from None
    if type(v) is not list or len(v) < 4 or v[0] != SIGNATURE or type(v[0]) is not str:
        raise ProtocolError("not a weft frame")
    version, kind, corr = v[1:4]
    if not all(_CHECK["u"](x) for x in (version, kind, corr)):
        raise ProtocolError("bad version, kind or corr")
    if version != VERSION and kind != ERROR:
        raise ProtocolError(f"version {version} not supported (this client speaks {VERSION})")
    if kind not in _BODY:
        raise ProtocolError(f"unexpected kind {kind}")
    body = _parse(_BODY[kind], v[4:], _BODY[kind].__name__)
    if kind == EVENT and (corr != 0 or (body.job_index == REQUEST_EVENT) != (body.job == "")):
        raise ProtocolError("inconsistent EVENT")
    return kind, corr, body


def topic(req):
    """The 8-byte event topic of a request: its id, big-endian (sec. C6)."""
    return struct.pack(">Q", req)


# ---- submitting work (sec. C4.1) -----------------------------------------------------------------

def shell_payload(run, env=None, cwd=None):
    """The payload of a "shell" job: a msgpack map {run: command, env: {NAME: value}, cwd: dir}.

    run is the command line given to the shell; env (optional) adds environment variables; cwd
    (optional) is the directory it runs in. Only the keys given are sent."""
    p = {"run": run}
    if env:
        p["env"] = dict(env)
    if cwd is not None:
        p["cwd"] = cwd
    return msgpack.packb(p, use_bin_type=True)


class Job:
    """One job of a SUBMIT. The defaults are the library's (sec. C4.1); the wire has none."""

    def __init__(self, id, type="shell", payload=b"", needs=(), retries=0, lost_retries=3,
                 retry_delay_ms=0, timeout_ms=0, priority=0, pool=None, when=0):
        self.id, self.type, self.payload, self.needs = id, type, bytes(payload), list(needs)
        self.retries, self.lost_retries = retries, lost_retries
        self.retry_delay_ms, self.timeout_ms = retry_delay_ms, timeout_ms
        self.priority, self.pool = priority, pool
        self.when = WHEN.index(when) if isinstance(when, str) else when

    def wire(self):
        """The job's 11-element array, in the order of sec. C4.1."""
        return [self.id, self.type, self.payload, self.needs, self.retries, self.lost_retries,
                self.retry_delay_ms, self.timeout_ms, self.priority, self.pool, self.when]


# ---- the client ----------------------------------------------------------------------------------

def endpoints(server):
    """(client, events) endpoints of a server named by its base address tcp://HOST:PORT."""
    m = re.fullmatch(r"(tcp://.+):(\d+)", server)
    if not m:
        raise ValueError(f"--server wants tcp://HOST:PORT, got {server!r}")
    host, port = m.group(1), int(m.group(2))
    return f"{host}:{port + 1}", f"{host}:{port + 2}"


class Client:
    """A connection to a weft server: a DEALER for requests and, once asked for, a SUB for events.

    server is the base address (tcp://HOST:PORT); client_ep / events_ep override the derived
    endpoints. timeout (seconds) bounds every reply except WAIT's and DRAIN's second BOARD."""

    def __init__(self, server=None, client_ep=None, events_ep=None, timeout=10.0, log=None):
        if server:
            c, e = endpoints(server)
            client_ep, events_ep = client_ep or c, events_ep or e
        if not client_ep:
            raise ValueError("no client endpoint")
        self.timeout = timeout
        self.log = log or (lambda msg: print(f"weft_client: {msg}", file=sys.stderr))
        self._ctx = zmq.Context()
        self._dealer = self._socket(zmq.DEALER, client_ep)
        self._events_ep = events_ep
        self._sub = None
        self._corr = itertools.count(1)   # corr 0 is what an ERROR for an unreadable frame uses
        self._inbox = {}                  # corr -> deque of (kind, body) not yet taken
        self._forgotten = set()           # corrs whose one late reply is dropped silently

    def _socket(self, kind, ep):
        s = self._ctx.socket(kind)
        s.setsockopt(zmq.MAXMSGSIZE, MAX_CLIENT_MSG)  # a hostile server cannot make us buffer more
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        return s

    def close(self):
        self._ctx.destroy(linger=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests and replies --

    def send(self, kind, *fields):
        """Send one request; returns its corr. The reply is read with reply(corr)."""
        corr = next(self._corr)
        self._inbox[corr] = collections.deque()
        self._dealer.send(encode(kind, corr, *fields))
        return corr

    def _read_dealer(self):
        """Read every reply waiting on the DEALER into the inbox; drop what is not ours."""
        while self._dealer.poll(0):
            frames = self._dealer.recv_multipart()
            try:
                if len(frames) != 1:
                    raise ProtocolError(f"{len(frames)} frames in one reply")
                kind, corr, body = decode(frames[0])
                if kind == EVENT:
                    raise ProtocolError("EVENT on the client endpoint")
            except ProtocolError as e:
                self.log(f"dropped a reply: {e}")
                continue
            if corr in self._inbox:
                self._inbox[corr].append((kind, body))
            elif corr in self._forgotten:
                self._forgotten.discard(corr)
            elif kind == ERROR:
                self.log(f"server error (corr {corr}): {_name_of(ERRORS, body.code)}: "
                         f"{body.message}")
            else:
                self.log(f"dropped a reply for unknown corr {corr}")

    def forget(self, corr):
        """Stop waiting for corr's reply (one reply: WAIT, ...); it is dropped when it comes."""
        if self._inbox.pop(corr, None) is not None:
            self._forgotten.add(corr)

    def take(self, corr):
        """A reply to corr already received, as (kind, body), or None."""
        q = self._inbox.get(corr)
        return q.popleft() if q else None

    def reply(self, corr, timeout=None, keep=False):
        """Wait for a reply to corr; returns its body. Raises WeftError on ERROR and TimeoutError
        after timeout seconds (None: self.timeout; 0: forever). keep=True leaves corr open for
        a further reply (DRAIN has two)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            self._read_dealer()
            got = self.take(corr)
            if got:
                if not keep:
                    del self._inbox[corr]
                kind, body = got
                if kind == ERROR:
                    raise WeftError(body.code, body.message)
                return body
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.forget(corr)
                raise TimeoutError(f"no reply from the server within {timeout:g} s")
            self._dealer.poll(None if left is None else max(1, int(left * 1000)))

    def call(self, kind, *fields, expect, timeout=None):
        """send + reply, checking the reply is of the kind the request is answered by."""
        body = self.reply(self.send(kind, *fields), timeout)
        if type(body) is not expect:
            raise ProtocolError(f"expected {expect.__name__}, got {type(body).__name__}")
        return body

    # -- the requests of sec. C4.1, one method each --

    def ping(self):
        """PONG; raises ProtocolError if the server does not speak our version (sec. C8)."""
        p = self.call(PING, expect=Pong)
        if not p.proto_min <= VERSION <= p.proto_max:
            raise ProtocolError(f"server {p.version} speaks {p.proto_min}..{p.proto_max}, "
                                f"this client {VERSION}")
        return p

    def submit(self, name, jobs, pools=None, session=None, key=None):
        """SUBMITTED(req, warnings) once the request is durable. jobs: Job objects; pools:
        {pool: limit}. With key, a re-submission returns the first request (sec. C5)."""
        pools = [[p, n] for p, n in (pools or {}).items()]
        return self.call(SUBMIT, name, session, key, pools, [j.wire() for j in jobs],
                         expect=Submitted)

    def status(self, req):
        return self.call(STATUS, req, expect=Status)

    def list(self):
        return self.call(LIST, expect=Listing).requests

    def cancel(self, req, job=None):
        self.call(CANCEL, req, job, expect=Ok)

    def retry(self, req, job=None):
        self.call(RETRY, req, job, expect=Ok)

    def wait(self, req, timeout=0):
        """The request's final state (1..3) once it finishes; timeout 0 waits forever."""
        return self.call(WAIT, req, expect=Finished, timeout=timeout).state

    def workers(self):
        return self.call(WORKERS, expect=Workers).workers

    def pause(self):
        return self.call(PAUSE, expect=Board)

    def resume(self):
        return self.call(RESUME, expect=Board)

    def drain(self, on_board=None):
        """DRAIN: returns once the board is stopped; on_board sees each BOARD reply."""
        corr = self.send(DRAIN)
        body = self.reply(corr, keep=True)
        while True:
            if on_board:
                on_board(body)
            if body.mode == "stopped":
                del self._inbox[corr]
                return body
            body = self.reply(corr, timeout=0, keep=True)

    def why(self, req, job):
        return self.call(WHY, req, job, expect=Why)

    # -- events (sec. C6) --

    def subscribe(self, req=None):
        """Receive the events of req (None: of every request). Subscribe before the events you
        want happen: the server only publishes to subscriptions it has seen."""
        if self._sub is None:
            if not self._events_ep:
                raise ValueError("no events endpoint")
            self._sub = self._socket(zmq.SUB, self._events_ep)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"" if req is None else topic(req))

    def unsubscribe(self, req=None):
        if self._sub is not None:
            self._sub.setsockopt(zmq.UNSUBSCRIBE, b"" if req is None else topic(req))

    def _read_event(self):
        frames = self._sub.recv_multipart()
        try:
            if len(frames) != 2 or len(frames[0]) != 8:
                raise ProtocolError("an event is two frames, the first of 8 bytes")
            kind, _, ev = decode(frames[1])
            if kind != EVENT or topic(ev.req) != frames[0]:
                raise ProtocolError("not an EVENT of its topic")
            return ev
        except ProtocolError as e:
            self.log(f"dropped an event: {e}")
            return None

    def follow(self, req, on_event, rewait_s=60.0, grace_s=0.5, deadline_s=0):
        """Pass req's events to on_event until the request ends; returns its state (1..3).

        Also sends WAIT, so a missed event (PUB drops for slow subscribers, a subscription that
        came late) cannot hang it, and re-sends WAIT every rewait_s seconds, since a WAIT is
        lost if the server restarts (sec. C5). If FINISHED comes before the request's own
        event, events are still read for up to grace_s so the stream ends complete.
        deadline_s > 0 gives up with TimeoutError after that long."""
        self.subscribe(req)
        waits = {self.send(WAIT, req)}
        next_wait = time.monotonic() + rewait_s
        end = time.monotonic() + deadline_s if deadline_s else None
        finished, grace_end = None, None
        poller = zmq.Poller()
        poller.register(self._dealer, zmq.POLLIN)
        poller.register(self._sub, zmq.POLLIN)
        try:
            while True:
                now = time.monotonic()
                if grace_end is not None and now >= grace_end:
                    return finished
                if end is not None and now >= end:
                    raise TimeoutError(f"request {req} not finished within {deadline_s:g} s")
                if now >= next_wait:
                    waits.add(self.send(WAIT, req))
                    next_wait = now + rewait_s
                wake = min(t for t in (next_wait, grace_end, end) if t is not None)
                ready = dict(poller.poll(max(1, int((wake - now) * 1000))))
                while self._sub in ready and self._sub.poll(0):
                    ev = self._read_event()
                    if ev is None or ev.req != req:
                        continue  # another request's: left over from a wider subscription
                    on_event(ev)
                    if ev.job_index == REQUEST_EVENT and ev.state != 0:
                        return ev.state
                if self._dealer in ready:
                    self._read_dealer()
                    for corr in list(waits):
                        got = self.take(corr)
                        if not got:
                            continue
                        waits.discard(corr)
                        del self._inbox[corr]
                        kind, body = got
                        if kind == ERROR:
                            raise WeftError(body.code, body.message)
                        if kind != FINISHED:
                            raise ProtocolError(f"WAIT answered by kind {kind}")
                        if finished is None:
                            finished, grace_end = body.state, time.monotonic() + grace_s
        finally:
            for corr in waits:  # a late FINISHED for these is dropped, not kept
                self.forget(corr)
            self.unsubscribe(req)


# ---- workflow files ------------------------------------------------------------------------------

_WORKFLOW_KEYS = {"name", "session", "key", "pools", "jobs"}
_JOB_KEYS = {"id", "type", "run", "env", "cwd", "payload", "needs", "retries", "lost_retries",
             "retry_delay_ms", "timeout_ms", "priority", "pool", "when"}


class WorkflowError(Exception):
    pass


def _want(ok, where, what):
    if not ok:
        raise WorkflowError(f"{where}: {what}")


def load_workflow(doc, cwd=None):
    """(name, jobs, pools, session, key) from a workflow as JSON data:

        {"name": "pipeline", "session": null, "key": null, "pools": {"disk": 1},
         "jobs": [{"id": "a", "run": "echo hi > a.txt", "needs": [], "retries": 0, ...}]}

    A job has an id; type (default "shell"); for shell jobs run (the command), env ({NAME: value})
    and cwd (a directory; default: the cwd argument); for other types payload (a string, sent as
    UTF-8 bytes); needs (ids); and the options of sec. C4.1: retries, lost_retries,
    retry_delay_ms, timeout_ms, priority, pool, when ("success", "always", "failure").
    Shapes are checked here; the graph (unknown needs, cycles, ...) is the server's to check."""
    _want(type(doc) is dict, "workflow", "must be a JSON object")
    extra = set(doc) - _WORKFLOW_KEYS
    _want(not extra, "workflow", f"unknown key(s) {sorted(extra)}")
    name = doc.get("name", "workflow")
    _want(type(name) is str and NAME_RE.match(name), "name", f"not a name: {name!r}")
    for k in ("session", "key"):
        v = doc.get(k)
        _want(v is None or (type(v) is str and NAME_RE.match(v)), k, f"not a name: {v!r}")
    pools = doc.get("pools") or {}
    _want(type(pools) is dict, "pools", "must be an object {pool: limit}")
    for p, n in pools.items():
        _want(NAME_RE.match(p) and type(n) is int and n >= 1, f"pools.{p}", "needs a limit >= 1")
    jobs = doc.get("jobs")
    _want(type(jobs) is list and jobs, "jobs", "must be a non-empty array")
    out = []
    for i, j in enumerate(jobs):
        where = f"jobs[{i}]"
        _want(type(j) is dict, where, "must be an object")
        extra = set(j) - _JOB_KEYS
        _want(not extra, where, f"unknown key(s) {sorted(extra)}")
        jid = j.get("id")
        _want(type(jid) is str and NAME_RE.match(jid), where, f"id is not a name: {jid!r}")
        where = f"job {jid!r}"
        jtype = j.get("type", "shell")
        _want(type(jtype) is str and NAME_RE.match(jtype), where, "type is not a name")
        if jtype == "shell":
            _want(type(j.get("run")) is str, where, "a shell job needs run (a string)")
            _want("payload" not in j, where, "a shell job takes run, not payload")
            env = j.get("env") or {}
            _want(type(env) is dict and all(type(v) is str for v in env.values()), where,
                  "env must map names to strings")
            payload = shell_payload(j["run"], env, j.get("cwd", cwd))
        else:
            _want(not {"run", "env", "cwd"} & set(j), where, "run/env/cwd are for shell jobs")
            _want(type(j.get("payload", "")) is str, where, "payload must be a string")
            payload = j.get("payload", "").encode()
        needs = j.get("needs", [])
        _want(type(needs) is list and all(type(n) is str for n in needs), where,
              "needs must be an array of job ids")
        opts = {}
        for k in ("retries", "lost_retries", "retry_delay_ms", "timeout_ms", "priority"):
            if k in j:
                _want(type(j[k]) is int, where, f"{k} must be an integer")
                opts[k] = j[k]
        when = j.get("when", "success")
        _want(when in WHEN or (type(when) is int and 0 <= when <= 2), where,
              f"when must be one of {WHEN}")
        pool = j.get("pool")
        _want(pool is None or (type(pool) is str and NAME_RE.match(pool)), where,
              f"pool is not a name: {pool!r}")
        out.append(Job(jid, jtype, payload, needs, pool=pool, when=when, **opts))
    return name, out, pools, doc.get("session"), doc.get("key")


# ---- printing ------------------------------------------------------------------------------------

def _clock(ms):
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def format_event(ev):
    if ev.job_index == REQUEST_EVENT:
        return f"{_clock(ev.time_ms)}  request {ev.req} {_name_of(REQ_STATES, ev.state)}"
    state = _name_of(JOB_STATES, ev.state)
    if ev.state == 2 and ev.progress:
        state = f"running {ev.progress}%"
    line = f"{_clock(ev.time_ms)}  {ev.job:<16} {state:<11}"
    if ev.reason:
        line += f" {_name_of(REASONS, ev.reason)}"
    if ev.attempt:
        line += f" (attempt {ev.attempt})"
    return line.rstrip()


def print_status(st, out=sys.stdout):
    i = st.info
    done = ", ".join(f"{n} {JOB_STATES[s]}" for s, n in enumerate(i.counts[:7]) if n)
    print(f"request {i.id} ({i.name}, session {i.session}): {_name_of(REQ_STATES, i.state)}"
          f" -- {i.njobs} jobs" + (f": {done}" if done else ""), file=out)
    for j in st.jobs:
        line = f"  {j.id:<16} {_name_of(JOB_STATES, j.state):<10}"
        if j.reason:
            line += f" {_name_of(REASONS, j.reason)}"
        if j.reason == 10 and not j.error:  # failed with an exit status; error names it too
            line += f" {j.exit_code}"
        if j.cause:
            line += f" (because of {j.cause})"
        if j.error:
            line += f": {j.error}"
        print(line.rstrip(), file=out)


# ---- command line --------------------------------------------------------------------------------

def _cmd_submit(c, a):
    try:
        with open(a.file, encoding="utf-8") as f:
            doc = json.load(f)
        name, jobs, pools, session, key = load_workflow(
            doc, cwd=os.path.abspath(a.cwd) if a.cwd else None)
    except (OSError, ValueError, WorkflowError) as e:
        print(f"{a.file}: {e}", file=sys.stderr)
        return 1
    if a.key:
        key = a.key
    if not a.no_wait:
        # Subscribe to every event before submitting: the request's own topic is only known
        # from SUBMITTED, and its first events can be published before we could subscribe to it.
        c.subscribe()
    c.ping()  # checks the version; also a round trip that gives the subscription time to land
    sub = c.submit(name, jobs, pools, session, key)
    print(f"submitted request {sub.req} ({len(jobs)} jobs)", flush=True)
    for w in sub.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if a.no_wait:
        return 0
    c.subscribe(sub.req)  # narrow to this request: subscribe to its topic, then drop the rest
    c.unsubscribe()
    return _follow_and_report(c, sub.req, a)


def _follow_and_report(c, req, a):
    state = c.follow(req, lambda ev: print(format_event(ev), flush=True),
                     deadline_s=a.deadline)
    print_status(c.status(req))
    print(f"request {req} {_name_of(REQ_STATES, state)}")
    return 0 if state == 1 else 1


def _cmd_watch(c, a):
    c.subscribe(a.req)
    st = c.status(a.req)  # after subscribing: what happened before is in the final summary
    if st.info.state != 0:
        print_status(st)
        print(f"request {a.req} {_name_of(REQ_STATES, st.info.state)}")
        return 0 if st.info.state == 1 else 1
    return _follow_and_report(c, a.req, a)


def _cmd_wait(c, a):
    state = c.wait(a.req, timeout=a.deadline)
    print(f"request {a.req} {_name_of(REQ_STATES, state)}")
    return 0 if state == 1 else 1


def _cmd_status(c, a):
    st = c.status(a.req)
    print_status(st)
    return 0 if st.info.state in (0, 1) else 1


def _cmd_list(c, a):
    for r in c.list():
        print(f"{r.id:>6}  {r.name:<20} {_name_of(REQ_STATES, r.state):<10} {r.njobs:>7} jobs"
              f"  {_clock(r.created_ms)}")
    return 0


def _cmd_cancel(c, a):
    c.cancel(a.req, a.job)
    print("cancelled")
    return 0


def _cmd_retry(c, a):
    c.retry(a.req, a.job)
    print("retried")
    return 0


def _cmd_workers(c, a):
    ws = c.workers()
    if not ws:
        print("no workers connected")
    for w in ws:
        print(f"{w.name} on {w.host} (pid {w.pid}): {w.running}/{w.slots} running, "
              f"types {','.join(w.types)}, idle {w.idle_ms} ms")
    return 0


def _cmd_board(c, a):
    def show(b):
        print(f"{b.mode}: {b.running} running", flush=True)
    if a.verb == "drain":
        c.drain(show)
    else:
        show(c.pause() if a.verb == "pause" else c.resume())
    return 0


def _cmd_why(c, a):
    w = c.why(a.req, a.job)
    j = w.job
    print(f"{j.id}: {_name_of(JOB_STATES, j.state)}"
          + (f", {_name_of(REASONS, j.reason)}" if j.reason else "")
          + (f" (because of {j.cause})" if j.cause else "")
          + (f": {j.error}" if j.error else ""))
    if w.waiting_on:
        print(f"waiting on: {', '.join(w.waiting_on)}")
    return 0


def _cmd_ping(c, a):
    p = c.ping()
    print(f"weft {p.version}, client protocol {p.proto_min}..{p.proto_max}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="A weft client written from docs/protocol.md: submit workflows (JSON), "
                    "follow their events, steer them.")
    ap.add_argument("--server", default=os.environ.get("WEFT_SERVER", "tcp://127.0.0.1:7400"),
                    help="base address tcp://HOST:PORT (client endpoint PORT+1, events PORT+2;"
                         " default $WEFT_SERVER or tcp://127.0.0.1:7400)")
    ap.add_argument("--client", help="the client endpoint alone")
    ap.add_argument("--events", help="the events endpoint alone")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for a reply (not for the end of a request)")
    sp = ap.add_subparsers(dest="verb", required=True)
    p = sp.add_parser("submit", help="submit a workflow file, follow it to its end")
    p.add_argument("file")
    p.add_argument("--key", help="idempotency key: a re-submission returns the first request")
    p.add_argument("--cwd", help="directory shell jobs run in when they name none")
    p.add_argument("--no-wait", action="store_true", help="print the request id and return")
    p.add_argument("--deadline", type=float, default=0, help="give up after S seconds")
    p.set_defaults(fn=_cmd_submit)
    for verb, fn, hlp in (("watch", _cmd_watch, "follow a request's events to its end"),
                          ("wait", _cmd_wait, "wait for a request to finish"),
                          ("status", _cmd_status, "a request's summary and jobs")):
        p = sp.add_parser(verb, help=hlp)
        p.add_argument("req", type=int)
        p.add_argument("--deadline", type=float, default=0, help="give up after S seconds")
        p.set_defaults(fn=fn)
    for verb, fn, hlp in (("cancel", _cmd_cancel, "cancel a request, or one job and its"
                           " dependents"),
                          ("retry", _cmd_retry, "re-run failed or cancelled jobs")):
        p = sp.add_parser(verb, help=hlp)
        p.add_argument("req", type=int)
        p.add_argument("job", nargs="?")
        p.set_defaults(fn=fn)
    p = sp.add_parser("why", help="why a job is in its state")
    p.add_argument("req", type=int)
    p.add_argument("job")
    p.set_defaults(fn=_cmd_why)
    for verb, fn, hlp in (("ping", _cmd_ping, "is the server there, what does it speak"),
                          ("list", _cmd_list, "every request, oldest first"),
                          ("workers", _cmd_workers, "the workers connected now"),
                          ("pause", _cmd_board, "pause hand-outs"),
                          ("resume", _cmd_board, "resume hand-outs"),
                          ("drain", _cmd_board, "pause, and return once nothing runs")):
        sp.add_parser(verb, help=hlp).set_defaults(fn=fn)
    a = ap.parse_args(argv)
    try:
        with Client(a.server, a.client, a.events, timeout=a.timeout) as c:
            return a.fn(c, a)
    except WeftError as e:
        print(f"weft: {e}", file=sys.stderr)
    except (ProtocolError, TimeoutError, ValueError, zmq.ZMQError) as e:
        print(f"weft_client: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
