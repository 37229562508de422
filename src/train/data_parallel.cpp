#include "auxgrid/train/data_parallel.hpp"

#include <torch/nn/module.h>

#include <algorithm>
#include <tuple>

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

std::pair<std::size_t, std::size_t> gradient_group(std::size_t n, std::size_t g) {
  return {n * g / kGradientGroups, n * (g + 1) / kGradientGroups};
}

std::pair<std::size_t, std::size_t> groups_of_rank(const dist::Communicator* group) {
  if (!group) return {0, kGradientGroups};
  const auto r = static_cast<std::size_t>(group->rank()), size = static_cast<std::size_t>(group->size());
  return {kGradientGroups * r / size, kGradientGroups * (r + 1) / size};
}

std::uint64_t group_seed(std::uint64_t cell_seed, std::int64_t epoch, std::int64_t step, std::size_t g) {
  // splitmix64 over the four keys in turn: any change in one changes every bit.
  std::uint64_t h = 0x6A09E667F3BCC909ull;
  for (const auto key : {cell_seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(step),
                         static_cast<std::uint64_t>(g)}) {
    h += key + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
  }
  return h >> 1;  // LibTorch's seeds are taken as signed in places
}

static_assert((kGradientGroups & (kGradientGroups - 1)) == 0, "the reduction tree pairs groups: a power of two");

GroupGradients::GroupGradients(torch::nn::Module& model, const dist::Communicator* group)
    : parameters_(model.parameters()), filled_(kGradientGroups, false) {
  std::tie(first_, last_) = groups_of_rank(group);
  std::int64_t elements = 0;
  for (const auto& p : parameters_) elements += p.numel();
  slots_ = at::zeros({static_cast<std::int64_t>(kGradientGroups), elements},
                     parameters_.front().options().requires_grad(false));
}

namespace {
// Copies the parameters' gradients (zero where undefined) into `slot`, then zeroes them.
void move_gradients(std::vector<at::Tensor>& parameters, at::Tensor slot) {
  std::int64_t offset = 0;
  for (auto& p : parameters) {
    auto part = slot.narrow(0, offset, p.numel());
    if (p.grad().defined()) {
      part.copy_(p.grad().reshape(-1));
      p.mutable_grad().zero_();
    } else {
      part.zero_();  // a head with loss weight 0
    }
    offset += p.numel();
  }
}
}  // namespace

void GroupGradients::keep(std::size_t g) {
  // The first of a pair whose second is ours too stays in the gradients: the
  // second's backward adds onto it, and the pair's sum lands in the first slot.
  const bool pair_first = g % 2 == 0 && g + 1 < last_;
  filled_[g] = true;
  if (pair_first) return;
  const bool pair_second = g % 2 == 1 && g >= first_ + 1;
  move_gradients(parameters_, slots_[static_cast<std::int64_t>(pair_second ? g - 1 : g)]);
}

void GroupGradients::reduce(dist::Communicator* group) {
  // A pair both of whose groups one rank computes is summed in its first slot;
  // the second holds zero. Every rank knows which pairs those are.
  // Groups g and g + 1 have one owner unless some rank's share starts at g + 1.
  const auto one_owner = [&](std::size_t g) {
    const auto size = group ? static_cast<std::size_t>(group->size()) : 1;
    for (std::size_t r = 1; r < size; ++r)
      if (kGradientGroups * r / size == g + 1) return false;
    return true;
  };
  for (std::size_t g = 0; g < kGradientGroups; ++g)
    if (!filled_[g] || (g % 2 == 1 && one_owner(g - 1))) slots_[static_cast<std::int64_t>(g)].zero_();
  if (group && group->size() > 1) {
    const bool staged = !slots_.is_cpu() && !group->takes_device_memory();
    auto buffer = staged ? slots_.cpu() : slots_;
    group->allreduce_sum(buffer.data_ptr<float>(), static_cast<std::size_t>(buffer.numel()));
    if (staged) slots_.copy_(buffer);
  }
  // The fixed tree over pairs: (g0 + g1) + (g2 + g3).
  std::vector<at::Tensor> pairs;
  for (std::size_t g = 0; g < kGradientGroups; g += 2) {
    const auto a = slots_[static_cast<std::int64_t>(g)], b = slots_[static_cast<std::int64_t>(g + 1)];
    pairs.push_back(one_owner(g) ? a : a + b);
  }
  while (pairs.size() > 1) {
    std::vector<at::Tensor> next;
    for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) next.push_back(pairs[i] + pairs[i + 1]);
    pairs = std::move(next);
  }
  std::vector<at::Tensor> grads;
  for (auto& p : parameters_) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  unflatten(pairs.front(), grads);
  std::fill(filled_.begin(), filled_.end(), false);
}

}  // namespace auxgrid::train
