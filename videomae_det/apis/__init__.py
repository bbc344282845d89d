"""Library API: build a detector from config + checkpoint and run it on a video."""
from .action_names import AVA_ACTION_NAMES
from .inference import (KeyframeResult, count_keyframes, detect_video, init_detector,
                        label_names_of, top_actions)
from .person_detectors import (BoxesFilePersonDetector, FasterRCNNPersonDetector,
                               HOGPersonDetector, ONNXPersonDetector,
                               TorchvisionPersonDetector, build_person_detector)
from .results import ava_csv_text, results_to_dict, write_ava_csv, write_results_json
from .video_stream import VideoStream, keyframe_schedule

__all__ = [
    'AVA_ACTION_NAMES', 'KeyframeResult', 'count_keyframes', 'detect_video',
    'init_detector', 'label_names_of', 'top_actions', 'BoxesFilePersonDetector',
    'FasterRCNNPersonDetector', 'HOGPersonDetector', 'ONNXPersonDetector',
    'TorchvisionPersonDetector', 'build_person_detector', 'ava_csv_text',
    'results_to_dict', 'write_ava_csv', 'write_results_json', 'VideoStream', 'keyframe_schedule'
]
