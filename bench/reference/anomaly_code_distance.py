"""How the anomaly detector's default score was chosen (issue 19, 2026-12-05): a PyTorch copy of the library's default
detector body, scored with the reconstruction error alone and with the error plus the mean distance to the k nearest
training codes (both standardised on the training rows), for k in --neighbors.

  one-class Fashion-MNIST (seed 0, one network per class, 11 epochs as the library chooses for 6,000 rows):
    python3 anomaly_code_distance.py fashion [--data DIR] [--classes 0,1,...]
  the four small tables of bench part (t), 5 seeds, the library's ensemble size (5,000 / rows within [1, 10]):
    python3 anomaly_code_distance.py tables [--tabular DIR]

Body: input-h LeakyReLU(0.01)-k linear-h LeakyReLU-input sigmoid, h = input within [16, 128], k = input / 4 within
[2, 32] (below the input); Adam 2e-3, cosine over all steps, batch 128; epochs: at least 10 and 500 steps, at most 1,000.
The tables are split as part (t) splits them (half of the normal rows train) but with numpy's shuffle, so the rows
differ from the library's run. Run through run_reference.sh (OpenBLAS) or with LD_LIBRARY_PATH set to Debian's
openblas-openmp directory: Debian's python3-torch on the reference BLAS is ~15x slower.
"""
import argparse, gzip, os
import numpy as np, torch
from sklearn.metrics import roc_auc_score

def body(d, seed):
    h = min(max(d, 16), 128); k = max(1, min(d - 1, min(max(d // 4, 2), 32)))
    torch.manual_seed(seed); L = torch.nn.Linear
    enc = torch.nn.Sequential(L(d, h), torch.nn.LeakyReLU(0.01), L(h, k))
    dec = torch.nn.Sequential(L(k, h), torch.nn.LeakyReLU(0.01), L(h, d), torch.nn.Sigmoid())
    return enc, dec

def train(X, seed):
    n, d = X.shape; enc, dec = body(d, seed); batches = (n + 127) // 128
    epochs = min(max((500 + batches - 1) // batches, 10), 1000)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), 2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * batches)
    g = torch.Generator().manual_seed(seed); Xt = torch.tensor(X)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 128):
            xb = Xt[perm[i:i + 128]]; loss = ((dec(enc(xb)) - xb) ** 2).mean()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    return enc, dec

def member_scores(X, T, seed, ks):
    """Per k: the standardised error + distance of the test rows; 'mse': the error over its training mean."""
    enc, dec = train(X, seed)
    with torch.no_grad():
        Xt, Tt = torch.tensor(X), torch.tensor(T)
        ztr, zte = enc(Xt), enc(Tt)
        etr = ((dec(ztr) - Xt) ** 2).mean(1).numpy(); ete = ((dec(zte) - Tt) ** 2).mean(1).numpy()
        dte = torch.cdist(zte, ztr).numpy(); dtr = torch.cdist(ztr, ztr).numpy()
    out = {'mse': ete / etr.mean()}
    z = lambda v, ref: (v - ref.mean()) / ref.std()
    for k in ks:
        kk = min(k, len(X))  # a training row's own code is one of its neighbours, as in the library
        a = np.sort(dte, 1)[:, :kk].mean(1); b = np.sort(dtr, 1)[:, :kk].mean(1)
        out[f'mse+knn{k}'] = z(ete, etr) + z(a, b)
    return out

def fashion(args, ks):
    def images(f): return np.frombuffer(gzip.open(os.path.join(args.data, f)).read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    def labels(f): return np.frombuffer(gzip.open(os.path.join(args.data, f)).read(), np.uint8, offset=8)
    Xtr, ytr = images('train-images-idx3-ubyte.gz'), labels('train-labels-idx1-ubyte.gz')
    Xte, yte = images('t10k-images-idx3-ubyte.gz'), labels('t10k-labels-idx1-ubyte.gz')
    res = {}
    for c in [int(v) for v in args.classes.split(',')]:
        s = member_scores(Xtr[ytr == c], Xte, 0, ks)
        res[c] = {k: roc_auc_score((yte != c).astype(int), v) for k, v in s.items()}
        print(c, {k: round(v, 4) for k, v in res[c].items()}, flush=True)
    print('mean AUROC', {k: round(float(np.mean([r[k] for r in res.values()])), 4) for k in res[next(iter(res))]})

def tables(args, ks):
    sets = {'wine': '1', 'ionosphere': 'good', 'sonar': 'M', 'glass': '2'}
    for name, normal in sets.items():
        rows = [l.strip().split(',') for l in open(os.path.join(args.tabular, name + '.csv')).read().splitlines()[1:] if l.strip()]
        x = np.array([[float(v) for v in r[:-1]] for r in rows], np.float32); nrm = np.array([r[-1] == normal for r in rows])
        idx = np.where(nrm)[0]; np.random.RandomState(12345).shuffle(idx)
        tr = np.sort(idx[:len(idx) // 2]); te = np.concatenate([np.sort(idx[len(idx) // 2:]), np.where(~nrm)[0]])
        lo = x[tr].min(0); hi = x[tr].max(0); rg = np.where(hi > lo, hi - lo, 1)
        X, T, y = (x[tr] - lo) / rg, (x[te] - lo) / rg, (~nrm[te]).astype(int)
        members = min(max((5000 + len(X) - 1) // len(X), 1), 10); au = {}
        for seed in range(5):
            per = [member_scores(X, T, seed * 100 + m, ks) for m in range(members)]
            for k in per[0]: au.setdefault(k, []).append(roc_auc_score(y, np.mean([p[k] for p in per], 0)))
        print(name, f'{len(X)} train rows, {members} members:', {k: f'{np.mean(v):.4f} +- {np.std(v):.4f}' for k, v in au.items()}, flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('what', choices=['fashion', 'tables'])
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    p.add_argument('--tabular', default=os.path.join(os.path.dirname(__file__), '..', 'data', 'tabular'))
    p.add_argument('--classes', default='0,1,2,3,4,5,6,7,8,9')
    p.add_argument('--neighbors', default='1,5,10,20')
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(); torch.set_num_threads(a.threads)
    ks = [int(v) for v in a.neighbors.split(',')]
    fashion(a, ks) if a.what == 'fashion' else tables(a, ks)
