"""The per-clip sample that flows from the dataset through the detector to the metric.

Fields (all boxes xyxy; "input pixels" means pixels of the network input after the
pipeline's resize/crop/flip, before the batch is padded):

metainfo
    ``movie`` (str), ``timestamp`` (int, seconds; the keyframe), ``img_shape`` (H, W) of the
    network input, ``ori_shape`` (H, W) of the stored video.
data (set by the pipeline)
    ``proposals``: FloatTensor (M, 4), input pixels. The person boxes whose actions are
    classified. Training: the ground-truth boxes. Validation/test: detected boxes.
    ``rois``: FloatTensor (M, 4), input pixels. The boxes the head pools features from:
    ``proposals`` after the training jitter or the test-time widening; absent means
    ``proposals``.
    ``proposal_scores``: FloatTensor (M,), the person detector's scores (1.0 for ground truth).
    ``gt_labels``: FloatTensor (M, C), multi-hot over the C classes of the label map; column
    ``i`` is action id ``action_ids[i]`` (the dataset's metainfo; AVA: id ``i + 1``).
predictions (set by the detector's ``predict``)
    ``pred_bboxes``: FloatTensor (M, 4), normalised to [0, 1] by ``img_shape`` (equal to the
    normalised stored-video coordinates, since test pipelines do not crop).
    ``pred_scores``: FloatTensor (M, C), sigmoid(logit) × proposal score; columns as
    ``gt_labels``.
"""
from mmengine.structures import BaseDataElement


class ActionDataSample(BaseDataElement):
    """A clip around one keyframe, with its person boxes, labels and predictions."""
