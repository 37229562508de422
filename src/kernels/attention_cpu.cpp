// Fused scaled-dot-product attention for CPU floats (kernels.hpp). Per head the
// model's attention is softmax(q k^T) v with a head size of 13: LibTorch's
// batched products, softmax and dropout spend their time writing and reading
// the [T, S] score matrix of every head, several times per step, and products
// with an inner size of 13 run far below the machine's peak.
//
// Here kRows query rows are done at once and their scores live in a thread's
// buffer only: forward keeps each row's log-sum-exp, backward recomputes the
// scores (as FlashAttention does) and the dropout mask from its seed. Every
// product is a register tile (kRows rows times one or two vectors of keys or
// of head channels), so that each load feeds kRows multiply-adds. Keys after a
// sequence's last real one are skipped, and so are the keys a causal mask hides
// from every row of a tile: their weight is exactly 0.
// q, k and v are read in place from the projections as the linear layers make
// them (packed [q k v], or q and [k v]), outputs and gradients are written in
// those same layouts, and the 1/sqrt(D) scale is applied to the keys inside:
// no split, concatenation, scaling or layout copy around the kernel.
// Vector code: vectors.hpp.
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "auxgrid/kernels/kernels.hpp"
#include "unfused_attention.hpp"
#include "random_bits.hpp"
#include "vectors.hpp"

