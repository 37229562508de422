// LibTorch 2.x: at::scaled_dot_product_attention (CMakeLists.txt picks this
// file). q arrives scaled, so the kernel's own scale is 1.
#include <ATen/ATen.h>

#include "../unfused_attention.hpp"
#include "auxgrid/kernels/kernels.hpp"

namespace auxgrid::kernels {

bool sdpa_available() { return true; }

at::Tensor sdpa_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& ignored,
                          double p, bool training) {
  c10::optional<at::Tensor> keep;  // SDPA's boolean mask: true = attend
  if (ignored.defined()) keep = ignored.logical_not();
  return at::scaled_dot_product_attention(q, k, v, keep, training ? p : 0.0, /*is_causal=*/false, /*scale=*/1.0);
}

}  // namespace auxgrid::kernels
