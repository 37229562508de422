"""A plain-PyTorch, TorchScript copy of auxgrid's built-in "xmodal" (Baseline 3).

It exists so that a C++ benchmark can time the scripted model against the
built-in CrossModalImpl (src/models/baselines.cpp) on the same batches. It
reproduces the built-in's computation at its default settings (src/core/config.cpp,
plus the xmodal registration's model.layers = 3), not its numbers bit for bit:

  per modality  bias-free projection to d (skipped when the input is already d
                wide: model.input_projection = when_widths_differ; the weight
                exists either way and is counted), then a self-attention Encoder
                of `layers` layers;
  per direction a cross-modal Encoder of `cross_layers` (1) layer: queries from
                one modality's encoding, keys and values from the other's;
  fusion        a_stream = wa[0] * a + wa[1] * a_from_v (and the same for video),
                wa, wv learnable, initialised to 1;
  summary       last real frame of each stream (model.token = last), summed,
                dropout 0.2, Linear(d, C): one head "av" with weight 1.

Encoder (include/auxgrid/models/blocks.hpp): x * sqrt(d) + sinusoidal position
(tensor2tensor layout, frame t at position t + 1, only on frames whose input is
nonzero in channel 0: model.positions = nonzero_input), embedding dropout 0.25
(cross-modal: separate masks for keys and values while training), then
pre-LayerNorm layers
    h = x + drop_res(attn(LN0(x), LN0(keys), LN0(values)))   (one LN0 for all three)
    y = h + drop_res(fc2(drop_relu(relu(fc1(LN1(h))))))      (fc1: d -> 4d)
and a final LayerNorm. Padded frames are masked as keys. Dropouts: attention
weights 0.1 (self) / 0 (cross), residual 0.1, ReLU 0.1. Initialisation as the
built-in: LibTorch/PyTorch default Linear and LayerNorm, Xavier-uniform in_proj
with zero in_proj and out_proj biases. Parameter names match the built-in's
(audio_encoder.layers.0.attention.in_proj_weight, ...).

Parameters: 96 d^2 + (Da + Dv + 112) d + 4 + d C + C, i.e. 96 d^2 + 4338 d + 4 + d C + C
at Da = 130, Dv = 4096 (`auxgrid models`: 2,186,868 at d = 130, C = 4).

The scripted-model contract: forward(audio [B,Ta,Da], video [B,Tv,Dv],
audio_mask [B,Ta] bool, video_mask [B,Tv] bool) -> [logits [B,C]]; attributes
audio_dim, video_dim, num_classes, head_names ["av"], head_weights [1.0].

Usage:
  python3 bench/scripted_xmodal.py --audio-dim 130 --video-dim 4096 --classes 4 --out xmodal.pt
  (options: --width 130 --heads 10 --layers 3 --cross-layers 1 --seed 0)
"""
import argparse
import math
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_encoding(encoded: Tensor, dim: int) -> Tensor:
    """encoded bool [B, T] -> [B, T, dim]; frame t gets position t + 1 where encoded."""
    half = dim // 2
    length = encoded.size(1)
    step = math.log(10000.0) / max(half - 1, 1)
    frequencies = torch.exp(torch.arange(half, dtype=torch.float, device=encoded.device) * -step)
    positions = torch.arange(1, length + 1, dtype=torch.float, device=encoded.device)
    angles = positions.unsqueeze(1) * frequencies.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(length, 1, device=encoded.device)], 1)
    return table.unsqueeze(0) * encoded.unsqueeze(-1).float()


def last_valid(x: Tensor, mask: Tensor) -> Tensor:
    last = (mask.sum(1) - 1).clamp(min=0)
    return x.gather(1, last.view(-1, 1, 1).expand(x.size(0), 1, x.size(2))).squeeze(1)


