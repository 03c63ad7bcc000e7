#!/usr/bin/python3
"""Markdown table of jalad's plans against bandwidth (docs/planner.md).

    /usr/bin/python3 scripts/plan_table.py --edge E.json --cloud C.json --calib CAL.json \\
        [--rtt 20ms] [--max-loss 0.01] [--bandwidths 20kbit,50kbit,...] [--jalad build/jalad]

Runs `jalad plan ... --bandwidth B --json` for each bandwidth and prints one
row per bandwidth: jalad's plan and predicted ms beside the baselines under
the same conditions. Only the standard library.
"""

import argparse
import json
import subprocess
import sys

DEFAULT_BW = "20kbit,50kbit,100kbit,200kbit,500kbit,1mbit,2mbit,5mbit,10mbit,20mbit,50mbit,100mbit"
COLUMNS = [("jalad_paper", "JALAD paper"), ("neurosurgeon", "Neurosurgeon"),
           ("cloud_file", "cloud-only photo JPEG"), ("cloud_jpeg", "cloud-only JPEG re-encode"),
           ("cloud_png", "cloud-only PNG"), ("cloud_raw", "cloud-only raw"), ("edge_only", "edge-only")]


def describe(p, nodes):
    if p["cut"] == nodes:
        return "edge-only"
    if p["payload"] == "u8":
        return f"cut {p['cut']}, input as u8"
    if p["payload"] == "png":
        return f"cut {p['cut']}, input as PNG"
    if p["payload"] == "jpeg":
        return f"cut {p['cut']}, input re-encoded as JPEG ({p['bytes']:.0f} B, loss {100 * p['accuracy_loss']:.2f} pt)"
    if p["payload"] == "file":
        return f"cut {p['cut']}, the photo's JPEG ({p['bytes']:.0f} B)"
    q = "float32" if p["bits"] == 0 else f"{p['bits']} bits" + (" per channel" if p["per_channel"] else "")
    return (f"cut {p['cut']}, {q}, {p['coder']} ({p['bytes']:.0f} B, "
            f"loss {100 * p['accuracy_loss']:.2f} pt)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edge", required=True)
    ap.add_argument("--cloud", required=True)
    ap.add_argument("--calib", required=True)
    ap.add_argument("--rtt", default="20ms")
    ap.add_argument("--max-loss", default="0.01")
    ap.add_argument("--bandwidths", default=DEFAULT_BW)
    ap.add_argument("--jalad", default="build/jalad")
    a = ap.parse_args()
    rows = []
    for bw in a.bandwidths.split(","):
        out = subprocess.run([a.jalad, "plan", "--edge", a.edge, "--cloud", a.cloud, "--calib", a.calib,
                              "--rtt", a.rtt, "--max-loss", a.max_loss, "--bandwidth", bw, "--json"],
                             check=True, capture_output=True, text=True).stdout
        rows.append((bw, json.loads(out)))
    # baselines the calibration has (the photo-file and JPEG payloads need a
    # folder of photos)
    cols = [(k, n) for k, n in COLUMNS if any(k in d["baselines"] for _, d in rows)]
    print("| bandwidth | jalad: plan | jalad ms | " + " | ".join(n for _, n in cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for bw, d in rows:
        p = d["plan"]
        row = [bw, describe(p, d["model"]["nodes"]), f"**{p['predicted_ms']:.1f}**"]
        row += [f"{d['baselines'][k]['predicted_ms']:.1f}" if k in d["baselines"] else "-" for k, _ in cols]
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
