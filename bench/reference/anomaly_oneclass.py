#!/usr/bin/python3
"""scikit-learn / PyTorch (CPU) reference for the one-class anomaly-detection benchmark.

Protocol (the usual one-class Fashion-MNIST set-up): for each class c in
--classes (default 0..9)
  train   on the training images of class c only (6,000 rows of the 60k train
          set; raw pixels scaled to [0, 1], float32);
  score   all 10,000 test images; score = reconstruction error = mean over the
          784 pixels of (reconstruction - x)^2 (higher = more anomalous);
  AUROC   sklearn.metrics.roc_auc_score(y, score) with y = 1 for "not class c"
          (the anomalies, 9,000 rows) and y = 0 for class c (1,000 rows).

Methods (--method pca|ae|both, default both):
  pca  sklearn PCA(n_components=--pca-components (32), svd_solver=--pca-solver
       ('full' by default: exact LAPACK SVD of the centred 6000x784 matrix),
       random_state=--seed); reconstruction = inverse_transform(transform(x)).
  ae   PyTorch dense autoencoder, PyTorch default initialisation:
         Linear(784,128) ReLU  Linear(128,32)            (linear 32-d code)
         Linear(32,128) ReLU   Linear(128,784) Sigmoid
       MSE loss (mean over all elements), Adam lr --lr (1e-3), batch --batch
       (128), --epochs (20) epochs, data reshuffled every epoch;
       torch.manual_seed(--seed) before building each class's network.
       Scoring in eval mode under no_grad, batches of 1000.

Timing per class (time.perf_counter): seconds = training + scoring of the
10,000 test images (data loading and the AUROC computation are not counted);
total_seconds = sum over the classes.

Threads: --threads goes to torch.set_num_threads (interop 1) and, with
threadpoolctl, to the BLAS/OpenMP pools numpy/sklearn use.  Run through
run_reference.sh so that openblas-openmp is used:
  bash bench/reference/run_reference.sh --script anomaly_oneclass.py --threads 2 --json
--json prints one JSON line at the end:
  {"pca": {"auroc": [...], "mean_auroc": .., "seconds": [...], "total_seconds": ..},
   "ae": {...}, "classes": [...], "versions": {...}, ...}
"""
import argparse
import json
import os
import sys
import time


sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from early_threads import HAVE_TPC  # noqa: E402  (before numpy: may set the BLAS thread variables)

import numpy as np  # noqa: E402

from dense_ae import blas_info, blas_string, deb_version, load_images, read_idx  # noqa: E402

import sklearn  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

EVAL_BATCH = 1000
AE_LAYERS = "784>128 relu >32 (linear code) >128 relu >784 sigmoid"


def load_labels(data_dir, prefix):
    return read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)


# ----------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------
def pca_class(x_train, x_test, args):
    """Fit PCA on one class; returns (scores float64 (N,), seconds)."""
    t0 = time.perf_counter()
    pca = PCA(n_components=args.pca_components, svd_solver=args.pca_solver, random_state=args.seed)
    pca.fit(x_train)
    rec = pca.inverse_transform(pca.transform(x_test))
    score = np.mean((rec - x_test) ** 2, axis=1, dtype=np.float64)
    return score, time.perf_counter() - t0


# ----------------------------------------------------------------------------
# dense autoencoder
# ----------------------------------------------------------------------------
def build_ae(nn):
    enc = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 32))
    dec = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid())
    return nn.Sequential(enc, dec)


def ae_class(torch, x_train, x_test, args):
    """Train the AE on one class; returns (scores float64 (N,), seconds, final train loss)."""
    import torch.nn as nn
    import torch.nn.functional as F
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    model = build_ae(nn)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n, bs = x_train.shape[0], args.batch
    loss_epoch = float("nan")
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, bs):
            xb = x_train.index_select(0, perm[i:i + bs])
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        loss_epoch = total / n
    model.eval()
    with torch.no_grad():
        parts = []
        for i in range(0, x_test.shape[0], EVAL_BATCH):
            xb = x_test[i:i + EVAL_BATCH]
            parts.append((model(xb) - xb).pow(2).mean(1))
        score = torch.cat(parts).double().numpy()
    return score, time.perf_counter() - t0, loss_epoch


