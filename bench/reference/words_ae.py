#!/usr/bin/python3
"""PyTorch (CPU) reference for bench part (w): the library's character-level token-sequence autoencoder on words.

The words come from the C# side (bench part (w) writes them: Debian's wamerican list, lowercase a-z words of 2-12
letters, shuffled with seed 0, as character keys 1..26 padded with 0), so both sides train and score the same rows.
The network is the library's token-sequence body (TokenSequenceAutoencoderNetwork) with a deterministic code and no
hidden code layers:

  embedding  Embedding(V + 2, E, padding_idx=0)      (0 padding, 1..V the keys, V + 1 the start mark)
  encoder    GRU(E -> H), batch first; its output at each word's last letter (padding never reaches it)
  code       Linear(H -> K), linear                   (the latent code)
  back       Linear(K -> H) + Tanh                    (the decoder's state s)
  decoder    GRU(E + H -> H) from h0 = s; step t reads [embedding(previous key or start mark), s]
  output     Linear(H -> V + 1) per step              (0 = end of word, 1..V the keys)

Training: teacher forcing, cross-entropy over each real letter and the end mark (ignore_index for the steps after the
end; mean over those tokens), Adam(lr) with PyTorch defaults, CosineAnnealingLR(T_max = epochs) stepped per epoch (the
library's cosine schedule), batch B, rows reshuffled every epoch, the last partial batch kept. Inference: greedy,
step by step, up to MaxLength letters or the end mark. PyTorch's default initialisation is the library's, but the random
streams differ: same distributions, not the same weights.

Reported: exact-word reconstruction rate on the held-out words (all and by length), training words per second over the
epochs after --warmup-epochs, greedy reconstruction words per second (batches of 1024).

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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", required=True, help="the binary file bench part (w) writes")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--warmup-epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--embedding", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
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

    # The file: int32 magic 0x57524453, max length, vocabulary, train words, test words; then int32 keys (train, test),
    # each word padded with 0 to the max length.
    with open(args.words, "rb") as f:
        head = np.frombuffer(f.read(20), dtype="<i4")
        if head[0] != 0x57524453:
            raise SystemExit(f"{args.words}: not a bench (w) words file")
        max_length, vocab, n_train, n_test = (int(v) for v in head[1:])
        x_train = np.frombuffer(f.read(4 * n_train * max_length), dtype="<i4").reshape(n_train, max_length).astype(np.int64)
        x_test = np.frombuffer(f.read(4 * n_test * max_length), dtype="<i4").reshape(n_test, max_length).astype(np.int64)
    E, H, K = args.embedding, args.hidden, args.latent

    class TokenAutoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab + 2, E, padding_idx=0)
            self.encoder = nn.GRU(E, H, batch_first=True)
            self.decoder = nn.GRU(E + H, H, batch_first=True)
            self.output = nn.Linear(H, vocab + 1)
            self.code = nn.Linear(H, K)
            self.back = nn.Linear(K, H)

        def encode(self, ids):
            lengths = (ids > 0).sum(1)
            out, _ = self.encoder(self.embedding(ids))
            last = out.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, H)).squeeze(1)
            return self.code(last)

        def state(self, code):
            return torch.tanh(self.back(code))

        def teacher_forced(self, ids):
            s = self.state(self.encode(ids))
            start = torch.full((ids.shape[0], 1), vocab + 1, dtype=torch.long)
            inputs = self.embedding(torch.cat([start, ids], 1))
            x = torch.cat([inputs, s.unsqueeze(1).expand(-1, inputs.shape[1], -1)], 2)
            out, _ = self.decoder(x, s.unsqueeze(0).contiguous())
            return self.output(out)

        def greedy(self, ids):
            s = self.state(self.encode(ids))
            n = ids.shape[0]
            previous = torch.full((n,), vocab + 1, dtype=torch.long)
            finished = torch.zeros(n, dtype=torch.bool)
            h = s.unsqueeze(0).contiguous()
            result = torch.zeros(n, max_length, dtype=torch.long)
            for t in range(max_length):
                x = torch.cat([self.embedding(previous).unsqueeze(1), s.unsqueeze(1)], 2)
                out, h = self.decoder(x, h)
                choice = self.output(out.squeeze(1)).argmax(1).masked_fill(finished, 0)
                result[:, t] = choice
                finished |= choice == 0
                previous = choice
                if bool(finished.all()):
                    break
            return result

    def targets(ids):
        lengths = (ids > 0).sum(1)
        t = torch.cat([ids, torch.zeros(ids.shape[0], 1, dtype=torch.long)], 1)
        after = torch.arange(ids.shape[1] + 1).unsqueeze(0) > lengths.unsqueeze(1)
        return t.masked_fill(after, -100)

    torch.manual_seed(args.seed)
    model = TokenAutoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    data = torch.from_numpy(x_train)
    generator = torch.Generator().manual_seed(args.seed)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    epoch_seconds, losses = [], []
    fit_start = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n_train, generator=generator)
        total = 0.0
        for b in range(0, n_train, args.batch):
            batch = data[order[b:b + args.batch]]
            optimizer.zero_grad(set_to_none=True)
            logits = model.teacher_forced(batch)
            loss = loss_fn(logits.reshape(-1, vocab + 1), targets(batch).reshape(-1))
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.shape[0]
        schedule.step()
        epoch_seconds.append(time.perf_counter() - t0)
        losses.append(total / n_train)
    fit_seconds = time.perf_counter() - fit_start
    timed = epoch_seconds[args.warmup_epochs:] or epoch_seconds
    samples_per_s = n_train * len(timed) / sum(timed)
    print(f"PyTorch character GRU autoencoder: {args.epochs} epochs in {fit_seconds:.1f}s, {samples_per_s:,.0f} words/s after "
          f"{args.warmup_epochs} warm-up epoch(s), final training loss {losses[-1]:.4g}", flush=True)

    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x_test)
        t0 = time.perf_counter()
        recon = torch.cat([model.greedy(xt[b:b + 1024]) for b in range(0, n_test, 1024)]).numpy()
        infer_seconds = time.perf_counter() - t0
    exact = (recon == x_test).all(1)
    lengths = (x_test > 0).sum(1)
    by_length = {int(n): float(exact[lengths == n].mean()) for n in np.unique(lengths)}
    result = {
        "exact_word_rate": float(exact.mean()), "exact_by_length": by_length, "samples_per_s": samples_per_s,
        "fit_seconds": fit_seconds, "epoch_seconds": epoch_seconds, "final_loss": losses[-1],
        "greedy_words_per_s": n_test / infer_seconds, "n_train": n_train, "n_test": n_test, "threads": args.threads,
        "versions": versions,
    }
    print(f"held-out exact-word rate {result['exact_word_rate']:.4f}; greedy reconstruction {result['greedy_words_per_s']:,.0f} words/s", flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