class Attention(nn.Module):
    """torch.nn.MultiheadAttention's parameters, batch-first, written out."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.width, self.heads, self.dropout = width, heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_padding: Tensor, self_attention: bool,
                same_kv: bool) -> Tensor:
        d, w, b = self.width, self.in_proj_weight, self.in_proj_bias
        if self_attention:  # one packed projection, as the built-in
            q, k, v = F.linear(q, w, b).chunk(3, -1)
        else:
            q = F.linear(q, w[:d], b[:d])
            if same_kv:
                k, v = F.linear(k, w[d:], b[d:]).chunk(2, -1)
            else:
                k, v = F.linear(k, w[d:2 * d], b[d:2 * d]), F.linear(v, w[2 * d:], b[2 * d:])
        B, T, S, hd = q.size(0), q.size(1), k.size(1), d // self.heads
        q = q.reshape(B, T, self.heads, hd).transpose(1, 2) * (hd ** -0.5)
        k = k.reshape(B, S, self.heads, hd).transpose(1, 2)
        v = v.reshape(B, S, self.heads, hd).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)).masked_fill(key_padding.view(B, 1, 1, S), float("-inf"))
        weights = F.dropout(torch.softmax(scores, -1), self.dropout, self.training)
        return self.out_proj(torch.matmul(weights, v).transpose(1, 2).reshape(B, T, d))


class EncoderLayer(nn.Module):
    def __init__(self, width: int, heads: int, attn_dropout: float, res_dropout: float, relu_dropout: float):
        super().__init__()
        self.res_dropout, self.relu_dropout = res_dropout, relu_dropout
        self.ln0 = nn.LayerNorm(width)
        self.attention = Attention(width, heads, attn_dropout)
        self.ln1 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: Tensor, keys: Optional[Tensor], values: Optional[Tensor], key_padding: Tensor) -> Tensor:
        q = self.ln0(x)
        if keys is None or values is None:
            a = self.attention(q, q, q, key_padding, True, True)
        else:
            same = keys is values
            k = self.ln0(keys)
            v = k if same else self.ln0(values)
            a = self.attention(q, k, v, key_padding, False, same)
        h = x + F.dropout(a, self.res_dropout, self.training)
        ff = F.dropout(torch.relu(self.fc1(self.ln1(h))), self.relu_dropout, self.training)
        return h + F.dropout(self.fc2(ff), self.res_dropout, self.training)


class Encoder(nn.Module):
    def __init__(self, width: int, heads: int, layers: int, attn_dropout: float, embed_dropout: float = 0.25,
                 res_dropout: float = 0.1, relu_dropout: float = 0.1):
        super().__init__()
        self.width, self.embed_dropout = width, embed_dropout
        self.layers = nn.ModuleList(
            [EncoderLayer(width, heads, attn_dropout, res_dropout, relu_dropout) for _ in range(layers)])
        self.final_ln = nn.LayerNorm(width)

    def scale_and_position(self, x: Tensor) -> Tensor:  # positions on frames nonzero in channel 0
        return x * math.sqrt(self.width) + sinusoidal_encoding(x.select(-1, 0).ne(0), self.width)

    def forward(self, x: Tensor, mask: Tensor, kv: Optional[Tensor] = None,
                kv_mask: Optional[Tensor] = None) -> Tensor:
        h = F.dropout(self.scale_and_position(x), self.embed_dropout, self.training)
        keys: Optional[Tensor] = None
        values: Optional[Tensor] = None
        key_padding = torch.logical_not(mask)
        if kv is not None and kv_mask is not None:
            memory = self.scale_and_position(kv)
            keys = F.dropout(memory, self.embed_dropout, self.training)
            values = F.dropout(memory, self.embed_dropout, True) if self.training and self.embed_dropout > 0 else keys
            key_padding = torch.logical_not(kv_mask)
        for layer in self.layers:
            h = layer(h, keys, values, key_padding)
        return self.final_ln(h)


class CrossModal(nn.Module):
    audio_dim: int
    video_dim: int
    num_classes: int
    head_names: List[str]
    head_weights: List[float]

    def __init__(self, audio_dim: int, video_dim: int, num_classes: int, width: int = 130, heads: int = 10,
                 layers: int = 3, cross_layers: int = 1, out_dropout: float = 0.2):
        super().__init__()
        assert width % heads == 0, f"width {width} is not divisible by {heads} heads"
        self.audio_dim, self.video_dim, self.num_classes = audio_dim, video_dim, num_classes
        self.head_names, self.head_weights = ["av"], [1.0]
        self.out_dropout = out_dropout
        self.audio_proj = nn.Linear(audio_dim, width, bias=False)
        self.video_proj = nn.Linear(video_dim, width, bias=False)
        self.audio_encoder = Encoder(width, heads, layers, attn_dropout=0.1)
        self.video_encoder = Encoder(width, heads, layers, attn_dropout=0.1)
        self.a_from_v = Encoder(width, heads, cross_layers, attn_dropout=0.0)
        self.v_from_a = Encoder(width, heads, cross_layers, attn_dropout=0.0)
        self.audio_weights = nn.Parameter(torch.ones(2))
        self.video_weights = nn.Parameter(torch.ones(2))
        self.out = nn.Linear(width, num_classes)
        # An input already `width` wide passes unprojected (the projection is still counted).
        self.project_audio = audio_dim != width
        self.project_video = video_dim != width

    def forward(self, audio: Tensor, video: Tensor, audio_mask: Tensor, video_mask: Tensor) -> List[Tensor]:
        a_in = self.audio_proj(audio) if self.project_audio else audio
        v_in = self.video_proj(video) if self.project_video else video
        a = self.audio_encoder(a_in, audio_mask)
        v = self.video_encoder(v_in, video_mask)
        a_stream = self.audio_weights[0] * a + self.audio_weights[1] * self.a_from_v(a, audio_mask, v, video_mask)
        v_stream = self.video_weights[0] * v + self.video_weights[1] * self.v_from_a(v, video_mask, a, audio_mask)
        h = last_valid(a_stream, audio_mask) + last_valid(v_stream, video_mask)
        return [self.out(F.dropout(h, self.out_dropout, self.training))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audio-dim", type=int, required=True)
    p.add_argument("--video-dim", type=int, required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--width", type=int, default=130)
    p.add_argument("--heads", type=int, default=10)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--cross-layers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="xmodal.pt")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    model = CrossModal(args.audio_dim, args.video_dim, args.classes, args.width, args.heads, args.layers,
                       args.cross_layers)
    torch.jit.script(model).save(args.out)
    print(f"{args.out}: {sum(t.numel() for t in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
