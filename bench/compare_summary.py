#!/usr/bin/env python3
"""Side-by-side table of two sets of bench/run.sh logs (used by bench/compare.sh).

    python3 bench/compare_summary.py LOGDIR [--parts abcde] [--noise-band 10] [--noise-floor 3] [--quality-band 1]
                                            [--max-band 50]

LOGDIR holds <part>-before.log and <part>-after.log per part letter (as bench/compare.sh writes them). From each log
it reads the closing SUMMARY table (figure | library | reference | ratio | target | result; the column widths come
from the header line, since figures may contain ' | ') and the per-repetition lines ("rep N A library : ...") that
give the noise band. Output: figure | before ratio | after ratio | after/before, then one verdict line per part.
"""
import argparse
import math
import os
import re
import statistics
import sys

# ---------------------------------------------------------------------------------------------------------------------
# Summary table


def parse_summary(text):
    """Rows of the last SUMMARY table in text: list of dicts, plus the SUMMARY line and the targets line."""
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.startswith("SUMMARY  ("):
            start = i
    if start is None:
        return None, None, None
    header_i = None
    for i in range(start + 1, min(start + 6, len(lines))):
        if lines[i].startswith("figure ") and " | " in lines[i]:
            header_i = i
            break
    if header_i is None:
        return None, lines[start], None
    header = lines[header_i]
    c1 = header.index(" | ")                       # end of the figure column (padded to its widest entry)
    c2 = header.index(" | ", c1 + 3)               # end of the library column
    c3 = header.index(" | ", c2 + 3)               # end of the reference column
    rows = []
    targets = None
    for line in lines[header_i + 1:]:
        if set(line.strip()) == {"-"}:
            continue
        if line.startswith("note: "):
            continue
        if line.startswith("targets: "):
            targets = line
            break
        if len(line) < c3 + 3 or line[c1:c1 + 3] != " | " or line[c2:c2 + 3] != " | " or line[c3:c3 + 3] != " | ":
            break
        rest = line[c3 + 3:].split(" | ")
        if len(rest) < 3:
            break
        ratio_text = rest[0].strip()
        rows.append({
            "figure": line[:c1].rstrip(),
            "library": line[c1 + 3:c2].strip(),
            "reference": line[c2 + 3:c3].strip(),
            "ratio": to_float(ratio_text),
            "ratio_text": ratio_text,
            "target": " | ".join(rest[1:-1]).strip(),
            "result": rest[-1].strip(),
        })
    return rows, lines[start], targets


def to_float(text):
    """The ratio column as a number; None when empty, NaN or infinite (.NET prints those as NaN and the infinity sign)."""
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def masked(figure):
    """The figure with its digits masked: matches rows whose text carries a run-dependent number (epochs, seconds)."""
    return re.sub(r"[0-9][0-9,.]*", "#", figure)


def match_rows(before, after):
    """Pairs (b, a) in the after-table's order; exact figure text first, then by masked digits in order of appearance."""
    pairs = []
    used_b = set()
    b_by_fig = {}
    for i, r in enumerate(before):
        b_by_fig.setdefault(r["figure"], []).append(i)
    a_match = [None] * len(after)
    for j, r in enumerate(after):
        cands = [i for i in b_by_fig.get(r["figure"], []) if i not in used_b]
        if cands:
            a_match[j] = cands[0]
            used_b.add(cands[0])
    for j, r in enumerate(after):
        if a_match[j] is not None:
            continue
        cands = [i for i, b in enumerate(before) if i not in used_b and masked(b["figure"]) == masked(r["figure"])]
        if cands:
            a_match[j] = cands[0]
            used_b.add(cands[0])
    # Output order: after's order, with before-only rows placed after the last matched row before them.
    out = []
    pending_b = [i for i in range(len(before)) if i not in used_b]
    for j, r in enumerate(after):
        i = a_match[j]
        if i is not None:
            while pending_b and pending_b[0] < i:
                out.append((before[pending_b.pop(0)], None))
            out.append((before[i], r))
        else:
            out.append((None, r))
    for i in pending_b:
        out.append((before[i], None))
    return out


SPEED = re.compile(r"samples/s|rows/s|GFLOP|speed|slowdown| s[ ,(:]| s$")


def is_speed(figure):
    return bool(SPEED.search(figure))


# ---------------------------------------------------------------------------------------------------------------------
# Repetition spread (the noise band)

