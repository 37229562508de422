#include "auxgrid/kernels/kernels.hpp"

#include "random_bits.hpp"
#include "vectors.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/full.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/relu.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <vector>

namespace auxgrid::kernels {

namespace {

Mode initial_mode() {
  const char* env = std::getenv("AUXGRID_KERNELS");
  return env && std::strcmp(env, "plain") == 0 ? Mode::plain : Mode::fast;
}

std::atomic<Mode>& current() {
  static std::atomic<Mode> k{initial_mode()};
  return k;
}

AUXGRID_VECTOR_CLONES
void fill_mask(float* m, std::int64_t begin, std::int64_t end, const DropoutBits bits) {
  for (std::int64_t i = begin; i < end; ++i) m[i] = bits.keep(static_cast<std::uint32_t>(i));
}

// out[i] = x[i] * keep(i): the mask is never stored.
AUXGRID_VECTOR_CLONES
void masked_copy(const float* x, float* out, std::int64_t begin, std::int64_t end, const DropoutBits bits) {
  for (std::int64_t i = begin; i < end; i += kLanes) {
    const auto lanes = std::min(kLanes, end - i);
    store_lanes(out + i, load_lanes(x + i, lanes) * keep_vector(bits, i), lanes);
  }
}

// Rows [begin, end) of [rows, n]: out = max(x + bias, 0) * keep, bias added,
// relu and dropout in one pass.
AUXGRID_VECTOR_CLONES
void bias_relu_masked_rows(const float* x, const float* bias, float* out, std::int64_t n, std::int64_t begin,
                           std::int64_t end, const DropoutBits bits) {
  for (std::int64_t r = begin; r < end; ++r)
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      const std::int64_t i = r * n + c;
      const Vec v = load_lanes(x + i, lanes) + load_lanes(bias + c, lanes);
      store_lanes(out + i, (v > 0.0f ? v : splat(0.0f)) * keep_vector(bits, i), lanes);
    }
}

// The gradient of that from its output alone (an element passed both the relu
// and the mask, y > 0, or it did not), and the column sums of the gradient
// (the bias's) added to db.
AUXGRID_VECTOR_CLONES
void relu_dropout_grad_rows(const float* y, const float* dy, float* dx, float* db, std::int64_t n, std::int64_t begin,
                            std::int64_t end, float scale) {
  for (std::int64_t r = begin; r < end; ++r)
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      const std::int64_t i = r * n + c;
      // Two statements: GCC 14 crashes on the product inside the select (avx512f clone).
      const Vec scaled = load_lanes(dy + i, lanes) * scale;
      const Vec g = load_lanes(y + i, lanes) > 0.0f ? scaled : splat(0.0f);
      store_lanes(dx + i, g, lanes);
      store_lanes(db + c, load_lanes(db + c, lanes) + g, lanes);
    }
}

// Rows [begin, end) of [rows, n]: out = a x + c keep (z + bias), the residual
// step x + dropout(z + bias) (a = c = 1) or its learnable-scaling form
// (a = alpha, c = 1 - alpha).
AUXGRID_VECTOR_CLONES
void residual_rows(const float* x, const float* z, const float* bias, float* out, float a, float c, std::int64_t n,
                   std::int64_t begin, std::int64_t end, const DropoutBits bits) {
  for (std::int64_t r = begin; r < end; ++r)
    for (std::int64_t k = 0; k < n; k += kLanes) {
      const auto lanes = std::min(kLanes, n - k);
      const std::int64_t i = r * n + k;
      const Vec update = keep_vector(bits, i) * (load_lanes(z + i, lanes) + load_lanes(bias + k, lanes));
      store_lanes(out + i, a * load_lanes(x + i, lanes) + c * update, lanes);
    }
}

