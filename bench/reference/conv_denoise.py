#!/usr/bin/python3
"""PyTorch (CPU) reference for the convolutional denoising-autoencoder benchmark.

The Keras "denoising autoencoder" tutorial net on Fashion-MNIST (pixels scaled
to [0, 1], 60k train / 10k test, shaped N x 1 x 28 x 28), PyTorch default
initialisation:

  encoder   Conv2d(1,16,3,stride 2,padding 1) ReLU        -> 16x14x14
            Conv2d(16,8,3,stride 2,padding 1) ReLU        ->  8x7x7
  decoder   --decoder tconv (default):
            ConvTranspose2d(8,8,3,stride 2,padding 1,output_padding 1) ReLU   -> 8x14x14
            ConvTranspose2d(8,16,3,stride 2,padding 1,output_padding 1) ReLU  -> 16x28x28
            Conv2d(16,1,3,padding 1) Sigmoid                                  -> 1x28x28
            --decoder upsample:
            Upsample(scale 2, nearest) Conv2d(8,8,3,padding 1) ReLU           -> 8x14x14
            Upsample(scale 2, nearest) Conv2d(8,16,3,padding 1) ReLU          -> 16x28x28
            Conv2d(16,1,3,padding 1) Sigmoid                                  -> 1x28x28

Training: input clip(x + noise*N(0,1), 0, 1) with fresh noise drawn for every
batch (--noise, default 0.6), target the clean x; MSE loss (mean over all
elements); Adam lr 1e-3 (--lr); batch 128 (--batch); data reshuffled every
epoch.  torch.manual_seed(--seed) before building each of the --reps fresh
networks (the same generator then drives the shuffles and the noise).
--epochs is the TOTAL number of epochs trained; the first --warmup-epochs are
trained but excluded from the throughput.  Throughput per rep =
rows * timed_epochs / (seconds of the timed epochs); an epoch's seconds cover
only its training loop (shuffle, noise, forward, backward, optimiser step).
train_loss = mean over the epoch of the per-batch MSE weighted by batch rows.

Test (after each fit): noisy test images y = clip(x + noise*N(0,1), 0, 1)
drawn ONCE with torch.Generator().manual_seed(1234) over the whole test tensor
(shape N x 1 x 28 x 28, float32); denoised d = model(y) in eval mode under
no_grad, batches of 1000.  Metrics are computed in float64 from the float32
images, against the clean x:

  PSNR   per image i: MSE_i = mean over its 784 pixels of (a - x)^2,
         PSNR_i = 10*log10(1 / max(MSE_i, 1e-10))   (data range 1);
         reported value = mean of PSNR_i over the images.
  SSIM   per image, single channel, data range R = 1, K1 = 0.01, K2 = 0.03,
         C1 = (K1*R)^2, C2 = (K2*R)^2; 7x7 UNIFORM window, evaluated only at the
         fully-inside window positions (22x22 for 28x28; no padding).  With
         N = 49 and the means over a window mu_a = mean(a), mu_x = mean(x),
         E[a^2], E[x^2], E[a*x]:
           var_a  = N/(N-1) * (E[a^2] - mu_a^2)
           var_x  = N/(N-1) * (E[x^2] - mu_x^2)
           cov_ax = N/(N-1) * (E[a*x] - mu_a*mu_x)
           S = ((2*mu_a*mu_x + C1) * (2*cov_ax + C2))
               / ((mu_a^2 + mu_x^2 + C1) * (var_a + var_x + C2))
         SSIM_i = mean of S over the 22x22 positions; reported value = mean of
         SSIM_i over the images.  This is scikit-image's default
         structural_similarity(a, x, data_range=1) (use_sample_covariance=True,
         win_size=7, gaussian_weights=False), whose result is the mean over the
         same cropped valid region.

Reported per rep: samples/s, per-epoch seconds, final train loss, PSNR and
SSIM of noisy-vs-clean and denoised-vs-clean.  --json prints one JSON line at
the end (medians over reps, plus per-rep lists).  Run through
run_reference.sh so that openblas-openmp is used.
"""
import argparse
import json
import math
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

TEST_NOISE_SEED = 1234
EVAL_BATCH = 1000
SSIM_WIN = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03
PSNR_MSE_FLOOR = 1e-10


# ----------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------
def build_model(decoder):
    enc = nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 8, 3, stride=2, padding=1), nn.ReLU())
    if decoder == "tconv":
        dec = nn.Sequential(
            nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(8, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid())
    else:
        dec = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid())
    return nn.Sequential(enc, dec)


