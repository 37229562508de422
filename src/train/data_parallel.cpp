#include "auxgrid/train/data_parallel.hpp"

#include <torch/nn/module.h>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/hash.hpp"

namespace auxgrid::train {

namespace {

at::Tensor flat(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.reshape(-1));
  return at::cat(views);
}

void unflatten(const at::Tensor& buffer, std::vector<at::Tensor>& tensors) {
  std::int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(buffer.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

// Applies `exchange` to the tensors flattened into one buffer, in the memory
// the communicator takes, and copies the result back.
template <class Exchange>
void exchange_flat(dist::Communicator& group, std::vector<at::Tensor>& tensors, Exchange exchange) {
  const auto device = tensors.front().device();
  const bool staged = !device.is_cpu() && !group.takes_device_memory();
  auto buffer = flat(tensors).contiguous();
  if (staged) buffer = buffer.cpu();
  exchange(buffer.data_ptr<float>(), static_cast<std::size_t>(buffer.numel()));
  unflatten(staged ? buffer.to(device) : buffer, tensors);
}

}  // namespace

void broadcast_parameters(dist::Communicator& group, torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  auto params = model.parameters();
  exchange_flat(group, params, [&](float* data, std::size_t count) { group.broadcast(data, count, 0); });
}

void average_gradients(dist::Communicator& group, torch::nn::Module& model) {
  std::vector<at::Tensor> grads;
  for (auto& p : model.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);  // a head with loss weight 0
    grads.push_back(p.grad());
  }
  exchange_flat(group, grads, [&](float* data, std::size_t count) { group.allreduce_mean(data, count); });
}

void check_identical(dist::Communicator& group, torch::nn::Module& model, const std::string& cell_label) {
  const auto buffer = flat(model.parameters()).contiguous().cpu();
  const auto hash = fnv1a(buffer.data_ptr<float>(), static_cast<std::size_t>(buffer.numel()) * sizeof(float));
  std::int64_t mine = static_cast<std::int64_t>(hash), leader = mine;
  group.broadcast_host(&leader, 1, 0);
  double differ = mine != leader ? 1 : 0;
  group.allreduce_sum_host(&differ, 1);
  AUXGRID_CHECK(differ == 0, "cell '{}': the parameters of the group's {} ranks are no longer identical", cell_label,
                group.size());
}

std::pair<std::size_t, std::size_t> batch_slice(const dist::Communicator* group, std::size_t n) {
  if (!group) return {0, n};
  const auto r = static_cast<std::size_t>(group->rank()), g = static_cast<std::size_t>(group->size());
  return {n * r / g, n * (r + 1) / g};
}

}  // namespace auxgrid::train
