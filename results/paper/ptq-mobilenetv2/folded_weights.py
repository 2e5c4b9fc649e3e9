#!/usr/bin/env python3
"""How many of a CIFAR MobileNetV2's BN-folded conv weights round to zero
under PTQ's symmetric k-bit weight quantizer (PROTOCOL section 4: scale =
max|w| / (2^(k-1) - 1), round half to even), per tensor and per output
channel. Reads a safetensors file with pytorch-cifar's names, as
`mlsysrep export -table ptq-mobilenetv2 -preset paper -o FILE` writes it.

    python3 folded_weights.py FILE [BITS]

Needs only Python 3 and PyTorch (Debian's python3-torch)."""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "I64": torch.int64}


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def main():
    path = sys.argv[1]
    bits = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    qmax = 2 ** (bits - 1) - 1
    sd = load(path)
    rows = []
    for name in sorted(sd):
        if not name.endswith(".weight") or sd[name].dim() != 4:
            continue
        conv = name[: -len(".weight")]
        bn = conv.replace("conv", "bn") if "conv" in conv else conv[:-1] + "1"  # shortcut.0 -> shortcut.1
        w = sd[name]
        g, v = sd[bn + ".weight"], sd[bn + ".running_var"]
        folded = w * (g / torch.sqrt(v + 1e-5)).reshape(-1, 1, 1, 1)
        per_tensor = folded.abs().max() / qmax
        per_channel = folded.abs().amax(dim=(1, 2, 3), keepdim=True) / qmax
        zt = (torch.round(folded / per_tensor) == 0).float().mean().item()
        zc = (torch.round(folded / per_channel.clamp_min(1e-30)) == 0).float().mean().item()
        rows.append((conv, tuple(w.shape), zt, zc))
    print(f"{bits}-bit symmetric weights (qmax {qmax}), fraction of BN-folded weights that round to 0:")
    print(f"{'conv':24s} {'shape':18s} {'per tensor':>10s} {'per channel':>11s}")
    for conv, shape, zt, zc in rows:
        print(f"{conv:24s} {str(shape):18s} {zt:10.1%} {zc:11.1%}")
    zts = sorted(r[2] for r in rows)
    zcs = sorted(r[3] for r in rows)
    mid = len(rows) // 2
    print(f"{len(rows)} convs: median {zts[mid]:.1%} per tensor, {zcs[mid]:.1%} per channel; "
          f"worst {max(rows, key=lambda r: r[2])[0]} {zts[-1]:.1%} per tensor")


if __name__ == "__main__":
    main()