REP = re.compile(r"^\s*rep (\d+) (A'|A|B|C) ([^:]+?)\s*: ?(.*)$")
REP_B = re.compile(r"^\s*rep (\d+): cursor\s+([\d,]+) rows/s \| raw batch-1024\s+([\d,]+) rows/s \| "
                   r"PredictionEngine\s+([\d,]+) rows/s \| raw 1-row\s+([\d,]+) rows/s")


def num(s):
    return float(s.replace(",", ""))


def headline(value):
    """The timed figure of a repetition line: a throughput (samples/s) or a time (s)."""
    m = re.search(r"median\s+([\d,]+(?:\.\d+)?)", value)
    if m:
        return num(m.group(1))
    m = re.search(r"predict ([\d.]+)s", value)
    if m:
        return num(m.group(1))
    m = re.search(r"([\d.]+)s total", value)
    if m:
        return num(m.group(1))
    m = re.match(r"\s*([\d,]+(?:\.\d+)?)\s*(samples/s|rows/s|s\b)", value)
    if m:
        return num(m.group(1))
    return None


def rep_series(text):
    """Per-repetition ratios library / other side, as lists (one per compared pair and group)."""
    series = {}
    group = 0
    cur = {}          # (rep, role) -> value in this group

    def flush():
        libs = {rep: v for (rep, role), v in cur.items() if role == "library"}
        for (rep, role), v in cur.items():
            if role == "library" or rep not in libs or v == 0:
                continue
            series.setdefault((group, role), []).append(libs[rep] / v)

    for line in text.splitlines():
        m = REP_B.match(line)
        if m:
            c, b, p, s1 = (num(m.group(k)) for k in range(2, 6))
            for name, x, y in (("cursor/raw", c, b), ("pe/raw1", p, s1), ("pe/cursor", p, c)):
                if y > 0:
                    series.setdefault(("b", name), []).append(x / y)
            continue
        m = REP.match(line)
        if not m:
            continue
        rep, role, value = int(m.group(1)), m.group(3).strip(), m.group(4)
        if "class" in role:
            continue
        v = headline(value)
        if v is None:
            continue
        if m.group(2) == "A" and role == "library" and cur and (rep == 1 or (rep, "library") in cur):
            # the repetition count starts again: the next variant / size of the same part
            flush()
            group += 1
            cur = {}
        cur[(rep, role)] = v
    flush()
    return {k: v for k, v in series.items() if len(v) >= 2}


def spread(series):
    """Largest relative range max/min - 1 of the per-repetition ratios, and the repetition count behind it."""
    best, reps = None, 0
    for vals in series.values():
        lo, hi = min(vals), max(vals)
        if lo <= 0:
            continue
        s = hi / lo - 1
        if best is None or s > best:
            best, reps = s, len(vals)
    return best, reps


# ---------------------------------------------------------------------------------------------------------------------


