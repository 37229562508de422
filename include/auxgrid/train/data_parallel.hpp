#pragma once
// Data-parallel training whose result does not depend on how many ranks
// train the cell (docs/design.md, "Training one cell"): every batch is cut
// into kGradientGroups fixed groups of consecutive utterances; a rank computes
// whole groups, each group's forward and backward on its own with its random
// draws seeded by (cell seed, epoch, step, group); and every rank sums the
// groups' gradients in one fixed order. So one rank, a group of 2 or 4, or
// any other count computes the same bits (the same threads per rank given).
// Tensors on a GPU go through host memory for a communicator that takes host
// memory (MPI).
#include <ATen/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "auxgrid/dist/communicator.hpp"

namespace torch::nn {
class Module;
}

namespace auxgrid::train {

// Groups per batch: ranks beyond this many per cell would wait.
constexpr std::size_t kGradientGroups = 4;
// Group g of a batch of n utterances: [n g / G, n (g + 1) / G) (empty when n < G).
std::pair<std::size_t, std::size_t> gradient_group(std::size_t n, std::size_t g);
// The groups this rank computes, [first, last): all of them without a group of ranks.
std::pair<std::size_t, std::size_t> groups_of_rank(const dist::Communicator* group);
// The seed of LibTorch's generator for group g's forward and backward at a
// step: dropout masks are keyed by what they are about, not by who computes them.
std::uint64_t group_seed(std::uint64_t cell_seed, std::int64_t epoch, std::int64_t step, std::size_t g);

// The groups' gradients of one step, summed in one fixed order on every rank:
// ((g0 + g1) + (g2 + g3)). A rank that computes both groups of a pair lets
// LibTorch add the second onto the first in the parameters' gradients (the
// same sum, a + b, as anywhere else) and keeps only the pair.
class GroupGradients {
 public:
  // For the rank (of `group`, or the only one) that computes the groups groups_of_rank gives it.
  GroupGradients(torch::nn::Module& model, const dist::Communicator* group);
  // After group g's backward (groups in order): keeps what the gradients hold
  // when a pair or a lone group is complete, and zeroes them for the next.
  void keep(std::size_t g);
  // The model's gradients become the sum over every rank's groups. The ranks
  // exchange their kept sums with one plain sum: each slot has one nonzero
  // contributor, so the exchange adds exact zeros in whatever order.
  void reduce(dist::Communicator* group);

 private:
  std::vector<at::Tensor> parameters_;
  std::size_t first_ = 0, last_ = 0;  // this rank's groups
  at::Tensor slots_;                  // [kGradientGroups / 2 pairs, 2, elements]: a pair's sum, or its two halves
  std::vector<bool> filled_;          // per group: its slot (or its pair's sum in the first) holds it
};

// Every rank ends with rank 0's parameters.
void broadcast_parameters(dist::Communicator& group, torch::nn::Module& model);
// Throws naming the cell when the ranks' parameters differ in any bit.
void check_identical(dist::Communicator& group, torch::nn::Module& model, const std::string& cell_label);

}  // namespace auxgrid::train
