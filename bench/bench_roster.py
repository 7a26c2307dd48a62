"""Benchmark: import a 100,000-row roster CSV, against sqlite-utils insert_all of the same rows.

eo_cc: `roster_csv.parse_roster(bytes)` (decode, sniff, validate every email, duplicates)
then `roster_csv.import_roster` (one transaction: generated Voter IDs and passwords, each
password Fernet-encrypted) into a draft election. The CSV has email and name columns, as
exported from a mailing list; Voter IDs and passwords are generated.

Baseline: `csv.DictReader` over the same bytes and `sqlite_utils` `insert_all` of the same
rows into a table of the same database settings. Each side runs in its own process, so its
peak memory (VmHWM) is its own. Printed: seconds, rows/s, peak memory, and the ratio
eo_cc time / baseline time.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

ROWS = 100_000


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("email,name\r\n")
        for n in range(1, rows + 1):
            f.write(f"Member.{n}@Example.org,Member Number {n}\r\n")


def rss_mib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def eo_cc_side(csv_path, database):
    from eo_cc.roster import voters as roster_csv
    from tests.factories import make_election

    db = _common.eo_cc_database(database)
    election_id = make_election(db, _common.cheap_admin(db), state="draft", opens_in_hours=24,
                                closes_in_hours=48)
    before = rss_mib("VmRSS")
    started = time.perf_counter()
    parsed = roster_csv.parse_roster(Path(csv_path).read_bytes(),
                                     roster_csv.existing_voters(db, election_id))
    parse_s = time.perf_counter() - started
    added = roster_csv.import_roster(db, election_id, parsed, _common.SECRET_KEY)
    total = time.perf_counter() - started
    stored = db.execute("SELECT count(*) FROM voters WHERE election_id = ?", [election_id]).fetchone()[0]
    return {"seconds": total, "parse_s": parse_s, "rows": added, "stored": stored,
            "errors": len(parsed.errors), "rss_before_mib": before, "peak_rss_mib": rss_mib("VmHWM")}


def baseline_side(csv_path, database):
    import csv

    db = _common.eo_cc_database(database)   # same connection settings (WAL, busy timeout)
    before = rss_mib("VmRSS")
    started = time.perf_counter()
    with open(csv_path, encoding="utf-8", newline="") as f:
        db["plain_voters"].insert_all(csv.DictReader(f), batch_size=1000)
    total = time.perf_counter() - started
    stored = db.execute("SELECT count(*) FROM plain_voters").fetchone()[0]
    return {"seconds": total, "rows": stored, "stored": stored, "rss_before_mib": before,
            "peak_rss_mib": rss_mib("VmHWM")}


def in_child(side, csv_path, database):
    done = subprocess.run([sys.executable, __file__, "--child", side, str(csv_path), str(database)],
                          capture_output=True, text=True, timeout=300, cwd=str(_common.ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"the {side} import failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, csv_path, database = args.child
        run = eo_cc_side if side == "eo_cc" else baseline_side
        print(json.dumps(run(csv_path, database)))
        return
    with tempfile.TemporaryDirectory(prefix="eo_cc_bench_roster_") as tmp:
        csv_path = Path(tmp) / "roster.csv"
        write_csv(csv_path, args.rows)
        size = csv_path.stat().st_size
        base = in_child("baseline", csv_path, Path(tmp) / "baseline.sqlite")
        site = in_child("eo_cc", csv_path, Path(tmp) / "eo_cc.sqlite")
    ratio = site["seconds"] / base["seconds"]
    print(f"Roster benchmark: {args.rows:,} rows, {size / 1e6:.1f} MB CSV (email, name)")
    print(f"  baseline csv.DictReader + insert_all  {base['seconds']:6.2f} s  "
          f"{base['rows'] / base['seconds']:>9,.0f} rows/s  peak RSS {base['peak_rss_mib']:.0f} MiB "
          f"({base['rss_before_mib']:.0f} before)")
    print(f"  eo_cc parse_roster + import_roster    {site['seconds']:6.2f} s  "
          f"{site['rows'] / site['seconds']:>9,.0f} rows/s  peak RSS {site['peak_rss_mib']:.0f} MiB "
          f"({site['rss_before_mib']:.0f} before); parse {site['parse_s']:.2f} s, "
          f"write {site['seconds'] - site['parse_s']:.2f} s")
    print(f"  stored {site['stored']:,} voters, {site['errors']} errors; ratio eo_cc time / baseline "
          f"time = {ratio:.2f}")
    _common.result("roster", passed=site["stored"] == args.rows and site["errors"] == 0,
                   rows=args.rows, eo_cc_s=round(site["seconds"], 2), parse_s=round(site["parse_s"], 2),
                   baseline_s=round(base["seconds"], 2), ratio=round(ratio, 2),
                   eo_cc_peak_rss_mib=round(site["peak_rss_mib"]),
                   eo_cc_rss_before_mib=round(site["rss_before_mib"]),
                   baseline_peak_rss_mib=round(base["peak_rss_mib"]),
                   baseline_rss_before_mib=round(base["rss_before_mib"]))


if __name__ == "__main__":
    main()