namespace auxgrid::kernels {

namespace {

constexpr int kRows = 8;  // query rows per register tile
constexpr float kInfinity = std::numeric_limits<float>::infinity();

AUXGRID_INLINE Vec maximum(Vec a, Vec b) { return a > b ? a : b; }

AUXGRID_INLINE float horizontal_max(Vec v) {
  float m = v[0];
  for (int i = 1; i < kLanes; ++i) m = std::max(m, v[i]);
  return m;
}

// exp(x) for x <= 0 to about 2e-7 relative error, exactly 0 below -87 (the
// padding's -inf gives 0 and no denormals appear): 2^k by exponent bits, the
// rest by a degree-6 polynomial.
AUXGRID_INLINE Vec exp_nonpositive(Vec x) {
  const Vec low = splat(-87.0f), magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const Vec xc = x < low ? low : x;
  const Vec k = (xc * 1.44269504f + magic) - magic;  // round(x / ln 2)
  const Vec r = xc - k * 0.693145752f - k * 1.42860677e-06f;
  Vec p = splat(1.0f / 720);
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const Vec two_to_k = reinterpret_cast<Vec>((__builtin_convertvector(k, IntVec) + 127) << 23);
  return x < low ? splat(0.0f) : p * two_to_k;
}

// The rows of one (batch element, head) of a [B, H, N, D] tensor whose D is contiguous.
struct Rows {
  float* data;
  std::int64_t stride;
  float* operator[](std::int64_t i) const { return data + i * stride; }
};

// The heads of a [B, N, C] projection whose channels offset .. offset + H*D
// hold heads of D channels each.
struct HeadRows {
  float* data = nullptr;
  std::int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
  HeadRows(const at::Tensor& x, std::int64_t offset, std::int64_t d)
      : data(x.data_ptr<float>() + offset), batch_stride(x.stride(0)), head_stride(d), row_stride(x.stride(1)) {}
  Rows at(std::int64_t b, std::int64_t h) const { return {data + b * batch_stride + h * head_stride, row_stride}; }
};

std::int64_t round_to_vectors(std::int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

struct Shape {
  std::int64_t batch, heads, queries, keys, d;
  float scale;                                                // of the scores: 1 / sqrt(d)
  std::int64_t width() const { return round_to_vectors(d); }  // d in whole vectors
  std::int64_t padded_keys() const { return round_to_vectors(keys); }
};

// A thread's buffers, reused for every head it does.
struct Scratch {
  std::vector<float> kt, vt;            // [D][n] keys and values transposed (n: used keys in whole vectors)
  std::vector<float> kw, vw, dkw, dvw;  // [S][width] keys, values and their gradients, channels zero-padded
  std::vector<float> bias;              // [n] 0 for a key, -inf for padding
  std::vector<float> scores, grads;     // [kRows][n] a tile's scores (then weights) and their gradients
  std::vector<float> qw, gw;            // [kRows][width] a tile's query and output-gradient rows, zero-padded
  std::vector<float> zero;              // [width] the rows of a tile past the last query
  explicit Scratch(const Shape& n)
      : kt(n.d * n.padded_keys()),
        vt(n.d * n.padded_keys()),
        kw(n.keys * n.width()),
        vw(n.keys * n.width()),
        dkw(n.keys * n.width()),
        dvw(n.keys * n.width()),
        bias(n.padded_keys()),
        scores(kRows * n.padded_keys()),
        grads(kRows * n.padded_keys()),
        qw(kRows * n.width()),
        gw(kRows * n.width()),
        zero(n.width()) {}
};

// Keys 0 .. s-1 of one head, times `scale`, as [D][n] (zero past s) and as
// [S][width] (zero past D). The scores' scale is applied to the keys.
void transpose_keys(Rows x, std::int64_t s, std::int64_t d, std::int64_t n, float scale, float* xt) {
  std::fill(xt, xt + d * n, 0.0f);
  for (std::int64_t j = 0; j < s; ++j)
    for (std::int64_t c = 0; c < d; ++c) xt[c * n + j] = x[j][c] * scale;
}

void widen_rows(Rows x, std::int64_t s, std::int64_t d, std::int64_t width, float scale, float* xw) {
  for (std::int64_t j = 0; j < s; ++j) {
    for (std::int64_t c = 0; c < d; ++c) xw[j * width + c] = x[j][c] * scale;
    std::fill(xw + j * width + d, xw + (j + 1) * width, 0.0f);
  }
}

// The number of keys up to the last real one of batch element b, and the
// bias of keys 0 .. n-1: 0 for a key, -inf for padding and past that.
std::int64_t used_keys(const bool* ignore, std::int64_t keys) {
  if (!ignore) return keys;
  std::int64_t s = keys;
  while (s > 0 && ignore[s - 1]) --s;
  return s;
}

void key_bias(const bool* ignore, std::int64_t s, std::int64_t n, float* bias) {
  for (std::int64_t j = 0; j < n; ++j) bias[j] = j < s && !(ignore && ignore[j]) ? 0.0f : -kInfinity;
}

// Which keys the rows of a tile see: row r the first visible[r] (a causal
// mask), all of them from key `all` on (null: every key).
struct TileKeys {
  const std::int64_t* visible = nullptr;
  std::int64_t all = 0;  // min over r of visible[r]
};

// v with the lanes of keys first .. first + 15 from `visible` on set to -inf.
AUXGRID_INLINE Vec hide_after(Vec v, std::int64_t first, std::int64_t visible) {
  const IntVec lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return lane < static_cast<std::int32_t>(visible - first) ? v : splat(-kInfinity);
}

// tile[r][j] = x_r . yt[.][j] (+ bias[j]) for the kRows rows x_r and the keys
// j < n (a multiple of kLanes; yt and tile have rows of `stride` floats). With
// a bias, keys a row does not see (`seen`) get -inf and row_max[r] gets the
// maximum of row r.
template <bool kBias>
AUXGRID_INLINE void tile_products(const float* const* x, const float* yt, std::int64_t stride, std::int64_t n,
                                  std::int64_t d, const float* bias, TileKeys seen, float* tile, float* row_max) {
  Vec most[kRows];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) most[r] = splat(-kInfinity);
  std::int64_t j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes) {  // two vectors of keys
    Vec a0[kRows], a1[kRows];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) a0[r] = a1[r] = splat(0.0f);
    for (std::int64_t c = 0; c < d; ++c) {
      const Vec y0 = load(yt + c * stride + j), y1 = load(yt + c * stride + j + kLanes);
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const float xr = x[r][c];
        a0[r] += y0 * xr;
        a1[r] += y1 * xr;
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      if (kBias) {
        a0[r] += load(bias + j), a1[r] += load(bias + j + kLanes);
        if (seen.visible && j + 2 * kLanes > seen.all)
          a0[r] = hide_after(a0[r], j, seen.visible[r]), a1[r] = hide_after(a1[r], j + kLanes, seen.visible[r]);
        most[r] = maximum(most[r], maximum(a0[r], a1[r]));
      }
      store(tile + r * stride + j, a0[r]);
      store(tile + r * stride + j + kLanes, a1[r]);
    }
  }
  if (j < n) {  // one vector left
    Vec a[kRows];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) a[r] = splat(0.0f);
    for (std::int64_t c = 0; c < d; ++c) {
      const Vec y = load(yt + c * stride + j);
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) a[r] += y * x[r][c];
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      if (kBias) {
        a[r] += load(bias + j);
        if (seen.visible && j + kLanes > seen.all) a[r] = hide_after(a[r], j, seen.visible[r]);
        most[r] = maximum(most[r], a[r]);
      }
      store(tile + r * stride + j, a[r]);
    }
  }
  if (kBias)
    for (int r = 0; r < kRows; ++r) row_max[r] = horizontal_max(most[r]);
}

