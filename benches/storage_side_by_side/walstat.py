#!/usr/bin/env python3
"""Parse a Prometheus-format WAL dir (segments + checkpoint.*) and report, per record type,
records, stored bytes (fragment headers + payload as on disk), uncompressed bytes, snappy use,
and page padding. Usage: walstat.py DATA_DIR/wal [--json out]"""
import json, os, struct, sys

PAGE = 32 * 1024
TYPES = {1: "series", 2: "samples", 3: "tombstones", 4: "exemplars", 5: "mmap_markers", 6: "metadata",
         7: "histogram_samples", 8: "float_histogram_samples", 255: "filler"}


def uvarint(b, i):
    x = s = 0
    while True:
        c = b[i]; i += 1
        x |= (c & 0x7F) << s
        if c < 0x80:
            return x, i
        s += 7


def varint(b, i):
    u, i = uvarint(b, i)
    return (u >> 1) ^ -(u & 1), i


def snappy_decode(src):
    n, i = uvarint(src, 0)
    out = bytearray()
    L = len(src)
    while i < L:
        tag = src[i]; i += 1
        t = tag & 3
        if t == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(src[i:i + nb], "little"); i += nb
            ln += 1
            out += src[i:i + ln]; i += ln
            continue
        if t == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | src[i]; i += 1
        elif t == 2:
            ln = (tag >> 2) + 1
            off = src[i] | (src[i + 1] << 8); i += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(src[i:i + 4], "little"); i += 4
        start = len(out) - off
        if off >= ln:
            out += out[start:start + ln]
        else:
            for k in range(ln):
                out.append(out[start + k])
    assert len(out) == n, (len(out), n)
    return bytes(out)


def records(path):
    """yield (stored_bytes, compressed_flag, payload_raw) per logical record; plus padding bytes."""
    data = open(path, "rb").read()
    pad = 0
    buf, stored, comp = bytearray(), 0, False
    for p in range(0, len(data), PAGE):
        page = data[p:p + PAGE]
        o = 0
        while o + 7 <= len(page):
            typ = page[o]
            if typ == 0:
                pad += len(page) - o
                break
            ln = struct.unpack(">H", page[o + 1:o + 3])[0]
            frag = page[o + 7:o + 7 + ln]
            kind = typ & 7
            c = bool(typ & 0x08)
            if typ & 0x10:
                raise SystemExit("zstd not supported")
            stored += 7 + ln
            if kind in (1, 2):
                buf, comp = bytearray(frag), c
                stored = 7 + ln
            else:
                buf += frag
            if kind in (1, 4):
                yield stored, comp, (snappy_decode(bytes(buf)) if comp else bytes(buf)), pad
                pad = 0
                buf, stored = bytearray(), 0
            o += 7 + ln
        else:
            pad += len(page) - o
    yield None, None, None, pad


def samples_count(rec):
    n, i = 0, 17
    if len(rec) <= 1:
        return 0
    while i < len(rec):
        _, i = varint(rec, i); _, i = varint(rec, i); i += 8; n += 1
    return n


def series_count(rec):
    n, i = 0, 1
    while i < len(rec):
        i += 8
        k, i = uvarint(rec, i)
        for _ in range(2 * k):
            ln, i = uvarint(rec, i); i += ln
        n += 1
    return n


def main():
    wal = sys.argv[1]
    files = []
    for e in sorted(os.listdir(wal)):
        p = os.path.join(wal, e)
        if e.isdigit():
            files.append(("segment", p))
        elif e.startswith("checkpoint.") and os.path.isdir(p):
            for f in sorted(os.listdir(p)):
                if f.isdigit():
                    files.append(("checkpoint", os.path.join(p, f)))
    st = {}
    tot = {"file_bytes": 0, "padding_bytes": 0, "files": len(files)}
    for where, p in files:
        tot["file_bytes"] += os.path.getsize(p)
        for stored, comp, raw, pad in records(p):
            tot["padding_bytes"] += pad
            if raw is None:
                continue
            t = raw[0] if raw else -1
            key = f"{where}:{TYPES.get(t, t)}"
            s = st.setdefault(key, {"records": 0, "stored_bytes": 0, "raw_bytes": 0, "snappy_records": 0, "items": 0})
            s["records"] += 1
            s["stored_bytes"] += stored
            s["raw_bytes"] += len(raw)
            s["snappy_records"] += comp
            if t == 2:
                s["items"] += samples_count(raw)
            elif t == 1:
                s["items"] += series_count(raw)
    for s in st.values():
        s["stored_per_item"] = round(s["stored_bytes"] / s["items"], 3) if s["items"] else None
        s["raw_per_item"] = round(s["raw_bytes"] / s["items"], 3) if s["items"] else None
        s["avg_record_raw_bytes"] = round(s["raw_bytes"] / s["records"], 1)
        s["compression_ratio"] = round(s["raw_bytes"] / s["stored_bytes"], 3) if s["stored_bytes"] else None
    out = {"wal": wal, "total": tot, "by_type": st}
    print(json.dumps(out, indent=1))
    if len(sys.argv) > 3 and sys.argv[2] == "--json":
        json.dump(out, open(sys.argv[3], "w"), indent=1)


if __name__ == "__main__":
    main()
