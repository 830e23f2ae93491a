#!/usr/bin/env python3
"""zeek_score.py - score Bannin's Zeek-named records on the Zeek test baselines.

For every baseline log (conn, dns, ssl, http) in the Zeek corpus MANIFEST.json, run bannin on
the baseline's trace with Zeek-named output (flat JSON objects carrying `_path`, `id.orig_h`,
`id.orig_p`, `id.resp_h`, `id.resp_p` and Zeek's field names), read the baseline's TSV rows and
count the rows one of our records matches on the key fields (each record matches one row):

  conn: id.orig_h id.orig_p id.resp_h id.resp_p proto, orig_pkts resp_pkts,
        orig_bytes resp_bytes (payload) and orig_ip_bytes resp_ip_bytes (IP)
  dns:  the 4-tuple, query, qtype (number), rcode (number), answers (list)
  ssl:  the 4-tuple, server_name, version
  http: the 4-tuple, host, uri, method, status_code

For unmatched rows the row with the same 4-tuple (or, failing that, nothing) is compared field
by field so the report says which key field differs. Baselines repeated by several Zeek tests
(same trace, same rows) are scored once.

Usage:
  zeek_score.py --bannin build/x/bannin [--corpus DIR] [--json OUT] [--jobs N]
                [--min conn=90,dns=90,ssl=90,http=90] [--cmd TEMPLATE] [-v]
--cmd is the command producing Zeek-named NDJSON, default "{bannin} pcap --zeek {out} {pcap}".
Exit status: 0 all shares >= --min, 1 a share is below its minimum, 2 usage/setup error.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

KINDS = ("conn", "dns", "ssl", "http")
TUPLE = ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"]
KEYS = {
    "conn": TUPLE + ["proto", "orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes",
                     "orig_ip_bytes", "resp_ip_bytes"],
    "dns": TUPLE + ["query", "qtype", "rcode", "answers"],
    "ssl": TUPLE + ["server_name", "version"],
    "http": TUPLE + ["host", "uri", "method", "status_code"],
}
LIST_FIELDS = {"answers"}
RUN_TIMEOUT = 120
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "corpora", "network", "zeek"))
DEFAULT_CMD = "{bannin} pcap --no-ndr -q --zeek {out} {pcap}"


def zeek_unescape(s):
    """Zeek's TSV writer escapes separators and non-printable bytes as \\xNN; its JSON writer
    (which our Zeek-named records follow) escapes only the non-printable ones that way. So only
    the separators (tab, comma) are turned back into characters before comparing."""
    return re.sub(r"\\x(09|2c|2C)", lambda m: chr(int(m.group(1), 16)), s)


def read_tsv(path):
    """Rows of a Zeek TSV log as dicts of strings (lists for container fields)."""
    fields, types, rows = None, None, []
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                if line.startswith("#separator"):
                    sep = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)),
                             line.split(" ", 1)[1])
                    continue
                name, _, rest = line[1:].partition(sep)
                if name == "set_separator":
                    set_sep = rest
                elif name == "empty_field":
                    empty = rest
                elif name == "unset_field":
                    unset = rest
                elif name == "fields":
                    fields = rest.split(sep)
                elif name == "types":
                    types = rest.split(sep)
                continue
            if not line or fields is None:
                continue
            vals = line.split(sep)
            row = {}
            for i, name in enumerate(fields):
                v = vals[i] if i < len(vals) else unset
                ty = types[i] if types and i < len(types) else "string"
                if v == unset:
                    row[name] = None
                elif ty.startswith(("set[", "vector[", "table[")):
                    row[name] = [] if v == empty else [zeek_unescape(x) for x in v.split(set_sep)]
                else:
                    row[name] = "" if v == empty else zeek_unescape(v)
            rows.append(row)
    return rows


def norm(field, v):
    """A comparable form of a value from either side."""
    if v is None or v == "-":
        return None
    if field in LIST_FIELDS or isinstance(v, (list, tuple)):
        if isinstance(v, str):
            v = [v]
        return tuple(str(norm("", x)) for x in v) if v else None
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, float):
        return ("%.6f" % v)
    return str(v)


def get(rec, field):
    if field in rec:
        return rec[field]
    # Nested form {"id": {"orig_h": ...}} also accepted.
    cur = rec
    for p in field.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def crash_summary(stderr):
    """The sanitizer's verdict and the first frames, not the shadow-byte legend."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"ERROR: \w+Sanitizer|runtime error:", line):
            frames = [l.strip() for l in lines[i + 1:i + 12] if re.match(r"\s*#[0-4] ", l)]
            return " | ".join([line.strip()] + frames)[:600]
    return stderr.strip()[-300:]


