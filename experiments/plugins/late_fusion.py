"""Late fusion: a plain-PyTorch baseline, scripted here and trained by the C++ launcher.

Per modality: Linear(dim -> hidden), ReLU, dropout, masked mean over the real
frames, Linear(hidden -> classes). Heads: "av" (mean of the two modality
logits), "a" and "v", with loss weights 1.0, 0.5 and 0.5.

The contract of a scripted auxgrid model:
  forward(audio [B, Ta, Da] float, video [B, Tv, Dv] float,
          audio_mask [B, Ta] bool, video_mask [B, Tv] bool) -> List[Tensor]
  (masks: True = a real frame; features are zero past each utterance's end,
  and a dropped modality arrives as zeros with its mask left True),
  one logits tensor [B, num_classes] per head;
  int attributes audio_dim, video_dim, num_classes; optional head_names
  (List[str]) and head_weights (List[float], a 0 weight head is neither
  trained nor used in prediction); an optional exported reset_parameters(),
  which auxgrid calls after seeding with the cell's seed, so that each seed
  starts from its own weights (without it every seed starts from the file's).

Script it:
  python3 experiments/plugins/late_fusion.py --audio-dim 130 --video-dim 64 --classes 6 --out late_fusion.pt
"""
import argparse
import math
from typing import List

import torch
from torch import Tensor, nn


class Branch(nn.Module):
    """One modality: Linear, ReLU, dropout, mean over the real frames, Linear."""

    def __init__(self, dim: int, hidden: int, num_classes: int, dropout: float):
        super().__init__()
        self.inp, self.out, self.dropout = nn.Linear(dim, hidden), nn.Linear(hidden, num_classes), nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.dropout(torch.relu(self.inp(x)))            # [B, T, hidden]
        w = mask.to(h.dtype).unsqueeze(-1)                   # [B, T, 1]
        pooled = (h * w).sum(1) / w.sum(1).clamp(min=1.0)    # mean over the real frames
        return self.out(pooled)                              # [B, classes]


class LateFusion(nn.Module):
    # Plain class-level annotations: torch.jit.script keeps these as module
    # attributes, readable after torch.jit.load (and from C++ as module.attr("num_classes")).
    audio_dim: int
    video_dim: int
    num_classes: int
    head_names: List[str]
    head_weights: List[float]

    def __init__(self, audio_dim: int, video_dim: int, num_classes: int, hidden: int = 64, dropout: float = 0.2):
        super().__init__()
        self.audio_dim, self.video_dim, self.num_classes = audio_dim, video_dim, num_classes
        self.head_names = ["av", "a", "v"]
        self.head_weights = [1.0, 0.5, 0.5]
        self.audio = Branch(audio_dim, hidden, num_classes, dropout)
        self.video = Branch(video_dim, hidden, num_classes, dropout)

    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        a = self.audio(audio, audio_mask)
        v = self.video(video, video_mask)
        return [(a + v) / 2, a, v]

    @torch.jit.export
    def reset_parameters(self) -> None:
        # Layer by layer: TorchScript gives each nn.Linear shape a type of its own, so an
        # isinstance(m, nn.Linear) loop over self.modules() would reach one shape only.
        reset_linear(self.audio.inp.weight, self.audio.inp.bias)
        reset_linear(self.audio.out.weight, self.audio.out.bias)
        reset_linear(self.video.inp.weight, self.video.inp.bias)
        reset_linear(self.video.out.weight, self.video.out.bias)


def reset_linear(weight: Tensor, bias: Tensor) -> None:
    """PyTorch's default Linear initialisation, drawn from the seeded generator."""
    with torch.no_grad():
        bound = 1.0 / math.sqrt(weight.size(1))
        weight.uniform_(-bound, bound)
        bias.uniform_(-bound, bound)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audio-dim", type=int, required=True)
    p.add_argument("--video-dim", type=int, required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    model = LateFusion(args.audio_dim, args.video_dim, args.classes, args.hidden, args.dropout)
    scripted = torch.jit.script(model)
    scripted.save(args.out)
    print(f"{args.out}: {sum(t.numel() for t in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
