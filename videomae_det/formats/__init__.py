"""Every AVA file format, in one place, with one error class and one set of rules.

Used by the dataset, the metric, the apis and the tools; nothing here imports torch or
mmengine (the CSV→mAP path stays light).

- :mod:`.errors`: :class:`AVAFormatError` (file, line, reason, the row quoted).
- :mod:`.box_csv`: ground-truth / result / excluded-timestamps / person-box CSVs.
- :mod:`.label_map`: pbtxt label maps and mmaction2's ``label_map.txt``.
- :mod:`.min_json`: the ``*_min.json`` files (build, numbering, validation).
- :mod:`.detections`: person detections (COCO results JSON, CSV incl. PySlowFast's,
  mmaction2 proposals pickle, read safely).
"""
from .box_csv import (MAX_LINE_BYTES, AVAGroundTruth, AVARows, CSVBox, Key, canonical_key,
                      format_box_csv, format_result_csv, format_timestamp,
                      iter_csv_rows, quantize, read_box_csv,
                      read_detections, read_exclusions, read_ground_truth_csv,
                      read_groundtruth, rows_from_text, write_box_csv, write_ground_truth_csv)
from .detections import (PersonDetections, detection_format, load_array_pickle,
                         read_person_box_csv, read_person_detections, read_proposals_pkl,
                         to_coco_results)
from .errors import AVAFormatError
from .label_map import read_label_map, write_label_map
from .min_json import (IMAGE_ID_STRIDE, build_min_json, check_min_json, image_id,
                       keyframe_image_ids, load_json, load_min_json, movie_numbering,
                       person_boxes_by_image, read_movie_list, validate_min_json, write_json)

__all__ = [
    'AVAFormatError', 'AVAGroundTruth', 'AVARows', 'CSVBox', 'IMAGE_ID_STRIDE', 'Key',
    'MAX_LINE_BYTES', 'PersonDetections', 'build_min_json', 'canonical_key', 'check_min_json',
    'detection_format', 'format_box_csv', 'format_result_csv', 'format_timestamp', 'image_id',
    'iter_csv_rows',
    'keyframe_image_ids', 'load_array_pickle', 'load_json', 'load_min_json',
    'movie_numbering', 'person_boxes_by_image', 'quantize', 'read_box_csv', 'read_detections', 'read_exclusions',
    'read_ground_truth_csv', 'read_groundtruth', 'read_label_map', 'read_movie_list',
    'read_person_box_csv', 'read_person_detections', 'read_proposals_pkl', 'rows_from_text',
    'to_coco_results', 'validate_min_json', 'write_box_csv', 'write_ground_truth_csv',
    'write_json', 'write_label_map'
]
