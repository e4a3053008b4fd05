#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Raw-socket NBD conformance and abuse suite for a live server (nbs --nbd).

    nbd_conform.py SOCKET SIZE        every option and command, each error,
                                      extended headers, abuse, multi-conn

Speaks the protocol byte by byte over a Unix socket. After every abusive
connection a fresh client must still be served. Ends with one
"N passed, N failed" line; exits 1 on a failure.
"""
import socket
import struct
import sys

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPMAGIC = 0x3E889045565A9
REQ_MAGIC, EXT_REQ_MAGIC = 0x25609513, 0x21E41C71
SIMPLE_MAGIC, STRUCT_MAGIC, EXT_MAGIC = 0x67446698, 0x668E33EF, 0x6E8A278C
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO = 1, 2, 3, 5, 6, 7
OPT_STRUCTURED, OPT_LIST_META, OPT_SET_META, OPT_EXTENDED = 8, 9, 10, 11
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
ERR = 1 << 31
REP_ERR_UNSUP, REP_ERR_POLICY, REP_ERR_INVALID, REP_ERR_UNKNOWN = ERR + 1, ERR + 2, ERR + 3, ERR + 6
READ, WRITE, DISC, FLUSH, TRIM, CACHE, ZEROES, BLOCK_STATUS = range(8)
F_FUA, F_NO_HOLE, F_DF, F_REQ_ONE, F_FAST_ZERO, F_PAYLOAD_LEN = 1, 2, 4, 8, 16, 32
T_NONE, T_DATA, T_HOLE, T_BS, T_BS_EXT = 0, 1, 2, 5, 6
T_ERROR, T_ERROR_OFFSET = (1 << 15) + 1, (1 << 15) + 2
EPERM, EINVAL, ENOSPC, EOVERFLOW = 1, 22, 28, 75
TF_MULTI_CONN, TF_FAST_ZERO = 1 << 8, 1 << 11

sock_path = sys.argv[1]
SIZE = int(sys.argv[2])
# "holes": the server must say which ranges were never written (block
# status HOLE|ZERO, a READ wholly in a hole as one OFFSET_HOLE chunk);
# without it, reporting everything as data is allowed.
HOLES = len(sys.argv) > 3 and sys.argv[3] == "holes"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail))


class Closed(Exception):
    pass


class Client:
    def __init__(self, fixed=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)  # a hang fails the test, it is not a timing check
        self.s.connect(sock_path)
        self.mode = "simple"
        self.cookie = 0
        self.tflags = 0
        self.ctx = None
        g = self.recv(18)
        magic, opt, self.hflags = struct.unpack(">QQH", g)
        assert magic == NBDMAGIC and opt == IHAVEOPT, "greeting"
        self.s.sendall(struct.pack(">I", 3 if fixed else 1))  # FIXED_NEWSTYLE | NO_ZEROES

    def recv(self, n):
        b = b""
        while len(b) < n:
            d = self.s.recv(n - len(b))
            if not d:
                raise Closed()
            b += d
        return b

    def closed(self):
        """True if the server closed the connection (EOF)."""
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def opt(self, opt, data=b""):
        self.s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def opt_reply(self):
        magic, opt, typ, ln = struct.unpack(">QIII", self.recv(20))
        assert magic == REPMAGIC, "option reply magic"
        return opt, typ, self.recv(ln)

    def opt_replies(self):
        out = []
        while True:
            r = self.opt_reply()
            out.append(r)
            if r[1] == REP_ACK or r[1] & ERR:
                return out

    def go(self, name=b"", structured=True, meta=True, extended=False, opt=OPT_GO):
        if extended:
            self.opt(OPT_EXTENDED)
            r = self.opt_reply()
            assert r[1] == REP_ACK, "extended headers refused"
            self.mode = "extended"
        elif structured and self.mode == "simple":
            self.opt(OPT_STRUCTURED)
            assert self.opt_reply()[1] == REP_ACK
            self.mode = "structured"
        if meta and self.mode != "simple":
            q = b"base:allocation"
            self.opt(OPT_SET_META, struct.pack(">I", len(name)) + name + struct.pack(">II", 1, len(q)) + q)
            for _, typ, d in self.opt_replies():
                if typ == REP_META:
                    self.ctx = struct.unpack(">I", d[:4])[0]
        self.opt(opt, struct.pack(">I", len(name)) + name + struct.pack(">HH", 1, 3))
        infos = {}
        for _, typ, d in self.opt_replies():
            if typ == REP_INFO:
                infos[struct.unpack(">H", d[:2])[0]] = d[2:]
            elif typ & ERR:
                return typ
        self.size, self.tflags = struct.unpack(">QH", infos[0])
        self.bmin, self.bpref, self.bmax = struct.unpack(">III", infos[3])
        return infos

    def req(self, typ, off=0, ln=0, flags=0, data=b"", cookie=None):
        if cookie is None:
            self.cookie += 1
            cookie = self.cookie
        if self.mode == "extended":
            if typ == WRITE:  # lib/nbd wants PAYLOAD_LEN on extended writes (as libnbd sends)
                ln = len(data)
                flags |= F_PAYLOAD_LEN
            h = struct.pack(">IHHQQQ", EXT_REQ_MAGIC, flags, typ, cookie, off, ln)
        else:
            h = struct.pack(">IHHQQI", REQ_MAGIC, flags, typ, cookie, off, ln)
        self.s.sendall(h + data)
        return cookie

    def reply(self, read_len=0):
        """One whole reply: (cookie, error, data bytes or chunk list)."""
        if self.mode == "simple":
            magic, err, cookie = struct.unpack(">IIQ", self.recv(16))
            assert magic == SIMPLE_MAGIC, "simple reply magic %x" % magic
            if isinstance(read_len, dict):
                read_len = read_len.get(cookie, 0)
            data = self.recv(read_len) if err == 0 and read_len else b""
            return cookie, err, data
        chunks, err = [], 0
        while True:
            if self.mode == "extended":
                magic, fl, typ, cookie, off, ln = struct.unpack(">IHHQQQ", self.recv(32))
                assert magic == EXT_MAGIC, "extended reply magic %x" % magic
            else:
                magic, fl, typ, cookie, ln = struct.unpack(">IHHQI", self.recv(20))
                assert magic == STRUCT_MAGIC, "structured reply magic %x" % magic
            payload = self.recv(ln)
            if typ in (T_ERROR, T_ERROR_OFFSET):
                err = struct.unpack(">I", payload[:4])[0]
            chunks.append((typ, payload))
            if fl & 1:
                return cookie, err, chunks

    def read(self, off, ln, flags=0):
        c = self.req(READ, off, ln, flags)
        cookie, err, r = self.reply(ln)
        assert cookie == c
        if err or self.mode == "simple":
            return err, r
        buf = bytearray(ln)
        for typ, p in r:
            if typ == T_DATA:
                o = struct.unpack(">Q", p[:8])[0] - off
                buf[o:o + len(p) - 8] = p[8:]
            elif typ == T_HOLE:
                pass  # zeros already
        return err, bytes(buf)

    def simple(self, typ, off=0, ln=0, flags=0, data=b""):
        c = self.req(typ, off, ln, flags, data)
        cookie, err, _ = self.reply()
        assert cookie == c, "cookie"
        return err

    def disc(self):
        self.req(DISC)
        return self.closed()


def fresh_ok(what):
    """A new client is still served after @what."""
    try:
        c = Client()
        c.go()
        c.req(WRITE, 0, 512, data=b"freshok!" * 64)
        ok = c.reply()[1] == 0 and c.read(0, 512) == (0, b"freshok!" * 64)
        c.disc()
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        ok, what = False, "%s (%r)" % (what, e)
    check("fresh client after " + what, ok)


# ---------------------------------------------------------------- options
c = Client()
c.opt(OPT_LIST)
r = c.opt_replies()
check("LIST: one export then ACK", len(r) == 2 and r[0][1] == REP_SERVER and r[1][1] == REP_ACK, r)
c.opt(0x7777, b"junk")
check("unknown option: ERR_UNSUP", c.opt_reply()[1] == REP_ERR_UNSUP)
c.opt(OPT_STARTTLS)
check("STARTTLS: refused, not fatal", c.opt_reply()[1] & ERR != 0)
c.opt(OPT_STRUCTURED, b"x")
check("STRUCTURED_REPLY with data: ERR_INVALID", c.opt_reply()[1] == REP_ERR_INVALID)
q = b"base:"
c.opt(OPT_LIST_META, struct.pack(">I", 0) + struct.pack(">II", 1, len(q)) + q)
r = c.opt_replies()
check("LIST_META_CONTEXT before structured: refused", r[-1][1] & ERR != 0, r)
c.opt(OPT_STRUCTURED)
check("STRUCTURED_REPLY: ACK", c.opt_reply()[1] == REP_ACK)
c.mode = "structured"
c.opt(OPT_LIST_META, struct.pack(">I", 0) + struct.pack(">II", 1, len(q)) + q)
r = c.opt_replies()
check("LIST_META_CONTEXT base: lists base:allocation",
      any(t == REP_META and b"base:allocation" in d for _, t, d in r) and r[-1][1] == REP_ACK, r)
infos = c.go(opt=OPT_INFO, meta=False)
check("INFO: export, name/description, block sizes", isinstance(infos, dict) and 0 in infos and 3 in infos)
check("INFO: size", c.size == SIZE, c.size)
check("INFO: CAN_MULTI_CONN advertised", c.tflags & TF_MULTI_CONN)
check("INFO: block sizes", c.bmin == 512 and c.bpref >= 512 and c.bmax >= c.bpref, (c.bmin, c.bpref, c.bmax))
check("GO unknown export: ERR_UNKNOWN", c.go(b"no-such-export", opt=OPT_GO, meta=False) == REP_ERR_UNKNOWN)
c.opt(OPT_ABORT)
try:
    r = c.opt_reply()
    check("ABORT: ACK", r[1] == REP_ACK)
except Closed:
    check("ABORT: ACK (or close)", True)
check("ABORT: closed", c.closed())

c = Client()
c.opt(OPT_EXPORT_NAME, b"")
d = c.recv(10)
sz, tf = struct.unpack(">QH", d)
check("EXPORT_NAME: size and flags, no zeroes", sz == SIZE and tf & 1)
c.mode = "simple"
check("EXPORT_NAME: simple read works", c.read(0, 512)[0] == 0)
check("EXPORT_NAME: DISC closes", c.disc())

# --------------------------------------------------- commands per mode
for mode in ("simple", "structured", "extended"):
    c = Client()
    c.go(structured=mode != "simple", extended=mode == "extended", meta=mode != "simple")
    base = {"simple": 1 << 20, "structured": 2 << 20, "extended": 3 << 20}[mode]
    pat = bytes((i * 7 + len(mode)) & 0xFF for i in range(65536))
    check(mode + " WRITE", c.simple(WRITE, base, len(pat), data=pat) == 0)
    check(mode + " READ back", c.read(base, len(pat)) == (0, pat))
    check(mode + " WRITE FUA", c.simple(WRITE, base, 4096, F_FUA, pat[:4096]) == 0)
    check(mode + " FLUSH", c.simple(FLUSH) == 0)
    check(mode + " FLUSH with offset: EINVAL", c.simple(FLUSH, 4096, 0) == EINVAL)
    check(mode + " TRIM", c.simple(TRIM, base, 8192) == 0)
    check(mode + " TRIM reads zeros", c.read(base, 8192) == (0, bytes(8192)))
    check(mode + " WRITE_ZEROES", c.simple(ZEROES, base + 8192, 8192) == 0)
    check(mode + " WRITE_ZEROES NO_HOLE", c.simple(ZEROES, base + 16384, 4096, F_NO_HOLE) == 0)
    check(mode + " zeros read back", c.read(base + 8192, 12288) == (0, bytes(12288)))
    check(mode + " rest intact", c.read(base + 20480, 4096) == (0, pat[20480:24576]))
    if c.tflags & TF_FAST_ZERO and mode != "simple":
        e = c.simple(ZEROES, base, 4096, F_FAST_ZERO)
        check(mode + " FAST_ZERO: ok or ENOTSUP", e in (0, 95), e)
    check(mode + " CACHE", c.simple(CACHE, 0, 4096) == 0)
    check(mode + " READ past end: EINVAL", c.read(SIZE - 512, 1024)[0] == EINVAL)
    check(mode + " WRITE past end: ENOSPC", c.simple(WRITE, SIZE - 512, 1024, data=bytes(1024)) == ENOSPC)
    check(mode + " ZEROES past end: ENOSPC", c.simple(ZEROES, SIZE, 512) == ENOSPC)
    check(mode + " offset+len overflow: EINVAL", c.read(2**64 - 512, 1024)[0] == EINVAL)
    check(mode + " unknown command: EINVAL", c.simple(42, 0, 512) == EINVAL)
    check(mode + " unknown flag: EINVAL", c.simple(FLUSH, 0, 0, 0x4000) == EINVAL)
    check(mode + " READ above max: error", c.read(0, c.bmax * 2)[0] in (EINVAL, EOVERFLOW))
    check(mode + " still usable after errors", c.read(base + 20480, 4096) == (0, pat[20480:24576]))
    if mode == "simple":
        check("simple DF refused: EINVAL", c.simple(READ, 0, 512, F_DF) == EINVAL)
    else:
        e, d = c.read(base + 20480, 4096, F_DF)
        check(mode + " READ DF", e == 0 and d == pat[20480:24576])
        cookie = c.req(BLOCK_STATUS, 0, 1 << 20)
        ck, err, chunks = c.reply()
        want = T_BS_EXT if mode == "extended" else T_BS
        ok = err == 0 and chunks[0][0] == want and struct.unpack(">I", chunks[0][1][:4])[0] == c.ctx
        if ok and mode == "extended":
            ctx, n, ln, fl = struct.unpack(">IIQQ", chunks[0][1][:24])
            ok = n >= 1 and 0 < ln <= 1 << 20
        elif ok:
            ctx, ln, fl = struct.unpack(">III", chunks[0][1][:12])
            ok = 0 < ln <= 1 << 20
        check(mode + " BLOCK_STATUS base:allocation", ok and ck == cookie, chunks)
        # A range nothing writes (the client suites write the first 16 MiB)
        # and one of data.
        hole_off = SIZE * 3 // 4 + base
        for where, off, want_hole in (("hole", hole_off, True), ("data", base + 20480, False)):
            cookie = c.req(BLOCK_STATUS, off, 4096)
            ck, err, chunks = c.reply()
            p = chunks[0][1] if chunks else b""
            fl = (struct.unpack(">Q", p[16:24])[0] if mode == "extended"
                  else struct.unpack(">I", p[8:12])[0]) if len(p) >= 12 else -1
            if want_hole and not HOLES:
                ok = err == 0 and fl in (0, 3)
            else:
                ok = err == 0 and fl == (3 if want_hole else 0)
            check("%s BLOCK_STATUS of %s: flags %s" % (mode, where, fl), ok and ck == cookie,
                  [(t, p[:24]) for t, p in chunks])
        cookie = c.req(READ, hole_off, 8192)
        ck, err, chunks = c.reply(8192)
        types = [t for t, _ in chunks]
        zeros = all(p[8:] == bytes(len(p) - 8) for t, p in chunks if t == T_DATA)
        if HOLES:
            ok = err == 0 and types == [T_HOLE] and \
                struct.unpack(">QI", chunks[0][1][:12]) == (hole_off, 8192)
        else:
            ok = err == 0 and set(types) <= {T_DATA, T_HOLE} and zeros
        check(mode + " READ of a hole: chunk types " + ",".join(map(str, types)), ok and ck == cookie,
              [(t, p[:16]) for t, p in chunks])
        cookie = c.req(BLOCK_STATUS, 0, 1 << 20, F_REQ_ONE)
        ck, err, chunks = c.reply()
        check(mode + " BLOCK_STATUS REQ_ONE: one extent",
              err == 0 and len(chunks[0][1]) == (24 if mode == "extended" else 12), chunks)
        if mode == "extended":
            # 64-bit length in a 32-byte header
            cookie = c.req(BLOCK_STATUS, 0, SIZE)
            ck, err, chunks = c.reply()
            check("extended BLOCK_STATUS with a 64-bit length", err == 0 and ck == cookie)
    # 32 requests in flight, then DISC: every one answered before the close.
    cookies, lens = set(), {}
    for i in range(32):
        ck = c.req(READ if i % 2 else WRITE, base + i * 4096, 4096,
                   data=b"" if i % 2 else pat[:4096])
        cookies.add(ck)
        lens[ck] = 4096 if i % 2 else 0
    c.req(DISC)
    got = set()
    try:
        for i in range(32):
            ck, err, _ = c.reply(lens)
            if err == 0:
                got.add(ck)
    except Closed:
        pass
    check(mode + " 32 in flight then DISC: all answered", got == cookies, len(got))
    check(mode + " closed after DISC", c.closed())

# ---------------------------------------------------------------- abuse
def abuse(name, fn):
    try:
        c = Client()
        fn(c)
    except (Closed, ConnectionResetError, BrokenPipeError):
        check(name, True)
    except AssertionError as e:
        check(name, False, repr(e))
    fresh_ok(name)


def bad_opt_magic(c):
    c.s.sendall(struct.pack(">QII", 0x1234, OPT_GO, 0))
    check("bad option magic: closed", c.closed())


def bad_client_flags(c):
    c.s.close()
    c.__init__()  # fresh, then send unknown flags on a new socket
    c.s.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.recv(18)
    s.sendall(struct.pack(">I", 0xFF00))
    s.settimeout(60)
    check("unknown client flags: closed", s.recv(100) == b"")
    s.close()


def truncated_opt(c):
    c.s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, 100) + b"abc")
    c.s.shutdown(socket.SHUT_WR)
    check("truncated option: closed", c.closed())


def huge_opt(c):
    c.s.sendall(struct.pack(">QII", IHAVEOPT, 0x4444, 1 << 30))
    c.s.sendall(bytes(70000))
    try:
        r = c.opt_reply()
        check("option above the limit: ERR_TOO_BIG or close", r[1] & ERR != 0)
    except (Closed, ConnectionResetError):
        check("option above the limit: closed", True)


def bad_req_magic(c):
    c.go()
    c.s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, READ, 1, 0, 512))
    check("bad request magic: closed", c.closed())


def truncated_header(c):
    c.go()
    c.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, 0, READ, 1, 0, 512)[:13])
    c.s.shutdown(socket.SHUT_WR)
    check("truncated request header: closed", c.closed())


def truncated_payload(c):
    c.go()
    c.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, 0, WRITE, 1, 0, 65536) + bytes(1000))
    c.s.shutdown(socket.SHUT_WR)
    check("write stopping mid-payload: closed", c.closed())


def oversized_write(c):
    c.go()
    n = c.bmax * 2
    c.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, 0, WRITE, 7, 0, n))
    try:
        c.s.sendall(bytes(n))
        ck, err, _ = c.reply()
        check("write above max payload: EINVAL (payload dropped)", ck == 7 and err == EINVAL, err)
        check("usable after an oversized write", c.read(0, 512)[0] == 0)
    except (Closed, BrokenPipeError, ConnectionResetError):
        check("write above max payload: closed", True)


def giant_write(c):
    c.go()
    c.s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, 0, WRITE, 7, 0, 0xFFFFFFF0))
    check("4 GiB write header: closed (nothing allocated)", c.closed())


def disc_with_data(c):
    c.go(structured=False, meta=False)
    c.req(DISC)
    check("DISC: closed", c.closed())


def requests_after_disc(c):
    c.go()
    c.req(WRITE, 0, 512, data=bytes(512))
    c.req(DISC)
    c.req(READ, 0, 512)
    ck, err, _ = c.reply()
    check("request before DISC answered", err == 0)
    check("nothing after DISC", c.closed())


def byte_by_byte(c):
    """A whole session sent one byte at a time."""
    c.s.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sock_path)
    g = b""
    while len(g) < 18:
        g += s.recv(18 - len(g))
    msg = struct.pack(">I", 3) + struct.pack(">QII", IHAVEOPT, OPT_EXPORT_NAME, 0)
    msg += struct.pack(">IHHQQI", REQ_MAGIC, 0, WRITE, 9, 0, 4) + b"\x00" * 508 + b"abcd"
    msg = msg[:4 + 16] + struct.pack(">IHHQQI", REQ_MAGIC, 0, WRITE, 9, 512, 512) + b"x" * 512
    for b in msg:
        s.sendall(bytes([b]))
    c.s = s
    c.mode = "simple"
    c.recv(10)
    ck, err, _ = c.reply()
    check("byte by byte: write", ck == 9 and err == 0)
    # The read only after the write's reply: the protocol lets a server
    # run overlapping requests in flight together in any order.
    for b in struct.pack(">IHHQQI", REQ_MAGIC, 0, READ, 10, 512, 512):
        s.sendall(bytes([b]))
    ck, err, d = c.reply(512)
    check("byte by byte: read", ck == 10 and err == 0 and d == b"x" * 512)
    c.disc()


def reset_with_inflight(c):
    c.go()
    for i in range(16):
        c.req(WRITE, i * 65536, 65536, data=bytes(65536))
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.s.close()
    raise Closed()


for name, fn in [("bad option magic", bad_opt_magic), ("unknown client flags", bad_client_flags),
                 ("truncated option", truncated_opt), ("huge option", huge_opt),
                 ("bad request magic", bad_req_magic), ("truncated header", truncated_header),
                 ("truncated payload", truncated_payload), ("oversized write", oversized_write),
                 ("giant write", giant_write), ("DISC", disc_with_data),
                 ("requests after DISC", requests_after_disc), ("byte by byte", byte_by_byte),
                 ("reset with requests in flight", reset_with_inflight)]:
    abuse(name, fn)

# ------------------------------------------------------------- multi-conn
a, b, r = Client(), Client(), Client()
for x in (a, b, r):
    x.go()
data = b"multi-conn-4096!" * 256
check("multi-conn: write on A", a.simple(WRITE, 5 << 20, len(data), data=data) == 0)
check("multi-conn: FLUSH on B", b.simple(FLUSH) == 0)
check("multi-conn: read on C sees it", r.read(5 << 20, len(data)) == (0, data))
for x in (a, b, r):
    x.disc()

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
