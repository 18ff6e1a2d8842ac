#!/usr/bin/env python3
"""bench14 driver: start one server on 127.0.0.1, remote-write backfill into it, sample RSS
every 100 ms and TSDB metrics every 0.5 s, wait for compactions to settle (or VM merge),
measure blocks / wal / chunks_head, optionally run range queries, stop the server."""
import argparse, json, os, shlex, subprocess, sys, threading, time, urllib.parse

# The side-by-side harness beside the project (../shared/bench from the repo root), or $SHARED_BENCH.
SHARED_BENCH = os.environ.get("SHARED_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/bench"))
sys.path.insert(0, SHARED_BENCH)
import benchlib as bl

MET = ["prometheus_tsdb_compactions_total", "prometheus_tsdb_compaction_duration_seconds_sum",
       "prometheus_tsdb_head_truncations_total", "prometheus_tsdb_head_series",
       "prometheus_tsdb_head_samples_appended_total", "prometheus_tsdb_blocks_loaded"]


def rss_kib(pid):
    return rss3(pid)[0]


def rss3(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":")[0]
                if k in ("VmRSS", "RssAnon", "RssFile"):
                    d[k] = int(line.split()[1])
    except OSError:
        pass
    return d.get("VmRSS"), d.get("RssAnon"), d.get("RssFile")


