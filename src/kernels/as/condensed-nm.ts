// N:M condensed kernels: every active row keeps exactly N of every group of M inputs, so a
// weight is stored as its value and its offset within its group (u8) instead of a u16 column.
//
//   batch 1  (spmv): y[r]     = bias[r] + Σ_j values[r,j] · x[gbase[j] + stride·offsets[r,j]]
//   batched  (spmm): Yᵀ[r, :] = bias[r] + Σ_j values[r,j] · Xᵀ[gbase[j] + stride·offsets[r,j], :]
//
// Weights are in group order (group g's quota of weights, offsets ascending, then group g + 1;
// see src/sparse/condensed/layer.ts). Every row has the same groups, so the column where the
// group of weight position j starts is one table for the whole layer, gbase [k] (i32, built at
// upload, k·4 bytes that stay in L1), and a row streams only values and offsets: 5 bytes per
// weight instead of 6. `stride` is the column distance between two members of a group: 1 for
// Linear, kh·kw for Conv2d (whose groups are M consecutive input channels at one tap).
//
// Two paths. Linear layers at N ∈ {1, 2, 4}, M ∈ {4, 8, 16} (batch 1 and the 16-lane tiles) take
// a path compiled for that N and M: eight weights start at a group boundary, so weight i of the
// block reads input (block base + (i / N)·M + offset), with (i / N)·M a constant folded into the
// address — one byte load per weight where the u16-index kernel has one u16 load. Everything
// else (other N and M, Conv2d's strided groups, a partial last group, the 8/4/1-lane tails) reads
// the group base table beside the offsets (in pairs and fours, or eight per SIMD load at batch 1).
// Register tiles, packed 16-lane panels, lane units and the row split are the constant-fan-in
// kernel's (condensed.ts), so results are bit-identical for any thread count.
import { madd } from './simd';
import { im2col_f32 } from './conv';
import { packPanel16 } from './condensed-rows';
import { spmm_lane_units } from './condensed';

/** Column of weight j: its group's base plus stride × its offset. */
@inline
function col(op: usize, gp: usize, j: i32, stride: i32): usize {
  return <usize>(load<i32>(gp + (<usize>j << 2)) + <i32>load<u8>(op + <usize>j) * stride);
}

// ---- batch 1 ----------------------------------------------------------------------------------

/**
 * Σ_j v[j]·x[col j] over one row. SIMD: eight weights per step, their offsets widened in
 * registers (one 8-byte load), added to the group bases (two 16-byte loads) and turned into byte
 * addresses, gathered lane by lane into two accumulators (as gatherDot8).
 */
@inline
function nmDot(vp: usize, op: usize, gp: usize, len: i32, stride: i32, x: usize): f32 {
  let j = 0;
  let s: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    const xv = i32x4.splat(<i32>x);
    const sv = i32x4.splat(stride << 2);
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    for (; j + 8 <= len; j += 8) {
      const o = v128.load8x8_u(op + <usize>j);
      const p0 = i32x4.add(i32x4.add(xv, i32x4.shl(v128.load(gp + (<usize>j << 2)), 2)), i32x4.mul(i32x4.extend_low_i16x8_u(o), sv));
      const p1 = i32x4.add(i32x4.add(xv, i32x4.shl(v128.load(gp + (<usize>j << 2), 16), 2)), i32x4.mul(i32x4.extend_high_i16x8_u(o), sv));
      let x0 = v128.load32_zero(<usize>i32x4.extract_lane(p0, 0));
      let x1 = v128.load32_zero(<usize>i32x4.extract_lane(p1, 0));
      x0 = v128.load32_lane(<usize>i32x4.extract_lane(p0, 1), x0, 1);
      x1 = v128.load32_lane(<usize>i32x4.extract_lane(p1, 1), x1, 1);
      x0 = v128.load32_lane(<usize>i32x4.extract_lane(p0, 2), x0, 2);
      x1 = v128.load32_lane(<usize>i32x4.extract_lane(p1, 2), x1, 2);
      x0 = v128.load32_lane(<usize>i32x4.extract_lane(p0, 3), x0, 3);
      x1 = v128.load32_lane(<usize>i32x4.extract_lane(p1, 3), x1, 3);
      a0 = madd(v128.load(vp + (<usize>j << 2)), x0, a0);
      a1 = madd(v128.load(vp + (<usize>j << 2), 16), x1, a1);
    }
    const acc = f32x4.add(a0, a1);
    s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  } else {
    let s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; j + 4 <= len; j += 4) {
      s += load<f32>(vp + (<usize>j << 2)) * load<f32>(x + (col(op, gp, j, stride) << 2));
      s1 += load<f32>(vp + (<usize>j << 2), 4) * load<f32>(x + (col(op, gp, j + 1, stride) << 2));
      s2 += load<f32>(vp + (<usize>j << 2), 8) * load<f32>(x + (col(op, gp, j + 2, stride) << 2));
      s3 += load<f32>(vp + (<usize>j << 2), 12) * load<f32>(x + (col(op, gp, j + 3, stride) << 2));
    }
    s = (s + s1) + (s2 + s3);
  }
  for (; j < len; j++) s += load<f32>(vp + (<usize>j << 2)) * load<f32>(x + (col(op, gp, j, stride) << 2));
  return s;
}

