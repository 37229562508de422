"""The TorchScript modules that auxgrid's tests load (tests/test_models.cpp,
tests/test_train.cpp). Checked in, so that the tests need no Python; made
with Debian 12's python3-torch 1.13 (the LibTorch auxgrid builds against):
  python3 tests/data/torchscript/make_modules.py
  late_fusion.pt      experiments/plugins/late_fusion.py for the test corpora:
                      audio 130, video 16, 4 classes, hidden 8
  late_fusion_video64.pt  the same for `auxgrid synth --preset tiny` (video 64),
                      for the end-to-end tests where python3-torch is absent
  no_forward.pt       its only method is predict()
  wrong_signature.pt  forward(audio, video)
  no_dims.pt          no audio_dim / video_dim / num_classes
  returns_nan.pt      forward returns NaN logits
  swapped_args.pt     late_fusion.pt with forward(video, audio, video_mask, audio_mask)
  shape_error.pt      feeds the video to a layer of audio width (an interpreter error)
  no_reset.pt         a valid model without reset_parameters()
  torch_save.pt       late_fusion.pt's state_dict written by torch.save
  torch_save_legacy.pt  the same in torch.save's old (non-zip) format
"""
import os
import sys
from typing import List

import torch
from torch import Tensor, nn

here = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(here, "..", "..", "..", "experiments", "plugins"))
from late_fusion import LateFusion  # noqa: E402


class Dims(nn.Module):
    audio_dim: int
    video_dim: int
    num_classes: int

    def __init__(self):
        super().__init__()
        self.audio_dim, self.video_dim, self.num_classes = 130, 16, 4
        self.fc = nn.Linear(130, 4)


class NoForward(Dims):
    @torch.jit.export
    def predict(self, audio: Tensor) -> Tensor:
        return self.fc(audio.mean(1))


class WrongSignature(Dims):
    def forward(self, audio: Tensor, video: Tensor) -> List[Tensor]:
        return [self.fc(audio.mean(1))]


class NoDims(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(130, 4)

    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        return [self.fc(audio.mean(1))]


class ReturnsNaN(Dims):
    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        return [self.fc(audio.mean(1)) * float("nan")]


class SwappedArgs(LateFusion):
    def forward(self, video: Tensor, audio: Tensor, video_mask: Tensor, audio_mask: Tensor) -> List[Tensor]:
        a = self.audio(audio, audio_mask)
        v = self.video(video, video_mask)
        return [(a + v) / 2, a, v]


class ShapeError(Dims):
    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        return [self.fc(video.mean(1))]


class NoReset(Dims):
    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        return [self.fc(audio.mean(1))]


torch.manual_seed(0)
modules = {
    "late_fusion.pt": LateFusion(130, 16, 4, hidden=8),
    "no_forward.pt": NoForward(),
    "wrong_signature.pt": WrongSignature(),
    "no_dims.pt": NoDims(),
    "returns_nan.pt": ReturnsNaN(),
    "late_fusion_video64.pt": LateFusion(130, 64, 4, hidden=8),
    "swapped_args.pt": SwappedArgs(130, 16, 4, hidden=8),
    "shape_error.pt": ShapeError(),
    "no_reset.pt": NoReset(),
}
for name, module in modules.items():
    torch.jit.script(module).save(os.path.join(here, name))
    print(name)
state = LateFusion(130, 16, 4, hidden=8).state_dict()
torch.save(state, os.path.join(here, "torch_save.pt"))
torch.save(state, os.path.join(here, "torch_save_legacy.pt"), _use_new_zipfile_serialization=False)
print("torch_save.pt\ntorch_save_legacy.pt")
