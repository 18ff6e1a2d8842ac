#!/usr/bin/env python3
"""qmem.py BASE PID START END STEP OUT.json QUERY... : RSS (VmRSS, RssAnon) rise per range query, 100 ms sampling.
QMEM_INSTANT=1: POST /api/v1/query with time=END instead (START and STEP ignored)."""
import json, os, sys, threading, time, urllib.parse, urllib.request
base, pid, start, end, step, out = sys.argv[1:7]
instant = os.environ.get("QMEM_INSTANT") == "1"
queries = sys.argv[7:]
def st():
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k = line.split(":")[0]
        if k in ("VmRSS", "RssAnon", "RssFile"):
            d[k] = int(line.split()[1])
    return d
rows, stop = [], threading.Event()
def samp():
    while not stop.is_set():
        rows.append((time.time(), st())); time.sleep(0.1)
threading.Thread(target=samp, daemon=True).start()
res = []
for q in queries:
    for rep in range(3):
        time.sleep(3)
        b = st(); i0 = len(rows); t0 = time.time()
        params = {"query": q, "time": end} if instant else {"query": q, "start": start, "end": end, "step": step}
        body = urllib.parse.urlencode(params).encode()
        path = "/api/v1/query" if instant else "/api/v1/query_range"
        try:
            with urllib.request.urlopen(urllib.request.Request(base + path, data=body), timeout=300) as r:
                data = r.read(); code = r.status
        except urllib.error.HTTPError as e:
            data = e.read(); code = e.code
        dt = time.time() - t0
        time.sleep(0.3)
        win = [x[1] for x in rows[i0:]]
        pk = max(w["VmRSS"] for w in win); pka = max(w["RssAnon"] for w in win)
        d = json.loads(data)
        r = {"query": q, "rep": rep, "http": code, "s": round(dt, 3), "rss_before_mib": round(b["VmRSS"]/1024, 1),
             "rss_peak_mib": round(pk/1024, 1), "rise_mib": round((pk-b["VmRSS"])/1024, 1),
             "anon_before_mib": round(b["RssAnon"]/1024, 1), "anon_rise_mib": round((pka-b["RssAnon"])/1024, 1),
             "series": len(d["data"]["result"]) if code == 200 else d.get("error"),
             "points": (1 if instant else sum(len(s["values"]) for s in d["data"]["result"])) if code == 200 else None}
        print(r, flush=True); res.append(r)
stop.set()
json.dump({"base": base, "start": start, "end": end, "step": step, "results": res}, open(out, "w"), indent=1)
