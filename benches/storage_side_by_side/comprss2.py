#!/usr/bin/env python3
"""RSS (VmRSS / RssAnon / RssFile) around each head compaction, from driver.py's rss.csv.
before = median of the 10 s before the compaction started (start = counter change - duration - 0.5 s poll);
compaction window = start .. first poll that shows the compaction counter incremented;
truncation window = that poll .. first poll that shows head_truncations_total incremented (+1 s)."""
import csv, json, sys

rows = []
for r in csv.DictReader(open(sys.argv[1])):
    f = lambda k: float(r[k]) if r.get(k) not in (None, "") else None  # noqa
    rows.append(dict(t=float(r["t"]), rss=f("rss_kib"), anon=f("anon_kib"), file=f("file_kib"),
                     c=f("prometheus_tsdb_compactions_total"), d=f("prometheus_tsdb_compaction_duration_seconds_sum"),
                     tr=f("prometheus_tsdb_head_truncations_total"), hs=f("prometheus_tsdb_head_series")))
mib = lambda x: round(x / 1024, 1)  # noqa
def med(v): v = sorted(v); return v[len(v) // 2]
def win(a, b): return [x for x in rows if a <= x["t"] <= b and x["rss"]]
out = []
prev = None
for i, x in enumerate(rows):
    if x["c"] is None:
        continue
    if prev is not None and x["c"] > prev["c"]:
        dur = x["d"] - prev["d"]
        t_end = x["t"]; t_start = t_end - dur - 0.5
        bef = win(t_start - 10, t_start - 0.01)
        b = {k: med([y[k] for y in bef]) for k in ("rss", "anon", "file")}
        cw = win(t_start, t_end)
        # truncation: first row after t_end with tr > x's tr at t_start
        tr0 = prev["tr"]
        t_tr = next((y["t"] for y in rows if y["t"] >= t_end and y["tr"] is not None and y["tr"] > tr0), None)
        tw = win(t_end, (t_tr or t_end) + 1.0)
        after = win(t_end + 25, t_end + 35)
        def pk(w):
            if not w: return None
            m = max(w, key=lambda y: y["rss"])
            return {"vmrss_peak": mib(m["rss"]), "vmrss_rise": mib(m["rss"] - b["rss"]),
                    "anon_at_peak_rise": mib(m["anon"] - b["anon"]), "file_at_peak_rise": mib(m["file"] - b["file"]),
                    "anon_max_rise": mib(max(y["anon"] for y in w) - b["anon"]),
                    "file_max_rise": mib(max(y["file"] for y in w) - b["file"])}
        out.append({"compactions_total": x["c"], "duration_s": round(dur, 2), "t_start": round(t_start, 1),
                    "before": {k: mib(v) for k, v in b.items()}, "compaction": pk(cw),
                    "truncation_s_after": round(t_tr - t_end, 1) if t_tr else None, "truncation": pk(tw),
                    "rss_30s_after": mib(after[-1]["rss"]) if after else None, "head_series": x["hs"]})
    prev = x
allr = [x["rss"] for x in rows if x["rss"]]
print(json.dumps({"compactions": out, "rss_max_mib": mib(max(allr)), "rss_last_mib": mib(allr[-1])}, indent=1))
