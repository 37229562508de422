// LibTorch 1.x: attention with the scores materialised (CMakeLists.txt picks this file).
#include "../device_attention.hpp"

namespace auxgrid::models {

at::Tensor device_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& key_padding, double p, bool training) {
  return materialised_attention(q, k, v, key_padding, p, training);
}

}  // namespace auxgrid::models