// The rows of a tile starting at query t0: real rows, then the zero row.
void tile_rows(Rows x, std::int64_t t0, std::int64_t queries, const float* zero, const float** rows) {
  for (int r = 0; r < kRows; ++r) rows[r] = t0 + r < queries ? x[t0 + r] : zero;
}

// The same rows zero-padded to whole vectors.
AUXGRID_INLINE void widen_tile(const float* const* rows, std::int64_t d, std::int64_t width, float* out) {
  for (int r = 0; r < kRows; ++r)
    for (std::int64_t c = 0; c < width; c += kLanes)
      store(out + r * width + c, load_lanes(rows[r] + c, std::min(kLanes, d - c)));
}

// The keys rows t0 .. t0 + kRows - 1 of batch element b see, of its first s:
// all of them, or with a causal offset the first t + offset + 1. Returns the
// most any row sees (the keys the tile computes).
std::int64_t tile_visibility(const std::int64_t* causal_offset, std::int64_t b, std::int64_t t0, std::int64_t s,
                             std::int64_t visible[kRows], TileKeys& seen) {
  if (!causal_offset) {
    seen = {};
    return s;
  }
  for (int r = 0; r < kRows; ++r) visible[r] = std::min(s, t0 + r + causal_offset[b] + 1);
  seen = {visible, visible[0]};
  return visible[kRows - 1];
}

struct Forward {
  Shape n;
  HeadRows q, k, v, out;
  float* lse;               // [B, H, T]
  const bool* ignore;                 // [B, S], true = padding, or null
  const std::int64_t* causal_offset;  // [B] (AttentionMask), or null
  const DropoutBits* bits;            // null without dropout
};

