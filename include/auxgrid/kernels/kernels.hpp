#pragma once
// Where LibTorch's own CPU kernels waste most of a training step, the models
// call these instead (dropout's single-threaded bernoulli_ alone took 40 % of
// a full-size AuxFormer step; bench/README.md).
// The same functions compute the straightforward way when the process runs
// with plain kernels: the benchmarks' baseline, and a fallback to compare
// results with (AUXGRID_KERNELS=plain in the environment).
#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace auxgrid::kernels {

enum class Mode {
  fast,  // hashed dropout masks fused with the passes around the products, fused attention, oneDNN linear layers
  plain  // torch::dropout, torch::nn::functional::multi_head_attention_forward, torch::linear
};

// Process-wide; the default is fast unless AUXGRID_KERNELS=plain.
Mode mode();
void set_mode(Mode k);
// Whether auxgrid's own kernels take x: fast kernels, a CPU float tensor, and
// no CPU autocast (train.precision = bf16: LibTorch's kernels run then, so
// that autocast can cast them).
bool fast_kernels_for(const at::Tensor& x);

// Inverted dropout. Fast on CPU floats: a mask drawn by every thread from a
// counter-based hash of one seed that comes from LibTorch's default generator
// (so torch::manual_seed and its saved state reproduce it); the same
// Bernoulli(1 - p) distribution as torch::dropout, not the same draws.
at::Tensor dropout(const at::Tensor& x, double p, bool training);

// x weight^T + bias, as torch::linear (bias may be undefined). With fast
// kernels on CPU floats the products run through oneDNN's sgemm (CMake option
// AUXGRID_ONEDNN, on by default when its headers are there; src/models/linear/).
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
// dropout(relu(linear(x, weight, bias)), p, training). Fast on CPU floats: the
// bias, relu and dropout are one pass after the product, and one pass back
// (from the output alone: the same mask as dropout() draws) that also sums
// the bias's gradient.
at::Tensor linear_relu_dropout(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double p,
                               bool training);
// A residual step: x + dropout(update), or with a learnable scalar alpha
// (defined): alpha x + (1 - alpha) dropout(update).
at::Tensor residual_dropout(const at::Tensor& x, const at::Tensor& update, const at::Tensor& alpha, double p,
                            bool training);
// The same with update = linear(input, weight, bias). Fast on CPU floats: the
// bias, dropout, scaling and sum are one pass after the product, and one pass
// back that also sums the bias's and alpha's gradients.
at::Tensor residual_linear_dropout(const at::Tensor& x, const at::Tensor& input, const at::Tensor& weight,
                                   const at::Tensor& bias, const at::Tensor& alpha, double p, bool training);

// LayerNorm over the last dimension with elementwise weight and bias, as
// at::layer_norm. Fast on CPU floats: one vectorised pass each way, the
// parameters' gradients summed in the backward pass.
at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// Which keys each query may attend (the masks of multi_head_attention).
// padding: bool [B, S], true = a padded key to ignore, or undefined.
// causal_offset: int64 [B], or undefined for every key: query t of batch
// element b attends key j only when j <= t + causal_offset[b], the released
// code's buffered_future_mask (modules/transformer.py), whose offset is
// |S - T| for queries of length T and keys of length S (docs/models.md,
// "Causal attention mask"). Key 0 is always allowed, so no row is empty
// unless every key is padding.
struct AttentionMask {
  AttentionMask(at::Tensor padding_ = {}, at::Tensor causal_offset_ = {})  // NOLINT: a padding tensor converts
      : padding(std::move(padding_)), causal_offset(std::move(causal_offset_)) {}
  at::Tensor padding, causal_offset;
  // Both as one bool [B, 1, T, S] tensor, true = ignore (undefined when neither is set).
  at::Tensor ignored(std::int64_t queries, std::int64_t keys) const;
};

// Multi-head attention of projections: per head softmax(q k^T / sqrt(D),
// masked as `mask` says) with dropout p on the weights, times v. `query` is the
// [B, T, H*D] query projection and `keys_values` the [B, S, 2*H*D] key and
// value projections side by side; for self-attention `keys_values` is
// undefined and `query` the packed [B, T, 3*H*D] (q, k, v), as one linear
// layer makes them. Returns [B, T, H*D], the heads side by side. Fast on CPU
// floats: fused and register-tiled (attention_cpu.cpp), the [B, H, T, S]
// weights never stored, the projections read in place and their gradients
// written in the same packed layout, and keys a causal mask hides never
// computed. A query whose keys are all padding gets a zero output (LibTorch's
// gives NaN).
at::Tensor multi_head_attention(const at::Tensor& query, const at::Tensor& keys_values, std::int64_t heads,
                                const AttentionMask& mask, double p, bool training);
// How multi_head_attention computes. fused: auxgrid's kernel (fast kernels,
// CPU floats); sdpa: LibTorch 2.x's scaled_dot_product_attention (on GPUs its
// FlashAttention and memory-efficient kernels never store the scores);
// materialised: the scores stored, any device and LibTorch.
enum class AttentionKernel { fused, sdpa, materialised };
// The choice for these projections: fused where auxgrid's kernels apply, else
// sdpa where this LibTorch has it, else materialised. A forced choice
// (set_attention, or AUXGRID_ATTENTION=fused|sdpa|materialised in the
// environment) is taken instead, and throws where it cannot run.
AttentionKernel attention_for(const at::Tensor& query);
void set_attention(std::optional<AttentionKernel> forced);  // nullopt: the automatic choice
bool sdpa_available();                                      // LibTorch 2.x
// The fused kernel with a given dropout seed: element (b, h, t, s) of the
// weights is kept as element b*H*T*S + h*T*S + t*S + s of dropout_mask(seed).
at::Tensor multi_head_attention_with_seed(const at::Tensor& query, const at::Tensor& keys_values, std::int64_t heads,
                                          const AttentionMask& mask, double p, bool training, std::uint64_t seed);
// Matrix-product FLOPs that auxgrid's own kernels (the fused attention, the
// oneDNN linear layers) have done so far in this process, for benchmarks that
// count LibTorch's products with its profiler, which cannot see these. The
// attention's are counted as the materialised products it replaces (forward
// q k^T and p v, backward four), over the keys it computes.
std::uint64_t kernel_flops();
void count_kernel_flops(std::uint64_t flops);
// Benchmarks: while set, called with the (m, k, n) of every product that
// auxgrid's own linear layers run (oneDNN builds); unset with {}.
using ProductObserver = std::function<void(std::int64_t m, std::int64_t k, std::int64_t n)>;
void observe_products(ProductObserver observer);
void count_product(std::int64_t m, std::int64_t k, std::int64_t n);  // kernel_flops and the observer
// The mask the fast kernels use for `seed`: 1 / (1 - p) where kept, else 0.
at::Tensor dropout_mask(std::uint64_t seed, at::IntArrayRef shape, double p);

}  // namespace auxgrid::kernels