/**
 * nmDot for a Linear row whose N and M the compiler knows (N dividing 8): eight weights start a
 * group boundary, so weight i of a block reads x at the block's group base + (i / N)·M + offset,
 * where (i / N)·M·4 is a constant the address add folds in. One byte load per weight and the
 * address, as the u16-index kernel's one index load; the weights past the last whole block (and
 * a partial last group) take nmDot's per-weight path.
 */
@inline
function nmDotFixed(vp: usize, op: usize, gp: usize, len: i32, full: i32, x: usize, N: i32, M: i32): f32 {
  let j = 0;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let xb = x;
  for (; j + 8 <= full; j += 8) {
    const o = op + <usize>j;
    let x0 = v128.load32_zero(xb + (<usize>load<u8>(o) << 2));
    let x1 = v128.load32_zero(xb + (<usize>load<u8>(o, 4) << 2) + <usize>((4 / N) * M * 4));
    x0 = v128.load32_lane(xb + (<usize>load<u8>(o, 1) << 2) + <usize>((1 / N) * M * 4), x0, 1);
    x1 = v128.load32_lane(xb + (<usize>load<u8>(o, 5) << 2) + <usize>((5 / N) * M * 4), x1, 1);
    x0 = v128.load32_lane(xb + (<usize>load<u8>(o, 2) << 2) + <usize>((2 / N) * M * 4), x0, 2);
    x1 = v128.load32_lane(xb + (<usize>load<u8>(o, 6) << 2) + <usize>((6 / N) * M * 4), x1, 2);
    x0 = v128.load32_lane(xb + (<usize>load<u8>(o, 3) << 2) + <usize>((3 / N) * M * 4), x0, 3);
    x1 = v128.load32_lane(xb + (<usize>load<u8>(o, 7) << 2) + <usize>((7 / N) * M * 4), x1, 3);
    a0 = madd(v128.load(vp + (<usize>j << 2)), x0, a0);
    a1 = madd(v128.load(vp + (<usize>j << 2), 16), x1, a1);
    xb += <usize>((8 / N) * M * 4);
  }
  const acc = f32x4.add(a0, a1);
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < len; j++) s += load<f32>(vp + (<usize>j << 2)) * load<f32>(x + (col(op, gp, j, 1) << 2));
  return s;
}