// Its gradient for z (dz = c keep dout), with the column sums of dz (the
// bias's gradient) added to db and, when x and z are given, the column sums of
// dout (x - keep (z + bias)) (alpha's gradient, summed over them) added to da.
AUXGRID_VECTOR_CLONES
void residual_grad_rows(const float* dout, const float* x, const float* z, const float* bias, float* dz, float* db,
                        float* da, float c, std::int64_t n, std::int64_t begin, std::int64_t end,
                        const DropoutBits bits) {
  for (std::int64_t r = begin; r < end; ++r)
    for (std::int64_t k = 0; k < n; k += kLanes) {
      const auto lanes = std::min(kLanes, n - k);
      const std::int64_t i = r * n + k;
      const Vec keep = keep_vector(bits, i), g = load_lanes(dout + i, lanes), dzi = c * keep * g;
      store_lanes(dz + i, dzi, lanes);
      store_lanes(db + k, load_lanes(db + k, lanes) + dzi, lanes);
      if (x) {
        const Vec update = keep * (load_lanes(z + i, lanes) + load_lanes(bias + k, lanes));
        store_lanes(da + k, load_lanes(da + k, lanes) + g * (load_lanes(x + i, lanes) - update), lanes);
      }
    }
}

// Rows [begin, end) of [rows, n]: y = (x - mean) rstd weight + bias, each
// row's mean and rstd = 1 / sqrt(variance + eps) kept for the gradient.
AUXGRID_VECTOR_CLONES
void layer_norm_rows(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd,
                     std::int64_t n, float eps, std::int64_t begin, std::int64_t end) {
  for (std::int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    Vec sum = splat(0.0f);
    for (std::int64_t c = 0; c < n; c += kLanes) sum += load_lanes(xr + c, std::min(kLanes, n - c));
    const float mu = horizontal_sum(sum) / static_cast<float>(n);
    Vec squares = splat(0.0f);  // two passes: no cancellation when the mean is large
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      Vec d = load_lanes(xr + c, lanes) - mu;
      if (lanes < kLanes) d = first_lanes(d, lanes);  // past the row's end d is -mu, not 0
      squares += d * d;
    }
    const float rs = 1.0f / std::sqrt(horizontal_sum(squares) / static_cast<float>(n) + eps);
    mean[r] = mu, rstd[r] = rs;
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      const Vec xhat = (load_lanes(xr + c, lanes) - mu) * rs;
      store_lanes(y + r * n + c, xhat * load_lanes(weight + c, lanes) + load_lanes(bias + c, lanes), lanes);
    }
  }
}

// Its gradient: dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy
// weight, and the column sums of dy xhat (weight's) and dy (bias's) added to
// dw and db.
AUXGRID_VECTOR_CLONES
void layer_norm_grad_rows(const float* x, const float* dy, const float* weight, const float* mean, const float* rstd,
                          float* dx, float* dw, float* db, std::int64_t n, std::int64_t begin, std::int64_t end) {
  for (std::int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * n, *dyr = dy + r * n, mu = mean[r], rs = rstd[r];
    Vec g_sum = splat(0.0f), gx_sum = splat(0.0f);  // past n, dy and weight load as 0: so do g and g xhat
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      const Vec g = load_lanes(dyr + c, lanes) * load_lanes(weight + c, lanes);
      g_sum += g;
      gx_sum += g * ((load_lanes(xr + c, lanes) - mu) * rs);
    }
    const float g_mean = horizontal_sum(g_sum) / static_cast<float>(n);
    const float gx_mean = horizontal_sum(gx_sum) / static_cast<float>(n);
    for (std::int64_t c = 0; c < n; c += kLanes) {
      const auto lanes = std::min(kLanes, n - c);
      const Vec xhat = (load_lanes(xr + c, lanes) - mu) * rs, d = load_lanes(dyr + c, lanes);
      store_lanes(dx + r * n + c, rs * (d * load_lanes(weight + c, lanes) - g_mean - xhat * gx_mean), lanes);
      store_lanes(dw + c, load_lanes(dw + c, lanes) + d * xhat, lanes);
      store_lanes(db + c, load_lanes(db + c, lanes) + d, lanes);
    }
  }
}

constexpr std::int64_t kGrain = 1 << 14;  // elements per parallel task at least

