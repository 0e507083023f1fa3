// Batch-1 gather-dot variants, measured by bench/experiments/spmv-gather.ts (not shipped):
//   A: as shipped (gatherDot8: u16 indices, x at a runtime address)
//   B: indices stored as byte offsets (saves the shift)
//   C: byte offsets, x at a fixed address folded into the load immediates (saves shift and add)
//   D: B with two rows interleaved (four accumulators)
@inline function madd(a: v128, b: v128, c: v128): v128 { return f32x4.relaxed_madd(a, b, c); }

// A: as shipped (gatherDot8, u16 indices, x runtime)
export function spmvA(r0: i32, r1: i32, k: i32, values: usize, indices: usize, bias: usize, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    let vp = values + ((<usize>r * <usize>k) << 2);
    let ip = indices + ((<usize>r * <usize>k) << 1);
    let a0 = f32x4.splat(0); let a1 = a0;
    let j = 0;
    for (; j + 8 <= k; j += 8) {
      let x0 = v128.load32_zero(x + (<usize>load<u16>(ip) << 2));
      let x1 = v128.load32_zero(x + (<usize>load<u16>(ip, 8) << 2));
      x0 = v128.load32_lane(x + (<usize>load<u16>(ip, 2) << 2), x0, 1);
      x1 = v128.load32_lane(x + (<usize>load<u16>(ip, 10) << 2), x1, 1);
      x0 = v128.load32_lane(x + (<usize>load<u16>(ip, 4) << 2), x0, 2);
      x1 = v128.load32_lane(x + (<usize>load<u16>(ip, 12) << 2), x1, 2);
      x0 = v128.load32_lane(x + (<usize>load<u16>(ip, 6) << 2), x0, 3);
      x1 = v128.load32_lane(x + (<usize>load<u16>(ip, 14) << 2), x1, 3);
      a0 = madd(v128.load(vp), x0, a0);
      a1 = madd(v128.load(vp, 16), x1, a1);
      vp += 32; ip += 16;
    }
    const acc = f32x4.add(a0, a1);
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < k; j++) { s += load<f32>(vp) * load<f32>(x + (<usize>load<u16>(ip) << 2)); vp += 4; ip += 2; }
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

// B: byte offsets, x runtime
export function spmvB(r0: i32, r1: i32, k: i32, values: usize, offs: usize, bias: usize, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    let vp = values + ((<usize>r * <usize>k) << 2);
    let ip = offs + ((<usize>r * <usize>k) << 1);
    let a0 = f32x4.splat(0); let a1 = a0;
    let j = 0;
    for (; j + 8 <= k; j += 8) {
      let x0 = v128.load32_zero(x + <usize>load<u16>(ip));
      let x1 = v128.load32_zero(x + <usize>load<u16>(ip, 8));
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 2), x0, 1);
      x1 = v128.load32_lane(x + <usize>load<u16>(ip, 10), x1, 1);
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 4), x0, 2);
      x1 = v128.load32_lane(x + <usize>load<u16>(ip, 12), x1, 2);
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 6), x0, 3);
      x1 = v128.load32_lane(x + <usize>load<u16>(ip, 14), x1, 3);
      a0 = madd(v128.load(vp), x0, a0);
      a1 = madd(v128.load(vp, 16), x1, a1);
      vp += 32; ip += 16;
    }
    const acc = f32x4.add(a0, a1);
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < k; j++) { s += load<f32>(vp) * load<f32>(x + <usize>load<u16>(ip)); vp += 4; ip += 2; }
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

// C: byte offsets relative to a fixed x at address XC (immediate offset)
const XC: usize = 32768;
export function spmvC(r0: i32, r1: i32, k: i32, values: usize, offs: usize, bias: usize, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    let vp = values + ((<usize>r * <usize>k) << 2);
    let ip = offs + ((<usize>r * <usize>k) << 1);
    let a0 = f32x4.splat(0); let a1 = a0;
    let j = 0;
    for (; j + 8 <= k; j += 8) {
      let x0 = v128.load32_zero(<usize>load<u16>(ip), XC);
      let x1 = v128.load32_zero(<usize>load<u16>(ip, 8), XC);
      x0 = v128.load32_lane(<usize>load<u16>(ip, 2), x0, 1, XC);
      x1 = v128.load32_lane(<usize>load<u16>(ip, 10), x1, 1, XC);
      x0 = v128.load32_lane(<usize>load<u16>(ip, 4), x0, 2, XC);
      x1 = v128.load32_lane(<usize>load<u16>(ip, 12), x1, 2, XC);
      x0 = v128.load32_lane(<usize>load<u16>(ip, 6), x0, 3, XC);
      x1 = v128.load32_lane(<usize>load<u16>(ip, 14), x1, 3, XC);
      a0 = madd(v128.load(vp), x0, a0);
      a1 = madd(v128.load(vp, 16), x1, a1);
      vp += 32; ip += 16;
    }
    const acc = f32x4.add(a0, a1);
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < k; j++) { s += load<f32>(vp) * load<f32>(<usize>load<u16>(ip), XC); vp += 4; ip += 2; }
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

// D: like B but two rows interleaved (4 accumulators)
export function spmvD(r0: i32, r1: i32, k: i32, values: usize, offs: usize, bias: usize, x: usize, y: usize): void {
  let r = r0;
  for (; r + 2 <= r1; r += 2) {
    let vp = values + ((<usize>r * <usize>k) << 2);
    let ip = offs + ((<usize>r * <usize>k) << 1);
    let vq = vp + (<usize>k << 2);
    let iq = ip + (<usize>k << 1);
    let a0 = f32x4.splat(0); let a1 = a0;
    let j = 0;
    for (; j + 4 <= k; j += 4) {
      let x0 = v128.load32_zero(x + <usize>load<u16>(ip));
      let x1 = v128.load32_zero(x + <usize>load<u16>(iq));
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 2), x0, 1);
      x1 = v128.load32_lane(x + <usize>load<u16>(iq, 2), x1, 1);
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 4), x0, 2);
      x1 = v128.load32_lane(x + <usize>load<u16>(iq, 4), x1, 2);
      x0 = v128.load32_lane(x + <usize>load<u16>(ip, 6), x0, 3);
      x1 = v128.load32_lane(x + <usize>load<u16>(iq, 6), x1, 3);
      a0 = madd(v128.load(vp), x0, a0);
      a1 = madd(v128.load(vq), x1, a1);
      vp += 16; ip += 8; vq += 16; iq += 8;
    }
    let s = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
    let t = f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3);
    for (; j < k; j++) { s += load<f32>(vp) * load<f32>(x + <usize>load<u16>(ip)); t += load<f32>(vq) * load<f32>(x + <usize>load<u16>(iq)); vp += 4; ip += 2; vq += 4; iq += 2; }
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
    store<f32>(y + (<usize>r << 2) + 4, load<f32>(bias + (<usize>r << 2) + 4) + t);
  }
  if (r < r1) spmvB(r, r1, k, values, offs, bias, x, y);
}
