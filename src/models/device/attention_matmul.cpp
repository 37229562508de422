// LibTorch 1.x: attention with the scores materialised (CMakeLists.txt picks this file).
#include <torch/torch.h>

#include <limits>

#include "auxgrid/models/kernels.hpp"
#include "../device_attention.hpp"

namespace auxgrid::models {

at::Tensor device_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& key_padding, double p, bool training) {
  auto scores = torch::matmul(q, k.transpose(-2, -1));
  if (key_padding.defined())
    scores =
        scores.masked_fill(key_padding.view({q.size(0), 1, 1, k.size(2)}), -std::numeric_limits<float>::infinity());
  return torch::matmul(models::dropout(torch::softmax(scores, -1), p, training), v);
}

}  // namespace auxgrid::models