at::Tensor apply_mask(const at::Tensor& x, const DropoutBits& bits) {
  const auto in = x.contiguous();
  auto out = at::empty_like(in, at::MemoryFormat::Contiguous);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), kGrain, [&](std::int64_t b, std::int64_t e) { masked_copy(src, dst, b, e, bits); });
  return out;
}

// Runs pass(begin, end, sums) over ranges of the rows of a [rows, n] tensor
// on every thread, each range adding into its own zeroed `count` partial sums
// (a bias's gradient: column sums), and returns their totals, summed in double.
template <class RowsPass>
std::vector<double> rows_with_sums(std::int64_t rows, std::int64_t n, std::int64_t count, const RowsPass& pass) {
  std::vector<double> totals(static_cast<std::size_t>(count), 0.0);
  std::mutex totals_lock;
  at::parallel_for(0, rows, kGrain / n + 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> sums(static_cast<std::size_t>(count), 0.0f);
    pass(begin, end, sums.data());
    std::lock_guard<std::mutex> lock(totals_lock);
    for (std::int64_t k = 0; k < count; ++k) totals[k] += sums[k];
  });
  return totals;
}

// The first n of `values` as a float tensor.
at::Tensor float_tensor(const double* values, std::int64_t n, const at::TensorOptions& options) {
  auto out = at::empty({n}, options);
  std::copy(values, values + n, out.data_ptr<float>());
  return out;
}

// Dropout whose backward recomputes the mask from the seed instead of saving it.
class Dropout : public torch::autograd::Function<Dropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p, std::int64_t seed) {
    RECORD_FUNCTION("auxgrid::dropout", c10::ArrayRef<const c10::IValue>{});  // for profilers (bench --profile)
    save_dropout(ctx, p, seed);
    return apply_mask(x, DropoutBits(static_cast<std::uint64_t>(seed), p));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return {apply_mask(grads[0], saved_dropout(ctx)), at::Tensor(), at::Tensor()};
  }
};

// dropout(relu(x + bias)) over the rows of x [rows, n], saving only the
// output (which the next layer keeps anyway).
class BiasReluDropout : public torch::autograd::Function<BiasReluDropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& bias_in,
                            double p, std::int64_t seed) {
    RECORD_FUNCTION("auxgrid::bias_relu_dropout", c10::ArrayRef<const c10::IValue>{});
    const auto x = x_in.contiguous(), bias = bias_in.contiguous();
    const auto n = bias.numel(), rows = x.numel() / n;
    const DropoutBits bits(static_cast<std::uint64_t>(seed), p);
    const float *src = x.data_ptr<float>(), *b = bias.data_ptr<float>();
    auto y = at::empty_like(x, at::MemoryFormat::Contiguous);
    float* dst = y.data_ptr<float>();
    at::parallel_for(0, rows, kGrain / n + 1, [&](std::int64_t begin, std::int64_t end) {
      bias_relu_masked_rows(src, b, dst, n, begin, end, bits);
    });
    ctx->save_for_backward({y});
    ctx->saved_data["scale"] = static_cast<double>(bits.scale);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto y = ctx->get_saved_variables()[0];
    const auto dy = grads[0].contiguous();
    const auto scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const auto n = y.size(-1), rows = y.numel() / n;
    const float *yp = y.data_ptr<float>(), *dyp = dy.data_ptr<float>();
    auto dx = at::empty_like(y);
    float* dst = dx.data_ptr<float>();
    const auto db = rows_with_sums(rows, n, n, [&](std::int64_t begin, std::int64_t end, float* sums) {
      relu_dropout_grad_rows(yp, dyp, dst, sums, n, begin, end, scale);
    });
    return {dx, float_tensor(db.data(), n, y.options()), at::Tensor(), at::Tensor()};
  }
};