@inline
function spmvFixed(r0: i32, r1: i32, k: i32, full: i32, values: usize, offsets: usize, gbase: usize, bias: usize, x: usize, y: usize, N: i32, M: i32): void {
  for (let r = r0; r < r1; r++) {
    const base = <usize>r * <usize>k;
    const s = nmDotFixed(values + (base << 2), offsets + base, gbase, k, full, x, N, M);
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

/**
 * Batch 1, rows [r0, r1) of a layer N:M over `cols` inputs. Linear layers (stride 1) at
 * N ∈ {1, 2, 4} and M ∈ {4, 8, 16} take the compiled fixed-structure path, the rest nmDot.
 */
export function spmv_nm_f32_1x8(
  r0: i32, r1: i32, k: i32, n: i32, m: i32, stride: i32, cols: i32, values: usize, offsets: usize, gbase: usize, bias: usize, x: usize, y: usize,
): void {
  if (ASC_FEATURE_SIMD && stride == 1) {
    const full = n * (cols / m);
    switch (n * 100 + m) {
      case 104: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 1, 4); return;
      case 108: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 1, 8); return;
      case 116: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 1, 16); return;
      case 204: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 2, 4); return;
      case 208: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 2, 8); return;
      case 216: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 2, 16); return;
      case 408: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 4, 8); return;
      case 416: spmvFixed(r0, r1, k, full, values, offsets, gbase, bias, x, y, 4, 16); return;
    }
  }
  for (let r = r0; r < r1; r++) {
    const base = <usize>r * <usize>k;
    const s = nmDot(values + (base << 2), offsets + base, gbase, k, stride, x);
    store<f32>(y + (<usize>r << 2), load<f32>(bias + (<usize>r << 2)) + s);
  }
}

// ---- batch-contiguous lanes ---------------------------------------------------------------------

/**
 * Lanes [b, b+16) of one row (as axpyRow16: two weights per step, combined off the accumulator
 * chain). The two offsets come in one u16 load, the two group bases in one u64 load.
 */
@inline
function nmRow16(vp: usize, op: usize, gp: usize, len: i32, stride: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let a1 = a0, a2 = a0, a3 = a0;
  let j = 0;
  for (; j + 2 <= len; j += 2) {
    const v = f32x4.splat(load<f32>(vp));
    const w = f32x4.splat(load<f32>(vp, 4));
    const o = <i32>load<u16>(op);
    const g = load<u64>(gp);
    const xp = xb + <usize>(<i32>g + (o & 0xff) * stride) * ldx;
    const xq = xb + <usize>(<i32>(g >>> 32) + (o >>> 8) * stride) * ldx;
    a0 = f32x4.add(a0, madd(w, v128.load(xq), f32x4.mul(v, v128.load(xp))));
    a1 = f32x4.add(a1, madd(w, v128.load(xq, 16), f32x4.mul(v, v128.load(xp, 16))));
    a2 = f32x4.add(a2, madd(w, v128.load(xq, 32), f32x4.mul(v, v128.load(xp, 32))));
    a3 = f32x4.add(a3, madd(w, v128.load(xq, 48), f32x4.mul(v, v128.load(xp, 48))));
    vp += 8;
    op += 2;
    gp += 8;
  }
  if (j < len) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = xb + col(op, gp, 0, stride) * ldx;
    a0 = madd(v, v128.load(xp), a0);
    a1 = madd(v, v128.load(xp, 16), a1);
    a2 = madd(v, v128.load(xp, 32), a2);
    a3 = madd(v, v128.load(xp, 48), a3);
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
  v128.store(yp, a2, 32);
  v128.store(yp, a3, 48);
}

/**
 * nmRow16 over a packed panel (rows 64 bytes apart) for a Linear row with N and M known to the
 * compiler (N dividing 8): eight weights a step from a group boundary, weight i at panel row
 * (block base + (i / N)·M + offset), the (i / N)·M·64 a folded constant; then the rest per weight.
 */
