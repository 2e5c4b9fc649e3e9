#!/usr/bin/env python3
"""Times one SGD training step of the CIFAR ResNet-18 in PyTorch (CPU), for
comparison with `go test -bench TrainStep ./models/resnet/` (BENCHMARKS.md).

Same network as models/resnet (3x3 stem, basic blocks 64-128-256-512 times the
width, 1x1 projection shortcuts, global average pool, FC 10), PyTorch's default
(NCHW) memory format (--channels-last to compare), SGD(momentum 0.9),
cross-entropy on random data.

Usage: /usr/bin/python3 pytorch_trainstep.py [--threads 2] [--steps 10] [--width W --batch B]

--width and --batch time that one case instead of all four (compare.py's
alternating pairs).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.sc is None else self.sc(x)))


class ResNet18(nn.Module):
    def __init__(self, width):
        super().__init__()
        ch = [max(1, int(c * width + 0.5)) for c in (64, 128, 256, 512)]
        self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU())
        blocks, cin = [], ch[0]
        for i, c in enumerate(ch):
            for j in range(2):
                blocks.append(Block(cin, c, 2 if i > 0 and j == 0 else 1))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--channels-last", action="store_true", help="use channels-last memory format (slower here)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before the timed ones")
    ap.add_argument("--width", type=float, help="time this width only (with --batch)")
    ap.add_argument("--batch", type=int, help="time this batch only (with --width)")
    args = ap.parse_args()
    if (args.width is None) != (args.batch is None):
        ap.error("--width and --batch go together")
    cases = [(w, b) for w in (1.0, 0.25) for b in (32, 128)]
    if args.width is not None:
        cases = [(args.width, args.batch)]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for width, batch in cases:
        fmt = torch.channels_last if args.channels_last else torch.contiguous_format
        net = ResNet18(width).to(memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(batch, 3, 32, 32).to(memory_format=fmt)
        y = torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        for _ in range(args.warmup):  # untimed (3: as many as the Go benchmark)
            step()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        dt = (time.perf_counter() - t0) / args.steps
        print(f"pytorch width={width:g} batch={batch}: {batch / dt:.1f} images/s ({dt * 1000:.0f} ms/step)")


if __name__ == "__main__":
    main()
