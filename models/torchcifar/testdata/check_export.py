"""Load a safetensors file written by `mlsysrep export` into PyTorch.

Builds the pytorch-cifar network the file's metadata name (network, width,
ResNet's blocks_per_stage)
with make_fixtures.py's classes, loads the file with
load_state_dict(strict=True) (so every name, shape and buffer must match),
and prints the eval-mode logits of the four images of expected.safetensors.
With --expect NAME it also compares them with the logits stored under NAME
there (e.g. resnet18_logits, for an export of the imported fixture) and
fails above 1e-4.

    /usr/bin/python3 models/torchcifar/testdata/check_export.py FILE.safetensors [--expect resnet18_logits]

Needs Debian's python3-torch; not run in CI.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402

DTYPES = {"F32": (torch.float32, 4, "f"), "I64": (torch.int64, 8, "q")}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        dtype, size, fmt = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        values = struct.unpack("<%d%s" % ((end - begin) // size, fmt), data[base + begin:base + end])
        tensors[name] = torch.tensor(values, dtype=dtype).reshape(info["shape"])
    return tensors, meta


def main():
    path = sys.argv[1]
    expect = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--expect" else None
    sd, meta = read_safetensors(path)
    width = float(meta["width"])
    if meta["network"] == "resnet18":
        model = make_fixtures.ResNet18(width, blocks=int(meta.get("blocks_per_stage", 2)))
    else:
        model = make_fixtures.MobileNetV2(width)
    model.load_state_dict(sd, strict=True)
    model.eval()
    expected, _ = read_safetensors(os.path.join(make_fixtures.HERE, "expected.safetensors"))
    images = expected["images"].permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        logits = model(images)
    print("loaded %s (%s at width %g) with strict=True; logits of image 0: %s"
          % (path, meta["network"], width, logits[0].tolist()))
    if expect:
        diff = (logits - expected[expect]).abs().max().item()
        print("largest difference from %s: %.3g" % (expect, diff))
        if diff > 1e-4:
            sys.exit(1)


if __name__ == "__main__":
    main()
