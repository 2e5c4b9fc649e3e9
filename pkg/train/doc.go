// Package train holds what the reference recipes need beyond GoMLX's
// ml/train: SGD with momentum and coupled weight decay (PyTorch's), learning
// rate schedules (multi-step, cosine, reduce-on-plateau), gradient-norm
// clipping, and an epoch loop with per-epoch evaluation, NaN detection,
// progress, atomic checkpoints and exact resume.
package train
