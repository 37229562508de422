#pragma once
// Mixed precision for the forward passes in a scope. Private to src/train/.
#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>
#include <torch/version.h>

namespace auxgrid::train {

// train.precision = bf16: LibTorch's autocast to bfloat16 on the model's
// device for the forward passes in its scope (as torch.autocast(device,
// torch.bfloat16)); nothing for fp32. bfloat16 needs no loss scaling. On the
// CPU auxgrid's own kernels (fp32) step aside while it is on (kernels.hpp).
class Autocast {
 public:
  Autocast(bool enabled, const c10::Device& device) : enabled_(enabled), type_(device.type()) {
    if (!enabled_) return;
    set(true);
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(false);
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  void set(bool on) const {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, on);
    if (on) at::autocast::set_autocast_dtype(type_, at::kBFloat16);
#else
    if (type_ == at::kCPU) {
      at::autocast::set_cpu_enabled(on);
      if (on) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_enabled(on);
      if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    }
#endif
  }
  bool enabled_;
  at::DeviceType type_;
};

}  // namespace auxgrid::train