// One head of one batch element, whose first s keys are used.
AUXGRID_VECTOR_CLONES
void forward_head(const Forward& f, std::int64_t b, std::int64_t h, std::int64_t s, Scratch& w) {
  const Shape& n = f.n;
  const std::int64_t keys = round_to_vectors(s), width = n.width(), head = b * n.heads + h;
  const Rows q = f.q.at(b, h), out = f.out.at(b, h);
  float* lse = f.lse + head * n.queries;
  transpose_keys(f.k.at(b, h), s, n.d, keys, n.scale, w.kt.data());
  widen_rows(f.v.at(b, h), s, n.d, width, 1.0f, w.vw.data());
  key_bias(f.ignore ? f.ignore + b * n.keys : nullptr, s, keys, w.bias.data());
  float* scores = w.scores.data();
  for (std::int64_t t0 = 0; t0 < n.queries; t0 += kRows) {
    const float* rows[kRows];
    tile_rows(q, t0, n.queries, w.zero.data(), rows);
    std::int64_t visible[kRows];
    TileKeys seen;
    const std::int64_t tile_s = tile_visibility(f.causal_offset, b, t0, s, visible, seen);
    const std::int64_t tile_keys = round_to_vectors(tile_s);
    float row_max[kRows], inverse_sum[kRows];
    tile_products<true>(rows, w.kt.data(), keys, tile_keys, n.d, w.bias.data(), seen, scores, row_max);
    for (int r = 0; r < kRows; ++r) {  // scores -> exp(score - max) * keep, and the log-sum-exp
      float* e = scores + r * keys;
      const Vec most = splat(row_max[r]);
      Vec sum = splat(0.0f);
      const std::int64_t first = (head * n.queries + t0 + r) * n.keys;
      for (std::int64_t j = 0; j < tile_keys; j += kLanes) {
        Vec x = exp_nonpositive(load(e + j) - most);
        sum += x;
        if (f.bits) x *= keep_vector(*f.bits, first + j);
        store(e + j, x);
      }
      const float total = horizontal_sum(sum);
      inverse_sum[r] = 1.0f / total;
      if (t0 + r < n.queries) lse[t0 + r] = row_max[r] + std::log(total);
    }
    for (std::int64_t c0 = 0; c0 < width; c0 += kLanes) {  // out_r = sum_j weight_rj v_j / sum_r
      Vec acc[kRows];
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) acc[r] = splat(0.0f);
      for (std::int64_t j = 0; j < tile_s; ++j) {
        const Vec vj = load(w.vw.data() + j * width + c0);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) acc[r] += vj * scores[r * keys + j];
      }
      for (int r = 0; r < kRows && t0 + r < n.queries; ++r)
        store_lanes(out[t0 + r] + c0, acc[r] * inverse_sum[r], std::min(kLanes, n.d - c0));
    }
  }
}

struct Backward {  // as Forward, with the output's gradient and the inputs' gradients
  Shape n;
  HeadRows q, k, v, out, dout, dq, dk, dv;
  const float* lse;
  const bool* ignore;
  const std::int64_t* causal_offset;
  const DropoutBits* bits;
};

