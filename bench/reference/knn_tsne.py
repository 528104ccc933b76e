#!/usr/bin/python3
"""scikit-learn (CPU) reference for the k-NN trainer and t-SNE transform benchmarks.

--task knn
  Fashion-MNIST raw pixels scaled to [0, 1] (float32), the first --train-rows
  of the 60k train set and the first --test-rows of the 10k test set.
  KNeighborsClassifier(n_neighbors=--k, metric=--metric (euclidean|cosine),
  weights=--weights (uniform|distance), algorithm='brute', n_jobs=1).
  Measured: fit seconds and predict seconds (predict over all test rows is the
  headline), test accuracy, and sha1 of the predicted labels as int8 bytes
  (--save-predictions writes them, .npy or one label per line otherwise).
  Also measured: numpy float32 matrix-product speed, A @ B.T with A 10000x784
  and B 60000x784 random (fixed seed), flops = 2*10000*60000*784, best of
  --gemm-reps timed runs after one untimed warm-up; reported as GFLOP/s so the
  C# side can state the fraction of it that k-NN reaches (--gemm-reps 0 skips).

--task tsne
  The first --rows Fashion-MNIST test images, either raw pixels in [0, 1]
  (--input pixels) or PCA(n_components=30, random_state=--seed) of those rows
  (--input pca30; PCA time is not included in the t-SNE seconds).
  --input-file PATH --input-dims D instead embeds the rows of a raw
  little-endian float32 file (rows x D, row-major; all of its rows, or the
  first --rows when --rows is given), e.g. the PCA-30 rows the C# benchmark
  computed, so that both sides embed exactly the same input.
  TSNE(n_components=2, perplexity=30, init='pca', learning_rate='auto' (or
  max(N/12, 50) where the installed sklearn lacks 'auto'),
  random_state=--seed, method='barnes_hut', other parameters sklearn defaults).
  Measured: fit_transform seconds, kl_divergence_, and
  sklearn.manifold.trustworthiness(input, embedding, n_neighbors=10) (not
  timed).  --save-embedding writes the N x 2 embedding (.npy or text).

Threads: --threads is applied with threadpoolctl (BLAS and OpenMP pools),
falling back to OMP_NUM_THREADS/OPENBLAS_NUM_THREADS set before numpy is
imported.  Run through run_reference.sh so that openblas-openmp is used:
  bash bench/reference/run_reference.sh --script knn_tsne.py --task knn --threads 2 --json
"""
import argparse
import hashlib
import inspect
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
from sklearn.manifold import TSNE, trustworthiness  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402


def load_labels(data_dir, prefix):
    return read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)


def save_array(path, arr, fmt):
    if path.endswith(".npy"):
        np.save(path, arr)
    else:
        np.savetxt(path, arr, fmt=fmt)


def gemm_gflops(reps, seed):
    m, n, d = 10000, 60000, 784
    rng = np.random.default_rng(seed)
    a = rng.random((m, d), dtype=np.float32)
    b = rng.random((n, d), dtype=np.float32)
    flops = 2.0 * m * n * d
    _ = a @ b.T  # warm-up (also allocates the 2.4 GB result once)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        c = a @ b.T
        times.append(time.perf_counter() - t0)
        del c
    best = min(times)
    return {"gemm_shape": [m, n, d], "gemm_flops": flops, "gemm_seconds": times,
            "gemm_seconds_best": best, "gemm_gflops": flops / best / 1e9}