class Sampler(threading.Thread):
    def __init__(self, pid, base, path, prom):
        super().__init__(daemon=True)
        self.pid, self.base, self.prom = pid, base, prom
        self.f = open(path, "w")
        self.f.write("t,rss_kib," + ",".join(MET) + ",anon_kib,file_kib\n")
        self.stop_ev = threading.Event()
        self.last = {}
        self.rows = []

    def run(self):
        k = 0
        while not self.stop_ev.is_set():
            t = time.time()
            r, an, fi = rss3(self.pid)
            if self.prom and k % 5 == 0:
                m = bl.self_metrics(self.base, MET)
                if "_error" not in m:
                    self.last = m
            k += 1
            row = (t, r, *[self.last.get(x) for x in MET], an, fi)
            self.rows.append(row)
            self.f.write(",".join("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row) + "\n")
            self.stop_ev.wait(max(0, 0.1 - (time.time() - t)))
        self.f.close()


def du_b(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


def measure_prom(data):
    res = {"blocks": [], "cmd_du": f"du -sb {data}/<ULID> {data}/wal {data}/chunks_head"}
    for e in sorted(os.listdir(data)):
        p = os.path.join(data, e)
        if len(e) == 26 and os.path.isdir(p) and os.path.exists(os.path.join(p, "meta.json")):
            meta = json.load(open(os.path.join(p, "meta.json")))
            st = meta.get("stats", {})
            b = {"ulid": e, "min_time": meta["minTime"], "max_time": meta["maxTime"],
                 "hours": round((meta["maxTime"] - meta["minTime"]) / 3.6e6, 3),
                 "level": meta.get("compaction", {}).get("level"),
                 "du_b": du_b(p), "index_b": os.path.getsize(os.path.join(p, "index")),
                 "chunks_b": du_b(os.path.join(p, "chunks")),
                 "samples": st.get("numSamples"), "series": st.get("numSeries"), "chunks": st.get("numChunks")}
            if b["samples"]:
                b["bytes_per_sample"] = round(b["du_b"] / b["samples"], 4)
                b["chunk_bytes_per_sample"] = round(b["chunks_b"] / b["samples"], 4)
                b["index_bytes_per_series"] = round(b["index_b"] / max(1, b["series"]), 1)
            res["blocks"].append(b)
    for d in ("wal", "chunks_head"):
        res[d + "_b"] = du_b(os.path.join(data, d)) if os.path.isdir(os.path.join(data, d)) else 0
    res["total_b"] = du_b(data)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True, choices=["promlite", "prometheus", "vm"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--spt", type=int, default=1000)
    ap.add_argument("--backfill", default="6h")
    ap.add_argument("--step", default="15s")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--settle", type=float, default=75, help="s with no compaction change before measuring")
    ap.add_argument("--max-wait", type=float, default=600)
    ap.add_argument("--retention", default="30d")
    ap.add_argument("--extra", default="")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../target/release/promlite"))
    ap.add_argument("--query", action="append", default=[], help="range query expr (exp 4)")
    ap.add_argument("--qrange", default="24h")
    ap.add_argument("--qstep", default="60")
    ap.add_argument("--qrepeat", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    data = os.path.join(a.out, "data")
    cfg = os.path.join(a.out, "config.yml")
    open(cfg, "w").write(bl.scrape_config([], 15))
    listen = f"127.0.0.1:{a.port}"
    if a.kind == "promlite":
        argv = [a.bin, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                f"--web.listen-address={listen}", f"--storage.tsdb.retention.time={a.retention}",
                "--web.enable-remote-write-receiver", "--log.level=warn"]
        ready = "/-/ready"
    elif a.kind == "prometheus":
        argv = ["/usr/bin/prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                f"--web.listen-address={listen}", f"--storage.tsdb.retention.time={a.retention}",
                "--web.enable-remote-write-receiver", "--log.level=warn"]
        ready = "/-/ready"
    else:
        argv = ["/usr/bin/victoria-metrics", f"-promscrape.config={cfg}", f"-storageDataPath={data}",
                f"-httpListenAddr={listen}", f"-retentionPeriod={a.retention}",
                "-search.maxUniqueTimeseries=50000000", "-loggerLevel=WARN"]
        ready = "/health"
    argv += shlex.split(a.extra)
    res = {"kind": a.kind, "server_cmd": " ".join(argv), "start": time.time()}
    bl.require_ports_free([a.port])
    bl.install_cleanup()
    proc = bl.start_process(argv, os.path.join(a.out, "server.log"))
    base = f"http://{listen}"
    bl.wait_http_ok(base + ready, timeout=180, proc=proc)
    samp = Sampler(proc.pid, base, os.path.join(a.out, "rss.csv"), a.kind != "vm")
    samp.start()
    push = [sys.executable, os.path.join(SHARED_BENCH, "remote_write_push.py"), "--url", f"{base}/api/v1/write",
            "--server-pid", str(proc.pid), "--backfill", a.backfill, "--step", a.step,
            "--targets", str(a.targets), "--series-per-target", str(a.spt),
            "--concurrency", str(a.concurrency), "--run-dir", os.path.join(a.out, "push"),
            "--name", a.kind, "--quiet", "--out", os.path.join(a.out, "push.json")]
    res["push_cmd"] = " ".join(push)
    t0 = time.time()
    rc = subprocess.run(push, stdout=open(os.path.join(a.out, "push.log"), "w"), stderr=subprocess.STDOUT).returncode
    res["push_rc"], res["push_s"] = rc, round(time.time() - t0, 1)
    res["push_end"] = time.time()
    try:
        res["push"] = json.load(open(os.path.join(a.out, "push.json")))
    except Exception as e:  # noqa
        res["push"] = str(e)
    if a.kind == "vm":
        sys.path.insert(0, SHARED_BENCH)
        import run_scrape_bench as rsb
        res["vm_flush"] = rsb.flush_and_measure({}, base, data, "vm-flush")
    else:
        t1, last, since = time.time(), None, time.time()
        while time.time() - t1 < a.max_wait:
            cur = (samp.last.get(MET[0]), samp.last.get(MET[2]))
            if cur != last:
                last, since = cur, time.time()
            if time.time() - since >= a.settle:
                break
            time.sleep(1)
        res["settle_wait_s"] = round(time.time() - t1, 1)
        res["metrics_at_measure"] = dict(samp.last)
        res["disk"] = measure_prom(data)
    res["rss_kib_before_queries"] = rss_kib(proc.pid)
    qres = []
    if a.query:
        end = res["push"]["data_end"] // 60 * 60 if isinstance(res["push"], dict) else int(time.time()) // 60 * 60
        start = end - bl.parse_duration(a.qrange)
        time.sleep(3)
        for q in a.query:
            for i in range(a.qrepeat):
                time.sleep(3)
                i0 = len(samp.rows)
                before = rss_kib(proc.pid)
                tq = time.time()
                code, body = bl.http_post_form(base + "/api/v1/query_range",
                                               {"query": q, "start": start, "end": end, "step": a.qstep}, timeout=300)
                dt = time.time() - tq
                time.sleep(0.5)
                peak = max((r[1] or 0) for r in samp.rows[i0:])
                try:
                    d = json.loads(body)
                    nser = len(d["data"]["result"]); npts = sum(len(s["values"]) for s in d["data"]["result"])
                except Exception:  # noqa
                    nser = npts = None
                qres.append({"query": q, "rep": i, "http": code, "s": round(dt, 3), "rss_before_kib": before,
                             "rss_peak_kib": peak, "rise_mib": round((peak - before) / 1024, 1),
                             "series": nser, "points": npts, "resp_bytes": len(body)})
                print(qres[-1], flush=True)
        res["queries"] = qres
        res["query_params"] = {"start": start, "end": end, "step": a.qstep}
    samp.stop_ev.set()
    samp.join(5)
    res["rss_peak_kib_overall"] = max((r[1] or 0) for r in samp.rows)
    res["stop_s"] = round(bl.stop_process(proc), 1)
    if a.kind != "vm":
        res["disk_after_stop"] = measure_prom(data)
    res["machine"] = bl.machine_info()
    bl.write_json(os.path.join(a.out, "result.json"), res)
    print(json.dumps({k: v for k, v in res.items() if k not in ("push",)}, indent=1))


if __name__ == "__main__":
    main()
