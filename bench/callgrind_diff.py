#!/usr/bin/python3
"""Per-call instruction profile from two callgrind runs of the same program (issue #7).

  bench/callgrind_diff.py SHORT LONG CALLS [--inclusive | --by-object] [--top N]

SHORT and LONG are callgrind output files of runs that differ only in the number of calls
(bench/compare.py keeps them in <build>/bench-callgrind/); CALLS is the difference in calls.
Start-up and shut-down cancel out: each function's cost is (LONG - SHORT) / CALLS.
Uses callgrind_annotate; --inclusive counts callees too (the call-path view); --by-object sums
the self cost per shared object (program, libnghttp2, libc, libgrpc, ...).
"""

import argparse
import re
import subprocess
import sys


def costs(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = m.group(2)
        # "file:function [object]" -> "function [object basename]"
        name = re.sub(r"^\S*?:(?=[^/]*$|\w)", "", name, count=1) if ":" in name else name
        name = re.sub(r"\[(?:.*/)?([^/\]]+)\]$", r"[\1]", name)
        table[name] = table.get(name, 0) + int(m.group(1).replace(",", ""))
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("short")
    ap.add_argument("long")
    ap.add_argument("calls", type=float)
    ap.add_argument("--inclusive", action="store_true")
    ap.add_argument("--by-object", action="store_true")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--width", type=int, default=150)
    a = ap.parse_args()
    s, lg = costs(a.short, a.inclusive), costs(a.long, a.inclusive)
    diff = {k: (lg.get(k, 0) - s.get(k, 0)) / a.calls for k in set(s) | set(lg)}
    if a.by_object and not a.inclusive:
        objects = {}
        for name, v in diff.items():
            m = re.search(r"\[([^\]]+)\]$", name)
            obj = re.sub(r"\.so[.\d]*$", ".so", m.group(1)) if m else "?"
            objects[obj] = objects.get(obj, 0) + v
        diff = objects
    total = sum(v for v in diff.values() if v > 0) if not a.inclusive else None
    rows = sorted(diff.items(), key=lambda kv: -kv[1])[: a.top]
    if total:
        print(f"{total:10.0f}  Ir per call, all functions (self)")
    for name, v in rows:
        share = f"{100 * v / total:5.1f}%" if total else ""
        print(f"{v:10.0f}  {share:6} {name[: a.width]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
