#!/usr/bin/python3
"""tests/ops/writer.py: load generators of the failover and crash tests.

  writer.py write CONNINFO SQL LOG STOPFILE SECONDS
      Run SQL (one %s placeholder: the write number 1, 2, ...) in autocommit
      mode, one write about every 20 ms, reconnecting after every error.
      LOG gets "ack N WALLTIME" for every write whose commit returned
      success, and "err N WALLTIME message" for the others (their outcome
      is unknown).  Stops when STOPFILE exists or after SECONDS.

  writer.py probe URL[,URL...] LOG STOPFILE SECONDS
      GET every URL every 100 ms (1 s timeout); LOG gets
      "probe WALLTIME STATUS STATUS ..." per round (0 = no answer).

  writer.py gap LOG KILLTIME
      From a write LOG: the last ack before KILLTIME, the first after it,
      the gap between them, the number of acks; as shell assignments.
"""
import sys
import time
import urllib.error
import urllib.request


def write(conninfo, sql, log, stopfile, seconds):
    import os
    import psycopg

    end = time.monotonic() + seconds
    n = 0
    conn = None
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < end and not os.path.exists(stopfile):
            try:
                if conn is None:
                    conn = psycopg.connect(conninfo, autocommit=True)
                n += 1
                conn.execute(sql, (n,))
                out.write("ack %d %.3f\n" % (n, time.time()))
                time.sleep(0.02)
            except Exception as e:  # unknown outcome: not acknowledged
                out.write("err %d %.3f %s\n" % (n, time.time(), str(e).splitlines()[0][:120] if str(e) else type(e).__name__))
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.05)


def probe(urls, log, stopfile, seconds):
    import os

    end = time.monotonic() + seconds
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < end and not os.path.exists(stopfile):
            codes = []
            for u in urls.split(","):
                try:
                    with urllib.request.urlopen(u, timeout=1) as r:
                        body = r.read()
                        code = r.status
                        if b'"in_recovery": true' in body or b'"in_recovery":true' in body:
                            code = 299  # served by a standby: not what we want
                except urllib.error.HTTPError as e:
                    code = e.code
                except Exception:
                    code = 0
                codes.append(str(code))
            out.write("probe %.3f %s\n" % (time.time(), " ".join(codes)))
            time.sleep(0.1)


def gap(log, kill):
    kill = float(kill)
    before = after = None
    acks = 0
    for line in open(log):
        f = line.split()
        if f[0] != "ack":
            continue
        acks += 1
        t = float(f[2])
        if t <= kill:
            before = t
        elif after is None:
            after = t
    print("acks=%d" % acks)
    print("last_before=%s" % (before or ""))
    print("first_after=%s" % (after or ""))
    if before and after:
        print("gap=%.2f" % (after - before))
        print("since_kill=%.2f" % (after - kill))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]))
    elif mode == "probe":
        probe(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    elif mode == "gap":
        gap(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: writer.py write|probe|gap ...")