@inline
function nmRow16Fixed(vp: usize, op: usize, gp: usize, len: i32, full: i32, panel: usize, bias: f32, yp: usize, N: i32, M: i32): void {
  let a0 = f32x4.splat(bias);
  let a1 = a0, a2 = a0, a3 = a0;
  let xb = panel;
  let j = 0;
  for (; j + 8 <= full; j += 8) {
    const o = op + <usize>j;
    for (let q = 0; q < 8; q += 2) {
      const v = f32x4.splat(load<f32>(vp + (<usize>q << 2)));
      const w = f32x4.splat(load<f32>(vp + (<usize>q << 2), 4));
      const xp = xb + (<usize>load<u8>(o + <usize>q) << 6) + <usize>((q / N) * M * 64);
      const xq = xb + (<usize>load<u8>(o + <usize>q, 1) << 6) + <usize>(((q + 1) / N) * M * 64);
      a0 = f32x4.add(a0, madd(w, v128.load(xq), f32x4.mul(v, v128.load(xp))));
      a1 = f32x4.add(a1, madd(w, v128.load(xq, 16), f32x4.mul(v, v128.load(xp, 16))));
      a2 = f32x4.add(a2, madd(w, v128.load(xq, 32), f32x4.mul(v, v128.load(xp, 32))));
      a3 = f32x4.add(a3, madd(w, v128.load(xq, 48), f32x4.mul(v, v128.load(xp, 48))));
    }
    xb += <usize>((8 / N) * M * 64);
    vp += 32;
  }
  for (; j < len; j++) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = panel + col(op, gp, j, 1) * 64;
    a0 = madd(v, v128.load(xp), a0);
    a1 = madd(v, v128.load(xp, 16), a1);
    a2 = madd(v, v128.load(xp, 32), a2);
    a3 = madd(v, v128.load(xp, 48), a3);
    vp += 4;
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
  v128.store(yp, a2, 32);
  v128.store(yp, a3, 48);
}

@inline
function tileFixed(r0: i32, r1: i32, k: i32, full: i32, values: usize, offsets: usize, gbase: usize, bias: usize, panel: usize, yb: usize, ldx: usize, N: i32, M: i32): void {
  for (let r = r0; r < r1; r++) {
    nmRow16Fixed(values + <usize>r * (<usize>k << 2), offsets + <usize>r * <usize>k, gbase, k, full, panel, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx, N, M);
  }
}

/** Rows [r0, r1) of one 16-lane tile (see spmmNm): the fixed-structure path where it applies, else nmRow16. */
@inline
function tileRows(r0: i32, r1: i32, k: i32, n: i32, m: i32, stride: i32, cols: i32, values: usize, offsets: usize, gbase: usize, bias: usize, panel: usize, yb: usize, ldx: usize): void {
  if (stride == 1) {
    const full = n * (cols / m);
    switch (n * 100 + m) {
      case 104: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 1, 4); return;
      case 108: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 1, 8); return;
      case 116: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 1, 16); return;
      case 204: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 2, 4); return;
      case 208: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 2, 8); return;
      case 216: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 2, 16); return;
      case 408: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 4, 8); return;
      case 416: tileFixed(r0, r1, k, full, values, offsets, gbase, bias, panel, yb, ldx, 4, 16); return;
    }
  }
  for (let r = r0; r < r1; r++) {
    nmRow16(values + <usize>r * (<usize>k << 2), offsets + <usize>r * <usize>k, gbase, k, stride, panel, 64, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
  }
}

/**
 * Lanes [b, b+8) of one row (batch 8, and the tail of the 16-lane tiles), as axpyRow8: four
 * weights per step, summed pairwise off the chain.
 */
