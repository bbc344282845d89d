"""How good are the person boxes? Recall and precision of detections against ground truth.

Pure maths (no I/O). Per keyframe, detections in descending score each take the free
ground-truth box of highest IoU (COCO-style greedy matching); a take with IoU >=
``iou_threshold`` is a true positive.
"""
from typing import Dict, Hashable, Mapping, Tuple

import numpy as np


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes (N, 4) and (M, 4), any consistent unit -> (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def person_recall(groundtruth: Mapping[Hashable, np.ndarray],
                  detections: Mapping[Hashable, Tuple[np.ndarray, np.ndarray]],
                  score_threshold: float, iou_threshold: float = 0.5) -> Dict[str, float]:
    """Recall and precision of person detections at one score threshold.

    Args:
        groundtruth: keyframe -> ground-truth boxes (G, 4) xyxy. Only these keyframes count
            (detections of other keyframes are ignored).
        detections: keyframe -> (boxes (D, 4) xyxy, scores (D,)), same unit as the truth.
        score_threshold: detections scoring below are not counted.
        iou_threshold: IoU for a match.

    Returns:
        ``{'recall', 'precision', 'num_gt', 'num_det', 'true_positives', 'keyframes'}``;
        recall is 0 without ground truth, precision 0 without detections.
    """
    num_gt = num_det = tp = 0
    for key, gt in groundtruth.items():
        gt = np.asarray(gt, np.float64).reshape(-1, 4)
        boxes, scores = detections.get(key, (np.zeros((0, 4)), np.zeros(0)))
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        keep = scores >= score_threshold
        boxes, scores = boxes[keep], scores[keep]
        num_gt += len(gt)
        num_det += len(boxes)
        if not len(gt) or not len(boxes):
            continue
        iou = box_iou_xyxy(boxes[np.argsort(-scores, kind='stable')], gt)
        taken = np.zeros(len(gt), bool)
        for row in iou:
            free = np.where(taken, -1.0, row)
            j = int(np.argmax(free))
            if free[j] >= iou_threshold:
                taken[j] = True
                tp += 1
    return dict(recall=tp / num_gt if num_gt else 0.0,
                precision=tp / num_det if num_det else 0.0,
                num_gt=num_gt, num_det=num_det, true_positives=tp,
                keyframes=len(groundtruth))
