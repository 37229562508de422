#include "training_state.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "auxgrid/core/files.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/core/hash.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::train {

namespace {

// The GPU the model trains on, if any: dropout there draws from that device's
// generator, which a checkpoint must carry for a resume to repeat the bits.
std::optional<c10::Device> cuda_device_of(torch::nn::Module& model) {
  for (const auto& p : model.parameters())
    if (p.is_cuda()) return p.device();
  return std::nullopt;
}

}  // namespace

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

void save_checkpoint(const std::string& path, const CheckpointOwner& owner, const TrainingState& p,
                     torch::nn::Module& model, torch::optim::Optimizer& optimizer) {
  // The state goes into an inner archive whose bytes the file carries with
  // their FNV-1a hash (LibTorch's archive checks its structure, not its data),
  // next to the owner.
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
  if (const auto device = cuda_device_of(model)) {
    auto generator = at::globalContext().defaultGenerator(*device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("cuda_rng", generator.get_state());
  }
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(p.epoch)));
  archive.write("next_batch", c10::IValue(p.next_batch));
  archive.write("order", torch::tensor(p.order, torch::kLong));
  archive.write("epoch_loss", c10::IValue(p.epoch_loss));
  archive.write("epoch_combined_loss", c10::IValue(p.epoch_combined_loss));
  archive.write("epoch_seconds", c10::IValue(p.epoch_seconds));
  archive.write("lr", c10::IValue(p.lr));
  archive.write("plateau_best", c10::IValue(p.plateau.best));
  archive.write("plateau_bad_epochs", c10::IValue(static_cast<std::int64_t>(p.plateau.bad_epochs)));
  archive.write("best_dev", c10::IValue(p.best_dev));
  archive.write("best_epoch", c10::IValue(static_cast<std::int64_t>(p.best_epoch)));
  std::vector<double> records;
  for (const auto& e : p.epochs)
    records.insert(records.end(), {e.train_loss, e.dev_loss, e.lr, e.seconds, e.train_combined_loss});
  archive.write("epochs", torch::tensor(records, torch::kDouble).view({-1, 5}));
  archive.write("best_count", c10::IValue(static_cast<std::int64_t>(p.best_state.size())));
  for (std::size_t i = 0; i < p.best_state.size(); ++i) archive.write(fmt::format("best_{}", i), p.best_state[i]);

  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string payload = bytes.str();
  torch::serialize::OutputArchive file;
  file.write("cell_id", c10::IValue(owner.cell_id));
  file.write("settings", c10::IValue(owner.settings));
  file.write("model_revision", c10::IValue(static_cast<std::int64_t>(owner.model_revision)));
  file.write("threads", c10::IValue(static_cast<std::int64_t>(at::get_num_threads())));
  file.write("payload", torch::from_blob(const_cast<char*>(payload.data()), {static_cast<std::int64_t>(payload.size())},
                                         torch::kUInt8));
  file.write("payload_fnv1a", c10::IValue(static_cast<std::int64_t>(fnv1a(payload.data(), payload.size()))));

  // Serialised in memory and written by the store: LibTorch's file writer
  // throws from its destructor when the disk is full (std::terminate).
  std::ostringstream out;
  file.save_to(out);
  files::write_atomically(path, out.str(), "checkpoint");
}

