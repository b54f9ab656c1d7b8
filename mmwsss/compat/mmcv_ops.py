"""The mmcv ops mmwsss's own configs need, on any device, with mmcv-lite.

Found by tracing every call into ``mmcv/ops`` while the test suite trains and
tests each config family on CPU (stage 2: DeepLabV3+, DeepLab-v2,
Mask2Former; baselines: classic CAM, SAM with text / zero-shot tags with
Grounding DINO, CLIP-ES; FMA-WSSS prompts and seeds; SAM mask generation):

* ``multi_scale_deformable_attn`` -- Mask2Former's pixel decoder
  (mmdet's ``MSDeformAttnPixelDecoder``) and Grounding DINO's encoder and
  decoder. mmcv's ``MultiScaleDeformableAttention`` computes it with the
  pure-PyTorch ``multi_scale_deformable_attn_pytorch`` for CPU tensors but
  calls the compiled op for CUDA tensors, which mmcv-lite does not have.
  :class:`PortableMultiScaleDeformableAttention` is the same module (same
  parameters and state-dict keys) that uses the compiled op when it exists
  and the PyTorch function otherwise, on every device.
* ``point_sample`` -- Mask2Former's point losses; in mmcv it is
  ``F.grid_sample`` and runs as it is on every device.

Nothing else (no NMS, RoI or box op of mmcv) is reached: SAM's mask
generator uses torchvision's NMS, Grounding DINO's prediction needs none.

Scope: only mmwsss's models use these types. Mask2Former configs ask for
``PortableMSDeformAttnPixelDecoder``; ``GroundingDINOBoxes`` converts its
detector with :func:`use_portable_msda`. A model of a user that does not ask
for them keeps mmcv's module.
"""
from typing import Optional

import torch
from mmcv.ops.multi_scale_deform_attn import (
    MultiScaleDeformableAttention, multi_scale_deformable_attn_pytorch)
from mmdet.models.layers import MSDeformAttnPixelDecoder
from torch import nn

from mmseg.registry import MODELS
from .mmcv_ext import mmcv_ext_is_fallback

__all__ = [
    'PortableMultiScaleDeformableAttention', 'use_portable_msda',
    'PortableMSDeformAttnPixelDecoder'
]


