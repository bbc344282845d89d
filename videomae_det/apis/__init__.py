"""Library API: build a detector from config + checkpoint and run it on a video."""
from .action_names import AVA_ACTION_NAMES
from .inference import (KeyframeResult, StreamStats, count_keyframes, detect_video,
                        init_detector, label_names_of, top_actions)
from .person_detectors import (BoxesFilePersonDetector, FasterRCNNPersonDetector,
                               HOGPersonDetector, build_person_detector)
from .results import (ava_csv_text, results_to_dict, write_ava_csv, write_results_json,
                      write_tracks_csv)
from .sources import open_source
from .video_stream import ClipScheduler, VideoStream, keyframe_schedule

__all__ = [
    'AVA_ACTION_NAMES', 'KeyframeResult', 'count_keyframes', 'detect_video',
    'init_detector', 'label_names_of', 'top_actions', 'BoxesFilePersonDetector',
    'FasterRCNNPersonDetector', 'HOGPersonDetector', 'build_person_detector', 'ava_csv_text',
    'results_to_dict', 'write_ava_csv', 'write_results_json', 'VideoStream', 'keyframe_schedule',
    'ClipScheduler', 'StreamStats', 'open_source', 'write_tracks_csv'
]
