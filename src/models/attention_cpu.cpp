// Fused scaled-dot-product attention for CPU floats (kernels.hpp). Per head the
// model's attention is softmax(q k^T) v with a head size of 13: LibTorch's
// batched products, softmax and dropout then spend their time writing and
// reading the [T, S] score matrix of every head, several times per step.
// Here each query row's scores live in a thread-local buffer only: forward
// keeps the row's log-sum-exp, backward recomputes the scores (as
// FlashAttention does), and the dropout mask is recomputed from its seed.
// Inner loops run over keys, on transposed [D, S] copies of k and v, so that
// they vectorise; target_clones builds them for AVX-512 and AVX2 too.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "auxgrid/models/kernels.hpp"
#include "device_attention.hpp"
#include "random_bits.hpp"

namespace auxgrid::models {

namespace {

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define AUXGRID_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUXGRID_VECTOR_CLONES
#endif

// exp(x) for x <= 0 to about 2e-7 relative error (0 below -87), in a form
// compilers vectorise: 2^k by exponent bits, the rest by a degree-6 polynomial.
inline float fast_exp(float x) {
  const float xc = x < -87.0f ? -87.0f : x;  // selects, not branches: the loops stay vectorisable
  const float k = std::floor(xc * 1.44269504f + 0.5f);  // round(x / ln 2)
  const float r = xc - k * 0.693145752f - k * 1.42860677e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float scale = __builtin_bit_cast(float, (static_cast<std::int32_t>(k) + 127) << 23);  // 2^k
  return x < -87.0f ? 0.0f : p * scale;  // exactly 0 below: no denormals downstream, none for padding's -inf
}

std::atomic<std::uint64_t> flops_done{0};

struct Shape {
  std::int64_t heads = 0, t = 0, s = 0, d = 0;  // per batch element: heads; per head: queries, keys, width
};

// One head's keys or values [S, D] transposed to [D, stride], the layout the
// loops want (stride >= S, a multiple of the register block; the rest stays 0).
void transpose_into(const float* x, std::int64_t s, std::int64_t d, std::int64_t stride, float* out) {
  for (std::int64_t j = 0; j < s; ++j)
    for (std::int64_t c = 0; c < d; ++c) out[c * stride + j] = x[j * d + c];
}

// The reverse: [D, stride] back to [S, D].
void transpose_back(const float* x, std::int64_t s, std::int64_t d, std::int64_t stride, float* out) {
  for (std::int64_t j = 0; j < s; ++j)
    for (std::int64_t c = 0; c < d; ++c) out[j * d + c] = x[c * stride + j];
}

constexpr std::int64_t kBlock = 16;  // keys per register block (one AVX-512 vector)

// out[j] = sum_c a[c] * y[c][j] for j < s, y of row stride `stride`: a block of
// keys is summed in registers over c and stored once.
AUXGRID_VECTOR_CLONES
void project(const float* a, const float* y, std::int64_t s, std::int64_t stride, std::int64_t d, float* out) {
  for (std::int64_t jb = 0; jb < s; jb += kBlock) {
    float acc[kBlock] = {};
    for (std::int64_t c = 0; c < d; ++c) {
      const float ac = a[c];
      const float* row = y + c * stride + jb;
      for (std::int64_t jj = 0; jj < kBlock; ++jj) acc[jj] += ac * row[jj];
    }
    for (std::int64_t jj = 0; jj < kBlock; ++jj) out[jb + jj] = acc[jj];
  }
}

// scores[j] = q . k_j + bias[j] (bias: 0, or -inf for padding and past s;
// scores and bias hold `stride` floats). Returns the maximum.
AUXGRID_VECTOR_CLONES
float row_scores(const float* q, const float* kt, const float* bias, std::int64_t stride, std::int64_t d,
                 float* scores) {
  project(q, kt, stride, stride, d, scores);
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (std::int64_t j = 0; j < stride; ++j) {
    scores[j] += bias[j];
    m = m > scores[j] ? m : scores[j];
  }
  return m;
}

// 0 for the keys of batch element b, -inf for its padding and past s.
void key_bias(const bool* ignore, std::int64_t s, std::int64_t stride, float* bias) {
  for (std::int64_t j = 0; j < stride; ++j)
    bias[j] = j < s && !(ignore && ignore[j]) ? 0.0f : -std::numeric_limits<float>::infinity();
}

// scores <- exp(scores - shift); returns their sum.
AUXGRID_VECTOR_CLONES
float exponentiate(float* scores, std::int64_t stride, float shift) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < stride; ++j) {
    const float e = fast_exp(scores[j] - shift);
    scores[j] = e;
    sum += e;
  }
  return sum;
}

