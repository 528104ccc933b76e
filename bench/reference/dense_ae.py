#!/usr/bin/python3
"""PyTorch (CPU) reference for the dense autoencoder benchmark.

Classic dense autoencoder on Fashion-MNIST:
  encoder 784->64 ReLU, 64->32 ReLU, 32->16 ReLU
  decoder 16->32 ReLU, 32->64 ReLU, 64->784 Sigmoid
MSE loss, Adam(lr=1e-3), batch 256, reshuffled every epoch.

--epochs is the TOTAL number of epochs trained; the first --warmup-epochs are
trained but excluded from the throughput figures.  Test MSE is taken after all
--epochs.  Run through run_reference.sh so that openblas-openmp is used.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def _open_idx(path):
    if os.path.exists(path):
        return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    if path.endswith(".gz") and os.path.exists(path[:-3]):
        return open(path[:-3], "rb")
    raise FileNotFoundError(path)


def read_idx(path):
    """Read an IDX file (optionally gzipped) into a numpy array."""
    with _open_idx(path) as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: bad IDX magic")
    dtype_code, ndim = data[2], data[3]
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    arr = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    expected = int(np.prod(dims))
    if arr.size != expected:
        raise ValueError(f"{path}: expected {expected} values, found {arr.size}")
    return arr.reshape(tuple(dims))


def load_images(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    return (x.reshape(x.shape[0], -1).astype(np.float32) / 255.0)


# ----------------------------------------------------------------------------
# BLAS detection
# ----------------------------------------------------------------------------
def mapped_blas_libs():
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6:
                    continue
                p = parts[5]
                base = os.path.basename(p)
                if any(k in base for k in ("libblas", "libopenblas", "liblapack", "libmkl", "libblis", "libatlas", "libcblas")):
                    if p not in libs:
                        libs.append(p)
    except OSError:
        pass
    return libs


def blas_info():
    libs = mapped_blas_libs()
    blas_paths = [p for p in libs if "libblas" in os.path.basename(p) or "libopenblas" in os.path.basename(p)
                  or "libmkl" in p or "libblis" in p]
    kind = "unknown"
    if any("openblas" in p for p in blas_paths):
        kind = "openblas"
    elif any("libmkl" in p for p in blas_paths):
        kind = "mkl"
    elif any("libblis" in p for p in blas_paths):
        kind = "blis"
    elif any("/blas/libblas" in p for p in blas_paths):
        kind = "netlib-reference"
    info = {"kind": kind, "libs": libs, "kernel": None, "version": None,
            "threading": None, "num_threads": None, "threadpoolctl": False}
    try:
        import threadpoolctl
        info["threadpoolctl"] = True
        for d in threadpoolctl.threadpool_info():
            if d.get("user_api") == "blas":
                info["kernel"] = d.get("architecture")
                info["version"] = d.get("version")
                info["threading"] = d.get("threading_layer")
                info["num_threads"] = d.get("num_threads")
                info["kind"] = d.get("internal_api", kind)
                break
    except Exception:  # threadpoolctl missing or failing
        pass
    if info["kernel"] is None and kind == "openblas":
        # fall back to OpenBLAS' own entry point
        try:
            import ctypes
            lib = ctypes.CDLL(next(p for p in blas_paths if "openblas" in p))
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info["kernel"] = lib.openblas_get_corename().decode()
            lib.openblas_get_num_threads.restype = ctypes.c_int
            info["num_threads"] = lib.openblas_get_num_threads()
        except Exception:
            info["kernel"] = "unknown (threadpoolctl unavailable)"
    if info["kernel"] is None:
        info["kernel"] = "n/a" if kind != "openblas" else "unknown (threadpoolctl unavailable)"
    return info


def blas_string(bi):
    blas_libs = [p for p in bi["libs"] if os.path.basename(p).startswith(("libblas", "libopenblas", "libmkl", "libblis"))]
    lib = ", ".join(blas_libs) if blas_libs else "?"
    s = bi["kind"]
    if bi["version"]:
        s += " " + bi["version"]
    if bi["threading"]:
        s += f" ({bi['threading']})"
    if bi["kind"] == "openblas":
        s += f" kernel={bi['kernel']}"
    return s + f" [{lib}]"


def deb_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None


# ----------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------
def build_autoencoder(layers):
    enc, dec = [], []
    for a, b in zip(layers[:-1], layers[1:]):
        enc += [nn.Linear(a, b), nn.ReLU()]
    rev = layers[::-1]
    for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
        dec += [nn.Linear(a, b), nn.Sigmoid() if i == len(rev) - 2 else nn.ReLU()]
    return nn.Sequential(nn.Sequential(*enc), nn.Sequential(*dec))


# ----------------------------------------------------------------------------
# PCA baseline
# ----------------------------------------------------------------------------
def pca_test_mse(x_train, x_test, k, method):
    t0 = time.perf_counter()
    if method == "sklearn":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=k, svd_solver="full")
        pca.fit(x_train)
        rec = pca.inverse_transform(pca.transform(x_test))
    else:  # eigh of the covariance matrix, float64
        xt = x_train.astype(np.float64)
        mean = xt.mean(axis=0)
        xc = xt - mean
        cov = (xc.T @ xc) / (xt.shape[0] - 1)
        w, v = np.linalg.eigh(cov)
        comps = v[:, np.argsort(w)[::-1][:k]]          # (d, k)
        z = (x_test.astype(np.float64) - mean) @ comps
        rec = z @ comps.T + mean
    secs = time.perf_counter() - t0
    mse = float(np.mean((x_test.astype(np.float64) - rec) ** 2))
    return mse, secs


# ----------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=8, help="total epochs trained (incl. warm-up)")
    ap.add_argument("--warmup-epochs", type=int, default=3, help="leading epochs excluded from throughput")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--layers", default="784,64,32,16")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pca", type=int, default=0, metavar="K", help="also report PCA-K test reconstruction MSE")
    ap.add_argument("--pca-method", choices=["sklearn", "eigh"], default="sklearn")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()

    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set", flush=True)

    layers = [int(s) for s in args.layers.split(",")]
    x_train_np = load_images(args.data, "train")
    x_test_np = load_images(args.data, "t10k")
    if x_train_np.shape[1] != layers[0]:
        sys.exit(f"input size {x_train_np.shape[1]} != first layer {layers[0]}")
    x_train = torch.from_numpy(x_train_np)
    x_test = torch.from_numpy(x_test_np)
    n = x_train.shape[0]

    model = build_autoencoder(layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    n_params = sum(p.numel() for p in model.parameters())

    bi = blas_info()  # after torch.set_num_threads so num_threads is the effective value
    blas = blas_string(bi)
    print(f"torch {torch.__version__} (deb {deb_version('python3-torch')}), threads={torch.get_num_threads()}, "
          f"blas={blas}, blas_threads={bi['num_threads']}, threadpoolctl={'yes' if bi['threadpoolctl'] else 'no'}",
          flush=True)
    print(f"data {args.data}: train {tuple(x_train.shape)}, test {tuple(x_test.shape)}; "
          f"layers {layers}, params {n_params}, batch {args.batch_size}", flush=True)

    epoch_times, epoch_losses = [], []
    for ep in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, args.batch_size):
            xb = x_train[perm[i:i + args.batch_size]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        dt = time.perf_counter() - t0
        epoch_times.append(dt)
        epoch_losses.append(total / n)
        tag = " (warm-up)" if ep < args.warmup_epochs else ""
        print(f"epoch {ep + 1}/{args.epochs}: {dt:.3f}s  {n / dt:,.0f} samples/s  "
              f"train_loss {total / n:.6f}{tag}", flush=True)

    timed = epoch_times[args.warmup_epochs:]
    warmup_ignored = False
    if not timed:
        timed, warmup_ignored = epoch_times, True
        print("note: epochs <= warmup-epochs; throughput uses all epochs", flush=True)
    thr = [n / t for t in timed]

    model.eval()
    with torch.no_grad():
        test_mse = float(torch.mean((model(x_test) - x_test) ** 2))

    result = {
        "samples_per_s_median": statistics.median(thr),
        "samples_per_s_best": max(thr),
        "epoch_times": epoch_times,
        "test_mse": test_mse,
        "train_loss": epoch_losses[-1],
        "blas": blas,
        "blas_kernel": bi["kernel"],
        "blas_threads": bi["num_threads"],
        "threads": args.threads,
        "torch": torch.__version__,
        "torch_deb": deb_version("python3-torch"),
        "epochs": args.epochs,
        "warmup_epochs": args.warmup_epochs,
        "warmup_ignored": warmup_ignored,
        "batch_size": args.batch_size,
        "layers": layers,
        "params": n_params,
        "n_train": int(n),
        "n_test": int(x_test.shape[0]),
        "train_losses": epoch_losses,
    }
    print(f"RESULT torch-ref: {result['samples_per_s_median']:,.0f} samples/s median, "
          f"{result['samples_per_s_best']:,.0f} best over {len(timed)} epoch(s); "
          f"train_loss {result['train_loss']:.6f}, test_mse {test_mse:.6f} after {args.epochs} epochs; "
          f"threads {args.threads}; blas {blas}", flush=True)

    if args.pca > 0:
        mse, secs = pca_test_mse(x_train_np, x_test_np, args.pca, args.pca_method)
        result.update({"pca_k": args.pca, "pca_method": args.pca_method,
                       "pca_test_mse": mse, "pca_seconds": secs})
        print(f"RESULT pca-{args.pca} ({args.pca_method}): test_mse {mse:.6f}, fit+reconstruct {secs:.3f}s",
              flush=True)

    result["total_seconds"] = time.perf_counter() - t_start
    print(f"total wall time {result['total_seconds']:.1f}s", flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
