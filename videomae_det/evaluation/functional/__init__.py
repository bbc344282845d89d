"""Pure AVA evaluation maths (frame-level mAP). File formats live in ``videomae_det.formats``."""
from .frame_map import (CATEGORIES, MODES, TOP_K, FrameMAPResult, average_precision,
                        evaluate_frame_map, greedy_match, pairwise_iou_yx,
                        rows_from_predictions)

__all__ = [
    'CATEGORIES', 'FrameMAPResult', 'MODES', 'TOP_K', 'average_precision', 'evaluate_frame_map',
    'greedy_match', 'pairwise_iou_yx', 'rows_from_predictions'
]