void load_checkpoint(const std::string& path, const CheckpointOwner& owner, TrainingState& p, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive file, archive, model_archive, optimizer_archive;
  try {
    file.load_from(path);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw CheckpointRejected(
        fmt::format("checkpoint '{}' is damaged or unreadable ({})", path, what.substr(0, what.find('\n'))));
  }
  c10::IValue id, settings, revision, sum;
  if (!file.try_read("cell_id", id) || !file.try_read("settings", settings) || !id.isString() || !settings.isString())
    throw CheckpointRejected(fmt::format("checkpoint '{}' does not say which cell it belongs to", path));
  if (id.toStringRef() != owner.cell_id || settings.toStringRef() != owner.settings)
    throw CheckpointRejected(
        fmt::format("checkpoint '{}' belongs to cell {}, not to this cell {}", path, id.toStringRef(), owner.cell_id));
  const auto written_by = file.try_read("model_revision", revision) && revision.isInt() ? revision.toInt() : 1;
  if (written_by != owner.model_revision)
    throw CheckpointRejected(fmt::format("checkpoint '{}' holds a model of revision {}, this build trains revision {}",
                                         path, written_by, owner.model_revision));
  at::Tensor payload;
  if (!file.try_read("payload", payload) || !file.try_read("payload_fnv1a", sum) || !sum.isInt() ||
      payload.scalar_type() != at::kByte)
    throw CheckpointRejected(fmt::format("checkpoint '{}' has no state", path));
  payload = payload.contiguous();
  const std::string bytes(reinterpret_cast<const char*>(payload.data_ptr<std::uint8_t>()),
                          static_cast<std::size_t>(payload.numel()));
  if (static_cast<std::int64_t>(fnv1a(bytes.data(), bytes.size())) != sum.toInt())
    throw CheckpointRejected(fmt::format("checkpoint '{}' is damaged (its state does not match its checksum)", path));
  try {
    std::istringstream in(bytes);
    archive.load_from(in);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw CheckpointRejected(fmt::format("checkpoint '{}' is damaged ({})", path, what.substr(0, what.find('\n'))));
  }
  if (!archive.try_read("model", model_archive) || !archive.try_read("optimizer", optimizer_archive))
    throw CheckpointRejected(fmt::format("checkpoint '{}' has no model or optimizer state", path));
  // Everything is read before anything is changed: a rejection leaves the cell as it was.
  c10::IValue v;
  const auto value = [&](const char* key) -> const c10::IValue& {
    if (!archive.try_read(key, v)) throw CheckpointRejected(fmt::format("checkpoint '{}' has no '{}'", path, key));
    return v;
  };
  // A fresh tensor per read: InputArchive copies into a defined one, keeping its dtype.
  const auto tensor = [&](const std::string& key) {
    at::Tensor t;
    if (!archive.try_read(key, t)) throw CheckpointRejected(fmt::format("checkpoint '{}' has no '{}'", path, key));
    return t;
  };
  TrainingState loaded;
  c10::IValue threads;
  if (file.try_read("threads", threads) && threads.isInt()) loaded.threads = static_cast<int>(threads.toInt());
  std::istringstream rng(value("rng").toStringRef());
  rng >> loaded.rng;
  const auto torch_rng = tensor("torch_rng");
  at::Tensor cuda_rng;  // absent in a checkpoint written on the CPU
  archive.try_read("cuda_rng", cuda_rng);
  loaded.epoch = static_cast<int>(value("epoch").toInt());
  loaded.next_batch = value("next_batch").toInt();
  const auto order = tensor("order");
  loaded.order.assign(order.data_ptr<std::int64_t>(), order.data_ptr<std::int64_t>() + order.numel());
  loaded.epoch_loss = value("epoch_loss").toDouble();
  // Checkpoints of builds before train_combined_loss: that epoch's value is not known.
  c10::IValue combined;
  loaded.epoch_combined_loss =
      archive.try_read("epoch_combined_loss", combined) ? combined.toDouble() : std::nan("");
  loaded.epoch_seconds = value("epoch_seconds").toDouble();
  loaded.lr = value("lr").toDouble();
  loaded.plateau.best = value("plateau_best").toDouble();
  loaded.plateau.bad_epochs = static_cast<int>(value("plateau_bad_epochs").toInt());
  loaded.best_dev = value("best_dev").toDouble();
  loaded.best_epoch = static_cast<int>(value("best_epoch").toInt());
  const auto epochs = tensor("epochs");
  for (std::int64_t i = 0; i < epochs.size(0); ++i) {
    const auto* r = epochs[i].data_ptr<double>();
    loaded.epochs.push_back({r[0], r[1], r[2], r[3], epochs.size(1) > 4 ? r[4] : std::nan("")});
  }
  loaded.best_state.resize(value("best_count").toInt());
  for (std::size_t i = 0; i < loaded.best_state.size(); ++i) loaded.best_state[i] = tensor(fmt::format("best_{}", i));

  model.load(model_archive);
  optimizer.load(optimizer_archive);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(torch_rng);
  }
  // On a GPU again: its dropout stream goes on where it stopped. (Resumed on
  // another kind of device, the cell continues, but not bit for bit.)
  if (const auto device = cuda_device_of(model); device && cuda_rng.defined()) {
    auto generator = at::globalContext().defaultGenerator(*device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(cuda_rng);
  }
  p = std::move(loaded);
}

}  // namespace auxgrid::train