# ----------------------------------------------------------------------------
def summarise(name, classes, aurocs, seconds, extra=None):
    res = {"auroc": aurocs, "mean_auroc": float(np.mean(aurocs)), "seconds": seconds,
           "total_seconds": float(sum(seconds)), "classes": classes}
    if extra:
        res.update(extra)
    print(f"RESULT {name}: mean AUROC {res['mean_auroc']:.4f} over {len(classes)} class(es), "
          f"{res['total_seconds']:.2f}s total (train + score)", flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=("pca", "ae", "both"), default="both")
    ap.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9", help="comma-separated class list")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pca-components", type=int, default=32)
    ap.add_argument("--pca-solver", choices=("full", "auto", "randomized", "arpack"), default="full")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()
    try:
        classes = [int(c) for c in args.classes.split(",") if c.strip() != ""]
    except ValueError:
        ap.error(f"--classes: not a comma-separated list of integers: {args.classes}")
    if not classes or any(c < 0 or c > 9 for c in classes):
        ap.error("--classes must list classes in 0..9")
    if args.epochs < 1 or args.batch < 1 or args.pca_components < 1:
        ap.error("--epochs, --batch and --pca-components must be >= 1")

    t_start = time.perf_counter()
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set", flush=True)
    limiter = None
    if HAVE_TPC:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=args.threads)  # BLAS and OpenMP pools
    else:
        print("note: threadpoolctl unavailable; threads set via OMP_NUM_THREADS/OPENBLAS_NUM_THREADS", flush=True)

    torch = None
    if args.method in ("ae", "both"):
        import torch as _torch
        torch = _torch
        torch.set_num_interop_threads(1)
        torch.set_num_threads(args.threads)

    bi = blas_info()
    blas = blas_string(bi)
    versions = {"sklearn": sklearn.__version__, "sklearn_deb": deb_version("python3-sklearn"),
                "numpy": np.__version__, "blas": blas, "blas_kernel": bi["kernel"],
                "blas_threads": bi["num_threads"], "threadpoolctl": HAVE_TPC}
    if torch is not None:
        versions.update({"torch": torch.__version__, "torch_deb": deb_version("python3-torch"),
                         "torch_threads": torch.get_num_threads(),
                         "torch_interop_threads": torch.get_num_interop_threads()})
    print("versions: " + ", ".join(f"{k}={v}" for k, v in versions.items()), flush=True)

    x_train_all = load_images(args.data, "train")
    y_train_all = load_labels(args.data, "train")
    x_test = load_images(args.data, "t10k")
    y_test = load_labels(args.data, "t10k")
    print(f"one-class protocol: classes {classes}; test {x_test.shape}; "
          f"pca n_components={args.pca_components} svd_solver={args.pca_solver!r}; "
          f"ae {AE_LAYERS}, adam lr {args.lr}, batch {args.batch}, {args.epochs} epochs, seed {args.seed}",
          flush=True)

    res = {"protocol": "one-class fashion-mnist: train on class c (train set), score all test images, "
                       "positive = not class c, score = per-image reconstruction MSE",
           "classes": classes, "n_test": int(x_test.shape[0]), "threads": args.threads,
           "seed": args.seed, "data": args.data, "versions": versions}
    pca_au, pca_s, ae_au, ae_s, ae_loss, n_train = [], [], [], [], [], []
    x_test_t = torch.from_numpy(x_test) if torch is not None else None
    for c in classes:
        x_tr = np.ascontiguousarray(x_train_all[y_train_all == c])
        y_anom = (y_test != c).astype(np.int64)
        n_train.append(int(x_tr.shape[0]))
        line = f"class {c}: train {x_tr.shape[0]} rows, test anomalies {int(y_anom.sum())}/{y_anom.size}"
        if args.method in ("pca", "both"):
            score, sec = pca_class(x_tr, x_test, args)
            au = float(roc_auc_score(y_anom, score))
            pca_au.append(au)
            pca_s.append(sec)
            line += f"; pca AUROC {au:.4f} {sec:.3f}s"
        if args.method in ("ae", "both"):
            score, sec, loss = ae_class(torch, torch.from_numpy(x_tr), x_test_t, args)
            au = float(roc_auc_score(y_anom, score))
            ae_au.append(au)
            ae_s.append(sec)
            ae_loss.append(loss)
            line += f"; ae AUROC {au:.4f} {sec:.3f}s (train loss {loss:.6f})"
        print(line, flush=True)
    res["n_train"] = n_train

    if pca_au:
        res["pca"] = summarise(f"sklearn-ref pca{args.pca_components}", classes, pca_au, pca_s,
                               {"n_components": args.pca_components, "svd_solver": args.pca_solver})
    if ae_au:
        res["ae"] = summarise(f"torch-ref ae {AE_LAYERS}, {args.epochs} epochs", classes, ae_au, ae_s,
                              {"layers": AE_LAYERS, "epochs": args.epochs, "lr": args.lr, "batch": args.batch,
                               "optimizer": "adam", "loss": "mse_mean", "train_loss": ae_loss,
                               "params": sum(p.numel() for p in build_ae(torch.nn).parameters())})
    res["total_seconds"] = time.perf_counter() - t_start
    print(f"total wall time {res['total_seconds']:.1f}s", flush=True)
    if limiter is not None:
        limiter.restore_original_limits()
    if args.json:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