// 80 lines, one pass: the backward of one head keeps its keys, values and
// scratch rows in cache from the recomputed scores to the three gradients, in
// the order FlashAttention's backward takes them; it reads best as one piece,
// commented step by step, and its parts share a dozen locals.
AUXGRID_VECTOR_CLONES
void backward_head(const Backward& g, std::int64_t b, std::int64_t h, std::int64_t s, Scratch& w) {
  const Shape& n = g.n;
  const std::int64_t keys = round_to_vectors(s), width = n.width(), head = b * n.heads + h;
  const Rows q = g.q.at(b, h), out = g.out.at(b, h), dout = g.dout.at(b, h), dq = g.dq.at(b, h);
  const float* lse = g.lse + head * n.queries;
  const Rows k = g.k.at(b, h), v = g.v.at(b, h);
  transpose_keys(k, s, n.d, keys, n.scale, w.kt.data());
  transpose_keys(v, s, n.d, keys, 1.0f, w.vt.data());
  widen_rows(k, s, n.d, width, n.scale, w.kw.data());  // dq_r = sum_j ds_rj scale k_j
  std::fill(w.dkw.begin(), w.dkw.begin() + s * width, 0.0f);
  std::fill(w.dvw.begin(), w.dvw.begin() + s * width, 0.0f);
  key_bias(g.ignore ? g.ignore + b * n.keys : nullptr, s, keys, w.bias.data());
  float *weights = w.scores.data(), *grads = w.grads.data();
  for (std::int64_t t0 = 0; t0 < n.queries; t0 += kRows) {
    const float *q_rows[kRows], *g_rows[kRows];
    tile_rows(q, t0, n.queries, w.zero.data(), q_rows);
    tile_rows(dout, t0, n.queries, w.zero.data(), g_rows);
    std::int64_t visible[kRows];
    TileKeys seen;
    const std::int64_t tile_s = tile_visibility(g.causal_offset, b, t0, s, visible, seen);
    const std::int64_t tile_keys = round_to_vectors(tile_s);
    float row_lse[kRows], delta[kRows], unused[kRows];
    for (int r = 0; r < kRows; ++r) {  // delta_r = dout_r . out_r; rows past the end get weight 0
      const bool real = t0 + r < n.queries;
      row_lse[r] = real ? lse[t0 + r] : kInfinity;
      delta[r] = 0;
      for (std::int64_t c = 0; real && c < n.d; ++c) delta[r] += g_rows[r][c] * out[t0 + r][c];
    }
    tile_products<true>(q_rows, w.kt.data(), keys, tile_keys, n.d, w.bias.data(), seen, weights, unused);
    tile_products<false>(g_rows, w.vt.data(), keys, tile_keys, n.d, nullptr, {}, grads, nullptr);
    for (int r = 0; r < kRows; ++r) {  // weights after dropout, and the scores' gradients
      const std::int64_t first = (head * n.queries + t0 + r) * n.keys;
      const Vec lse_r = splat(row_lse[r]), delta_r = splat(delta[r]);
      for (std::int64_t j = 0; j < tile_keys; j += kLanes) {
        const Vec p = exp_nonpositive(load(weights + r * keys + j) - lse_r);
        Vec dp = load(grads + r * keys + j), kept = p;
        if (g.bits) {
          const Vec keep = keep_vector(*g.bits, first + j);
          kept = p * keep, dp = dp * keep;
        }
        store(weights + r * keys + j, kept);
        store(grads + r * keys + j, p * (dp - delta_r));
      }
    }
    widen_tile(q_rows, n.d, width, w.qw.data());
    widen_tile(g_rows, n.d, width, w.gw.data());
    for (std::int64_t c0 = 0; c0 < width; c0 += kLanes) {
      // dv_j += sum_r weight_rj dout_r; dk_j += sum_r ds_rj q_r (times scale at the end); dq_r = sum_j ds_rj k_j
      Vec qr[kRows], gr[kRows], dqr[kRows];
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        qr[r] = load(w.qw.data() + r * width + c0);
        gr[r] = load(w.gw.data() + r * width + c0);
        dqr[r] = splat(0.0f);
      }
      for (std::int64_t j = 0; j < tile_s; ++j) {
        float *dkj = w.dkw.data() + j * width + c0, *dvj = w.dvw.data() + j * width + c0;
        const Vec kj = load(w.kw.data() + j * width + c0);
        Vec dk = load(dkj), dv = load(dvj);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
          const float ds = grads[r * keys + j];
          dv += gr[r] * weights[r * keys + j];
          dk += qr[r] * ds;
          dqr[r] += kj * ds;
        }
        store(dkj, dk);
        store(dvj, dv);
      }
      for (int r = 0; r < kRows && t0 + r < n.queries; ++r)
        store_lanes(dq[t0 + r] + c0, dqr[r], std::min(kLanes, n.d - c0));
    }
  }
  const Rows dk = g.dk.at(b, h), dv = g.dv.at(b, h);
  for (std::int64_t j = 0; j < n.keys; ++j) {
    if (j < s) {
      for (std::int64_t c = 0; c < n.d; ++c) dk[j][c] = w.dkw[j * width + c] * n.scale;
      std::memcpy(dv[j], w.dvw.data() + j * width, static_cast<std::size_t>(n.d) * sizeof(float));
    } else {
      std::fill(dk[j], dk[j] + n.d, 0.0f);
      std::fill(dv[j], dv[j] + n.d, 0.0f);
    }
  }
}