@inline
function nmRow8(vp: usize, op: usize, gp: usize, len: i32, stride: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let a1 = a0;
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const v0 = f32x4.splat(load<f32>(vp));
    const v1 = f32x4.splat(load<f32>(vp, 4));
    const v2 = f32x4.splat(load<f32>(vp, 8));
    const v3 = f32x4.splat(load<f32>(vp, 12));
    const o = load<u32>(op);
    const g01 = load<u64>(gp);
    const g23 = load<u64>(gp, 8);
    const x0 = xb + <usize>(<i32>g01 + <i32>(o & 0xff) * stride) * ldx;
    const x1 = xb + <usize>(<i32>(g01 >>> 32) + <i32>((o >>> 8) & 0xff) * stride) * ldx;
    const x2 = xb + <usize>(<i32>g23 + <i32>((o >>> 16) & 0xff) * stride) * ldx;
    const x3 = xb + <usize>(<i32>(g23 >>> 32) + <i32>(o >>> 24) * stride) * ldx;
    const p0 = madd(v1, v128.load(x1), f32x4.mul(v0, v128.load(x0)));
    const q0 = madd(v3, v128.load(x3), f32x4.mul(v2, v128.load(x2)));
    a0 = f32x4.add(a0, f32x4.add(p0, q0));
    const p1 = madd(v1, v128.load(x1, 16), f32x4.mul(v0, v128.load(x0, 16)));
    const q1 = madd(v3, v128.load(x3, 16), f32x4.mul(v2, v128.load(x2, 16)));
    a1 = f32x4.add(a1, f32x4.add(p1, q1));
    vp += 16;
    op += 4;
    gp += 16;
  }
  for (; j < len; j++) {
    const v = f32x4.splat(load<f32>(vp));
    const xp = xb + col(op, gp, 0, stride) * ldx;
    a0 = madd(v, v128.load(xp), a0);
    a1 = madd(v, v128.load(xp, 16), a1);
    vp += 4;
    op += 1;
    gp += 4;
  }
  v128.store(yp, a0);
  v128.store(yp, a1, 16);
}

/** Lanes [b, b+4) of one row (SIMD tail), as axpyRow4. */
@inline
function nmRow4(vp: usize, op: usize, gp: usize, len: i32, stride: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let a0 = f32x4.splat(bias);
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const o = load<u32>(op);
    const g01 = load<u64>(gp);
    const g23 = load<u64>(gp, 8);
    const x0 = xb + <usize>(<i32>g01 + <i32>(o & 0xff) * stride) * ldx;
    const x1 = xb + <usize>(<i32>(g01 >>> 32) + <i32>((o >>> 8) & 0xff) * stride) * ldx;
    const x2 = xb + <usize>(<i32>g23 + <i32>((o >>> 16) & 0xff) * stride) * ldx;
    const x3 = xb + <usize>(<i32>(g23 >>> 32) + <i32>(o >>> 24) * stride) * ldx;
    const p = madd(f32x4.splat(load<f32>(vp, 4)), v128.load(x1), f32x4.mul(f32x4.splat(load<f32>(vp)), v128.load(x0)));
    const q = madd(f32x4.splat(load<f32>(vp, 12)), v128.load(x3), f32x4.mul(f32x4.splat(load<f32>(vp, 8)), v128.load(x2)));
    a0 = f32x4.add(a0, f32x4.add(p, q));
    vp += 16;
    op += 4;
    gp += 16;
  }
  for (; j < len; j++) {
    a0 = madd(f32x4.splat(load<f32>(vp)), v128.load(xb + col(op, gp, 0, stride) * ldx), a0);
    vp += 4;
    op += 1;
    gp += 4;
  }
  v128.store(yp, a0);
}

/** One lane of one row: the scalar tail, and the whole kernel in the scalar module. */
@inline
function nmRow1(vp: usize, op: usize, gp: usize, len: i32, stride: i32, xb: usize, ldx: usize, bias: f32, yp: usize): void {
  let s = bias;
  for (let j = 0; j < len; j++) s += load<f32>(vp + (<usize>j << 2)) * load<f32>(xb + col(op, gp, j, stride) * ldx);
  store<f32>(yp, s);
}

/**
 * Batched, over lane units [u0, u1) and rows [r0, r1): spmmCfi's loop (condensed.ts) with the
 * N:M row helpers. Lane unit u < n/16 reads its packed [cols, 16] panel, the unit after the last
 * full tile the 8-, 4- and 1-lane tails in place.
 */
