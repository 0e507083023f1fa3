import type { Kernels, Ptr } from './api.js';

/**
 * Plain TypeScript implementation of every kernel: the oracle the WebAssembly kernels are
 * tested against, and a backend that runs anywhere. Written for clarity, not speed; sums
 * accumulate in f64 only where the wasm kernels would be expected to agree within 1e-4.
 */
export class ReferenceKernels implements Kernels {
  readonly name = 'reference';
  constructor(private readonly buffer: () => ArrayBufferLike) {}

  private f(): Float32Array {
    return new Float32Array(this.buffer());
  }
  private i(): Int32Array {
    return new Int32Array(this.buffer());
  }

  gemmNN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    const h = this.f(), a = A >> 2, b = B >> 2, c = C >> 2;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = accumulate ? h[c + i * N + j] : 0;
        for (let k = 0; k < K; k++) s += h[a + i * K + k] * h[b + k * N + j];
        h[c + i * N + j] = s;
      }
    }
  }

  gemmTN(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    const h = this.f(), a = A >> 2, b = B >> 2, c = C >> 2;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = accumulate ? h[c + i * N + j] : 0;
        for (let k = 0; k < K; k++) s += h[a + k * M + i] * h[b + k * N + j];
        h[c + i * N + j] = s;
      }
    }
  }

  gemmNT(M: number, N: number, K: number, A: Ptr, B: Ptr, C: Ptr, accumulate: boolean): void {
    const h = this.f(), a = A >> 2, b = B >> 2, c = C >> 2;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = accumulate ? h[c + i * N + j] : 0;
        for (let k = 0; k < K; k++) s += h[a + i * K + k] * h[b + j * K + k];
        h[c + i * N + j] = s;
      }
    }
  }

  addBiasRows(M: number, N: number, Y: Ptr, bias: Ptr): void {
    const h = this.f(), y = Y >> 2, b = bias >> 2;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) h[y + i * N + j] += h[b + j];
  }

  addBiasChannels(B: number, C: number, S: number, Y: Ptr, bias: Ptr): void {
    const h = this.f(), y = Y >> 2, b = bias >> 2;
    for (let n = 0; n < B; n++) for (let c = 0; c < C; c++) {
      const base = y + (n * C + c) * S;
      for (let s = 0; s < S; s++) h[base + s] += h[b + c];
    }
  }

  sumRows(M: number, N: number, X: Ptr, out: Ptr, accumulate: boolean): void {
    const h = this.f(), x = X >> 2, o = out >> 2;
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let i = 0; i < M; i++) s += h[x + i * N + j];
      h[o + j] = accumulate ? h[o + j] + s : s;
    }
  }

  sumChannels(B: number, C: number, S: number, X: Ptr, out: Ptr, accumulate: boolean): void {
    const h = this.f(), x = X >> 2, o = out >> 2;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < B; n++) for (let k = 0; k < S; k++) s += h[x + (n * C + c) * S + k];
      h[o + c] = accumulate ? h[o + c] + s : s;
    }
  }

  reluForward(n: number, X: Ptr, Y: Ptr): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    for (let i = 0; i < n; i++) h[y + i] = h[x + i] > 0 ? h[x + i] : 0;
  }

  reluBackward(n: number, Y: Ptr, dY: Ptr, dX: Ptr): void {
    const h = this.f(), y = Y >> 2, dy = dY >> 2, dx = dX >> 2;
    for (let i = 0; i < n; i++) h[dx + i] = h[y + i] > 0 ? h[dy + i] : 0;
  }

  add(n: number, A: Ptr, B: Ptr, Y: Ptr): void {
    const h = this.f(), a = A >> 2, b = B >> 2, y = Y >> 2;
    for (let i = 0; i < n; i++) h[y + i] = h[a + i] + h[b + i];
  }

  mul(n: number, A: Ptr, B: Ptr, Y: Ptr): void {
    const h = this.f(), a = A >> 2, b = B >> 2, y = Y >> 2;
    for (let i = 0; i < n; i++) h[y + i] = h[a + i] * h[b + i];
  }

  scale(n: number, X: Ptr, alpha: number): void {
    const h = this.f(), x = X >> 2;
    for (let i = 0; i < n; i++) h[x + i] *= alpha;
  }

  copy(n: number, src: Ptr, dst: Ptr): void {
    const h = this.f();
    h.copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  }

  fill(n: number, dst: Ptr, value: number): void {
    this.f().fill(value, dst >> 2, (dst >> 2) + n);
  }

  sumSquares(n: number, X: Ptr): number {
    const h = this.f(), x = X >> 2;
    let s = 0;
    for (let i = 0; i < n; i++) s += h[x + i] * h[x + i];
    return s;
  }

  layerNormForward(M: number, N: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr, mean: Ptr, invStd: Ptr, eps: number): void {
    const h = this.f(), x = X >> 2, y = Y >> 2, g = gamma >> 2, b = beta >> 2;
    for (let m = 0; m < M; m++) {
      const r = x + m * N;
      let s = 0;
      for (let j = 0; j < N; j++) s += h[r + j];
      const mu = s / N;
      let v = 0;
      for (let j = 0; j < N; j++) v += (h[r + j] - mu) ** 2;
      const is = 1 / Math.sqrt(v / N + eps);
      h[(mean >> 2) + m] = mu;
      h[(invStd >> 2) + m] = is;
      for (let j = 0; j < N; j++) h[y + m * N + j] = h[g + j] * (h[r + j] - mu) * is + h[b + j];
    }
  }

  layerNormBackward(M: number, N: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr, dX: Ptr, dGamma: Ptr, dBeta: Ptr): void {
    const h = this.f(), x = X >> 2, dy = dY >> 2, g = gamma >> 2, dx = dX >> 2;
    const dg = new Float64Array(N), db = new Float64Array(N);
    for (let m = 0; m < M; m++) {
      const mu = h[(mean >> 2) + m], is = h[(invStd >> 2) + m];
      let s1 = 0, s2 = 0;
      for (let j = 0; j < N; j++) {
        const xhat = (h[x + m * N + j] - mu) * is, d = h[dy + m * N + j];
        s1 += d * h[g + j];
        s2 += d * h[g + j] * xhat;
        dg[j] += d * xhat;
        db[j] += d;
      }
      for (let j = 0; j < N; j++) {
        const xhat = (h[x + m * N + j] - mu) * is;
        h[dx + m * N + j] = is * (h[dy + m * N + j] * h[g + j] - s1 / N - xhat * s2 / N);
      }
    }
    h.set(dg, dGamma >> 2);
    h.set(db, dBeta >> 2);
  }

  geluForward(n: number, X: Ptr, Y: Ptr): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    for (let i = 0; i < n; i++) h[y + i] = h[x + i] * normalCdf(h[x + i]);
  }

  geluBackward(n: number, X: Ptr, dY: Ptr, dX: Ptr): void {
    const h = this.f(), x = X >> 2, dy = dY >> 2, dx = dX >> 2;
    for (let i = 0; i < n; i++) {
      const v = h[x + i];
      h[dx + i] = h[dy + i] * (normalCdf(v) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
    }
  }

  softmaxRows(M: number, N: number, alpha: number, X: Ptr, Y: Ptr): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    const e = new Float64Array(N);
    for (let m = 0; m < M; m++) {
      let mx = -Infinity;
      for (let j = 0; j < N; j++) mx = Math.max(mx, alpha * h[x + m * N + j]);
      let s = 0;
      for (let j = 0; j < N; j++) s += e[j] = Math.exp(alpha * h[x + m * N + j] - mx);
      for (let j = 0; j < N; j++) h[y + m * N + j] = e[j] / s;
    }
  }

  softmaxRowsBackward(M: number, N: number, alpha: number, Y: Ptr, dY: Ptr, dX: Ptr): void {
    const h = this.f(), y = Y >> 2, dy = dY >> 2, dx = dX >> 2;
    for (let m = 0; m < M; m++) {
      let dot = 0;
      for (let j = 0; j < N; j++) dot += h[y + m * N + j] * h[dy + m * N + j];
      for (let j = 0; j < N; j++) h[dx + m * N + j] = alpha * h[y + m * N + j] * (h[dy + m * N + j] - dot);
    }
  }

  im2col(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void {
    const h = this.f(), x = X >> 2, o = col >> 2;
    const OH = Math.floor((H + 2 * pad - kh) / stride) + 1, OW = Math.floor((W + 2 * pad - kw) / stride) + 1;
    for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const row = (c * kh + p) * kw + q;
      for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const iy = oy * stride - pad + p, ix = ox * stride - pad + q;
        h[o + row * OH * OW + oy * OW + ox] = iy >= 0 && iy < H && ix >= 0 && ix < W ? h[x + (c * H + iy) * W + ix] : 0;
      }
    }
  }

  col2im(C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void {
    const h = this.f(), d = dX >> 2, o = col >> 2;
    const OH = Math.floor((H + 2 * pad - kh) / stride) + 1, OW = Math.floor((W + 2 * pad - kw) / stride) + 1;
    for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const row = (c * kh + p) * kw + q;
      for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const iy = oy * stride - pad + p, ix = ox * stride - pad + q;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) h[d + (c * H + iy) * W + ix] += h[o + row * OH * OW + oy * OW + ox];
      }
    }
  }

  maxPoolForward(P: number, H: number, W: number, k: number, stride: number, X: Ptr, Y: Ptr, argmax: Ptr): void {
    const h = this.f(), ii = this.i(), x = X >> 2, y = Y >> 2, am = argmax >> 2;
    const OH = Math.floor((H - k) / stride) + 1, OW = Math.floor((W - k) / stride) + 1;
    for (let pl = 0; pl < P; pl++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      let best = -Infinity, bi = 0;
      for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
        const idx = (oy * stride + p) * W + ox * stride + q;
        const v = h[x + pl * H * W + idx];
        if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; bi = idx; }
      }
      h[y + (pl * OH + oy) * OW + ox] = best;
      ii[am + (pl * OH + oy) * OW + ox] = bi;
    }
  }

  maxPoolBackward(P: number, H: number, W: number, k: number, stride: number, dY: Ptr, argmax: Ptr, dX: Ptr): void {
    const h = this.f(), ii = this.i(), dy = dY >> 2, am = argmax >> 2, dx = dX >> 2;
    const OH = Math.floor((H - k) / stride) + 1, OW = Math.floor((W - k) / stride) + 1;
    h.fill(0, dx, dx + P * H * W);
    for (let pl = 0; pl < P; pl++) for (let o = 0; o < OH * OW; o++) {
      h[dx + pl * H * W + ii[am + pl * OH * OW + o]] += h[dy + pl * OH * OW + o];
    }
  }

  globalAvgPoolForward(P: number, S: number, X: Ptr, Y: Ptr): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let i = 0; i < S; i++) s += h[x + p * S + i];
      h[y + p] = s / S;
    }
  }

  globalAvgPoolBackward(P: number, S: number, dY: Ptr, dX: Ptr): void {
    const h = this.f(), dy = dY >> 2, dx = dX >> 2;
    for (let p = 0; p < P; p++) for (let i = 0; i < S; i++) h[dx + p * S + i] = h[dy + p] / S;
  }

  batchNormTrainForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, Y: Ptr,
    mean: Ptr, invStd: Ptr, runMean: Ptr, runVar: Ptr, momentum: number, eps: number,
  ): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    const cnt = B * S;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) s += h[x + (n * C + c) * S + i];
      const mu = s / cnt;
      let v = 0;
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) { const d = h[x + (n * C + c) * S + i] - mu; v += d * d; }
      const varB = v / cnt;
      const is = 1 / Math.sqrt(varB + eps);
      h[(mean >> 2) + c] = mu;
      h[(invStd >> 2) + c] = is;
      const g = h[(gamma >> 2) + c], bt = h[(beta >> 2) + c];
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) {
        const k = (n * C + c) * S + i;
        h[y + k] = g * (h[x + k] - mu) * is + bt;
      }
      const unbiased = cnt > 1 ? v / (cnt - 1) : varB;
      h[(runMean >> 2) + c] = (1 - momentum) * h[(runMean >> 2) + c] + momentum * mu;
      h[(runVar >> 2) + c] = (1 - momentum) * h[(runVar >> 2) + c] + momentum * unbiased;
    }
  }

  batchNormEvalForward(
    B: number, C: number, S: number, X: Ptr, gamma: Ptr, beta: Ptr, runMean: Ptr, runVar: Ptr, eps: number, Y: Ptr,
  ): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    for (let c = 0; c < C; c++) {
      const is = 1 / Math.sqrt(h[(runVar >> 2) + c] + eps);
      const mu = h[(runMean >> 2) + c], g = h[(gamma >> 2) + c], bt = h[(beta >> 2) + c];
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) {
        const k = (n * C + c) * S + i;
        h[y + k] = g * (h[x + k] - mu) * is + bt;
      }
    }
  }

  batchNormBackward(
    B: number, C: number, S: number, X: Ptr, dY: Ptr, gamma: Ptr, mean: Ptr, invStd: Ptr,
    dX: Ptr, dGamma: Ptr, dBeta: Ptr,
  ): void {
    const h = this.f(), x = X >> 2, dy = dY >> 2, dx = dX >> 2;
    const cnt = B * S;
    for (let c = 0; c < C; c++) {
      const mu = h[(mean >> 2) + c], is = h[(invStd >> 2) + c], g = h[(gamma >> 2) + c];
      let sdy = 0, sdyx = 0;
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) {
        const k = (n * C + c) * S + i;
        sdy += h[dy + k];
        sdyx += h[dy + k] * (h[x + k] - mu) * is;
      }
      h[(dGamma >> 2) + c] += sdyx;
      h[(dBeta >> 2) + c] += sdy;
      for (let n = 0; n < B; n++) for (let i = 0; i < S; i++) {
        const k = (n * C + c) * S + i;
        const xhat = (h[x + k] - mu) * is;
        h[dx + k] = (g * is / cnt) * (cnt * h[dy + k] - sdy - xhat * sdyx);
      }
    }
  }

  softmaxCrossEntropy(B: number, C: number, logits: Ptr, labels: Ptr, smoothing: number, dLogits: Ptr): { loss: number; correct: number } {
    const h = this.f(), ii = this.i(), z = logits >> 2, lb = labels >> 2, d = dLogits >> 2;
    let loss = 0, correct = 0;
    for (let b = 0; b < B; b++) {
      let mx = -Infinity, arg = 0;
      for (let c = 0; c < C; c++) if (h[z + b * C + c] > mx) { mx = h[z + b * C + c]; arg = c; }
      let se = 0;
      for (let c = 0; c < C; c++) se += Math.exp(h[z + b * C + c] - mx);
      const lse = mx + Math.log(se);
      const y = ii[lb + b];
      if (arg === y) correct++;
      for (let c = 0; c < C; c++) {
        const t = (c === y ? 1 - smoothing : 0) + smoothing / C;
        const p = Math.exp(h[z + b * C + c] - lse);
        loss -= t * (h[z + b * C + c] - lse);
        h[d + b * C + c] = (p - t) / B;
      }
    }
    return { loss: loss / B, correct };
  }

  sgdStep(n: number, W: Ptr, G: Ptr, M: Ptr, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void {
    const h = this.f(), w = W >> 2, g = G >> 2, m = M >> 2;
    for (let i = 0; i < n; i++) {
      const gi = h[g + i] + weightDecay * h[w + i];
      const mi = momentum * h[m + i] + gi;
      h[m + i] = mi;
      h[w + i] -= lr * (nesterov ? gi + momentum * mi : mi);
    }
  }

  adamwStep(
    n: number, W: Ptr, G: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, bc1: number, bc2: number,
  ): void {
    const h = this.f(), w = W >> 2, g = G >> 2, mm = m >> 2, vv = v >> 2;
    for (let i = 0; i < n; i++) {
      h[w + i] -= lr * weightDecay * h[w + i];
      const gi = h[g + i];
      h[mm + i] = beta1 * h[mm + i] + (1 - beta1) * gi;
      h[vv + i] = beta2 * h[vv + i] + (1 - beta2) * gi * gi;
      h[w + i] -= lr * (h[mm + i] / bc1) / (Math.sqrt(h[vv + i] / bc2) + eps);
    }
  }

  im2colBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, X: Ptr, col: Ptr): void {
    const h = this.f(), x = X >> 2, o = col >> 2;
    const OH = Math.floor((H + 2 * pad - kh) / stride) + 1, OW = Math.floor((W + 2 * pad - kw) / stride) + 1;
    const S = OH * OW;
    for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const row = (c * kh + p) * kw + q;
      for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const iy = oy * stride - pad + p, ix = ox * stride - pad + q;
        h[o + row * B * S + b * S + oy * OW + ox] = iy >= 0 && iy < H && ix >= 0 && ix < W ? h[x + ((b * C + c) * H + iy) * W + ix] : 0;
      }
    }
  }

  col2imBatch(B: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number, col: Ptr, dX: Ptr): void {
    const h = this.f(), d = dX >> 2, o = col >> 2;
    const OH = Math.floor((H + 2 * pad - kh) / stride) + 1, OW = Math.floor((W + 2 * pad - kw) / stride) + 1;
    const S = OH * OW;
    h.fill(0, d, d + B * C * H * W);
    for (let c = 0; c < C; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const row = (c * kh + p) * kw + q;
      for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
        const iy = oy * stride - pad + p, ix = ox * stride - pad + q;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) h[d + ((b * C + c) * H + iy) * W + ix] += h[o + row * B * S + b * S + oy * OW + ox];
      }
    }
  }

  swapAxes(A: number, B: number, S: number, X: Ptr, Y: Ptr): void {
    const h = this.f(), x = X >> 2, y = Y >> 2;
    for (let i = 0; i < A; i++) for (let j = 0; j < B; j++) for (let s = 0; s < S; s++) h[y + (j * A + i) * S + s] = h[x + (i * B + j) * S + s];
  }

  sparseRowsForward(rows: number, n: number, rowPtr: Ptr, col: Ptr, W: Ptr, xT: Ptr, yT: Ptr): void {
    const h = this.f(), ix = this.i(), rp = rowPtr >> 2, cp = col >> 2, w = W >> 2, x = xT >> 2, y = yT >> 2;
    for (let j = 0; j < rows; j++) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let t = ix[rp + j]; t < ix[rp + j + 1]; t++) s += h[w + t] * h[x + ix[cp + t] * n + b];
        h[y + j * n + b] = s;
      }
    }
  }

  sparseRowsWeightGrad(rows: number, n: number, rowPtr: Ptr, col: Ptr, G: Ptr, dyT: Ptr, xT: Ptr): void {
    const h = this.f(), ix = this.i(), rp = rowPtr >> 2, cp = col >> 2, g = G >> 2, dy = dyT >> 2, x = xT >> 2;
    for (let j = 0; j < rows; j++) {
      for (let t = ix[rp + j]; t < ix[rp + j + 1]; t++) {
        const c = ix[cp + t];
        let s = 0;
        for (let b = 0; b < n; b++) s += h[dy + j * n + b] * h[x + c * n + b];
        h[g + t] = s;
      }
    }
  }

  sparseColsInputGrad(cols: number, n: number, colPtr: Ptr, rowIdx: Ptr, wPos: Ptr, W: Ptr, dyT: Ptr, dxT: Ptr): void {
    const h = this.f(), ix = this.i(), cp = colPtr >> 2, ri = rowIdx >> 2, wp = wPos >> 2, w = W >> 2, dy = dyT >> 2, dx = dxT >> 2;
    for (let i = 0; i < cols; i++) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let e = ix[cp + i]; e < ix[cp + i + 1]; e++) s += h[w + ix[wp + e]] * h[dy + ix[ri + e] * n + b];
        h[dx + i * n + b] = s;
      }
    }
  }
}

/**
 * Φ(x), the standard normal CDF, to f64 precision: erf(z) = 2/√π·e^(−z²)·Σ_k 2^k z^(2k+1)/(2k+1)!!
 * (Abramowitz & Stegun 7.1.6: all terms positive, so no cancellation), and erf = ±1 in f64 beyond |z| = 6.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let erf = 1;
  if (z < 6) {
    let term = z, sum = z;
    for (let k = 1; term > 1e-17 * sum; k++) {
      term *= (2 * z * z) / (2 * k + 1);
      sum += term;
    }
    erf = Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum);
  }
  return 0.5 * (1 + (x < 0 ? -erf : erf));
}