def fmt_ratio(r):
    if r is None:
        return "-"
    if r["ratio"] is not None:
        return f"{r['ratio']:.3f}"
    return r["ratio_text"] or "(none)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log_dir")
    ap.add_argument("--parts", default=None, help="part letters in order (default: every <letter>-after.log present)")
    ap.add_argument("--noise-band", type=float, default=10.0)
    ap.add_argument("--noise-floor", type=float, default=3.0)
    ap.add_argument("--quality-band", type=float, default=1.0)
    ap.add_argument("--max-band", type=float, default=50.0, help="a measured band above this (percent) is no verdict")
    args = ap.parse_args()

    parts = args.parts
    if parts is None:
        parts = "".join(sorted({f[0] for f in os.listdir(args.log_dir) if re.fullmatch(r"[a-z]-(before|after)\.log", f)}))
    info = os.path.join(args.log_dir, "compare.info")
    if os.path.exists(info):
        with open(info) as fh:
            for line in fh:
                k, _, v = line.rstrip("\n").partition("=")
                if k in ("before", "after", "options"):
                    print(f"{k:8}: {v}")

    table = []        # (figure, before, after, after/before, kind, note)
    verdicts = []
    totals = []
    for p in parts:
        side = {}
        for s in ("before", "after"):
            path = os.path.join(args.log_dir, f"{p}-{s}.log")
            text = open(path, errors="replace").read() if os.path.exists(path) else ""
            rows, summary, targets = parse_summary(text)
            side[s] = (rows, summary, targets, rep_series(text), path if text else None)
        rb, ra = side["before"][0], side["after"][0]
        totals.append((p, side["before"][1], side["before"][2], side["after"][1], side["after"][2]))
        if rb is None or ra is None:
            missing = " and ".join(s for s in ("before", "after") if side[s][0] is None)
            table.append((f"({p}) no SUMMARY table in the {missing} log", "", "", "", "", ""))
            verdicts.append(f"({p}) cannot compare: no summary table in the {missing} log"
                            f" ({', '.join(str(side[s][4]) for s in ('before', 'after') if side[s][0] is None)})")
            continue
        moves = {"speed": [], "quality": []}
        for b, a in match_rows(rb, ra):
            fig = (a or b)["figure"]
            note = ""
            if a is None:
                note = "before only"
            elif b is None:
                note = "after only"
            elif b["figure"] != a["figure"]:
                note = f"before: {b['figure']}"
            kind = "speed" if is_speed(fig) else "quality"
            rel = ""
            if a is not None and b is not None and a["ratio"] is not None and b["ratio"] is not None and b["ratio"] != 0:
                q = a["ratio"] / b["ratio"]
                rel = f"{q:.3f}"
                moves[kind].append((abs(math.log(q)) if q > 0 else float("inf"), q, fig))
            elif a is not None and b is not None and a["ratio"] is None and b["ratio"] is None:
                kind = ""
                lb, la = b["library"], a["library"]
                if lb or la:
                    note = (note + "; " if note else "") + (f"no ratio; library {lb} -> {la}" if lb != la else f"no ratio; library {la} both")
            table.append((fig, fmt_ratio(b), fmt_ratio(a), rel, kind if rel else "", note))

        sb, nb = spread(side["before"][3])
        sa, na = spread(side["after"][3])
        measured = [s for s in (sb, sa) if s is not None]
        if measured:
            band = max(max(measured), args.noise_floor / 100)
            src = (f"largest per-repetition spread of library/reference in these runs: before "
                   f"{'-' if sb is None else f'{100 * sb:.1f}%'} ({nb} reps), after "
                   f"{'-' if sa is None else f'{100 * sa:.1f}%'} ({na} reps); floor {args.noise_floor:g}%")
        else:
            band = args.noise_band / 100
            src = f"fixed {args.noise_band:g}%, a judgment: fewer than 2 repetitions to measure a spread"
        for kind, bnd, bsrc in (("speed", band, src),
                                ("quality", args.quality_band / 100,
                                 f"fixed {args.quality_band:g}%, a judgment: same seeds give the same outputs, only "
                                 f"thread scheduling and the reference's own noise move these")):
            mv = moves[kind]
            if not mv:
                continue
            worst = max(mv)
            moved = [m for m in mv if abs(m[1] - 1) > bnd]
            verdict = "within noise" if not moved else f"MOVED beyond noise ({len(moved)} of {len(mv)} rows)"
            if bnd > args.max_band / 100:
                verdict = (f"TOO NOISY TO JUDGE (band above {args.max_band:g}%: rerun on a quieter machine or with more "
                           f"repetitions; {'no row' if not moved else f'{len(moved)} of {len(mv)} rows'} beyond it)")
            verdicts.append(f"({p}) {kind:7}: {verdict}; largest move {100 * (worst[1] - 1):+.1f}% ({worst[2]}); "
                            f"band +-{100 * bnd:.1f}% ({bsrc})")
            for m in sorted(moved, reverse=True):
                if m is not worst:
                    verdicts.append(f"          also {100 * (m[1] - 1):+.1f}%: {m[2]}")

    w0 = max([len("figure")] + [len(r[0]) for r in table])
    w1 = max([len("before ratio")] + [len(r[1]) for r in table])
    w2 = max([len("after ratio")] + [len(r[2]) for r in table])
    print()
    print("BEFORE / AFTER  (ratio = the summary table's ratio column; after/before = after ratio / before ratio)")
    head = f"{'figure'.ljust(w0)} | {'before ratio'.rjust(w1)} | {'after ratio'.rjust(w2)} | after/before | kind    | note"
    print(head)
    print("-" * len(head))
    for fig, b, a, rel, kind, note in table:
        print(f"{fig.ljust(w0)} | {b.rjust(w1)} | {a.rjust(w2)} | {rel.rjust(12)} | {kind.ljust(7)} | {note}")
    print()
    for v in verdicts:
        print(v)
    print()
    for p, sb, tb, sa, ta in totals:
        def short(s, t):
            if s is None:
                return "no summary"
            m = re.search(r"total (\d+)s", s)
            return (f"{m.group(1)}s" if m else "?") + (f", {t[len('targets: '):].split('  ')[0]}" if t else "")
        print(f"({p}) program time and targets: before {short(sb, tb)}; after {short(sa, ta)}")
    for p in parts:
        for s in ("before", "after"):
            print(f"log ({p}) {s:6}: {os.path.join(args.log_dir, f'{p}-{s}.log')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