LAYERS = {
    "tconv": "conv(1>16,3,s2) relu, conv(16>8,3,s2) relu / tconv(8>8,3,s2,op1) relu, "
             "tconv(8>16,3,s2,op1) relu, conv(16>1,3) sigmoid",
    "upsample": "conv(1>16,3,s2) relu, conv(16>8,3,s2) relu / up2 conv(8>8,3) relu, "
                "up2 conv(8>16,3) relu, conv(16>1,3) sigmoid",
}


def add_noise(x, std, generator=None):
    return (x + std * torch.randn(x.shape, generator=generator)).clamp_(0.0, 1.0)


# ----------------------------------------------------------------------------
# metrics (float64; see the docstring for the exact definitions)
# ----------------------------------------------------------------------------
def psnr_per_image(a, x):
    """a, x: (N, 1, H, W); returns (N,) float64 PSNR with data range 1."""
    a, x = a.double(), x.double()
    mse = (a - x).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp(min=PSNR_MSE_FLOOR))


def ssim_per_image(a, x):
    """a, x: (N, 1, H, W); returns (N,) float64 SSIM (7x7 uniform window, valid positions only)."""
    a, x = a.double(), x.double()
    npx = SSIM_WIN * SSIM_WIN
    cov_norm = npx / (npx - 1.0)
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2  # data range 1

    def box(t):
        return F.avg_pool2d(t, SSIM_WIN, stride=1)  # mean over each fully-inside 7x7 window

    mu_a, mu_x = box(a), box(x)
    var_a = cov_norm * (box(a * a) - mu_a * mu_a)
    var_x = cov_norm * (box(x * x) - mu_x * mu_x)
    cov = cov_norm * (box(a * x) - mu_a * mu_x)
    s = ((2 * mu_a * mu_x + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_x * mu_x + c1) * (var_a + var_x + c2))
    return s.flatten(1).mean(1)


def image_metrics(a, x):
    return float(psnr_per_image(a, x).mean()), float(ssim_per_image(a, x).mean())


# ----------------------------------------------------------------------------
def fit_once(x_train, args, rep):
    """One full fit from a fresh seeded network; returns the model, per-epoch times and losses."""
    torch.manual_seed(args.seed)
    model = build_model(args.decoder)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n, bs = x_train.shape[0], args.batch
    times, losses = [], []
    for ep in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n, bs):
            xb = x_train.index_select(0, perm[i:i + bs])
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(add_noise(xb, args.noise)), xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        dt = time.perf_counter() - t0
        times.append(dt)
        losses.append(total / n)
        steps = math.ceil(n / bs)
        tag = " (warm-up)" if ep < args.warmup_epochs else ""
        print(f"rep {rep + 1}/{args.reps} epoch {ep + 1}/{args.epochs}: {dt:.3f}s  {n / dt:,.0f} samples/s  "
              f"{1000 * dt / steps:.2f} ms/step  train_loss {total / n:.6f}{tag}", flush=True)
    return model, times, losses


