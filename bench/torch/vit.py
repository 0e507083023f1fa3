"""PyTorch anchor for srigl's `--model vit`: the same architecture and recipe, trained dense.

Run with Debian's PyTorch (python3-torch 1.13, OpenBLAS):
    /usr/bin/python3 bench/torch/vit.py --epochs 20 --seed 0 --threads 1 --out bench/results/vit/torch-dense-s0.json

Architecture (as src/nn/models.ts builds it): a 7×7 stride-7 conv patch embedding to width 64, a
class token and learned position embeddings (truncated normal, std 0.02), 4 pre-norm blocks
(LayerNorm eps 1e-5, 4-head self-attention with separate q/k/v/proj Linear layers, an MLP
64→128→64 with exact erf GELU, residuals), the class token's LayerNorm and a Linear head.
Recipe (srigl's vit defaults): AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, decoupled weight
decay 0.05 on conv/Linear weights only (biases, norms, class token and position embeddings
exempt), batch 128, one linear warm-up epoch then per-step cosine to 0, label smoothing 0.1,
horizontal flips (random crops with --crop-padding N), inputs standardised with
mean 0.286, std 0.353. Linear/conv weights keep PyTorch's default init (kaiming uniform a=√5,
the same rule srigl uses). Prints one JSON line per epoch and writes the summary to --out.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.286, 0.353


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    prefix = 'train' if split == 'train' else 't10k'
    x = read_idx(os.path.join(DATA, f'{prefix}-images-idx3-ubyte.gz')).astype(np.float32)
    y = read_idx(os.path.join(DATA, f'{prefix}-labels-idx1-ubyte.gz')).astype(np.int64)
    x = (x / 255.0 - MEAN) / STD
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        h = self.heads
        q = self.q(x).reshape(n, t, h, d // h).transpose(1, 2)
        k = self.k(x).reshape(n, t, h, d // h).transpose(1, 2)
        v = self.v(x).reshape(n, t, h, d // h).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)) * (d // h) ** -0.5
        o = (a.softmax(-1) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(o)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.norm2(x))))))


class ViT(nn.Module):
    def __init__(self, patch=7, dim=64, depth=4, heads=4, mlp_ratio=2, classes=10, dropout=0.0):
        super().__init__()
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        tokens = (28 // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02, a=-0.04, b=0.04)
        nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)
        self.blocks = nn.ModuleList([Block(dim, heads, round(mlp_ratio * dim), dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x[:, 0]))


def augment(x, gen, padding=2):
    """Random crop with black padding and horizontal flips, per example (torchvision's RandomCrop + RandomHorizontalFlip)."""
    n = x.shape[0]
    black = (0.0 - MEAN) / STD
    padded = F.pad(x, (padding,) * 4, value=black)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    ar = torch.arange(28)
    rows = dy[:, None] + ar  # [n, 28]
    cols = torch.where(flip[:, None], dx[:, None] + 27 - ar, dx[:, None] + ar)
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--weight-decay', type=float, default=0.05)
    ap.add_argument('--label-smoothing', type=float, default=0.1)
    ap.add_argument('--crop-padding', type=int, default=0)
    ap.add_argument('--no-flip', action='store_true')
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--limit-train', type=int, default=0)
    ap.add_argument('--out', default='')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    xtr, ytr = load('train')
    xte, yte = load('test')
    if args.limit_train:
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    model = ViT(dropout=args.dropout)
    decay = [p for n, p in model.named_parameters() if n.endswith('weight') and p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith('weight') and p.dim() > 1)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(xtr) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = steps_per_epoch

    def lr_at(step):
        span = max(1, total - warmup)
        t = min(1.0, max(0, step - warmup) / span)
        main_lr = 0.5 * args.lr * (1 + math.cos(math.pi * t))
        return main_lr * (step + 1) / warmup if step < warmup else main_lr

    step = 0
    history = []
    wall0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        t0 = time.perf_counter()
        train_loss = 0.0
        correct = 0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = xtr[idx]
            if args.crop_padding > 0 or not args.no_flip:
                x = augment(x, gen, args.crop_padding)
            y = ytr[idx]
            for g in opt.param_groups:
                g['lr'] = lr_at(step)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            train_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            test_logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
            test_acc = (test_logits.argmax(1) == yte).float().mean().item()
        row = {'epoch': epoch, 'trainLoss': train_loss / len(xtr), 'trainAcc': correct / len(xtr), 'testAcc': test_acc,
               'samplesPerSec': len(xtr) / seconds, 'wallSeconds': time.perf_counter() - wall0}
        history.append(row)
        print(json.dumps(row), flush=True)
    summary = {'torch': torch.__version__, 'threads': args.threads, 'args': vars(args),
               'params': sum(p.numel() for p in model.parameters()), 'final': history[-1], 'epochs': history}
    if args.out:
        with open(args.out + '.tmp', 'w') as f:
            json.dump(summary, f, indent=1)
        os.replace(args.out + '.tmp', args.out)


if __name__ == '__main__':
    main()
