#include "training_state.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "auxgrid/core/check.hpp"

namespace auxgrid::train {

bool Plateau::step(double dev_loss) {
  if (dev_loss < best * (1.0 - 1e-4)) {
    best = dev_loss, bad_epochs = 0;
    return false;
  }
  if (++bad_epochs > 5) {
    bad_epochs = 0;
    return true;
  }
  return false;
}

void save_checkpoint(const std::string& path, const TrainingState& p, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  std::ostringstream rng;
  rng << p.rng;
  archive.write("rng", c10::IValue(rng.str()));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("torch_rng", generator.get_state());
  }
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(p.epoch)));
  archive.write("next_batch", c10::IValue(p.next_batch));
  archive.write("order", torch::tensor(p.order, torch::kLong));
  archive.write("epoch_loss", c10::IValue(p.epoch_loss));
  archive.write("epoch_seconds", c10::IValue(p.epoch_seconds));
  archive.write("lr", c10::IValue(p.lr));
  archive.write("plateau_best", c10::IValue(p.plateau.best));
  archive.write("plateau_bad_epochs", c10::IValue(static_cast<std::int64_t>(p.plateau.bad_epochs)));
  archive.write("best_dev", c10::IValue(p.best_dev));
  archive.write("best_epoch", c10::IValue(static_cast<std::int64_t>(p.best_epoch)));
  std::vector<double> records;
  for (const auto& e : p.epochs) records.insert(records.end(), {e.train_loss, e.dev_loss, e.lr, e.seconds});
  archive.write("epochs", torch::tensor(records, torch::kDouble).view({-1, 4}));
  archive.write("best_count", c10::IValue(static_cast<std::int64_t>(p.best_state.size())));
  for (std::size_t i = 0; i < p.best_state.size(); ++i) archive.write(fmt::format("best_{}", i), p.best_state[i]);

  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const auto tmp = fmt::format("{}.tmp.{}", path, getpid());
  archive.save_to(tmp);
  AUXGRID_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename checkpoint '{}' to '{}': {}", tmp, path,
                std::strerror(errno));
}

void load_checkpoint(const std::string& path, TrainingState& p, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  archive.load_from(path);
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model.load(model_archive);
  optimizer.load(optimizer_archive);
  c10::IValue v;
  const auto value = [&](const char* key) -> const c10::IValue& {
    AUXGRID_CHECK(archive.try_read(key, v), "checkpoint '{}' has no '{}'", path, key);
    return v;
  };
  std::istringstream rng(value("rng").toStringRef());
  rng >> p.rng;
  // A fresh tensor per read: InputArchive copies into a defined one, keeping its dtype.
  const auto tensor = [&](const char* key) {
    at::Tensor t;
    archive.read(key, t);
    return t;
  };
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(tensor("torch_rng"));
  }
  p.epoch = static_cast<int>(value("epoch").toInt());
  p.next_batch = value("next_batch").toInt();
  const auto order = tensor("order");
  p.order.assign(order.data_ptr<std::int64_t>(), order.data_ptr<std::int64_t>() + order.numel());
  p.epoch_loss = value("epoch_loss").toDouble();
  p.epoch_seconds = value("epoch_seconds").toDouble();
  p.lr = value("lr").toDouble();
  p.plateau.best = value("plateau_best").toDouble();
  p.plateau.bad_epochs = static_cast<int>(value("plateau_bad_epochs").toInt());
  p.best_dev = value("best_dev").toDouble();
  p.best_epoch = static_cast<int>(value("best_epoch").toInt());
  const auto epochs = tensor("epochs");
  p.epochs.clear();
  for (std::int64_t i = 0; i < epochs.size(0); ++i) {
    const auto* r = epochs[i].data_ptr<double>();
    p.epochs.push_back({r[0], r[1], r[2], r[3]});
  }
  p.best_state.resize(value("best_count").toInt());
  for (std::size_t i = 0; i < p.best_state.size(); ++i) p.best_state[i] = tensor(fmt::format("best_{}", i).c_str());
}

}  // namespace auxgrid::train
