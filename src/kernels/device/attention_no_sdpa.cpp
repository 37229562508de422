// LibTorch 1.x has no scaled_dot_product_attention (CMakeLists.txt picks this
// file): attention falls back to the materialised scores, and asking for SDPA
// is an error.
#include <torch/version.h>

#include "../unfused_attention.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/kernels/kernels.hpp"

namespace auxgrid::kernels {

bool sdpa_available() { return false; }

at::Tensor sdpa_attention(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double, bool) {
  AUXGRID_FAIL("attention 'sdpa' (scaled_dot_product_attention) needs LibTorch 2.x; this build has {}", TORCH_VERSION);
}

}  // namespace auxgrid::kernels