def run(cmd_tpl, bannin, pcap, out):
    cmd = [x.format(bannin=bannin, out=out, pcap=pcap) for x in shlex.split(cmd_tpl)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "timeout after %d s" % RUN_TIMEOUT
    stderr = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0 or re.search(r"Sanitizer|runtime error:", stderr):
        return None, "CRASH (exit %d): %s" % (p.returncode, crash_summary(stderr))
    if p.returncode != 0:
        err = stderr.strip().splitlines()
        return None, "exit %d: %s" % (p.returncode, err[-1] if err else "")
    recs, bad = collections.defaultdict(list), 0
    try:
        with open(out, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                path = r.get("_path") if isinstance(r, dict) else None
                if path in KINDS:
                    recs[path].append(r)
    except OSError as e:
        return None, "no output: %s" % e
    return recs, ("%d output lines are not JSON" % bad) if bad else None


def score_log(kind, rows, ours):
    """(matched rows, [(field, expected, ours)] per unmatched row)."""
    keys = KEYS[kind]
    pool = collections.defaultdict(list)
    for r in ours:
        pool[tuple(norm(k, get(r, k)) for k in keys)].append(r)
    by_tuple = collections.defaultdict(list)
    for r in ours:
        by_tuple[tuple(norm(k, get(r, k)) for k in TUPLE)].append(r)
    matched, misses = 0, []
    pending = []
    for row in rows:
        key = tuple(norm(k, row.get(k)) for k in keys)
        if pool.get(key):
            pool[key].pop()
            matched += 1
        else:
            pending.append(row)
    for row in pending:
        cands = by_tuple.get(tuple(norm(k, row.get(k)) for k in TUPLE))
        if not cands:
            misses.append([("no record with this 4-tuple", " ".join(
                str(row.get(k)) for k in TUPLE), "")])
            continue
        best = None
        for c in cands:
            d = [(k, norm(k, row.get(k)), norm(k, get(c, k))) for k in keys
                 if norm(k, row.get(k)) != norm(k, get(c, k))]
            if best is None or len(d) < len(best):
                best = d
        misses.append(best or [("duplicate row (fewer records than rows)", "", "")])
    return matched, misses


def self_test():
    """TSV reading and row matching on a hand-made log (run by the integration test first)."""
    tsv = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
           "#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\t"
           "query\tqtype\trcode\tanswers\n"
           "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tcount\tcount\t"
           "vector[string]\n"
           "1.0\tC1\t10.0.0.1\t5353\t10.0.0.2\t53\ta.example\t1\t0\t1.2.3.4,a\\x2cb\n"
           "1.0\tC2\t10.0.0.1\t5354\t10.0.0.2\t53\tb.example\t28\t-\t-\n"
           "1.0\tC3\t10.0.0.1\t5355\t10.0.0.2\t53\tc\\x00d\t1\t3\t(empty)\n")
    fd, path = tempfile.mkstemp(suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(tsv)
    rows = read_tsv(path)
    os.unlink(path)
    ours = [
        {"_path": "dns", "id.orig_h": "10.0.0.1", "id.orig_p": 5353, "id.resp_h": "10.0.0.2",
         "id.resp_p": 53, "query": "a.example", "qtype": 1, "rcode": 0,
         "answers": ["1.2.3.4", "a,b"]},
        {"_path": "dns", "id.orig_h": "10.0.0.1", "id.orig_p": 5354, "id.resp_h": "10.0.0.2",
         "id.resp_p": 53, "query": "b.example", "qtype": 28},
        {"_path": "dns", "id.orig_h": "10.0.0.1", "id.orig_p": 5355, "id.resp_h": "10.0.0.2",
         "id.resp_p": 53, "query": "c\\x00d", "qtype": 1, "rcode": 2, "answers": []},
    ]
    matched, misses = score_log("dns", rows, ours)
    ok = (len(rows) == 3 and rows[0]["answers"] == ["1.2.3.4", "a,b"] and rows[1]["rcode"] is None
          and matched == 2 and len(misses) == 1 and misses[0] == [("rcode", "3", "2")])
    print("zeek_score self-test: %s" % ("ok" if ok else "FAILED %r %r %r" % (rows, matched,
                                                                            misses)))
    return 0 if ok else 1


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bannin", required=True)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--json")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--min", default="")
    ap.add_argument("--cmd", default=DEFAULT_CMD)
    ap.add_argument("--keep")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    mins = {}
    for part in filter(None, a.min.split(",")):
        k, _, v = part.partition("=")
        if k not in KINDS:
            ap.error("--min: unknown log type %s" % k)
        mins[k] = float(v)
    mpath = os.path.join(a.corpus, "MANIFEST.json")
    if not os.path.exists(mpath):
        sys.stderr.write("zeek_score: no corpus at %s\n" % a.corpus)
        return 2
    if not os.access(a.bannin, os.X_OK):
        sys.stderr.write("zeek_score: %s is not executable\n" % a.bannin)
        return 2
    with open(mpath) as f:
        manifest = json.load(f)

    baselines, seen = [], set()
    dup = collections.Counter()
    for ent in manifest:
        kind = os.path.basename(ent["log"]).replace(".log", "")
        if kind not in KINDS:
            continue
        rows = read_tsv(os.path.join(a.corpus, ent["log"]))
        sig = (ent["trace"], kind, json.dumps(rows, sort_keys=True))
        if sig in seen:
            dup[kind] += 1
            continue
        seen.add(sig)
        baselines.append({"test": ent["test"], "trace": os.path.join(a.corpus, ent["trace"]),
                          "kind": kind, "rows": rows, "flags": ent.get("zeek_flags", [])})

    tmpdir = None if a.keep else tempfile.TemporaryDirectory(prefix="zeek_score.")
    tmp = a.keep or tmpdir.name
    os.makedirs(tmp, exist_ok=True)
    traces = sorted({b["trace"] for b in baselines})
    results = {}

    def job(it):
        i, pcap = it
        return pcap, run(a.cmd, a.bannin, pcap, os.path.join(tmp, "%04d.json" % i))

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for pcap, res in ex.map(job, enumerate(traces)):
            results[pcap] = res

    st = {k: collections.Counter() for k in KINDS}
    fields = {k: collections.Counter() for k in KINDS}
    examples = {}
    errors, details = [], []
    for b in baselines:
        recs, err = results[b["trace"]]
        k = b["kind"]
        if err:
            errors.append({"test": b["test"], "trace": b["trace"], "error": err})
        st[k]["logs"] += 1
        st[k]["rows"] += len(b["rows"])
        ours = (recs or {}).get(k, [])
        st[k]["ours"] += len(ours)
        m, misses = score_log(k, b["rows"], ours)
        st[k]["matched"] += m
        if m == len(b["rows"]):
            st[k]["logs_ok"] += 1
        st[k]["tuple_found"] += m + sum(
            1 for miss in misses if miss[0][0] != "no record with this 4-tuple")
        for miss in misses:
            for f, e, o in miss:
                fields[k][f] += 1
                examples.setdefault((k, f), (b["test"], str(e)[:70], str(o)[:70]))
        details.append({"test": b["test"], "kind": k, "rows": len(b["rows"]), "matched": m,
                        "records": len(ours),
                        "misses": [[[f, str(e), str(o)] for f, e, o in miss] for miss in misses]})

    print("zeek: %d distinct baselines (%d repeats skipped), %d traces" % (
        len(baselines), sum(dup.values()), len(traces)))
    print("%-5s %6s %6s %8s %8s %8s %9s %8s" % ("log", "rows", "ok", "share", "4-tuple",
                                                "records", "logs ok", "min"))
    summary = {"corpus": a.corpus, "keys": KEYS, "logs": {}, "errors": errors,
               "details": details}
    below = []
    for k in KINDS:
        s = st[k]
        share = 100.0 * s["matched"] / s["rows"] if s["rows"] else 0.0
        print("%-5s %6d %6d %7.1f%% %8d %8d %9s %8s" % (
            k, s["rows"], s["matched"], share, s["tuple_found"], s["ours"],
            "%d/%d" % (s["logs_ok"], s["logs"]),
            ("%.1f%%" % mins[k]) if k in mins else "-"))
        summary["logs"][k] = {
            "baselines": s["logs"], "rows": s["rows"], "matched": s["matched"],
            "share": round(share, 2), "rows_with_4tuple_found": s["tuple_found"],
            "our_records": s["ours"], "baselines_fully_matched":
            s["logs_ok"], "top_mismatches": [
                {"field": f, "rows": n, "example_test": examples[(k, f)][0],
                 "expected": examples[(k, f)][1], "ours": examples[(k, f)][2]}
                for f, n in fields[k].most_common(a.top)]}
        if k in mins and share < mins[k]:
            below.append("%s %.1f%% < %.1f%%" % (k, share, mins[k]))
    print("(ok: rows matched on all key fields; 4-tuple: rows for which we have a record with "
          "the same 4-tuple)")
    for k in KINDS:
        if fields[k]:
            print("\ntop %s mismatches (field: unmatched rows; example expected vs ours):" % k)
            for f, n in fields[k].most_common(a.top):
                t, e, o = examples[(k, f)]
                print("  %-28s %4d  %s: %s vs %s" % (f, n, t, e, o))
    if errors:
        print("\nbannin runs with errors: %d (first: %s: %s)" % (
            len(errors), errors[0]["trace"], errors[0]["error"]))
    if a.verbose:
        for d in details:
            if d["matched"] != d["rows"]:
                print("%s %s: %d/%d rows, %d records; %s" % (
                    d["test"], d["kind"], d["matched"], d["rows"], d["records"], d["misses"][:3]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    if below:
        print("\nBELOW MINIMUM: " + "; ".join(below))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
