#!/usr/bin/env python3
"""Summarises bench/iquant_table.sh's Markdown table.

  bench/iquant_summary.py table.md

For each llama.cpp type: each lieq row's excess perplexity over F32 as a
ratio of llama.cpp's file's excess (per evaluation text; the issue's target
is at most 0.75), its KLD ratio, and whether its file is at most the size of
llama.cpp's. A ratio below 1 means lieq's file is closer to F32.
"""
import re
import sys


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def value(cell):
    m = re.match(r"(-?[0-9.]+)", cell)
    return float(m.group(1)) if m else None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = [cells(l) for l in open(sys.argv[1]) if l.startswith("| ") and "---" not in l]
    header, rows = rows[0], rows[1:]
    n_ppl = sum(1 for h in header if h.startswith("ppl "))
    f32 = next(r for r in rows if r[0] == "F32")
    base = [value(c) for c in f32[3:3 + n_ppl]]
    texts = [h[4:] for h in header[3:3 + n_ppl]]
    print("| lieq row | bytes vs llama.cpp | " + " | ".join(f"excess ppl ratio {t}" for t in texts)
          + " | KLD ratio |")
    print("|---|---|" + "---|" * n_ppl + "---|")
    ref = None
    for r in rows:
        if r[0].startswith("llama.cpp "):
            ref = r
            continue
        if not r[0].startswith("lieq gptq") or ref is None or len(r) < 4 + n_ppl:
            continue
        ratios = []
        for i in range(n_ppl):
            ex_l, ex_r = value(r[3 + i]) - base[i], value(ref[3 + i]) - base[i]
            ratios.append(f"{ex_l / ex_r:.3f}" if ex_r > 0 else "n/a")
        kld = value(r[3 + n_ppl]) / value(ref[3 + n_ppl])
        size = "<=" if int(r[1]) <= int(ref[1]) else "OVER"
        print(f"| {r[0]} (vs {ref[0]}) | {size} | " + " | ".join(ratios) + f" | {kld:.3f} |")


if __name__ == "__main__":
    main()