// work(b, h, s, scratch) for every head, where s is the number of keys of
// batch element b up to its last real one. A thread takes a whole batch
// element (its heads share the cache lines of the [B, T, H, D] outputs),
// longest first, and the next one when it is done: lengths differ, so fixed
// shares would not balance.
template <class Work>
std::uint64_t for_each_head(const Shape& n, const bool* ignore, const std::int64_t* causal_offset, const Work& work) {
  std::vector<std::pair<std::int64_t, std::int64_t>> order;  // (keys, batch element)
  for (std::int64_t b = 0; b < n.batch; ++b)
    order.emplace_back(used_keys(ignore ? ignore + b * n.keys : nullptr, n.keys), b);
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::atomic<std::size_t> next{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](std::int64_t, std::int64_t) {
    Scratch scratch(n);
    for (std::size_t i = next++; i < order.size(); i = next++)
      for (std::int64_t h = 0; h < n.heads; ++h) work(order[i].second, h, order[i].first, scratch);
  });
  std::uint64_t pairs = 0;  // query-key pairs computed
  for (const auto& [s, b] : order)
    for (std::int64_t t = 0; t < n.queries; ++t)
      pairs += static_cast<std::uint64_t>(n.heads * (causal_offset ? std::min(s, t + causal_offset[b] + 1) : s));
  return pairs;
}

