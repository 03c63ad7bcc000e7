#!/usr/bin/python3
"""Markdown tables from a jalad calibration (the ones in docs/planner.md).

    /usr/bin/python3 scripts/calib_tables.py MODEL.onnx CALIB.json [--jalad build/jalad]

Prints two tables: the largest accuracy loss at c >= 4 bits per kind of cut
(input, after an activation/pooling/flatten, before an activation) for
per-tensor and per-channel ranges, and one row per cut with the loss at
2..8 bits and the bytes at 4 bits per tensor (per-message Huffman against
the best coder). Only the standard library; the op of each node comes from
`jalad info MODEL --json`.
"""

import argparse
import json
import subprocess
import sys

PRE_ACTIVATION = {"Conv", "Gemm", "Add", "MatMul", "ConvTranspose"}


def loss_pts(cal, cell):
    return 100.0 * (cal["float"]["accuracy"] - cell["accuracy"])


def entry(cal, bits, per_channel):
    for i, (b, pc) in enumerate(zip(cal["bits"], cal["per_channel"])):
        if b == bits and pc == per_channel:
            return i
    return None


def kind(cut, ops):
    if cut == 0:
        return "input"
    return "pre" if ops[cut - 1] in PRE_ACTIVATION else "post"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("calib")
    ap.add_argument("--jalad", default="build/jalad")
    a = ap.parse_args()
    info = json.loads(subprocess.run([a.jalad, "info", a.model, "--json"], check=True,
                                     capture_output=True, text=True).stdout)
    ops = [n["op"] for n in info["nodes"]]
    with open(a.calib) as f:
        cal = json.load(f)
    coders = cal["coders"]
    cuts = [c for c in cal["cuts"] if c.get("cells")]

    # Summary: worst loss at c >= 4 per kind of cut and quantizer.
    print("| ranges | input (cut 0) | after an activation, pooling or flatten "
          "| before an activation (Conv, Gemm or Add output) |")
    print("|---|---|---|---|")
    for pc, name in ((False, "per tensor (JALAD)"), (True, "per channel")):
        worst = {}
        for c in cuts:
            k = kind(c["cut"], ops)
            for i, cell in enumerate(c["cells"]):
                if cal["per_channel"][i] != pc or cal["bits"][i] < 4:
                    continue
                v = loss_pts(cal, cell)
                if k not in worst or v > worst[k][0]:
                    worst[k] = (v, c["cut"], cal["bits"][i])
        row = []
        for k in ("input", "post", "pre"):
            if k in worst:
                v, cut, b = worst[k]
                row.append(f"{v:.2f} (cut {cut}, {b} bits)")
            else:
                row.append("-")
        print(f"| {name} | " + " | ".join(row) + " |")
    print()

    # Per cut.
    cols = [(b, False) for b in (2, 3, 4, 5, 8)] + [(b, True) for b in (2, 3, 4)]
    idx = [entry(cal, b, pc) for b, pc in cols]
    e4 = entry(cal, 4, False)
    ef = entry(cal, 0, False)
    jh = coders.index("huffman") if "huffman" in coders else None
    head = ["cut", "after", "values"] + [f"{b}{'c' if pc else 't'}" for b, pc in cols]
    head += ["4t bytes: huffman / best (coder)", "f32 raw"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for c in cuts:
        k = c["cut"]
        cells = c["cells"]
        row = [str(k), "(input)" if k == 0 else ops[k - 1], str(c["values"])]
        for i in idx:
            row.append("-" if i is None else f"{loss_pts(cal, cells[i]):.2f}")
        if e4 is not None and jh is not None:
            mb = cells[e4]["mean_bytes"]
            best = min((v, j) for j, v in enumerate(mb) if v is not None)
            row.append(f"{mb[jh]:.0f} / {best[0]:.0f} ({coders[best[1]]})")
        else:
            row.append("-")
        if ef is not None:
            raw = cells[ef]["mean_bytes"][coders.index("raw")]
            row.append(f"{raw:.0f}")
        else:
            row.append("-")
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
