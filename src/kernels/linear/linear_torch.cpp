// Linear layers without oneDNN (CMakeLists.txt picks this file): LibTorch's own.
#include <ATen/ops/linear.h>

#include "auxgrid/kernels/kernels.hpp"

namespace auxgrid::kernels {

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return at::linear(x, weight, bias);
}

}  // namespace auxgrid::kernels
