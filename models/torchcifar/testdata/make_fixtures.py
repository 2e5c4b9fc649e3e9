#!/usr/bin/env python3
"""Writes the small PyTorch fixtures that the Go readers of PyTorch weights are
tested against (pkg/torchfile, and the loaders of models/torchcifar).

Outputs, written next to this script:

  resnet18_w0.0625.pt            ResNet-18 (PROTOCOL section 3a) at width 0.0625,
                                 saved as kuangliu/pytorch-cifar saves its
                                 checkpoints: torch.save({"net": state_dict,
                                 "acc": 12.5, "epoch": 3}), every key carrying
                                 nn.DataParallel's "module." prefix.
  mobilenetv2_w0.125.pt          MobileNetV2 (PROTOCOL section 3b) at width 0.125,
                                 torch.save(model.state_dict()) (bare).
  mobilenetv2_w0.125.safetensors the same bare state dict as safetensors (F32
                                 tensors, num_batches_tracked as I64).
  expected.safetensors           "images": the 4 input images, NHWC [4, 32, 32, 3]
                                 float32; "resnet18_logits" and
                                 "mobilenetv2_logits": PyTorch's eval-mode outputs
                                 [4, 10] for those images.

Both networks use the module names of kuangliu/pytorch-cifar (models/resnet.py,
models/mobilenetv2.py), so that state dicts of that repository map onto the Go
models the same way these do. The width multiplier follows the Go models'
rounding (models/resnet and models/mobilenetv2, Config.Channels): a reference
channel count c becomes max(1, int(c * width + 0.5)); MobileNetV2's hidden
(expansion) channels are scaled(in) * t.

Every BatchNorm gets random weight (U[0.5, 1.5]), bias (N(0, 0.1)),
running_mean (N(0, 0.1)) and running_var (U[0.5, 1.5]), so that a reader that
maps BN's parameters or statistics wrongly gives different logits. Seeded
(torch.manual_seed(0)): reruns give the same files on the same PyTorch build.

Safetensors files are written by the small writer below (the format: an 8-byte
little-endian header length, a JSON header padded with spaces to a multiple of
8, then the raw little-endian tensor bytes), as Debian has no python3
safetensors package.

Needs Debian's python3-torch (tested with torch 1.13). Not run in CI; its
outputs are committed. Run from the repository root:

  /usr/bin/python3 models/torchcifar/testdata/make_fixtures.py

It prints the files' sizes and a few values that pkg/torchfile's tests check.
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

RESNET_WIDTH = 0.0625
MOBILENET_WIDTH = 0.125
NUM_CLASSES = 10


def scaled(c, width):
    """Config.Channels of the Go models: c * width, rounded, at least 1."""
    return max(1, int(c * width + 0.5))


# ----- ResNet-18 (kuangliu/pytorch-cifar models/resnet.py, with a width) -----


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet18(nn.Module):
    def __init__(self, width=1.0, num_classes=NUM_CLASSES, blocks=2):
        super().__init__()
        stages = [scaled(c, width) for c in (64, 128, 256, 512)]
        self.in_planes = stages[0]
        self.conv1 = nn.Conv2d(3, stages[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stages[0])
        self.layer1 = self._make_layer(stages[0], blocks, stride=1)
        self.layer2 = self._make_layer(stages[1], blocks, stride=2)
        self.layer3 = self._make_layer(stages[2], blocks, stride=2)
        self.layer4 = self._make_layer(stages[3], blocks, stride=2)
        self.linear = nn.Linear(stages[3], num_classes)

    def _make_layer(self, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.layer4(out)
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


# ----- MobileNetV2 (kuangliu/pytorch-cifar models/mobilenetv2.py, with a width) -----

# (in, out, t, stride) at reference width: PROTOCOL section 3b, models/mobilenetv2.Blocks.
MOBILENET_BLOCKS = [
    (32, 16, 1, 1),
    (16, 24, 6, 1), (24, 24, 6, 1),
    (24, 32, 6, 2), (32, 32, 6, 1), (32, 32, 6, 1),
    (32, 64, 6, 2), (64, 64, 6, 1), (64, 64, 6, 1), (64, 64, 6, 1),
    (64, 96, 6, 1), (96, 96, 6, 1), (96, 96, 6, 1),
    (96, 160, 6, 2), (160, 160, 6, 1), (160, 160, 6, 1),
    (160, 320, 6, 1),
]


class Block(nn.Module):
    """Expand (1x1) + depthwise (3x3) + project (1x1), with the shortcut of
    pytorch-cifar: at stride 1 identity when in == out, else 1x1 conv + BN; none
    at stride 2. in_planes and out_planes are already scaled; hidden = in * t."""

    def __init__(self, in_planes, out_planes, expansion, stride):
        super().__init__()
        self.stride = stride
        planes = expansion * in_planes
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride == 1 and in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x):
        out = F.relu6(self.bn1(self.conv1(x)))
        out = F.relu6(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 1:
            out = out + self.shortcut(x)
        return out


class MobileNetV2(nn.Module):
    def __init__(self, width=1.0, num_classes=NUM_CLASSES):
        super().__init__()
        stem = scaled(32, width)
        last = scaled(1280, width)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.layers = nn.Sequential(*[
            Block(scaled(cin, width), scaled(cout, width), t, s) for cin, cout, t, s in MOBILENET_BLOCKS
        ])
        self.conv2 = nn.Conv2d(scaled(320, width), last, kernel_size=1, stride=1, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(last)
        self.linear = nn.Linear(last, num_classes)

    def forward(self, x):
        out = F.relu6(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.relu6(self.bn2(self.conv2(out)))
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


# ----- helpers -----


def randomize_bn(model):
    """Random affine parameters and running statistics for every BatchNorm2d."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors):
    """Writes {name: tensor} (float32 or int64) as a safetensors file, in the
    given order, without metadata."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype not in SAFETENSORS_DTYPES:
            raise ValueError(f"{name}: dtype {t.dtype} not supported by this writer")
        arr = t.detach().contiguous().cpu().numpy()
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()  # little-endian
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    resnet = ResNet18(RESNET_WIDTH)
    mobilenet = MobileNetV2(MOBILENET_WIDTH)
    randomize_bn(resnet)
    randomize_bn(mobilenet)
    resnet.eval()
    mobilenet.eval()

    images = torch.randn(4, 3, 32, 32, dtype=torch.float32)
    with torch.no_grad():
        resnet_logits = resnet(images)
        mobilenet_logits = mobilenet(images)

    outputs = []

    path = os.path.join(HERE, "resnet18_w0.0625.pt")
    sd = resnet.state_dict()
    torch.save({"net": {"module." + k: v for k, v in sd.items()}, "acc": 12.5, "epoch": 3}, path)
    outputs.append(path)

    path = os.path.join(HERE, "mobilenetv2_w0.125.pt")
    msd = mobilenet.state_dict()
    torch.save(msd, path)
    outputs.append(path)

    path = os.path.join(HERE, "mobilenetv2_w0.125.safetensors")
    write_safetensors(path, msd)
    outputs.append(path)

    path = os.path.join(HERE, "expected.safetensors")
    write_safetensors(path, {
        "images": images.permute(0, 2, 3, 1).contiguous(),
        "resnet18_logits": resnet_logits,
        "mobilenetv2_logits": mobilenet_logits,
    })
    outputs.append(path)

    total = 0
    for p in outputs:
        n = os.path.getsize(p)
        total += n
        print(f"{os.path.relpath(p)}: {n} bytes")
    print(f"total: {total} bytes")

    print(f"resnet18: {len(sd)} tensors, {sum(v.numel() for v in resnet.parameters())} parameters")
    print(f"mobilenetv2: {len(msd)} tensors, {sum(v.numel() for v in mobilenet.parameters())} parameters")
    # A few values for pkg/torchfile's tests.
    show = [
        ("resnet18", sd, "conv1.weight", (0, 0, 0, 0)),
        ("resnet18", sd, "conv1.weight", (3, 2, 2, 1)),
        ("resnet18", sd, "layer2.0.shortcut.1.running_var", (7,)),
        ("resnet18", sd, "layer4.1.bn2.bias", (31,)),
        ("resnet18", sd, "linear.weight", (9, 31)),
        ("resnet18", sd, "linear.bias", (0,)),
        ("mobilenetv2", msd, "layers.16.conv2.weight", (119, 0, 2, 1)),
        ("mobilenetv2", msd, "layers.0.shortcut.1.running_mean", (1,)),
        ("mobilenetv2", msd, "linear.bias", (9,)),
    ]
    for model, d, name, idx in show:
        print(f"{model} {name} shape {list(d[name].shape)} {list(idx)} = {d[name][idx].item()!r}")
    print("resnet18_logits[0]:", resnet_logits[0].tolist())
    print("mobilenetv2_logits[3]:", mobilenet_logits[3].tolist())
    print("images NCHW[1, 2, 5, 7] =", images[1, 2, 5, 7].item())


if __name__ == "__main__":
    main()
