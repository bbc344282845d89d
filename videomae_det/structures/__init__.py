from .action_data_sample import ActionDataSample
from .boxes import (box_areas, clip_boxes, denormalize_boxes, normalize_boxes, xywh_to_xyxy,
                    xyxy_to_xywh)

__all__ = [
    'ActionDataSample', 'box_areas', 'clip_boxes', 'denormalize_boxes', 'normalize_boxes',
    'xywh_to_xyxy', 'xyxy_to_xywh'
]