// Channels contiguous, as the kernels read rows.
at::Tensor unit_stride_rows(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

// The heads of `query` [B, T, C] at channels 0 .. H*D, and of the keys and
// values of `keys_values` [B, S, C'] at channels `key_offset` .. + H*D and
// `key_offset` + H*D .. + 2*H*D (self-attention: both are the packed
// [B, T, 3*H*D] projections, key_offset H*D). Gradients come back in the
// inputs' own layout, so that no split or concatenation surrounds the kernel.
class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  // keys_values empty: self-attention on query. key_padding [B, S] (true = ignore) or empty;
  // causal_offset [B] int64 (AttentionMask) or empty.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& query_in,
                            const at::Tensor& keys_values_in, const at::Tensor& key_padding,
                            const at::Tensor& causal_offset_in, std::int64_t heads, double p, std::int64_t seed) {
    RECORD_FUNCTION("auxgrid::attention", c10::ArrayRef<const c10::IValue>{});  // for profilers (bench --profile)
    const auto query = unit_stride_rows(query_in);
    const bool self = keys_values_in.numel() == 0;
    const auto keys_values = self ? query : unit_stride_rows(keys_values_in);
    const auto padding = key_padding.contiguous();
    const auto causal_offset = causal_offset_in.to(at::kLong).contiguous();
    const Shape n = shape(query, keys_values, heads, self);
    const std::int64_t width = n.heads * n.d, key_offset = self ? width : 0;
    auto out = at::empty({n.batch, n.queries, width}, query.options());
    auto lse = at::empty({n.batch, n.heads, n.queries}, query.options());
    const DropoutBits bits(static_cast<std::uint64_t>(seed), p);
    const Forward f{n,
                    HeadRows(query, 0, n.d),
                    HeadRows(keys_values, key_offset, n.d),
                    HeadRows(keys_values, key_offset + width, n.d),
                    HeadRows(out, 0, n.d),
                    lse.data_ptr<float>(),
                    padding.numel() > 0 ? padding.data_ptr<bool>() : nullptr,
                    causal_offset.numel() > 0 ? causal_offset.data_ptr<std::int64_t>() : nullptr,
                    p > 0 ? &bits : nullptr};
    const auto pairs = for_each_head(n, f.ignore, f.causal_offset, [&](std::int64_t b, std::int64_t h, std::int64_t s, Scratch& w) {
      if (s > 0) return forward_head(f, b, h, s, w);
      const Rows o = f.out.at(b, h);  // no keys at all: no attention
      for (std::int64_t t = 0; t < n.queries; ++t) std::fill(o[t], o[t] + n.d, 0.0f);
      std::fill(f.lse + (b * n.heads + h) * n.queries, f.lse + (b * n.heads + h + 1) * n.queries, kInfinity);
    });
    count_kernel_flops(4 * pairs * static_cast<std::uint64_t>(n.d));
    ctx->save_for_backward({query, self ? at::Tensor() : keys_values, out, lse, padding, causal_offset});
    ctx->saved_data["heads"] = heads;
    save_dropout(ctx, p, seed);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &query = saved[0], &out = saved[2], &lse = saved[3], &padding = saved[4], &causal_offset = saved[5];
    const bool self = !saved[1].defined();
    const auto& keys_values = self ? query : saved[1];
    const DropoutBits bits = saved_dropout(ctx);
    const auto dout = unit_stride_rows(grads[0]);
    const Shape n = shape(query, keys_values, ctx->saved_data["heads"].toInt(), self);
    const std::int64_t width = n.heads * n.d, key_offset = self ? width : 0;
    // Gradients in the inputs' layout: one [B, T, 3*H*D] for self-attention.
    auto dquery = at::empty_like(query, at::MemoryFormat::Contiguous);
    auto dkeys_values = self ? dquery : at::empty_like(keys_values, at::MemoryFormat::Contiguous);
    const Backward g{n,
                     HeadRows(query, 0, n.d),
                     HeadRows(keys_values, key_offset, n.d),
                     HeadRows(keys_values, key_offset + width, n.d),
                     HeadRows(out, 0, n.d),
                     HeadRows(dout, 0, n.d),
                     HeadRows(dquery, 0, n.d),
                     HeadRows(dkeys_values, key_offset, n.d),
                     HeadRows(dkeys_values, key_offset + width, n.d),
                     lse.data_ptr<float>(),
                     padding.numel() > 0 ? padding.data_ptr<bool>() : nullptr,
                     causal_offset.numel() > 0 ? causal_offset.data_ptr<std::int64_t>() : nullptr,
                     bits.p > 0 ? &bits : nullptr};
    const auto pairs = for_each_head(n, g.ignore, g.causal_offset, [&](std::int64_t b, std::int64_t h, std::int64_t s, Scratch& w) {
      if (s > 0) return backward_head(g, b, h, s, w);
      for (const auto& [x, rows] : {std::pair{g.dq, n.queries}, {g.dk, n.keys}, {g.dv, n.keys}}) {
        const Rows r = x.at(b, h);  // no keys at all: no gradient
        for (std::int64_t t = 0; t < rows; ++t) std::fill(r[t], r[t] + n.d, 0.0f);
      }
    });
    count_kernel_flops(8 * pairs * static_cast<std::uint64_t>(n.d));
    return {dquery,       self ? at::Tensor() : dkeys_values, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }

 private:
  static Shape shape(const at::Tensor& query, const at::Tensor& keys_values, std::int64_t heads, bool self) {
    const auto d = query.size(2) / (self ? 3 : 1) / heads;
    return {query.size(0), heads, query.size(1), keys_values.size(1), d, static_cast<float>(1.0 / std::sqrt(d))};
  }
};

// Channels offset .. offset + width of [B, N, C] as [B, H, N, width / H].
at::Tensor split_heads(const at::Tensor& x, std::int64_t offset, std::int64_t width, std::int64_t heads) {
  const auto d = width / heads;
  return x.narrow(2, offset, width).view({x.size(0), x.size(1), heads, d}).transpose(1, 2);
}

}  // namespace

at::Tensor multi_head_attention_with_seed(const at::Tensor& query, const at::Tensor& keys_values, std::int64_t heads,
                                          const AttentionMask& mask, double p, bool training, std::uint64_t seed) {
  // Custom functions take defined tensors only: none is an empty one.
  const auto none = at::empty({0}, query.options());
  const auto padding = mask.padding.defined() ? mask.padding : none.to(at::kBool);
  const auto offset = mask.causal_offset.defined() ? mask.causal_offset : none.to(at::kLong);
  return FusedAttention::apply(query, keys_values.defined() ? keys_values : none, padding, offset, heads,
                               training ? p : 0.0, static_cast<std::int64_t>(seed));
}