// weights[j] *= keep(j) for the row starting at flat element `first`.
AUXGRID_VECTOR_CLONES
void apply_dropout(float* weights, std::int64_t s, const DropoutBits bits, std::uint32_t first) {
  for (std::int64_t j = 0; j < s; ++j) weights[j] *= bits.keep(first + static_cast<std::uint32_t>(j));
}

// out[c] = sum_j w[j] * vt[c][j]
AUXGRID_VECTOR_CLONES
void weighted_sum(const float* w, const float* vt, std::int64_t s, std::int64_t stride, std::int64_t d, float* out) {
  for (std::int64_t c = 0; c < d; ++c) {
    const float* v = vt + c * stride;
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (std::int64_t j = 0; j < s; ++j) acc += w[j] * v[j];
    out[c] = acc;
  }
}

// The backward of one query row, given its recomputed probabilities p (before
// dropout): accumulates dK^T and dV^T, writes dq.
AUXGRID_VECTOR_CLONES
void row_backward(const float* q, const float* kt, const float* vt, const float* dout, float delta, const float* p,
                  float* dp, float* scratch, const DropoutBits* bits, std::uint32_t first, std::int64_t s,
                  std::int64_t stride, std::int64_t d, float* dq, float* dkt, float* dvt) {
  // dp_j = dout . v_j (the gradient of the dropped-out weight), then through dropout.
  project(dout, vt, s, stride, d, dp);
  // dV accumulates the weights after dropout (p * keep); dp goes back through dropout.
  if (bits) {
    const DropoutBits b = *bits;
    for (std::int64_t j = 0; j < s; ++j) {
      const float keep = b.keep(first + static_cast<std::uint32_t>(j));
      dp[j] *= keep;
      scratch[j] = p[j] * keep;
    }
  } else {
    for (std::int64_t j = 0; j < s; ++j) scratch[j] = p[j];
  }
  for (std::int64_t c = 0; c < d; ++c) {
    const float g = dout[c];
    float* dv = dvt + c * stride;
    for (std::int64_t j = 0; j < s; ++j) dv[j] += scratch[j] * g;
  }
  // Softmax: ds_j = p_j (dp_j - delta), delta = dout . out.
  for (std::int64_t j = 0; j < s; ++j) dp[j] = p[j] * (dp[j] - delta);
  for (std::int64_t c = 0; c < d; ++c) {
    const float* k = kt + c * stride;
    float* dk = dkt + c * stride;
    const float qc = q[c];
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (std::int64_t j = 0; j < s; ++j) {
      acc += dp[j] * k[j];
      dk[j] += dp[j] * qc;
    }
    dq[c] = acc;
  }
}

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  // q [B, H, T, D] (scaled), k and v [B, H, S, D], key_padding [B, S] (true = ignore) or empty.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q_in, const at::Tensor& k_in,
                            const at::Tensor& v_in, const at::Tensor& key_padding, double p, std::int64_t seed) {
    const auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const Shape n{q.size(1), q.size(2), k.size(2), q.size(3)};
    const auto heads_total = q.size(0) * n.heads;
    const std::int64_t stride = (n.s + kBlock - 1) / kBlock * kBlock;
    auto out = at::empty_like(q);
    auto lse = at::empty({q.size(0), n.heads, n.t}, q.options());
    const auto padding = key_padding.contiguous();
    const DropoutBits bits(static_cast<std::uint64_t>(seed), p);
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    float *op = out.data_ptr<float>(), *lp = lse.data_ptr<float>();
    const bool* ignore_all = padding.numel() > 0 ? padding.data_ptr<bool>() : nullptr;
    at::parallel_for(0, heads_total, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> kt(n.d * stride), vt(n.d * stride), scores(stride), bias(stride);
      for (std::int64_t bh = begin; bh < end; ++bh) {
        transpose_into(kp + bh * n.s * n.d, n.s, n.d, stride, kt.data());
        transpose_into(vp + bh * n.s * n.d, n.s, n.d, stride, vt.data());
        key_bias(ignore_all ? ignore_all + (bh / n.heads) * n.s : nullptr, n.s, stride, bias.data());
        for (std::int64_t t = 0; t < n.t; ++t) {
          const float m = row_scores(qp + (bh * n.t + t) * n.d, kt.data(), bias.data(), stride, n.d, scores.data());
          float* o = op + (bh * n.t + t) * n.d;
          if (m == -std::numeric_limits<float>::infinity()) {  // every key is padding: no attention
            std::fill(o, o + n.d, 0.0f);
            lp[bh * n.t + t] = std::numeric_limits<float>::infinity();
            continue;
          }
          const float sum = exponentiate(scores.data(), stride, m);
          const float inv = 1.0f / sum;
          for (std::int64_t j = 0; j < n.s; ++j) scores[j] *= inv;
          if (p > 0) apply_dropout(scores.data(), n.s, bits, static_cast<std::uint32_t>((bh * n.t + t) * n.s));
          weighted_sum(scores.data(), vt.data(), n.s, stride, n.d, o);
          lp[bh * n.t + t] = m + std::log(sum);
        }
      }
    });
    flops_done += static_cast<std::uint64_t>(4 * heads_total * n.t * n.s * n.d);
    ctx->save_for_backward({q, k, v, out, lse, padding});
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = seed;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3], &lse = saved[4], &padding = saved[5];
    const double p = ctx->saved_data["p"].toDouble();
    const DropoutBits bits(static_cast<std::uint64_t>(ctx->saved_data["seed"].toInt()), p);
    const auto dout = grads[0].contiguous();
    const Shape n{q.size(1), q.size(2), k.size(2), q.size(3)};
    const auto heads_total = q.size(0) * n.heads;
    const std::int64_t stride = (n.s + kBlock - 1) / kBlock * kBlock;
    auto dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    const float *op = out.data_ptr<float>(), *lp = lse.data_ptr<float>(), *gp = dout.data_ptr<float>();
    float *dqp = dq.data_ptr<float>(), *dkp = dk.data_ptr<float>(), *dvp = dv.data_ptr<float>();
    const bool* ignore_all = padding.numel() > 0 ? padding.data_ptr<bool>() : nullptr;
    at::parallel_for(0, heads_total, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> kt(n.d * stride), vt(n.d * stride), dkt(n.d * stride), dvt(n.d * stride), probs(stride),
          dp(stride), scratch(stride), bias(stride);
      for (std::int64_t bh = begin; bh < end; ++bh) {
        transpose_into(kp + bh * n.s * n.d, n.s, n.d, stride, kt.data());
        transpose_into(vp + bh * n.s * n.d, n.s, n.d, stride, vt.data());
        std::fill(dkt.begin(), dkt.end(), 0.0f);
        std::fill(dvt.begin(), dvt.end(), 0.0f);
        key_bias(ignore_all ? ignore_all + (bh / n.heads) * n.s : nullptr, n.s, stride, bias.data());
        for (std::int64_t t = 0; t < n.t; ++t) {
          const auto row = bh * n.t + t;
          float* dqr = dqp + row * n.d;
          const float l = lp[row];
          if (std::isinf(l)) {  // a row without keys had no output
            std::fill(dqr, dqr + n.d, 0.0f);
            continue;
          }
          row_scores(qp + row * n.d, kt.data(), bias.data(), stride, n.d, probs.data());
          exponentiate(probs.data(), stride, l);  // the softmax probabilities, exp(s - lse)
          float delta = 0;
          for (std::int64_t c = 0; c < n.d; ++c) delta += gp[row * n.d + c] * op[row * n.d + c];
          row_backward(qp + row * n.d, kt.data(), vt.data(), gp + row * n.d, delta, probs.data(), dp.data(),
                       scratch.data(), p > 0 ? &bits : nullptr, static_cast<std::uint32_t>(row * n.s), n.s, stride,
                       n.d, dqr, dkt.data(), dvt.data());
        }
        transpose_back(dkt.data(), n.s, n.d, stride, dkp + bh * n.s * n.d);
        transpose_back(dvt.data(), n.s, n.d, stride, dvp + bh * n.s * n.d);
      }
    });
    flops_done += static_cast<std::uint64_t>(8 * heads_total * n.t * n.s * n.d);
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::uint64_t fused_attention_flops() { return flops_done.load(); }

at::Tensor attention_with_seed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& key_padding, double p, bool training, std::uint64_t seed) {
  // Custom functions take defined tensors only: no padding is an empty one.
  const auto padding = key_padding.defined() ? key_padding : at::empty({0}, q.options().dtype(at::kBool));
  return FusedAttention::apply(q, k, v, padding, training ? p : 0.0, static_cast<std::int64_t>(seed));
}

at::Tensor materialised_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& key_padding, double p, bool training) {
  auto scores = torch::matmul(q, k.transpose(-2, -1));
  if (key_padding.defined())
    scores =
        scores.masked_fill(key_padding.view({q.size(0), 1, 1, k.size(2)}), -std::numeric_limits<float>::infinity());
  return torch::matmul(models::dropout(torch::softmax(scores, -1), p, training), v);
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_padding,
                     double p, bool training) {
  if (!q.device().is_cpu()) return device_attention(q, k, v, key_padding, p, training);
  if (kernels() == Kernels::plain || q.scalar_type() != at::kFloat)
    return materialised_attention(q, k, v, key_padding, p, training);
  return attention_with_seed(q, k, v, key_padding, p, training, training && p > 0 ? draw_seed() : 0);
}

}  // namespace auxgrid::models
