"""VideoMAE Vision Transformer backbone (joint space-time attention over tubelet tokens).

Paper: "VideoMAE: Masked Autoencoders are Data-Efficient Learners for Self-Supervised
Video Pre-Training", Tong et al., NeurIPS 2022, https://arxiv.org/abs/2203.12602.

A video (B, 3, T, H, W) is cut into 2x16x16 tubelets by a Conv3d; every tubelet becomes a
token, tokens are ordered (t, h, w) row-major, a fixed sinusoid position embedding is added
and plain pre-norm transformer blocks attend jointly over all tokens of the clip.

Parameter names follow the official fine-tuned VideoMAE layout (``patch_embed.proj``,
``blocks.{i}.attn.qkv`` + ``q_bias``/``v_bias``, ``norm``) so official weights load without
renaming; converters for other layouts live in :mod:`videomae_det.models.weights`.
"""
import math
from typing import Dict, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from mmengine.model import BaseModule
from torch import Tensor, nn

from videomae_det.models.weights import load_pretrained
from videomae_det.registry import MODELS

IntOrPair = Union[int, Sequence[int]]


def _pair(size: IntOrPair) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f'expected an int or an (H, W) pair, got {size!r}')
    return size


# ---------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Stochastic depth: zero the residual branch of whole samples with prob ``drop_prob``.

    Kept samples are scaled by ``1 / (1 - drop_prob)`` so the expectation is unchanged.
    """
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1. - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    keep = x.new_empty(shape).bernoulli_(keep_prob)
    return x * keep.div_(keep_prob)


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` (a no-op in eval mode)."""

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class PatchEmbed3d(nn.Module):
    """Tubelet embedding: (B, 3, T, H, W) -> (B, D, T/tubelet, H/patch, W/patch)."""

    def __init__(self, patch_size: int = 16, tubelet_size: int = 2, in_chans: int = 3,
                 embed_dim: int = 768) -> None:
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention with VideoMAE's q/v biases (the k bias is fixed at zero).

    The Linear ``qkv`` has no bias of its own; ``q_bias`` and ``v_bias`` are separate
    parameters, as in the official checkpoints. ``fused_attn=True`` runs
    ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels: the N x N
    attention matrix is never stored, a free speed-up and the main memory saving at
    1568 tokens); ``False`` runs the plain softmax(q k^T) v path, kept for reference.
    """

    def __init__(self, dim: int, num_heads: int = 12, qkv_bias: bool = True,
                 attn_drop: float = 0., fused_attn: bool = True) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'embed_dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.fused_attn = fused_attn
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, N, D) -> (B, N, D)."""
        B, N, D = x.shape
        bias = None
        if self.q_bias is not None:
            # the k bias is a constant zero: softmax is invariant to a per-query shift
            bias = torch.cat((self.q_bias, torch.zeros_like(self.q_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.view(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        drop = self.attn_drop if self.training else 0.
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            attn = F.dropout(attn.softmax(dim=-1), drop, self.training)
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, D)
        return self.proj(x)


class Mlp(nn.Module):
    """Two-layer GELU MLP: (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = True,
                 drop_path: float = 0., attn_drop: float = 0., norm_eps: float = 1e-6,
                 fused_attn: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def sinusoid_table(num_positions: int, dim: int) -> Tensor:
    """The fixed 1-D sinusoid table of VideoMAE: (1, num_positions, dim) float32.

    Column 2i is sin(p / 10000^(2i/dim)), column 2i+1 is cos of the same angle. Computed in
    float64 and rounded once to float32, like the official (numpy) table, so that at the
    pretraining size it is bit-for-bit the table the official weights were trained with.
    """
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    exponent = (2 * (torch.arange(dim) // 2)).to(torch.float64) / dim
    angle = position / torch.pow(torch.tensor(10000., dtype=torch.float64), exponent)
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.to(torch.float32)[None]


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------


@MODELS.register_module()
class VisionTransformer(BaseModule):
    """VideoMAE ViT: video (B, 3, T, H, W) -> tokens (B, N, D) or a map (B, D, T', H', W').

    T', H', W' = T / tubelet_size, H / patch_size, W / patch_size; N = T' * H' * W'.
    Defaults are ViT-B; :func:`build_backbone` builds the named variants.

    Args:
        num_frames, img_size: the pretraining input size (T and H, W in pixels) the position
            embedding is defined for. Other input sizes (multiples of tubelet/patch size)
            work: the embedding is resized per temporal slice (:meth:`pos_embed_for`).
        patch_size, tubelet_size: tubelet extent in pixels (space) and frames (time).
        embed_dim, depth, num_heads, mlp_ratio: transformer sizes.
        qkv_bias: learn ``q_bias``/``v_bias`` (VideoMAE does).
        drop_path_rate: stochastic depth, rising linearly from 0 to this over the blocks.
        attn_drop_rate: dropout on attention weights (0 in VideoMAE recipes).
        norm_eps: LayerNorm epsilon (1e-6 in VideoMAE).
        use_checkpoint: activation checkpointing of every block while training (recompute
            in backward; saves most activation memory at ~1/3 more compute).
        fused_attn: ``F.scaled_dot_product_attention`` (True) or the plain path.
        pretrained: a checkpoint path loaded by :meth:`init_weights` through
            :func:`videomae_det.models.weights.load_pretrained` (any known source).
    """

    def __init__(self,
                 num_frames: int = 16,
                 img_size: IntOrPair = 224,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 in_chans: int = 3,
                 embed_dim: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 norm_eps: float = 1e-6,
                 use_checkpoint: bool = False,
                 fused_attn: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        img_h, img_w = _pair(img_size)
        if num_frames % tubelet_size or img_h % patch_size or img_w % patch_size:
            raise ValueError(
                f'num_frames {num_frames} / img_size {(img_h, img_w)} must be multiples of '
                f'tubelet_size {tubelet_size} / patch_size {patch_size}')
        self.embed_dim = embed_dim
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.num_layers = depth
        self.pretrained = pretrained
        self.use_checkpoint = use_checkpoint
        # the token grid the position embedding is defined on (T', H', W')
        self.grid_size = (num_frames // tubelet_size, img_h // patch_size, img_w // patch_size)
        # constructor arguments, so a checkpoint we write can rebuild its backbone
        self.arch_args = dict(
            num_frames=num_frames, img_size=(img_h, img_w), patch_size=patch_size,
            tubelet_size=tubelet_size, in_chans=in_chans, embed_dim=embed_dim, depth=depth,
            num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps)

        self.patch_embed = PatchEmbed3d(patch_size, tubelet_size, in_chans, embed_dim)
        # fixed, never stored in checkpoints (the official ones do not hold it either)
        self.register_buffer(
            'pos_embed', sinusoid_table(math.prod(self.grid_size), embed_dim), persistent=False)
        # stochastic depth rising linearly over the blocks (plain floats: works on 'meta')
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, dpr[i], attn_drop_rate, norm_eps,
                  fused_attn) for i in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.apply(_init_vit_weights)

    # ---- position embedding -----------------------------------------------------------

    def pos_embed_for(self, t: int, h: int, w: int) -> Tensor:
        """Position embedding (1, t*h*w, D) for a (t, h, w) token grid.

        At the pretraining grid this is the official 1-D table over the flattened tokens.
        Otherwise, as the VideoMAE detection code does, the table is viewed as one
        (h0, w0) image per temporal slice and each slice is resized bicubically
        (align_corners=False) to (h, w). A different number of slices t extends (or cuts)
        the same 1-D table, so slice i keeps the embedding it had at pretraining.
        """
        t0, h0, w0 = self.grid_size
        if (t, h, w) == (t0, h0, w0):
            return self.pos_embed
        if t <= t0:
            table = self.pos_embed[:, :t * h0 * w0]
        else:
            table = sinusoid_table(t * h0 * w0, self.embed_dim).to(self.pos_embed.device)
        if (h, w) != (h0, w0):
            slices = table.reshape(t, h0, w0, -1).permute(0, 3, 1, 2)
            slices = F.interpolate(slices, size=(h, w), mode='bicubic', align_corners=False)
            table = slices.permute(0, 2, 3, 1).reshape(1, t * h * w, -1)
        return table

    # ---- forward ------------------------------------------------------------------------

    def _token_grid(self, x: Tensor) -> Tuple[int, int, int]:
        if x.ndim != 5:
            raise ValueError(f'expected a video batch (B, 3, T, H, W), got shape {tuple(x.shape)}')
        _, _, T, H, W = x.shape
        if T % self.tubelet_size or H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f'input T x H x W = {T} x {H} x {W} must be multiples of '
                f'{self.tubelet_size} x {self.patch_size} x {self.patch_size}')
        return T // self.tubelet_size, H // self.patch_size, W // self.patch_size

    def forward_features(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Video -> tokens after the final norm.

        Args:
            x: float (B, 3, T, H, W), normalised pixels.
            mask: optional bool (B, N), **True = masked (hidden)**, the same number of
                True per row (tube masking satisfies this). Hidden tokens are dropped
                after the position embedding is added, so visible tokens keep their
                positions.

        Returns:
            (B, N, D) tokens ordered (t, h, w) row-major, or (B, N_visible, D) with a
            mask (visible tokens in their original order).
        """
        t, h, w = self._token_grid(x)
        # one contiguous copy here: a transposed view would propagate through every
        # residual add and make each LayerNorm and Linear copy its input again
        x = self.patch_embed(x).flatten(2).transpose(1, 2).contiguous()  # (B, N, D)
        x = x + self.pos_embed_for(t, h, w).to(dtype=x.dtype)
        if mask is not None:
            x = _keep_visible(x, mask)
        checkpointing = self.use_checkpoint and self.training and torch.is_grad_enabled()
        for blk in self.blocks:
            if checkpointing:
                x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.norm(x)

    def forward(self, x: Tensor) -> Tensor:
        """Video (B, 3, T, H, W) -> feature map (B, D, T/tubelet, H/patch, W/patch)."""
        t, h, w = self._token_grid(x)
        tokens = self.forward_features(x)
        return tokens.transpose(1, 2).reshape(x.shape[0], self.embed_dim, t, h, w)

    # ---- training helpers -----------------------------------------------------------------

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Turn activation checkpointing of the blocks on or off."""
        self.use_checkpoint = enable

    def no_weight_decay(self) -> Set[str]:
        """Names (relative to this module) excluded from weight decay besides biases/norms."""
        return {'pos_embed'}

    def get_layer_id(self, name: str) -> int:
        """Layer id for layer-wise lr decay of parameter ``name`` (relative to this module).

        Embeddings -> 0, ``blocks.i`` -> i + 1, everything after (final norm) -> depth + 1.
        """
        if name.startswith(('patch_embed', 'pos_embed')):
            return 0
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1
        return self.num_layers + 1

    def init_weights(self) -> None:
        """Load ``pretrained`` if given (random init already happened in ``__init__``)."""
        if self.pretrained:
            load_pretrained(self, self.pretrained)  # logs its key report
        self._is_init = True


def _keep_visible(x: Tensor, mask: Tensor) -> Tensor:
    """Tokens (B, N, D) and mask (B, N) bool, True = hidden -> visible tokens (B, N_vis, D)."""
    B, N, D = x.shape
    if mask.shape != (B, N) or mask.dtype != torch.bool:
        raise ValueError(
            f'mask must be bool of shape {(B, N)} (True = masked), got '
            f'{mask.dtype} {tuple(mask.shape)}')
    visible = ~mask
    counts = visible.sum(dim=1)
    if (counts != counts[0]).any():
        raise ValueError(
            f'every row of the mask must hide the same number of tokens, got visible '
            f'counts {counts.tolist()}')
    return x[visible].reshape(B, -1, D)


# ---------------------------------------------------------------------------------------
# Weight init
# ---------------------------------------------------------------------------------------


def _init_vit_weights(m: nn.Module) -> None:
    """Random init of the official code: trunc-normal(0.02) Linear, zero bias, unit LN.

    The Conv3d keeps PyTorch's default init, as in the reference implementation.
    """
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------
# Variants (sizes from the paper; MLP ratio 4, LayerNorm eps 1e-6 for all)
# ---------------------------------------------------------------------------------------


def _create_vit(sizes: Dict[str, int], **kwargs) -> VisionTransformer:
    # explicit embed_dim/depth/num_heads (tiny test models) override the variant's sizes
    return VisionTransformer(**{**sizes, **kwargs})


def vit_small(**kwargs) -> VisionTransformer:
    """ViT-S/16: D 384, 12 blocks, 6 heads."""
    return _create_vit(dict(embed_dim=384, depth=12, num_heads=6), **kwargs)


def vit_base(**kwargs) -> VisionTransformer:
    """ViT-B/16: D 768, 12 blocks, 12 heads."""
    return _create_vit(dict(embed_dim=768, depth=12, num_heads=12), **kwargs)


def vit_large(**kwargs) -> VisionTransformer:
    """ViT-L/16: D 1024, 24 blocks, 16 heads."""
    return _create_vit(dict(embed_dim=1024, depth=24, num_heads=16), **kwargs)


def vit_huge(**kwargs) -> VisionTransformer:
    """ViT-H/16: D 1280, 32 blocks, 16 heads."""
    return _create_vit(dict(embed_dim=1280, depth=32, num_heads=16), **kwargs)


VARIANTS = {f.__name__: f for f in (vit_small, vit_base, vit_large, vit_huge)}


def build_backbone(name: str, num_frames: int = 16, img_size: IntOrPair = 224,
                   **kwargs) -> VisionTransformer:
    """Build a named variant (``vit_small|vit_base|vit_large|vit_huge``).

    ``kwargs`` go to :class:`VisionTransformer` (drop_path_rate, use_checkpoint,
    tubelet_size, patch_size, pretrained, and embed_dim/depth/num_heads to shrink a
    variant for tests).
    """
    if name not in VARIANTS:
        raise ValueError(f'unknown backbone {name!r}; choose one of {sorted(VARIANTS)}')
    return VARIANTS[name](num_frames=num_frames, img_size=img_size, **kwargs)
