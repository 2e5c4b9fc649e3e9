#!/usr/bin/env python3
"""Times one SGD training step of the CIFAR MobileNetV2 in PyTorch (CPU), for
comparison with `go test -bench TrainStep ./models/mobilenetv2/` (BENCHMARKS.md).

Same network as models/mobilenetv2 (PROTOCOL section 3b) at the quick preset's
width 0.5, every channel count c becoming max(1, int(c * 0.5 + 0.5)):

  stem   3x3 conv 3->16 s1 + BN + ReLU6                          (32x32)
  17 inverted-residual blocks (in, out, expansion t, stride s), reference sizes
  halved; hidden = rounded(in) * t:
         (16,8,1,1); (8,12,6,1), (12,12,6,1); (12,16,6,2), (16,16,6,1) x2;
         (16,32,6,2), (32,32,6,1) x3; (32,48,6,1), (48,48,6,1) x2;
         (48,80,6,2), (80,80,6,1) x2; (80,160,6,1)
         block: 1x1 expand conv + BN + ReLU6 (present even at t = 1, as in Go),
         3x3 depthwise conv (stride s, pad 1) + BN + ReLU6, 1x1 project conv + BN;
         at stride 1 a shortcut is added (identity when in == out, else 1x1
         conv + BN: blocks 0, 1, 10 and 16); at stride 2 none.
  last   1x1 conv 160->640 + BN + ReLU6                           (4x4)
  head   4x4 average pool (mean over the 4x4 map), FC 640->10 with bias.

Convs have no bias; BN is PyTorch's default (eps 1e-5, momentum 0.1); weights
keep PyTorch's default initialization (the Go model's choice too). There is no
dropout in the Go model, so none here. 602,482 trainable parameters, the count
PROTOCOL states and models/mobilenetv2's TestParameterCount asserts; the
script checks it.

Variants, as the Go benchmark's: "fp", and "dorefa:w6a6g6" with the quantizers
where models/placement puts them for DoReFa (PROTOCOL section 3d): every conv
inside the blocks (expansion, depthwise, projection, shortcut: 55 convs) has
6-bit DoReFa weights and a 6-bit DoReFa gradient quantizer right after the conv
(before its BN); both ReLU6 of every block (34) become the 6-bit DoReFa
activation quantizer. Stem conv, its ReLU6, the last 1x1 conv, its ReLU6 and
the FC stay full precision. The quantizers are torch.autograd.Functions with
the forward and backward of pkg/quant written out (round is half-to-even in
both):
  weights      t = tanh(w), M = max|t| over the tensor, u = t/(2M) + 1/2,
               w_q = 2 round(u (2^k-1))/(2^k-1) - 1; gradient straight through
               the rounding and through tanh and the max (Go differentiates
               those; its max gradient goes to every element equal to M)
  activations  round(clip(x, 0, 1) (2^k-1))/(2^k-1); gradient 1 on 0 <= x <= 1
  gradients    identity forward; backward, per sample m = max|g| over C, H, W,
               g_q = 2m [quantize_k(clip(g/(2m) + 1/2 + u/(2^k-1), 0, 1)) - 1/2],
               u ~ U[-1/2, 1/2) drawn fresh every step, 0 where m = 0.

Timing: batch 96 of random 32x32x3 images and labels, SGD(lr 0.01, momentum
0.9, weight decay 5e-4), cross-entropy, 3 warm-up steps then --steps timed
steps. (The Go benchmark uses GoMLX's plain SGD, without momentum or weight
decay, and a fresh batch each step, made outside the timer; the optimizer
update is a negligible part of the step.) PyTorch's default (NCHW) memory
format; --channels-last to compare.

Usage: /usr/bin/python3 pytorch_trainstep.py [--threads 2] [--steps 5] [--channels-last]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 0.5
BATCH = 96

# (in, out, t, stride) at reference width: models/mobilenetv2.Blocks.
BLOCKS = [
    (32, 16, 1, 1),
    (16, 24, 6, 1), (24, 24, 6, 1),
    (24, 32, 6, 2), (32, 32, 6, 1), (32, 32, 6, 1),
    (32, 64, 6, 2), (64, 64, 6, 1), (64, 64, 6, 1), (64, 64, 6, 1),
    (64, 96, 6, 1), (96, 96, 6, 1), (96, 96, 6, 1),
    (96, 160, 6, 2), (160, 160, 6, 1), (160, 160, 6, 1),
    (160, 320, 6, 1),
]

GO_PARAMS = 602482  # TestParameterCount (models/mobilenetv2), PROTOCOL "quick" at width 0.5


def channels(c, width=WIDTH):
    """Config.Channels: the reference count scaled by the width, rounded, at least 1."""
    return max(1, int(c * width + 0.5))


def quantize_unit(x, bits):
    """quantize_k for x in [0, 1], no gradient: round(x (2^k-1)) / (2^k-1)."""
    n = float((1 << bits) - 1)
    return torch.round(x * n) / n


class DoReFaWeight(torch.autograd.Function):
    """pkg/quant.DoReFaWeight for 2 <= k <= 8."""

    @staticmethod
    def forward(ctx, w, bits):
        t = torch.tanh(w)
        m = t.abs().max()
        u = t / (2 * m) + 0.5
        ctx.save_for_backward(t, m)
        return 2 * quantize_unit(u, bits) - 1

    @staticmethod
    def backward(ctx, g):
        t, m = ctx.saved_tensors
        # w_q = 2 u - 1 with the rounding passed straight through, so
        # dw_q/dt_i = 1/M, and through M = max|t|: dw_q_j/dM = -t_j/M^2, dM/dt_i =
        # sign(t_i) where |t_i| == M (every tied element, as GoMLX's ReduceMax).
        at_max = (t.abs() == m).to(g.dtype)
        gt = g / m - at_max * torch.sign(t) * ((g * t).sum() / (m * m))
        return gt * (1 - t * t), None


class DoReFaActivation(torch.autograd.Function):
    """pkg/quant.DoReFaActivation: quantize_k(clip(x, 0, 1)), gradient 1 on [0, 1]."""

    @staticmethod
    def forward(ctx, x, bits):
        ctx.save_for_backward(x)
        return quantize_unit(x.clamp(0, 1), bits)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x >= 0) & (x <= 1)).to(g.dtype), None


class DoReFaGradient(torch.autograd.Function):
    """pkg/quant.DoReFaGradient: identity forward, per-sample stochastic
    quantization of the incoming gradient backward (fresh noise every call)."""

    @staticmethod
    def forward(ctx, x, bits):
        ctx.bits = bits
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        bits = ctx.bits
        levels = float((1 << bits) - 1)
        two_m = 2 * g.abs().amax(dim=tuple(range(1, g.dim())), keepdim=True)
        safe = torch.where(two_m == 0, torch.ones_like(two_m), two_m)
        noise = (torch.rand_like(g) - 0.5) / levels
        q = quantize_unit((g / safe + 0.5 + noise).clamp(0, 1), bits)
        return two_m * (q - 0.5), None


class ConvBN(nn.Module):
    """placement.ConvBN: conv (no bias) [-> DoReFa weights, gradient quantizer
    after the conv when quantized] -> BN."""

    def __init__(self, cin, cout, kernel, stride, groups=1, wbits=None, gbits=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.wbits, self.gbits = wbits, gbits

    def forward(self, x):
        w = self.conv.weight
        if self.wbits is not None:
            w = DoReFaWeight.apply(w, self.wbits)
        y = F.conv2d(x, w, None, self.conv.stride, self.conv.padding, 1, self.conv.groups)
        if self.gbits is not None:
            y = DoReFaGradient.apply(y, self.gbits)
        return self.bn(y)


class Block(nn.Module):
    def __init__(self, cin, hidden, cout, stride, q, abits):
        super().__init__()
        self.expand = ConvBN(cin, hidden, 1, 1, **q)
        self.dw = ConvBN(hidden, hidden, 3, stride, groups=hidden, **q)
        self.project = ConvBN(hidden, cout, 1, 1, **q)
        self.stride = stride
        self.shortcut = ConvBN(cin, cout, 1, 1, **q) if stride == 1 and cin != cout else None
        self.abits = abits  # None: ReLU6

    def act(self, x):
        return F.relu6(x) if self.abits is None else DoReFaActivation.apply(x, self.abits)

    def forward(self, x):
        y = self.act(self.expand(x))
        y = self.act(self.dw(y))
        y = self.project(y)
        if self.stride != 1:
            return y
        return y + (x if self.shortcut is None else self.shortcut(x))


class MobileNetV2(nn.Module):
    def __init__(self, bits=None, classes=10):
        """bits: None for full precision, or (w, a, g) for DoReFa."""
        super().__init__()
        q = {} if bits is None else dict(wbits=bits[0], gbits=bits[2])
        abits = None if bits is None else bits[1]
        c0 = channels(32)
        self.stem = ConvBN(3, c0, 3, 1)  # full precision
        self.blocks = nn.Sequential(*[Block(channels(cin), channels(cin) * t, channels(cout), s, q, abits)
                                      for cin, cout, t, s in BLOCKS])
        self.last = ConvBN(channels(320), channels(1280), 1, 1)  # full precision
        self.fc = nn.Linear(channels(1280), classes)  # full precision

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = self.blocks(x)
        x = F.relu6(self.last(x))
        return self.fc(x.mean(dim=(2, 3)))  # 4x4 average pool on the 4x4 map


VARIANTS = {"fp": None, "dorefa:w6a6g6": (6, 6, 6)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--channels-last", action="store_true", help="use channels-last memory format")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    for variant, bits in VARIANTS.items():
        net = MobileNetV2(bits).to(memory_format=fmt)
        net.train()
        params = sum(p.numel() for p in net.parameters() if p.requires_grad)
        match = "matches Go" if params == GO_PARAMS else f"MISMATCH: Go has {GO_PARAMS:,}"
        print(f"{variant}: {params:,} trainable parameters ({match})")
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(BATCH, 3, 32, 32).to(memory_format=fmt)
        y = torch.randint(0, 10, (BATCH,))

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        for _ in range(3):  # warm-up (as many as the Go benchmark)
            step()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        dt = (time.perf_counter() - t0) / args.steps
        print(f"pytorch mobilenetv2 width={WIDTH:g} batch={BATCH} {variant}: "
              f"{BATCH / dt:.1f} images/s ({dt * 1000:.0f} ms/step)")


if __name__ == "__main__":
    main()
