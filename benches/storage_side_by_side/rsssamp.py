#!/usr/bin/env python3
"""rsssamp.py PID OUT.csv : VmRSS/RssAnon/RssFile/RssShmem every 100 ms until PID exits."""
import sys, time
pid, out = sys.argv[1], open(sys.argv[2], "w")
out.write("t,vmrss_kib,rssanon_kib,rssfile_kib,rssshmem_kib\n")
while True:
    t = time.time()
    try:
        d = {}
        for line in open(f"/proc/{pid}/status"):
            k = line.split(":")[0]
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                d[k] = line.split()[1]
    except OSError:
        break
    out.write(f"{t:.3f},{d.get('VmRSS')},{d.get('RssAnon')},{d.get('RssFile')},{d.get('RssShmem')}\n"); out.flush()
    time.sleep(max(0, 0.1 - (time.time() - t)))
