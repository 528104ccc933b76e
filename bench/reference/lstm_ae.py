#!/usr/bin/python3
"""PyTorch (CPU) reference for bench part (l): the library's LSTM autoencoder on the same ECG windows.

The windows come from the C# side (bench part (l) writes them: NormalizeMeanVariance + SlidingWindows over the
electrocardiogram with planted anomalies), so both sides train and score exactly the same rows. The network is the
library's recurrent body with a deterministic code and no hidden code layers (RecurrentAutoencoderNetwork):

  encoder  LSTM(features -> H), batch first; its final hidden state h_T (H values)
  code     Linear(H -> K), linear                      (the latent code)
  decoder  Linear(K -> H) + Tanh, repeated at every step (repeat vector), LSTM(H -> H), Linear(H -> features) per step

MSE loss (mean over values), Adam(lr) with PyTorch defaults, CosineAnnealingLR(T_max = epochs) stepped per epoch (the
library's cosine schedule), batch B, rows reshuffled every epoch, the last partial batch kept. PyTorch's default
initialisation (LSTM uniform(+-1/sqrt(H)); Linear kaiming-uniform) is what the library uses, but the random streams
differ: same distributions, not the same weights.

Scores: a window's score is its MSE; a point's score is the mean, over the windows covering it, of the squared error at
that step (the library's TimeStepErrors). AUROC and best F1 per window (label: the window touches an anomaly) and per
point. Throughput: training windows per second over the epochs after --warmup-epochs.

Also checked: float32 against float64 for this LSTM (the trained weights, the test windows): PyTorch 1.13's float32
LSTM agrees with float64 on the machines this was run on (libtorch 2.10's float32 inference kernel, through
TorchSharp, did not: see src/Ml.Autoencoders.Core/Networks/Recurrent/Lstm.cs).

Run through run_reference.sh so that openblas-openmp is used.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from early_threads import HAVE_TPC  # noqa: E402  (before numpy: may set the BLAS thread variables)

import numpy as np  # noqa: E402

from dense_ae import blas_info, blas_string, deb_version  # noqa: E402


def auroc(scores, labels):
    """Mann-Whitney AUROC with average ranks for ties (as the C# side computes it)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def best_f1(scores, labels):
    """The best F1 over all thresholds (flag the scores above it)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    s, lab = scores[order], labels[order]
    tp = np.cumsum(lab)
    flagged = np.arange(1, len(s) + 1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold cannot split a tie group
    precision = tp / flagged
    recall = tp / max(1, lab.sum())
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0)
    return float(f1[last_of_tie].max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", required=True, help="the binary file bench part (l) writes")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--warmup-epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set", flush=True)
    if HAVE_TPC:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.threads)
    import torch
    import torch.nn as nn
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    bi = blas_info()
    versions = {"torch": torch.__version__, "torch_deb": deb_version("python3-torch"), "numpy": np.__version__,
                "blas": blas_string(bi), "blas_kernel": bi["kernel"], "torch_threads": torch.get_num_threads()}
    print("versions: " + ", ".join(f"{k}={v}" for k, v in versions.items()), flush=True)

    # The file: int32 magic 0x4C4D5345 ("ESML"), window, features, train windows, test windows, test length; then
    # float32 train windows, float32 test windows, int64 test window starts, uint8 test point labels.
    with open(args.windows, "rb") as f:
        head = np.frombuffer(f.read(24), dtype="<i4")
        if head[0] != 0x4C4D5345:
            raise SystemExit(f"{args.windows}: not a bench (l) windows file")
        window, features, n_train, n_test, length = (int(v) for v in head[1:])
        width = window * features
        x_train = np.frombuffer(f.read(4 * n_train * width), dtype="<f4").reshape(n_train, window, features).copy()
        x_test = np.frombuffer(f.read(4 * n_test * width), dtype="<f4").reshape(n_test, window, features).copy()
        starts = np.frombuffer(f.read(8 * n_test), dtype="<i8").copy()
        point_labels = np.frombuffer(f.read(length), dtype=np.uint8).astype(bool)
    window_labels = np.array([point_labels[s:s + window].any() for s in starts])

    class LstmAutoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.LSTM(features, args.hidden, batch_first=True)
            self.decoder = nn.LSTM(args.hidden, args.hidden, batch_first=True)
            self.output = nn.Linear(args.hidden, features)
            self.code = nn.Linear(args.hidden, args.latent)
            self.back = nn.Linear(args.latent, args.hidden)

        def forward(self, x):
            _, (h, _) = self.encoder(x)
            state = torch.tanh(self.back(self.code(h[-1])))
            repeated = state.unsqueeze(1).expand(-1, x.shape[1], -1)
            out, _ = self.decoder(repeated)
            return self.output(out)

    torch.manual_seed(args.seed)
    model = LstmAutoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    data = torch.from_numpy(x_train)
    generator = torch.Generator().manual_seed(args.seed)
    epoch_seconds, losses = [], []
    fit_start = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n_train, generator=generator)
        total = 0.0
        for b in range(0, n_train, args.batch):
            batch = data[order[b:b + args.batch]]
            optimizer.zero_grad(set_to_none=True)
            loss = ((model(batch) - batch) ** 2).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.shape[0]
        schedule.step()
        epoch_seconds.append(time.perf_counter() - t0)
        losses.append(total / n_train)
    fit_seconds = time.perf_counter() - fit_start
    timed = epoch_seconds[args.warmup_epochs:] or epoch_seconds
    samples_per_s = n_train * len(timed) / sum(timed)
    print(f"PyTorch LSTM autoencoder: {args.epochs} epochs in {fit_seconds:.1f}s, {samples_per_s:,.0f} windows/s after "
          f"{args.warmup_epochs} warm-up epoch(s), final training loss {losses[-1]:.4g}", flush=True)

    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x_test)
        recon = torch.cat([model(xt[b:b + 1024]) for b in range(0, n_test, 1024)]).numpy()
        # float32 against float64 with the same (trained) weights, on the first 256 test windows.
        model64 = LstmAutoencoder().double()
        model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        diff32 = float((model64(xt[:256].double()) - model(xt[:256]).double()).abs().max())
    squared = ((recon - x_test) ** 2).mean(axis=2)  # (windows, steps): mean over the step's features
    window_scores = squared.mean(axis=1)
    sums = np.zeros(length)
    counts = np.zeros(length, dtype=np.int64)
    for w, s in enumerate(starts):
        sums[s:s + window] += squared[w]
        counts[s:s + window] += 1
    covered = counts > 0
    point_scores = sums[covered] / counts[covered]
    result = {
        "window_auroc": auroc(window_scores, window_labels), "window_best_f1": best_f1(window_scores, window_labels),
        "point_auroc": auroc(point_scores, point_labels[covered]), "point_best_f1": best_f1(point_scores, point_labels[covered]),
        "samples_per_s": samples_per_s, "fit_seconds": fit_seconds, "epoch_seconds": epoch_seconds, "final_loss": losses[-1],
        "float32_vs_float64_max_abs": diff32, "n_train": n_train, "n_test": n_test, "window": window, "threads": args.threads,
        "versions": versions,
    }
    print(f"window AUROC {result['window_auroc']:.4f}, best F1 {result['window_best_f1']:.4f}; point AUROC "
          f"{result['point_auroc']:.4f}, best F1 {result['point_best_f1']:.4f}; float32 vs float64 output: max |diff| "
          f"{diff32:.2e}", flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