def denoise(model, noisy):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(noisy[i:i + EVAL_BATCH]) for i in range(0, noisy.shape[0], EVAL_BATCH)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decoder", choices=["tconv", "upsample"], default="tconv")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=10, help="total epochs trained (incl. warm-up)")
    ap.add_argument("--warmup-epochs", type=int, default=1, help="leading epochs excluded from throughput")
    ap.add_argument("--noise", type=float, default=0.6, help="std of the Gaussian noise before clipping")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1, help="full fits repeated (fresh network each)")
    ap.add_argument("--train-rows", type=int, default=0, help="use only the first N training rows (0 = all)")
    ap.add_argument("--test-rows", type=int, default=0, help="use only the first N test rows (0 = all)")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()
    if args.epochs < 1 or args.reps < 1 or args.batch < 1:
        sys.exit("--epochs, --reps and --batch must be >= 1")
    if args.warmup_epochs < 0 or args.train_rows < 0 or args.test_rows < 0:
        sys.exit("--warmup-epochs, --train-rows and --test-rows must be >= 0")

    t_start = time.perf_counter()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set", flush=True)

    x_train = torch.from_numpy(load_images(args.data, "train")).reshape(-1, 1, 28, 28)
    x_test = torch.from_numpy(load_images(args.data, "t10k")).reshape(-1, 1, 28, 28)
    if args.train_rows:
        x_train = x_train[:args.train_rows].contiguous()
    if args.test_rows:
        x_test = x_test[:args.test_rows].contiguous()
    n = x_train.shape[0]
    steps = math.ceil(n / args.batch)

    bi = blas_info()
    blas = blas_string(bi)
    torch_deb = deb_version("python3-torch")
    print(f"torch {torch.__version__} (deb {torch_deb}), threads={torch.get_num_threads()}, "
          f"interop={torch.get_num_interop_threads()}, blas={blas}, blas_threads={bi['num_threads']}", flush=True)
    print(f"conv denoising AE, decoder {args.decoder}: {LAYERS[args.decoder]}; adam lr {args.lr}, "
          f"batch {args.batch}, mse loss, noise {args.noise}; train {tuple(x_train.shape)}, "
          f"test {tuple(x_test.shape)}", flush=True)

    # noisy test set: drawn once, independent of the training seed
    noisy_test = add_noise(x_test, args.noise, torch.Generator().manual_seed(TEST_NOISE_SEED))
    psnr_noisy, ssim_noisy = image_metrics(noisy_test, x_test)
    print(f"noisy test vs clean: PSNR {psnr_noisy:.4f} dB, SSIM {ssim_noisy:.6f}", flush=True)

    rep_thr, all_times, all_losses, rep_psnr, rep_ssim, rep_ms = [], [], [], [], [], []
    warmup_ignored, n_params = False, 0
    for rep in range(args.reps):
        model, times, losses = fit_once(x_train, args, rep)
        n_params = sum(p.numel() for p in model.parameters())
        timed = times[args.warmup_epochs:]
        if not timed:
            timed, warmup_ignored = times, True
        thr = n * len(timed) / sum(timed)
        ms = 1000.0 * sum(timed) / (len(timed) * steps)
        psnr_d, ssim_d = image_metrics(denoise(model, noisy_test), x_test)
        rep_thr.append(thr)
        rep_ms.append(ms)
        all_times.append(times)
        all_losses.append(losses)
        rep_psnr.append(psnr_d)
        rep_ssim.append(ssim_d)
        print(f"rep {rep + 1}: {thr:,.0f} samples/s ({ms:.2f} ms/step); train_loss {losses[-1]:.6f}; "
              f"denoised PSNR {psnr_d:.4f} dB, SSIM {ssim_d:.6f}", flush=True)
    if warmup_ignored:
        print("note: epochs <= warmup-epochs; throughput uses all epochs", flush=True)

    result = {
        "model": "conv_denoise",
        "decoder": args.decoder,
        "samples_per_sec": statistics.median(rep_thr),
        "samples_per_sec_reps": rep_thr,
        "ms_per_step": statistics.median(rep_ms),
        "ms_per_step_reps": rep_ms,
        "epoch_seconds": all_times,
        "train_loss": statistics.median([ls[-1] for ls in all_losses]),
        "train_loss_reps": [ls[-1] for ls in all_losses],
        "train_losses_per_rep": all_losses,
        "psnr_noisy": psnr_noisy,
        "psnr_denoised": statistics.median(rep_psnr),
        "psnr_denoised_reps": rep_psnr,
        "ssim_noisy": ssim_noisy,
        "ssim_denoised": statistics.median(rep_ssim),
        "ssim_denoised_reps": rep_ssim,
        "noise": args.noise,
        "test_noise_seed": TEST_NOISE_SEED,
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
        "batch": args.batch,
        "lr": args.lr,
        "optimizer": "adam",
        "loss": "mse_mean",
        "layers": LAYERS[args.decoder],
        "params": n_params,
        "n_train": int(n),
        "n_test": int(x_test.shape[0]),
    }
    print(f"RESULT torch-ref conv_denoise/{args.decoder}: {result['samples_per_sec']:,.0f} samples/s median over "
          f"{args.reps} rep(s) ({result['ms_per_step']:.2f} ms/step); PSNR noisy {psnr_noisy:.4f} -> denoised "
          f"{result['psnr_denoised']:.4f} dB, SSIM {ssim_noisy:.6f} -> {result['ssim_denoised']:.6f} after "
          f"{args.epochs} epochs; threads {args.threads}; blas {blas}", flush=True)
    result["total_seconds"] = time.perf_counter() - t_start
    print(f"total wall time {result['total_seconds']:.1f}s", flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