def run_knn(args, res):
    x_train = load_images(args.data, "train")[:args.train_rows]
    y_train = load_labels(args.data, "train")[:args.train_rows]
    x_test = load_images(args.data, "t10k")[:args.test_rows]
    y_test = load_labels(args.data, "t10k")[:args.test_rows]
    print(f"knn: train {x_train.shape}, test {x_test.shape}, k={args.k}, metric={args.metric}, "
          f"weights={args.weights}, algorithm=brute, n_jobs=1", flush=True)
    clf = KNeighborsClassifier(n_neighbors=args.k, metric=args.metric, weights=args.weights,
                               algorithm="brute", n_jobs=1)
    t0 = time.perf_counter()
    clf.fit(x_train, y_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = clf.predict(x_test)
    pred_s = time.perf_counter() - t0
    pred8 = pred.astype(np.int8)
    acc = float(np.mean(pred == y_test))
    sha1 = hashlib.sha1(pred8.tobytes()).hexdigest()
    if args.save_predictions:
        save_array(args.save_predictions, pred8, "%d")
    n_tr, n_te = x_train.shape[0], x_test.shape[0]
    dist_flops = 2.0 * n_te * n_tr * x_train.shape[1]
    print(f"knn: fit {fit_s:.3f}s, predict {pred_s:.3f}s ({n_te / pred_s:,.0f} rows/s, "
          f"{dist_flops / pred_s / 1e9:.1f} GFLOP/s distance-product equivalent), "
          f"accuracy {acc:.4f}, predictions sha1 {sha1}", flush=True)
    res.update({"n_train": int(n_tr), "n_test": int(n_te), "k": args.k, "metric": args.metric,
                "weights": args.weights, "algorithm": "brute", "n_jobs": 1,
                "fit_seconds": fit_s, "predict_seconds": pred_s, "predict_rows_per_s": n_te / pred_s,
                "accuracy": acc, "predictions_sha1": sha1, "predictions_dtype": "int8",
                "distance_flops": dist_flops, "distance_gflops_equiv": dist_flops / pred_s / 1e9,
                "saved_predictions": args.save_predictions})
    if args.gemm_reps > 0:
        g = gemm_gflops(args.gemm_reps, args.seed)
        res.update(g)
        res["knn_fraction_of_gemm"] = res["distance_gflops_equiv"] / g["gemm_gflops"]
        print(f"gemm float32 A(10000x784) @ B(60000x784).T: best {g['gemm_seconds_best']:.3f}s of "
              f"{args.gemm_reps}, {g['gemm_gflops']:.1f} GFLOP/s; k-NN predict reaches "
              f"{res['knn_fraction_of_gemm']:.1%} of it", flush=True)
    res["headline"] = "predict_seconds"


def load_input_file(path, dims, rows):
    x = np.fromfile(path, dtype="<f4")
    if dims < 1 or x.size % dims != 0:
        raise SystemExit(f"--input-file {path}: {x.size} float32 values are not a multiple of --input-dims {dims}")
    x = x.reshape(-1, dims).astype(np.float32)
    if rows is not None:
        if rows > x.shape[0]:
            raise SystemExit(f"--rows {rows} exceeds the {x.shape[0]} rows of {path}")
        x = x[:rows]
    if not np.all(np.isfinite(x)):
        raise SystemExit(f"--input-file {path} holds non-finite values")
    return x


def run_tsne(args, res):
    pca_s = None
    if args.input_file:
        x = load_input_file(args.input_file, args.input_dims, args.rows)
        input_name = f"file {os.path.basename(args.input_file)}"
    else:
        x = load_images(args.data, "t10k")[:args.rows if args.rows is not None else 2000]
        input_name = args.input
    n = x.shape[0]
    if not args.input_file and args.input == "pca30":
        t0 = time.perf_counter()
        x = PCA(n_components=30, random_state=args.seed).fit_transform(x).astype(np.float32)
        pca_s = time.perf_counter() - t0
    params = inspect.signature(TSNE.__init__).parameters
    lr_note = None
    # 'auto' exists since sklearn 1.0; older versions reject it
    lr_auto = sklearn.__version__.split(".")[0] not in ("0",)
    lr = "auto" if lr_auto else max(n / 12.0, 50.0)
    if not lr_auto:
        lr_note = f"learning_rate='auto' unsupported in sklearn {sklearn.__version__}; used {lr}"
        print("note: " + lr_note, flush=True)
    kw = dict(n_components=2, perplexity=30.0, init="pca", learning_rate=lr,
              random_state=args.seed, method="barnes_hut")
    iters_name = "max_iter" if "max_iter" in params else "n_iter"
    tsne = TSNE(**kw)
    print(f"tsne: input {input_name} {x.shape}, " + ", ".join(f"{k}={v!r}" for k, v in kw.items())
          + f", {iters_name}={getattr(tsne, iters_name)}", flush=True)
    t0 = time.perf_counter()
    emb = tsne.fit_transform(x)
    tsne_s = time.perf_counter() - t0
    kl = float(tsne.kl_divergence_)
    t0 = time.perf_counter()
    tw = float(trustworthiness(x, emb, n_neighbors=10))
    tw_s = time.perf_counter() - t0
    if args.save_embedding:
        save_array(args.save_embedding, emb.astype(np.float32), "%.7g")
    print(f"tsne: {tsne_s:.3f}s, kl_divergence {kl:.6f}, trustworthiness(k=10) {tw:.6f} "
          f"(took {tw_s:.2f}s), iterations run {getattr(tsne, 'n_iter_', None)}", flush=True)
    res.update({"rows": int(n), "input": input_name, "input_file": args.input_file, "input_dims": int(x.shape[1]),
                "pca_seconds": pca_s, "tsne_seconds": tsne_s, "kl_divergence": kl,
                "trustworthiness_k10": tw, "trustworthiness_seconds": tw_s,
                "perplexity": 30.0, "init": "pca", "learning_rate": lr, "learning_rate_note": lr_note,
                "method": "barnes_hut", "angle": tsne.angle, iters_name: getattr(tsne, iters_name),
                "n_iter_run": int(getattr(tsne, "n_iter_", -1)), "seed": args.seed,
                "saved_embedding": args.save_embedding, "headline": "tsne_seconds"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("knn", "tsne"), required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    g = ap.add_argument_group("knn")
    g.add_argument("--train-rows", type=int, default=60000)
    g.add_argument("--test-rows", type=int, default=10000)
    g.add_argument("--k", type=int, default=5)
    g.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    g.add_argument("--weights", choices=("uniform", "distance"), default="uniform")
    g.add_argument("--save-predictions", metavar="PATH", help=".npy, else one label per line")
    g.add_argument("--gemm-reps", type=int, default=3, help="timed A @ B.T runs (0 skips)")
    g = ap.add_argument_group("tsne")
    g.add_argument("--rows", type=int, default=None,
                   help="first N test images (default 2000), or first N rows of --input-file (default all)")
    g.add_argument("--input", choices=("pixels", "pca30"), default="pixels")
    g.add_argument("--input-file", metavar="PATH",
                   help="raw little-endian float32 rows (rows x --input-dims) to embed instead of test images")
    g.add_argument("--input-dims", type=int, metavar="D", help="values per row of --input-file")
    g.add_argument("--save-embedding", metavar="PATH", help=".npy, else text")
    args = ap.parse_args()
    if args.input_file and args.input_dims is None:
        ap.error("--input-file needs --input-dims")
    if args.input_dims is not None and not args.input_file:
        ap.error("--input-dims goes with --input-file")

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

    bi = blas_info()
    blas = blas_string(bi)
    sk_deb = deb_version("python3-sklearn")
    print(f"sklearn {sklearn.__version__} (deb {sk_deb}), numpy {np.__version__}, threads={args.threads}, "
          f"blas={blas}, blas_threads={bi['num_threads']}, threadpoolctl={'yes' if HAVE_TPC else 'no'}",
          flush=True)
    res = {"task": args.task}
    if args.task == "knn":
        run_knn(args, res)
    else:
        run_tsne(args, res)
    res.update({"sklearn": sklearn.__version__, "sklearn_deb": sk_deb, "numpy": np.__version__,
                "blas": blas, "blas_kernel": bi["kernel"], "blas_threads": bi["num_threads"],
                "threads": args.threads, "threadpoolctl": HAVE_TPC, "data": args.data})
    head = res["headline"]
    print(f"RESULT sklearn-ref {args.task}: {head} {res[head]:.3f}; threads {args.threads}; blas {blas}",
          flush=True)
    res["total_seconds"] = time.perf_counter() - t_start
    print(f"total wall time {res['total_seconds']:.1f}s", flush=True)
    if limiter is not None:
        limiter.restore_original_limits()
    if args.json:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