// x + dropout(z + bias) over the rows of [rows, n] tensors, or with a
// learnable alpha: alpha x + (1 - alpha) dropout(z + bias).
class Residual : public torch::autograd::Function<Residual> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& z_in,
                            const at::Tensor& bias_in, const at::Tensor& alpha, double p, std::int64_t seed) {
    RECORD_FUNCTION("auxgrid::residual", c10::ArrayRef<const c10::IValue>{});
    const auto x = x_in.contiguous(), z = z_in.contiguous(), bias = bias_in.contiguous();
    const auto n = bias.numel(), rows = x.numel() / n;
    const bool scaled = alpha.numel() > 0;
    const float a = scaled ? alpha.item<float>() : 1.0f;
    const DropoutBits bits(static_cast<std::uint64_t>(seed), p);
    const float *xp = x.data_ptr<float>(), *zp = z.data_ptr<float>(), *b = bias.data_ptr<float>();
    auto out = at::empty_like(x, at::MemoryFormat::Contiguous);
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, rows, kGrain / n + 1, [&](std::int64_t begin, std::int64_t end) {
      residual_rows(xp, zp, b, dst, a, scaled ? 1.0f - a : 1.0f, n, begin, end, bits);
    });
    // alpha's gradient needs x and z; without alpha only the bias (and the seed) are kept.
    ctx->save_for_backward(scaled ? torch::autograd::variable_list{x, z, bias} : torch::autograd::variable_list{bias});
    ctx->saved_data["alpha"] = static_cast<double>(a);
    ctx->saved_data["scaled"] = scaled;
    save_dropout(ctx, p, seed);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const bool scaled = ctx->saved_data["scaled"].toBool();
    const auto& bias = saved.back();
    const auto dout = grads[0].contiguous();
    const auto a = static_cast<float>(ctx->saved_data["alpha"].toDouble());
    const DropoutBits bits = saved_dropout(ctx);
    const auto n = bias.numel(), rows = dout.numel() / n;
    const float *dp = dout.data_ptr<float>(), *b = bias.data_ptr<float>();
    const float* xp = scaled ? saved[0].data_ptr<float>() : nullptr;
    const float* zp = scaled ? saved[1].data_ptr<float>() : nullptr;
    auto dz = at::empty_like(dout);
    float* dzp = dz.data_ptr<float>();
    const float c = scaled ? 1.0f - a : 1.0f;
    // Column sums: the bias's gradient, then (scaled) alpha's per column.
    const auto pass = [&](std::int64_t begin, std::int64_t end, float* partial) {
      residual_grad_rows(dp, xp, zp, b, dzp, partial, partial + n, c, n, begin, end, bits);
    };
    const auto sums = rows_with_sums(rows, n, scaled ? 2 * n : n, pass);
    const auto dx = scaled ? dout * a : dout;
    const auto dalpha =
        scaled ? at::full({1}, std::accumulate(sums.begin() + n, sums.end(), 0.0), dout.options()) : at::Tensor();
    return {dx, dz, float_tensor(sums.data(), n, dout.options()), dalpha, at::Tensor(), at::Tensor()};
  }
};

// LayerNorm over the last dimension, one pass forward (after the row's
// statistics) and one back that also sums weight's and bias's gradients.
class LayerNorm : public torch::autograd::Function<LayerNorm> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& weight_in,
                            const at::Tensor& bias_in, double eps) {
    RECORD_FUNCTION("auxgrid::layer_norm", c10::ArrayRef<const c10::IValue>{});
    const auto x = x_in.contiguous(), weight = weight_in.contiguous(), bias = bias_in.contiguous();
    const auto n = weight.numel(), rows = x.numel() / n;
    auto y = at::empty_like(x, at::MemoryFormat::Contiguous);
    auto mean = at::empty({rows}, x.options()), rstd = at::empty({rows}, x.options());
    const float *xp = x.data_ptr<float>(), *w = weight.data_ptr<float>(), *b = bias.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *mp = mean.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    at::parallel_for(0, rows, kGrain / n + 1, [&](std::int64_t begin, std::int64_t end) {
      layer_norm_rows(xp, w, b, yp, mp, rp, n, static_cast<float>(eps), begin, end);
    });
    ctx->save_for_backward({x, weight, mean, rstd});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &rstd = saved[3];
    const auto dy = grads[0].contiguous();
    const auto n = weight.numel(), rows = x.numel() / n;
    auto dx = at::empty_like(x);
    const float *xp = x.data_ptr<float>(), *dyp = dy.data_ptr<float>(), *w = weight.data_ptr<float>();
    const float *mp = mean.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    const auto sums = rows_with_sums(rows, n, 2 * n, [&](std::int64_t begin, std::int64_t end, float* partial) {
      layer_norm_grad_rows(xp, dyp, w, mp, rp, dxp, partial, partial + n, n, begin, end);
    });
    return {dx, float_tensor(sums.data(), n, x.options()), float_tensor(sums.data() + n, n, x.options()), at::Tensor()};
  }
};

}  // namespace