@inline
function spmmNm(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, N: i32, M: i32, stride: i32, cols: i32, n: i32,
  values: usize, offsets: usize, gbase: usize, bias: usize, xT: usize, yT: usize, packed: usize, packOwn: bool,
): void {
  const ldx = <usize>n << 2;
  const rowV = <usize>k << 2;
  const rowO = <usize>k;
  const tiles = ASC_FEATURE_SIMD ? n >> 4 : 0;
  for (let u = u0; u < u1; u++) {
    if (ASC_FEATURE_SIMD && u < tiles) {
      const panel = packed + <usize>u * <usize>cols * 64;
      if (packOwn) packPanel16(cols, n, u << 4, xT, panel);
      tileRows(r0, r1, k, N, M, stride, cols, values, offsets, gbase, bias, panel, yT + (<usize>u << 6), ldx);
      continue;
    }
    let b = tiles << 4;
    if (ASC_FEATURE_SIMD) {
      if (b + 8 <= n) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          nmRow8(values + <usize>r * rowV, offsets + <usize>r * rowO, gbase, k, stride, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
        b += 8;
      }
      for (; b + 4 <= n; b += 4) {
        const xb = xT + (<usize>b << 2);
        const yb = yT + (<usize>b << 2);
        for (let r = r0; r < r1; r++) {
          nmRow4(values + <usize>r * rowV, offsets + <usize>r * rowO, gbase, k, stride, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
        }
      }
    }
    for (; b < n; b++) {
      const xb = xT + (<usize>b << 2);
      const yb = yT + (<usize>b << 2);
      for (let r = r0; r < r1; r++) {
        nmRow1(values + <usize>r * rowV, offsets + <usize>r * rowO, gbase, k, stride, xb, ldx, load<f32>(bias + (<usize>r << 2)), yb + <usize>r * ldx);
      }
    }
  }
}

/** Batched, one row × 16 lanes per register tile: rows [r0, r1), every lane (panels packed by pack_panels16_f32). */
export function spmm_nm_f32_1x16(
  r0: i32, r1: i32, k: i32, N: i32, M: i32, stride: i32, cols: i32, n: i32, values: usize, offsets: usize, gbase: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmNm(0, spmm_lane_units(n), r0, r1, k, N, M, stride, cols, n, values, offsets, gbase, bias, xT, yT, packed, false);
}
/** The same over lane units [u0, u1), each packing its own panel (a thread pool splits these for large batches). */
export function spmm_nm_f32_1x16_lanes(
  u0: i32, u1: i32, r0: i32, r1: i32, k: i32, N: i32, M: i32, stride: i32, cols: i32, n: i32,
  values: usize, offsets: usize, gbase: usize, bias: usize, xT: usize, yT: usize, packed: usize,
): void {
  spmmNm(u0, u1, r0, r1, k, N, M, stride, cols, n, values, offsets, gbase, bias, xT, yT, packed, true);
}

/**
 * N:M Conv2d forward for images [b0, b1), as conv_cfi_f32_*_images: per image im2col into this
 * thread's scratch, then the batched kernel over the OH·OW lanes with stride kh·kw (a group's
 * members are M consecutive input channels at one tap, kh·kw rows of the columns apart).
 */
export function conv_nm_f32_images(
  b0: i32, b1: i32, geom: usize, rows: i32, k: i32, values: usize, offsets: usize, gbase: usize, bias: usize, X: usize, Y: usize, scratch: usize,
): void {
  const C = load<i32>(geom), H = load<i32>(geom, 4), W = load<i32>(geom, 8);
  const kh = load<i32>(geom, 12), kw = load<i32>(geom, 16), stride = load<i32>(geom, 20), pad = load<i32>(geom, 24);
  const S = ((H + 2 * pad - kh) / stride + 1) * ((W + 2 * pad - kw) / stride + 1);
  const cols = C * kh * kw;
  const packed = (scratch + <usize>cols * <usize>S * 4 + 63) & ~(<usize>63);
  const units = spmm_lane_units(S);
  for (let b = b0; b < b1; b++) {
    im2col_f32(C, H, W, kh, kw, stride, pad, X + <usize>b * <usize>(C * H * W) * 4, scratch);
    spmmNm(0, units, 0, rows, k, 0, 0, kh * kw, cols, S, values, offsets, gbase, bias, scratch, Y + <usize>b * <usize>(rows * S) * 4, packed, true);
  }
}


