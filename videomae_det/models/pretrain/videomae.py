"""VideoMAE masked-video pretraining (Tong et al., NeurIPS 2022, arXiv:2203.12602).

A clip is cut into 2x16x16 cubes; ~90% of them are hidden by a tube mask (see
:mod:`.masking`). The encoder (our :class:`VisionTransformer`) runs on the visible tokens
only, which is where the speed of MAE pretraining comes from. A narrow decoder sees the
projected visible tokens plus a learned mask token at every hidden position (both with a
fixed sinusoid position embedding) and regresses the pixels of the hidden cubes.

Target: every cube's 2*16*16 = 512 pixels per channel, normalised by the cube's own mean and
standard deviation (unbiased, eps 1e-6 after the square root), computed on the video in
[0, 1] pixel units; the loss is the MSE over the hidden cubes only.

State-dict keys are those of the official pretraining checkpoints (``encoder.*``,
``encoder_to_decoder.weight``, ``mask_token``, ``decoder.blocks.{i}.*``, ``decoder.norm``,
``decoder.head``), so official weights load as they are and ``encoder.*`` loads into the
detector's backbone.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor, nn

from videomae_det.models.backbones.vit import Block, sinusoid_table
from videomae_det.models.weights import load_pretraining_model
from videomae_det.models.pretrain.masking import MASK_GENERATORS, build_mask
from videomae_det.registry import MODELS
from videomae_det.structures import ActionDataSample

# ---------------------------------------------------------------------------------------
# Cubes <-> video
# ---------------------------------------------------------------------------------------


def patchify(video: Tensor, patch_size: int = 16, tubelet_size: int = 2) -> Tensor:
    """Video (B, C, T, H, W) -> cubes (B, N, tubelet * patch * patch, C).

    Tokens ``N`` are ordered (t, h, w) row-major like the encoder's; pixels inside a cube
    are ordered (frame, row, column). Flattening the last two dims gives the official
    decoder-head layout ``(p0 p1 p2 c)`` (channel fastest), so official heads predict the
    same numbers our loss compares against.
    """
    B, C, T, H, W = video.shape
    t, h, w = T // tubelet_size, H // patch_size, W // patch_size
    x = video.reshape(B, C, t, tubelet_size, h, patch_size, w, patch_size)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # B, t, h, w, p0, p1, p2, C
    return x.reshape(B, t * h * w, tubelet_size * patch_size * patch_size, C)


def unpatchify(cubes: Tensor, grid: Sequence[int], patch_size: int = 16,
               tubelet_size: int = 2) -> Tensor:
    """Inverse of :func:`patchify`: (B, N, tubelet * patch * patch, C) -> (B, C, T, H, W)."""
    B, _, _, C = cubes.shape
    t, h, w = grid
    x = cubes.reshape(B, t, h, w, tubelet_size, patch_size, patch_size, C)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # B, C, t, p0, h, p1, w, p2
    return x.reshape(B, C, t * tubelet_size, h * patch_size, w * patch_size)


def normalize_cubes(cubes: Tensor, eps: float = 1e-6) -> Tensor:
    """Per cube and per channel: (x - mean) / (unbiased std + eps) over the cube's pixels.

    cubes: (B, N, P, C) with P pixels per cube -> same shape.
    """
    mean = cubes.mean(dim=-2, keepdim=True)
    std = cubes.var(dim=-2, unbiased=True, keepdim=True).sqrt()
    return (cubes - mean) / (std + eps)


# ---------------------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------------------


class MAEDecoder(nn.Module):
    """Narrow transformer over all N tokens; predicts pixels for the last ``num_predict``.

    Keys ``blocks.{i}.*`` (the backbone's :class:`Block`), ``norm``, ``head`` as in the
    official pretraining checkpoints. ``head``: Linear(embed_dim, 3 * tubelet * patch^2).
    """

    def __init__(self, embed_dim: int = 384, depth: int = 4, num_heads: int = 6,
                 mlp_ratio: float = 4., out_dim: int = 3 * 2 * 16 * 16,
                 norm_eps: float = 1e-6, fused_attn: bool = True) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_eps=norm_eps,
                  fused_attn=fused_attn) for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.head = nn.Linear(embed_dim, out_dim)

    def forward(self, x: Tensor, num_predict: int) -> Tensor:
        """x (B, N, D_dec), hidden tokens last -> (B, num_predict, out_dim)."""
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, -num_predict:]))


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------


@MODELS.register_module()
class VideoMAEPretrainer(BaseModel):
    """Masked-autoencoder pretraining of a :class:`VisionTransformer` encoder.

    Args:
        encoder: config dict of the encoder (``dict(type=VisionTransformer, ...)``), built
            through MODELS, or a module. Its weights end up under ``encoder.*``.
        decoder_embed_dim, decoder_depth, decoder_num_heads: decoder sizes (official: ViT-S
            192/4/3, ViT-B 384/4/6, ViT-L 512/4/8, ViT-H 640/4/8).
        mask_type: ``'tube'`` (default) or ``'random'``.
        mask_ratio: fraction of cubes hidden (0.9 in the recipe).
        norm_target: per-cube normalised pixel target (True, the recipe) or raw [0, 1] pixels.
        encoder_init: ``'xavier'`` (the official pretraining init: xavier-uniform Linear
            layers everywhere) or ``'backbone'`` (the encoder keeps the detector backbone's
            own random init, trunc-normal 0.02, so that a pretrained encoder differs from a
            from-scratch backbone by its training only; the decoder stays xavier).
        motion_weight: ``alpha >= 0`` weights each hidden cube's error by
            ``1 + alpha * m / mean(m)``, ``m`` the cube's motion above the clip's median (see
            :meth:`cube_weights`); the loss is the weighted mean. 0 (default, the recipe):
            every hidden cube counts the same. With ``alpha = 1`` half of the weight goes to
            the cubes that move more than most of the clip: in scenes where people are a
            few thin cubes on a flat set, those are the people.
        data_preprocessor: normally ``ActionDataPreprocessor`` (mean/std in 0-255 units).
            The target is computed on the un-normalised video: the preprocessor's ``mean``
            and ``std`` are read back when it has them; without them the inputs are taken
            to be 0-255 pixels.
        pretrained: optional official (or our) pretraining checkpoint loaded by
            :meth:`init_weights` with :func:`videomae_det.models.weights.load_pretraining_model`.

    Modes of ``forward(inputs, data_samples, mode)``, inputs float (B, 3, T, H, W):
        ``'loss'``: ``{'loss_rec': MSE over hidden cubes}``.
        ``'predict'``: the data samples with ``mask`` (N,) bool (True = hidden), ``pred``
            (N_hidden, 3 * tubelet * patch^2) and ``recon`` (3, T, H, W) float in [0, 1]
            pixel units: visible cubes copied from the input, hidden cubes from the
            prediction (de-normalised with the true cube's mean/std, as the official
            visualisation does: for display only).
        ``'tensor'``: the raw prediction (B, N_hidden, 3 * tubelet * patch^2).
    """

    def __init__(self,
                 encoder: Union[dict, nn.Module],
                 decoder_embed_dim: int = 384,
                 decoder_depth: int = 4,
                 decoder_num_heads: int = 6,
                 mlp_ratio: float = 4.,
                 mask_type: str = 'tube',
                 mask_ratio: float = 0.9,
                 norm_target: bool = True,
                 encoder_init: str = 'xavier',
                 motion_weight: float = 0.,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.encoder = MODELS.build(encoder) if isinstance(encoder, dict) else encoder
        self.patch_size = self.encoder.patch_size
        if hasattr(self.data_preprocessor, 'fit_to_patch'):
            self.data_preprocessor.fit_to_patch(self.patch_size)
        self.tubelet_size = self.encoder.tubelet_size
        out_dim = 3 * self.tubelet_size * self.patch_size ** 2
        self.encoder_to_decoder = nn.Linear(self.encoder.embed_dim, decoder_embed_dim,
                                            bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder = MAEDecoder(decoder_embed_dim, decoder_depth, decoder_num_heads,
                                  mlp_ratio, out_dim)
        if mask_type not in MASK_GENERATORS:
            raise ValueError(f'unknown mask_type {mask_type!r}; expected one of '
                             f'{sorted(MASK_GENERATORS)}')
        if not 0. <= mask_ratio < 1.:
            raise ValueError(f'mask_ratio must be in [0, 1); got {mask_ratio}')
        if encoder_init not in ('xavier', 'backbone'):
            raise ValueError(f"encoder_init must be 'xavier' or 'backbone'; got {encoder_init!r}")
        if not motion_weight >= 0:
            raise ValueError(f'motion_weight must be >= 0; got {motion_weight}')
        self.motion_weight = float(motion_weight)
        self.mask_type = mask_type
        self.mask_ratio = mask_ratio
        self.norm_target = norm_target
        self.pretrained = pretrained
        self.decoder_args = dict(embed_dim=decoder_embed_dim, depth=decoder_depth,
                                 num_heads=decoder_num_heads, mlp_ratio=mlp_ratio)
        # the official pretraining init: xavier-uniform Linear layers, mask token N(0, .02)
        xavier = [self.decoder, self.encoder_to_decoder]
        if encoder_init == 'xavier':
            xavier.insert(0, self.encoder)
        for module in xavier:
            module.apply(_xavier_init)
        nn.init.trunc_normal_(self.mask_token, std=.02)

    # ---- weights ------------------------------------------------------------------------

    def init_weights(self) -> None:
        """Children first (an encoder with its own ``pretrained`` loads it), then the whole
        model's ``pretrained``. Random init already happened in ``__init__``."""
        super().init_weights()
        if self.pretrained:
            load_pretraining_model(self, self.pretrained)

    def no_weight_decay(self) -> set:
        """Parameters excluded from weight decay besides 1-D ones (the official skip list)."""
        return {'mask_token'}

    # ---- masking and the target ----------------------------------------------------------

    def token_grid(self, inputs: Tensor) -> Tuple[int, int, int]:
        """(T', H', W') of the token grid for inputs (B, 3, T, H, W)."""
        _, _, T, H, W = inputs.shape
        return T // self.tubelet_size, H // self.patch_size, W // self.patch_size

    def sample_mask(self, inputs: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        """A fresh mask per sample: bool (B, N), True = hidden."""
        return build_mask(self.mask_type, inputs.shape[0], self.token_grid(inputs),
                          self.mask_ratio, generator, inputs.device)

    def unit_pixels(self, inputs: Tensor) -> Tensor:
        """The preprocessor's normalisation undone: float (B, 3, T, H, W) in [0, 1] units."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        x = inputs.float()
        if mean is not None and std is not None:
            shape = (1, -1, 1, 1, 1)
            x = x * std.float().reshape(shape) + mean.float().reshape(shape)
        return x / 255.

    def target_cubes(self, inputs: Tensor) -> Tensor:
        """Regression target for every cube: (B, N, tubelet * patch^2 * 3), ``(p c)`` order."""
        cubes = patchify(self.unit_pixels(inputs), self.patch_size, self.tubelet_size)
        if self.norm_target:
            cubes = normalize_cubes(cubes)
        return cubes.flatten(2)

    def cube_weights(self, inputs: Tensor) -> Tensor:
        """Loss weight of every cube (B, N): ``1 + motion_weight * m / mean(m)`` per clip.

        ``m`` is the cube's mean absolute frame-to-frame change (unit pixels, channels
        averaged; a clip's first frame takes the change to its second) minus the clip's
        median over cubes, floored at 0: camera shake and grain move every cube a little,
        the median removes that level. The weights' mean is ``1 + motion_weight`` in every
        clip with any motion (1 in a still one).
        """
        x = self.unit_pixels(inputs).mean(dim=1, keepdim=True)  # (B, 1, T, H, W)
        change = (x[:, :, 1:] - x[:, :, :-1]).abs()
        change = torch.cat([change[:, :, :1], change], dim=2)
        motion = patchify(change, self.patch_size, self.tubelet_size).mean(dim=(2, 3))
        motion = (motion - motion.median(dim=1, keepdim=True).values).clamp_(min=0)
        scale = motion.mean(dim=1, keepdim=True)
        ratio = torch.where(scale > 0, motion / scale.clamp(min=1e-12), torch.zeros_like(motion))
        return 1 + self.motion_weight * ratio

    # ---- forward ------------------------------------------------------------------------

    def predict_hidden(self, inputs: Tensor, mask: Tensor) -> Tensor:
        """Encoder on visible tokens, decoder on all -> (B, N_hidden, 3 * tubelet * patch^2).

        Predictions are in the order of the hidden tokens' positions (row-major), matching
        ``target[mask].reshape(B, N_hidden, -1)``. With nothing hidden (mask ratio 0) every
        token is predicted: a plain autoencoder, the all-token peer of the speed benchmark.
        """
        B = inputs.shape[0]
        visible = self.encoder.forward_features(inputs, mask)  # (B, N_vis, D_enc)
        visible = self.encoder_to_decoder(visible)
        dim = visible.shape[-1]
        pos = sinusoid_table(mask.shape[1], dim).to(device=visible.device, dtype=visible.dtype)
        pos = pos.expand(B, -1, -1)
        # Visible tokens first, hidden ones last; each keeps its own position embedding,
        # so the order inside the sequence does not matter to attention.
        pos_vis = pos[~mask].reshape(B, -1, dim)
        pos_hidden = pos[mask].reshape(B, -1, dim)
        tokens = torch.cat(
            [visible + pos_vis, self.mask_token.to(visible.dtype) + pos_hidden], dim=1)
        return self.decoder(tokens, pos_hidden.shape[1] or tokens.shape[1])

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor', mask: Optional[Tensor] = None):
        """See the class docstring. ``mask`` (B, N) bool, True = hidden, overrides sampling."""
        if mask is None:
            mask = self.sample_mask(inputs)
        if mode == 'loss':
            return dict(loss_rec=self.loss(inputs, mask))
        if mode == 'predict':
            return self.predict(inputs, data_samples, mask)
        if mode == 'tensor':
            return self.predict_hidden(inputs, mask)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor'; got {mode!r}")

    def loss(self, inputs: Tensor, mask: Tensor) -> Tensor:
        """MSE between prediction and target over the hidden cubes (mean over elements).

        With nothing hidden the loss covers every cube (see :meth:`predict_hidden`).
        """
        pred = self.predict_hidden(inputs, mask)
        with torch.no_grad():
            target = self.target_cubes(inputs)
            target = target[_predicted(mask)].reshape(pred.shape)
        if not self.motion_weight:
            return F.mse_loss(pred.float(), target)
        with torch.no_grad():
            weight = self.cube_weights(inputs)[_predicted(mask)].reshape(pred.shape[:2])
        per_cube = (pred.float() - target).pow(2).mean(dim=-1)
        return (per_cube * weight).sum() / weight.sum()

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[List], mask: Tensor) -> List:
        """Reconstructions for inspection; see the class docstring."""
        B = inputs.shape[0]
        pred = self.predict_hidden(inputs, mask).float()
        cubes = patchify(self.unit_pixels(inputs), self.patch_size, self.tubelet_size)
        predicted = _predicted(mask)
        hidden = cubes[predicted].reshape(B, -1, *cubes.shape[2:])  # (B, N_hid, P, C)
        pred_cubes = pred.reshape(hidden.shape)
        if self.norm_target:
            std = hidden.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6
            pred_cubes = pred_cubes * std + hidden.mean(dim=-2, keepdim=True)
        recon_cubes = cubes.clone()
        recon_cubes[predicted] = pred_cubes.reshape(-1, *cubes.shape[2:])
        recon = unpatchify(recon_cubes, self.token_grid(inputs), self.patch_size,
                           self.tubelet_size).clamp_(0, 1)
        if data_samples is None:
            data_samples = [ActionDataSample() for _ in range(B)]
        for i, sample in enumerate(data_samples):
            sample.mask = mask[i]
            sample.pred = pred[i]
            sample.recon = recon[i]
        return data_samples


def _predicted(mask: Tensor) -> Tensor:
    """The tokens the decoder predicts: the hidden ones, or all when none is hidden."""
    return mask if mask.any() else torch.ones_like(mask)


def _xavier_init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
