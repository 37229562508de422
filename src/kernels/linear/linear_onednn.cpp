// Linear layers through oneDNN's sgemm (CMakeLists.txt picks this file with
// -DAUXGRID_ONEDNN=ON when oneDNN, which LibTorch itself links, has its
// headers). On the model's shapes (thousands of rows, inner sizes of 130 to
// 520) it runs 25-45 % faster than the OpenBLAS behind LibTorch's CPU matmul
// (bench/throughput). Its JIT kernels must never be interrupted by a signal
// handler (core/stop_signals.hpp).
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/record_function.h>
#include <oneapi/dnnl/dnnl.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "auxgrid/kernels/kernels.hpp"

namespace auxgrid::kernels {

namespace {

// Row-major C = op(A) op(B) (+ C when accumulate); 'T' transposes. The
// uncounted form is for parts of one product (count_product is not thread-safe).
void sgemm_uncounted(char transa, char transb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                     const float* b, bool accumulate, float* c) {
  const std::int64_t lda = transa == 'N' ? k : m, ldb = transb == 'N' ? n : k;
  const auto status = dnnl_sgemm(transa, transb, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, n);
  AUXGRID_CHECK(status == dnnl_success, "oneDNN sgemm ({}x{} times {}x{}) failed with status {}", m, k, k, n,
                static_cast<int>(status));
}
void sgemm(char transa, char transb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* b,
           bool accumulate, float* c) {
  sgemm_uncounted(transa, transb, m, n, k, a, b, accumulate, c);
  count_product(m, k, n);
}

constexpr std::int64_t kSplitRows = 1024, kSplitWeightElements = 1 << 16;

// dw [out, in] = dy^T x over `rows` rows. For a small weight the rows are
// split, one part per thread, each a one-thread product, and the parts
// summed: oneDNN's own threading reaches about 180 GFLOP/s on a 130 x 130
// weight's gradient (it splits the small output, not the long sum), the
// split about 205.
void weight_gradient(const float* dy, const float* x, std::int64_t rows, std::int64_t out, std::int64_t in, float* dw) {
  const std::int64_t threads = at::get_num_threads(), size = out * in;
  if (threads < 2 || rows < kSplitRows || size > kSplitWeightElements)
    return sgemm('T', 'N', out, in, rows, dy, x, false, dw);
  std::vector<float> parts(static_cast<std::size_t>((threads - 1) * size));
  at::parallel_for(0, threads, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t first = rows * t / threads, last = rows * (t + 1) / threads;
      sgemm_uncounted('T', 'N', out, in, last - first, dy + first * out, x + first * in, false,
                      t == 0 ? dw : parts.data() + (t - 1) * size);
    }
  });
  for (std::int64_t t = 1; t < threads; ++t)
    for (std::int64_t i = 0; i < size; ++i) dw[i] += parts[(t - 1) * size + i];
  count_product(out, rows, in);
}

// w [out, in] as a row-major [in, out], in blocks that stay in the cache
// (LibTorch's strided copy took 0.2 ms for a 520 x 130 weight).
at::Tensor transposed(const at::Tensor& w) {
  constexpr std::int64_t kBlock = 32;
  const std::int64_t out = w.size(0), in = w.size(1);
  auto wt = at::empty({in, out}, w.options());
  const float* from = w.data_ptr<float>();
  float* to = wt.data_ptr<float>();
  for (std::int64_t i0 = 0; i0 < out; i0 += kBlock)
    for (std::int64_t j0 = 0; j0 < in; j0 += kBlock)
      for (std::int64_t i = i0; i < std::min(i0 + kBlock, out); ++i)
        for (std::int64_t j = j0; j < std::min(j0 + kBlock, in); ++j) to[j * out + i] = from[i * in + j];
  return wt;
}

constexpr std::int64_t kTransposeWeightRows = 256, kTransposeWeightElements = 1 << 20;

class Linear : public torch::autograd::Function<Linear> {
 public:
  // x [..., in], weight [out, in], bias [out] or empty.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    RECORD_FUNCTION("auxgrid::linear", c10::ArrayRef<const c10::IValue>{});
    const auto in = weight.size(1), out = weight.size(0);
    const auto rows = x.numel() / in;
    const auto x2 = x.reshape({rows, in}).contiguous(), w = weight.contiguous();
    // A fresh output, the bias copied in (expand().contiguous() of one row would be the bias itself).
    auto y = at::empty({rows, out}, x.options());
    if (bias.numel() > 0) y.copy_(bias.expand({rows, out}));
    // x w^T with w transposed first: oneDNN's sgemm runs x [rows, in] times a
    // row-major [in, out] 6-7 % faster than times a transposed [out, in] on
    // the models' shapes, and 35 % faster for the video's 4096 inputs, for a
    // copy of w of a few hundred KB. Not for a handful of rows, nor for large
    // weights (a 2048 x 2048 one runs as fast either way, and its copy costs).
    const bool transpose_first = rows >= kTransposeWeightRows && in * out <= kTransposeWeightElements;
    const auto weight_operand = transpose_first ? transposed(w) : w;
    sgemm('N', transpose_first ? 'N' : 'T', rows, out, in, x2.data_ptr<float>(), weight_operand.data_ptr<float>(),
          bias.numel() > 0, y.data_ptr<float>());
    ctx->save_for_backward({x2, w});
    ctx->saved_data["has_bias"] = bias.numel() > 0;
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x2 = saved[0], &w = saved[1];
    const auto rows = x2.size(0), in = x2.size(1), out = w.size(0);
    const auto dy = grads[0].reshape({rows, out}).contiguous();
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = at::empty({rows, in}, dy.options());
      sgemm('N', 'N', rows, in, out, dy.data_ptr<float>(), w.data_ptr<float>(), false, dx.data_ptr<float>());
      auto shape = grads[0].sizes().vec();
      shape.back() = in;
      dx = dx.view(shape);
    }
    if (ctx->needs_input_grad(1)) {
      dw = at::empty({out, in}, dy.options());
      weight_gradient(dy.data_ptr<float>(), x2.data_ptr<float>(), rows, out, in, dw.data_ptr<float>());
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!fast_kernels_for(x) || x.numel() == 0) return at::linear(x, weight, bias);
  // Custom functions take defined tensors only: no bias is an empty one.
  return Linear::apply(x, weight, bias.defined() ? bias : at::empty({0}, weight.options()));
}

}  // namespace auxgrid::kernels
