#!/usr/bin/python3
"""PyTorch (CPU) reference for the autoencoder-variant benchmarks.

Three models on Fashion-MNIST (pixels scaled to [0, 1], 60k train / 10k test),
PyTorch default initialisation, data reshuffled every epoch:

  vae        784-512-2 VAE: Linear(784,512) ReLU -> mean Linear(512,2) and
             log-variance Linear(512,2); z = mu + exp(0.5*logvar)*eps;
             decoder Linear(2,512) ReLU, Linear(512,784) Sigmoid.
             Loss = (BCE summed + KL summed) / batch size, Adam lr 1e-3, batch 128.
             Test: negative ELBO per sample (z sampled, fixed seed), its BCE
             and KL parts, and the negative ELBO with z = mu.
  stacked    784-100-30 SELU / 30-100 SELU, 100-784 Sigmoid; BCE (mean),
             plain SGD lr 1.5, batch 256.  Test: BCE (mean) and MSE.
  denoising  784-256-64 ReLU / 64-256 ReLU, 256-784 Sigmoid; input
             clip(x + 0.6*N(0,1), 0, 1), target x; BCE (mean), Adam lr 1e-3,
             batch 256.  Test: MSE and BCE of the reconstruction of the noisy
             test input (noise drawn once, fixed seed) against the clean input,
             and MSE of the clean-input reconstruction.

--epochs is the TOTAL number of epochs trained; the first --warmup-epochs are
trained but excluded from the throughput figures.  Each of --reps fits starts
from a fresh network seeded with --seed.  Run through run_reference.sh so that
openblas-openmp is used.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dense_ae import blas_info, blas_string, deb_version, load_images  # noqa: E402


# ----------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------
class Vae(nn.Module):
    def __init__(self, d=784, h=512, k=2):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU())
        self.mu = nn.Linear(h, k)
        self.logvar = nn.Linear(h, k)
        self.dec = nn.Sequential(nn.Linear(k, h), nn.ReLU(), nn.Linear(h, d), nn.Sigmoid())

    def forward(self, x, sample=True):
        hid = self.enc(x)
        mu, logvar = self.mu(hid), self.logvar(hid)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
        return self.dec(z), mu, logvar


def vae_terms(model, x, sample=True):
    """(BCE summed, KL summed) over the rows of x."""
    rec, mu, logvar = model(x, sample)
    bce = F.binary_cross_entropy(rec, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kl


def mlp(sizes, act, out_act):
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods += [nn.Linear(a, b), out_act() if i == len(sizes) - 2 and out_act else act()]
    return nn.Sequential(*mods)


def autoencoder(sizes, act):
    """Encoder sizes[0]->...->sizes[-1] with act; mirrored decoder, sigmoid output."""
    return nn.Sequential(mlp(sizes, act, None), mlp(sizes[::-1], act, nn.Sigmoid))


NOISE_STD = 0.6


def add_noise(x, generator=None):
    return (x + NOISE_STD * torch.randn(x.shape, generator=generator)).clamp_(0.0, 1.0)


# Each spec: build() -> model, make_opt(params), step_loss(model, xb) -> loss
# whose .item() is the per-sample (vae) / per-element (others) train loss,
# evaluate(model, x_test, seed) -> dict of test figures.
def _vae_step(model, xb):
    bce, kl = vae_terms(model, xb)
    return (bce + kl) / xb.shape[0]


def _vae_eval(model, x, seed):
    n = x.shape[0]
    torch.manual_seed(seed)
    bce, kl = vae_terms(model, x, sample=True)
    bce_mu, kl_mu = vae_terms(model, x, sample=False)
    return {"test_neg_elbo": float(bce + kl) / n,
            "test_bce_per_sample": float(bce) / n,
            "test_kl_per_sample": float(kl) / n,
            "test_neg_elbo_mean_z": float(bce_mu + kl_mu) / n}


def _stacked_step(model, xb):
    return F.binary_cross_entropy(model(xb), xb)


def _stacked_eval(model, x, seed):
    rec = model(x)
    return {"test_bce": float(F.binary_cross_entropy(rec, x)),
            "test_mse": float(F.mse_loss(rec, x))}


def _denoising_step(model, xb):
    return F.binary_cross_entropy(model(add_noise(xb)), xb)


def _denoising_eval(model, x, seed):
    noisy = add_noise(x, torch.Generator().manual_seed(seed))
    rec_noisy, rec_clean = model(noisy), model(x)
    return {"test_denoised_mse": float(F.mse_loss(rec_noisy, x)),
            "test_denoised_bce": float(F.binary_cross_entropy(rec_noisy, x)),
            "test_clean_mse": float(F.mse_loss(rec_clean, x))}


MODELS = {
    "vae": dict(build=Vae, batch=128, lr=1e-3, opt="adam", loss="bce_sum+kl_per_sample",
                layers="784-512-(2 mu,2 logvar) / 2-512-784", step=_vae_step, eval=_vae_eval,
                headline="test_neg_elbo"),
    "stacked": dict(build=lambda: autoencoder([784, 100, 30], nn.SELU), batch=256, lr=1.5, opt="sgd",
                    loss="bce_mean", layers="784-100-30 / 30-100-784 SELU, sigmoid out",
                    step=_stacked_step, eval=_stacked_eval, headline="test_bce"),
    "denoising": dict(build=lambda: autoencoder([784, 256, 64], nn.ReLU), batch=256, lr=1e-3, opt="adam",
                      loss="bce_mean", layers="784-256-64 / 64-256-784 ReLU, sigmoid out",
                      step=_denoising_step, eval=_denoising_eval, headline="test_denoised_mse"),
}


def make_optimizer(kind, params, lr):
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.0)


# ----------------------------------------------------------------------------
def fit_once(spec, x_train, x_test, args, rep):
    """One full fit from a fresh seeded network; returns per-epoch times/losses and test figures."""
    torch.manual_seed(args.seed)
    model = spec["build"]()
    opt = make_optimizer(spec["opt"], model.parameters(), spec["lr"])
    n, bs, step = x_train.shape[0], spec["batch"], spec["step"]
    times, losses = [], []
    t_fit = time.perf_counter()
    for ep in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, bs):
            xb = x_train.index_select(0, perm[i:i + bs])
            opt.zero_grad(set_to_none=True)
            loss = step(model, xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        dt = time.perf_counter() - t0
        times.append(dt)
        losses.append(total / n)
        tag = " (warm-up)" if ep < args.warmup_epochs else ""
        print(f"rep {rep + 1}/{args.reps} epoch {ep + 1}/{args.epochs}: {dt:.3f}s  {n / dt:,.0f} samples/s  "
              f"train_loss {total / n:.6f}{tag}", flush=True)
    fit_seconds = time.perf_counter() - t_fit
    model.eval()
    with torch.no_grad():
        test = spec["eval"](model, x_test, args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    return times, losses, test, fit_seconds, n_params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=10, help="total epochs trained (incl. warm-up)")
    ap.add_argument("--warmup-epochs", type=int, default=3, help="leading epochs excluded from throughput")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1, help="full fits repeated (fresh network each)")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()
    if args.epochs < 1 or args.reps < 1:
        sys.exit("--epochs and --reps must be >= 1")

    t_start = time.perf_counter()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    spec = MODELS[args.model]

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set", flush=True)

    x_train = torch.from_numpy(load_images(args.data, "train"))
    x_test = torch.from_numpy(load_images(args.data, "t10k"))
    n = x_train.shape[0]

    bi = blas_info()
    blas = blas_string(bi)
    torch_deb = deb_version("python3-torch")
    print(f"torch {torch.__version__} (deb {torch_deb}), threads={torch.get_num_threads()}, "
          f"interop={torch.get_num_interop_threads()}, blas={blas}, blas_threads={bi['num_threads']}", flush=True)
    print(f"model {args.model}: {spec['layers']}; {spec['opt']} lr {spec['lr']}, batch {spec['batch']}, "
          f"loss {spec['loss']}; train {tuple(x_train.shape)}, test {tuple(x_test.shape)}", flush=True)

    all_times, all_losses, all_tests, fit_secs = [], [], [], []
    rep_medians, rep_bests, warmup_ignored, n_params = [], [], False, 0
    for rep in range(args.reps):
        times, losses, test, secs, n_params = fit_once(spec, x_train, x_test, args, rep)
        timed = times[args.warmup_epochs:]
        if not timed:
            timed, warmup_ignored = times, True
        thr = [n / t for t in timed]
        rep_medians.append(statistics.median(thr))
        rep_bests.append(max(thr))
        all_times.append(times)
        all_losses.append(losses)
        all_tests.append(test)
        fit_secs.append(secs)
        print(f"rep {rep + 1}: {rep_medians[-1]:,.0f} samples/s median, {rep_bests[-1]:,.0f} best; "
              + ", ".join(f"{k} {v:.6f}" for k, v in test.items()) + f"; fit {secs:.1f}s", flush=True)
    if warmup_ignored:
        print("note: epochs <= warmup-epochs; throughput uses all epochs", flush=True)

    result = {
        "model": args.model,
        "samples_per_s_median": statistics.median(rep_medians),
        "samples_per_s_best": max(rep_bests),
        "samples_per_s_rep_medians": rep_medians,
        "samples_per_s_rep_bests": rep_bests,
        "train_loss": all_losses[-1][-1],
        "train_losses": all_losses[-1],
        "train_losses_per_rep": all_losses,
        "epoch_times_per_rep": all_times,
        "fit_seconds_per_rep": fit_secs,
    }
    result.update(all_tests[-1])
    result.update({
        "test_per_rep": all_tests,
        "headline": spec["headline"],
        "blas": blas,
        "blas_kernel": bi["kernel"],
        "blas_threads": bi["num_threads"],
        "threads": args.threads,
        "interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "torch_deb": torch_deb,
        "epochs": args.epochs,
        "warmup_epochs": args.warmup_epochs,
        "warmup_ignored": warmup_ignored,
        "reps": args.reps,
        "seed": args.seed,
        "batch_size": spec["batch"],
        "lr": spec["lr"],
        "optimizer": spec["opt"],
        "loss": spec["loss"],
        "layers": spec["layers"],
        "params": n_params,
        "n_train": int(n),
        "n_test": int(x_test.shape[0]),
    })
    head = spec["headline"]
    print(f"RESULT torch-ref {args.model}: {result['samples_per_s_median']:,.0f} samples/s median, "
          f"{result['samples_per_s_best']:,.0f} best over {args.reps} rep(s); {head} {result[head]:.6f} "
          f"after {args.epochs} epochs; threads {args.threads}; blas {blas}", flush=True)
    result["total_seconds"] = time.perf_counter() - t_start
    print(f"total wall time {result['total_seconds']:.1f}s", flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