at::Tensor AttentionMask::ignored(std::int64_t queries, std::int64_t keys) const {
  at::Tensor out;
  if (padding.defined()) out = padding.view({padding.size(0), 1, 1, keys});
  if (causal_offset.defined()) {
    const auto options = causal_offset.options().dtype(at::kLong);
    const auto t = torch::arange(queries, options).view({1, 1, queries, 1});
    const auto j = torch::arange(keys, options).view({1, 1, 1, keys});
    const auto future = j > t + causal_offset.to(at::kLong).view({-1, 1, 1, 1});
    out = out.defined() ? out.logical_or(future) : future;
  }
  return out;
}

at::Tensor materialised_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& ignored, double p, bool training) {
  auto scores = torch::matmul(q, k.transpose(-2, -1));
  if (ignored.defined()) scores = scores.masked_fill(ignored, -std::numeric_limits<float>::infinity());
  return torch::matmul(kernels::dropout(torch::softmax(scores, -1), p, training), v);
}

namespace {

std::optional<AttentionKernel> parse_attention(const char* name) {
  if (name == nullptr || *name == 0) return std::nullopt;
  const std::string s = name;
  if (s == "fused") return AttentionKernel::fused;
  if (s == "sdpa") return AttentionKernel::sdpa;
  if (s == "materialised") return AttentionKernel::materialised;
  AUXGRID_FAIL("AUXGRID_ATTENTION={}: expected fused, sdpa or materialised", s);
}

std::optional<AttentionKernel>& forced_attention() {
  static std::optional<AttentionKernel> forced = parse_attention(std::getenv("AUXGRID_ATTENTION"));
  return forced;
}

}  // namespace

void set_attention(std::optional<AttentionKernel> forced) { forced_attention() = forced; }

AttentionKernel attention_for(const at::Tensor& query) {
  const auto forced = forced_attention();
  if (!forced)
    return fast_kernels_for(query) ? AttentionKernel::fused
           : sdpa_available()      ? AttentionKernel::sdpa
                                   : AttentionKernel::materialised;
  AUXGRID_CHECK(*forced != AttentionKernel::fused || fast_kernels_for(query),
                "attention 'fused' runs on CPU float tensors with fast kernels and no autocast, not on {} {}",
                query.device().str(), c10::toString(query.scalar_type()));
  return *forced;
}

at::Tensor multi_head_attention(const at::Tensor& query, const at::Tensor& keys_values, std::int64_t heads,
                                const AttentionMask& mask, double p, bool training) {
  const auto how = attention_for(query);
  if (how == AttentionKernel::fused)
    return multi_head_attention_with_seed(query, keys_values, heads, mask, p, training,
                                          training && p > 0 ? draw_seed() : 0);
  // Elsewhere per head, on [B, H, N, D] views: LibTorch's kernels.
  const bool self = !keys_values.defined();
  const auto width = self ? query.size(2) / 3 : query.size(2);
  const auto& kv = self ? query : keys_values;
  const auto key_offset = self ? width : 0;
  const auto q = split_heads(query, 0, width, heads) * (1.0 / std::sqrt(static_cast<double>(width / heads)));
  const auto k = split_heads(kv, key_offset, width, heads), v = split_heads(kv, key_offset + width, width, heads);
  const auto ignored = mask.ignored(q.size(2), k.size(2));
  const auto attended = how == AttentionKernel::sdpa ? sdpa_attention(q, k, v, ignored, p, training)
                                                     : materialised_attention(q, k, v, ignored, p, training);
  return attended.transpose(1, 2).reshape({query.size(0), query.size(1), width});
}

}  // namespace auxgrid::kernels
