"""Pure AVA evaluation maths (frame-level mAP) and the official file formats."""
from .ava_io import (AVAFormatError, AVARows, canonical_key, format_box_csv, quantize,
                     read_box_csv, read_detections, read_exclusions, read_groundtruth,
                     read_label_map, rows_from_text, write_box_csv)
from .frame_map import (CATEGORIES, MODES, TOP_K, FrameMAPResult, average_precision,
                        evaluate_frame_map, greedy_match, pairwise_iou_yx,
                        rows_from_predictions)

__all__ = [
    'AVAFormatError', 'AVARows', 'CATEGORIES', 'FrameMAPResult', 'MODES', 'TOP_K',
    'average_precision', 'canonical_key', 'evaluate_frame_map', 'format_box_csv', 'greedy_match',
    'pairwise_iou_yx', 'quantize', 'read_box_csv', 'read_detections', 'read_exclusions',
    'read_groundtruth', 'read_label_map', 'rows_from_predictions', 'rows_from_text',
    'write_box_csv'
]
