#pragma once
// Data-parallel training: the ranks of a group hold one model. Rank 0's
// parameters to start with, the group's mean gradient at every step, and a
// check that the copies have not drifted apart. Tensors on a GPU go through
// host memory for a communicator that takes host memory (MPI).
#include <cstddef>
#include <string>
#include <utility>

#include "auxgrid/dist/communicator.hpp"

namespace torch::nn {
class Module;
}

namespace auxgrid::train {

// Every rank ends with rank 0's parameters.
void broadcast_parameters(dist::Communicator& group, torch::nn::Module& model);
// Every parameter's gradient becomes the group's mean, flattened into one
// buffer and reduced in place (a parameter without a gradient counts as zero).
void average_gradients(dist::Communicator& group, torch::nn::Module& model);
// Throws naming the cell when the ranks' parameters differ in any bit.
void check_identical(dist::Communicator& group, torch::nn::Module& model, const std::string& cell_label);
// This rank's share [begin, end) of a batch of n: all of it without a group.
std::pair<std::size_t, std::size_t> batch_slice(const dist::Communicator* group, std::size_t n);

}  // namespace auxgrid::train
