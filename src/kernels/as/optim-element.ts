// Per-element optimizer arithmetic shared by the dense steps' scalar tails (ops.ts) and the
// steps at listed positions (sparse-train.ts), so both update an element identically. Kept out
// of index.ts's exports: these are inlined helpers, not kernels.

@inline function f32At(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** SGD with momentum at element i: g = G + wd·W; m = μ·m + g; W -= lr · (nesterov ? g + μ·m : m). */
@inline
export function sgdElement(i: i32, w: usize, g: usize, m: usize, lr: f32, mu: f32, wd: f32, nesterov: i32): void {
  const wi = load<f32>(f32At(w, i));
  const gi = load<f32>(f32At(g, i)) + wd * wi;
  const mi = mu * load<f32>(f32At(m, i)) + gi;
  store<f32>(f32At(m, i), mi);
  store<f32>(f32At(w, i), wi - lr * (nesterov ? gi + mu * mi : mi));
}

/** AdamW at element i, given decay = 1 − lr·wd, ib1 = 1 − β1, ib2 = 1 − β2 and the reciprocal bias corrections. */
@inline
export function adamwElement(i: i32, w: usize, g: usize, m: usize, v: usize, lr: f32, b1: f32, b2: f32, eps: f32, decay: f32, ib1: f32, ib2: f32, rbc1: f32, rbc2: f32): void {
  const gi = load<f32>(f32At(g, i));
  const mi = b1 * load<f32>(f32At(m, i)) + ib1 * gi;
  const vi = b2 * load<f32>(f32At(v, i)) + ib2 * gi * gi;
  store<f32>(f32At(m, i), mi);
  store<f32>(f32At(v, i), vi);
  const wi = load<f32>(f32At(w, i)) * decay;
  store<f32>(f32At(w, i), wi - lr * (mi * rbc1) / (Mathf.sqrt(vi * rbc2) + eps));
}
