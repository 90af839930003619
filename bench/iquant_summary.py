#!/usr/bin/env python3
"""Summarises a bench/iquant_table.sh run from its work directory.

  bench/iquant_summary.py WORK [TYPES...]

For each llama.cpp type T (ref-T.gguf) and each lieq file made at its size
(lieq-T-ALLOCATOR-GRANULARITY.gguf): the file's bytes, its excess perplexity
over the F32 file on the first evaluation text as llama-perplexity's paired
estimate (Mean PPL(Q)-PPL(base), with its standard error), that excess as a
ratio of llama.cpp's (the issue's target: at most 0.75), and the KL
divergence with its ratio. A ratio below 1: lieq's file is closer to F32.
"""
import glob
import os
import re
import sys


def stat(log, key):
    try:
        text = open(log, encoding="utf-8", errors="replace").read()
    except OSError:
        return None
    m = re.search(re.escape(key) + r"\s*:\s*(-?[0-9.]+)\s*±\s*([0-9.]+)", text)
    return (float(m.group(1)), float(m.group(2))) if m else None


def row(path):
    ex = stat(path + ".kld.log", "Mean PPL(Q)-PPL(base)")
    kld = stat(path + ".kld.log", "Mean    KLD")
    return os.path.getsize(path), ex, kld


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    work = sys.argv[1]
    types = sys.argv[2:] or [os.path.basename(p)[4:-5] for p in sorted(glob.glob(f"{work}/ref-*.gguf"))]
    print("| size of | file | bytes | excess ppl (paired) | ratio | KLD | ratio |")
    print("|---|---|---|---|---|---|---|")
    for t in types:
        ref = f"{work}/ref-{t}.gguf"
        if not os.path.exists(ref):
            continue
        rb, rex, rkld = row(ref)
        if rex is None or rkld is None:
            continue
        print(f"| {t} | llama.cpp {t} | {rb} | {rex[0]:.3f} ± {rex[1]:.3f} | 1 | {rkld[0]:.4f} ± {rkld[1]:.4f} | 1 |")
        for f in sorted(glob.glob(f"{work}/lieq-{t}-*.gguf")):
            b, ex, kld = row(f)
            if ex is None or kld is None:
                continue
            name = os.path.basename(f)[len(f"lieq-{t}-"):-5]
            over = "" if b <= rb else " (OVER)"
            print(f"| {t} | lieq {name} | {b}{over} | {ex[0]:.3f} ± {ex[1]:.3f} | {ex[0] / rex[0]:.2f} "
                  f"| {kld[0]:.4f} ± {kld[1]:.4f} | {kld[0] / rkld[0]:.2f} |")


if __name__ == "__main__":
    main()