@MODELS.register_module()
class PortableMultiScaleDeformableAttention(MultiScaleDeformableAttention):
    """mmcv's ``MultiScaleDeformableAttention`` on any device.

    With the compiled mmcv ops this is mmcv's module unchanged. Under
    mmcv-lite the attention is computed by mmcv's pure-PyTorch
    ``multi_scale_deformable_attn_pytorch`` for tensors on every device
    (mmcv's own forward would call the missing compiled op on CUDA).
    Arguments, parameters and outputs are those of the parent class.
    """

    def forward(self,
                query: torch.Tensor,
                key: Optional[torch.Tensor] = None,
                value: Optional[torch.Tensor] = None,
                identity: Optional[torch.Tensor] = None,
                query_pos: Optional[torch.Tensor] = None,
                key_padding_mask: Optional[torch.Tensor] = None,
                reference_points: Optional[torch.Tensor] = None,
                spatial_shapes: Optional[torch.Tensor] = None,
                level_start_index: Optional[torch.Tensor] = None,
                **kwargs) -> torch.Tensor:
        """See ``MultiScaleDeformableAttention.forward``."""
        if not mmcv_ext_is_fallback():
            return super().forward(
                query,
                key=key,
                value=value,
                identity=identity,
                query_pos=query_pos,
                key_padding_mask=key_padding_mask,
                reference_points=reference_points,
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
                **kwargs)
        return self.forward_pytorch(query, value, identity, query_pos,
                                    key_padding_mask, reference_points,
                                    spatial_shapes)

    def forward_pytorch(self, query: torch.Tensor,
                        value: Optional[torch.Tensor],
                        identity: Optional[torch.Tensor],
                        query_pos: Optional[torch.Tensor],
                        key_padding_mask: Optional[torch.Tensor],
                        reference_points: torch.Tensor,
                        spatial_shapes: torch.Tensor) -> torch.Tensor:
        """mmcv 2.1.0's forward with the pure-PyTorch op on every device.

        Args:
            query (Tensor): (num_query, bs, C), or (bs, num_query, C) with
                ``batch_first``.
            value (Tensor, optional): Like ``query`` with num_value rows;
                defaults to ``query``.
            identity (Tensor, optional): Residual; defaults to ``query``.
            query_pos (Tensor, optional): Added to ``query``.
            key_padding_mask (Tensor, optional): (bs, num_value), True
                where the value is padding.
            reference_points (Tensor): (bs, num_query, num_levels, 2) points
                or (..., 4) boxes, normalised to [0, 1].
            spatial_shapes (Tensor): (num_levels, 2) of (h, w).

        Returns:
            Tensor: Same layout as ``query``.
        """
        if value is None:
            value = query
        if identity is None:
            identity = query
        if query_pos is not None:
            query = query + query_pos
        if not self.batch_first:
            query = query.permute(1, 0, 2)
            value = value.permute(1, 0, 2)
        bs, num_query, _ = query.shape
        bs, num_value, _ = value.shape
        assert (spatial_shapes[:, 0] * spatial_shapes[:, 1]).sum() == \
            num_value
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(bs, num_value, self.num_heads, -1)
        sampling_offsets = self.sampling_offsets(query).view(
            bs, num_query, self.num_heads, self.num_levels, self.num_points, 2)
        attention_weights = self.attention_weights(query).view(
            bs, num_query, self.num_heads, self.num_levels * self.num_points)
        attention_weights = attention_weights.softmax(-1).view(
            bs, num_query, self.num_heads, self.num_levels, self.num_points)
        if reference_points.shape[-1] == 2:
            offset_normalizer = torch.stack(
                [spatial_shapes[..., 1], spatial_shapes[..., 0]], -1)
            sampling_locations = reference_points[:, :, None, :, None, :] \
                + sampling_offsets \
                / offset_normalizer[None, None, None, :, None, :]
        elif reference_points.shape[-1] == 4:
            sampling_locations = reference_points[:, :, None, :, None, :2] \
                + sampling_offsets / self.num_points \
                * reference_points[:, :, None, :, None, 2:] * 0.5
        else:
            raise ValueError('Last dim of reference_points must be 2 or 4, '
                             f'but got {reference_points.shape[-1]}.')
        output = multi_scale_deformable_attn_pytorch(value, spatial_shapes,
                                                     sampling_locations,
                                                     attention_weights)
        output = self.output_proj(output)
        if not self.batch_first:
            output = output.permute(1, 0, 2)
        return self.dropout(output) + identity


def use_portable_msda(model: nn.Module) -> int:
    """Make every mmcv ``MultiScaleDeformableAttention`` in ``model`` a
    :class:`PortableMultiScaleDeformableAttention`.

    The subclass adds no state, so each module keeps its parameters,
    buffers and state-dict keys; only its forward changes (and only under
    mmcv-lite).

    Args:
        model (nn.Module): A model of mmwsss's own (e.g. its Grounding DINO).

    Returns:
        int: Number of modules converted.
    """
    count = 0
    for module in model.modules():
        if type(module) is MultiScaleDeformableAttention:
            module.__class__ = PortableMultiScaleDeformableAttention
            count += 1
    return count


@MODELS.register_module()
class PortableMSDeformAttnPixelDecoder(MSDeformAttnPixelDecoder):
    """mmdet's ``MSDeformAttnPixelDecoder`` (Mask2Former) whose deformable
    attention runs on any device with mmcv-lite
    (:class:`PortableMultiScaleDeformableAttention`).

    Same arguments, parameters and checkpoints as the parent.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        use_portable_msda(self)