std::uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

namespace {
std::atomic<std::uint64_t> flops_done{0};
ProductObserver product_observer;  // set and read by the benchmark's thread only
}  // namespace

std::uint64_t kernel_flops() { return flops_done.load(); }
void count_kernel_flops(std::uint64_t flops) { flops_done += flops; }
void observe_products(ProductObserver observer) { product_observer = std::move(observer); }
void count_product(std::int64_t m, std::int64_t k, std::int64_t n) {
  count_kernel_flops(static_cast<std::uint64_t>(2 * m * k * n));
  if (product_observer) product_observer(m, k, n);
}

Mode mode() { return current().load(std::memory_order_relaxed); }
bool fast_kernels_for(const at::Tensor& x) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  const bool cpu_autocast = at::autocast::is_autocast_enabled(at::kCPU);
#else
  const bool cpu_autocast = at::autocast::is_cpu_enabled();
#endif
  return mode() == Mode::fast && x.device().is_cpu() && x.scalar_type() == at::kFloat && !cpu_autocast;
}
void set_mode(Mode k) { current().store(k, std::memory_order_relaxed); }

at::Tensor dropout_mask(std::uint64_t seed, at::IntArrayRef shape, double p) {
  const DropoutBits bits(seed, p);
  at::Tensor mask = at::empty(shape, at::kFloat);
  float* m = mask.data_ptr<float>();
  at::parallel_for(0, mask.numel(), kGrain,
                   [&](std::int64_t begin, std::int64_t end) { fill_mask(m, begin, end, bits); });
  return mask;
}

at::Tensor dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  if (!fast_kernels_for(x)) return at::dropout(x, p, training);
  return Dropout::apply(x, p, static_cast<std::int64_t>(draw_seed()));
}

at::Tensor residual_dropout(const at::Tensor& x, const at::Tensor& update, const at::Tensor& alpha, double p,
                            bool training) {
  const auto dropped = kernels::dropout(update, p, training);
  return alpha.defined() ? alpha * x + (1 - alpha) * dropped : x + dropped;
}

at::Tensor residual_linear_dropout(const at::Tensor& x, const at::Tensor& input, const at::Tensor& weight,
                                   const at::Tensor& bias, const at::Tensor& alpha, double p, bool training) {
  if (!fast_kernels_for(x) || !bias.defined())
    return residual_dropout(x, kernels::linear(input, weight, bias), alpha, p, training);
  const auto none = at::empty({0}, x.options());
  return Residual::apply(x, kernels::linear(input, weight, {}), bias, alpha.defined() ? alpha : none,
                         training ? p : 0.0, training && p > 0 ? static_cast<std::int64_t>(draw_seed()) : 0);
}

at::Tensor linear_relu_dropout(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double p,
                               bool training) {
  if (!training || p <= 0 || !fast_kernels_for(x) || !bias.defined())
    return kernels::dropout(at::relu(kernels::linear(x, weight, bias)), p, training);
  return BiasReluDropout::apply(kernels::linear(x, weight, {}), bias, p, static_cast<std::int64_t>(draw_seed()));
}

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  if (!fast_kernels_for(x) || !weight.defined() || !bias.defined())
    return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
  return LayerNorm::apply(x, weight, bias, eps);
}

}  // namespace auxgrid::kernels
