"""Person tracks across keyframes and the action segments they make ("who did what, from
when to when"): :mod:`.tracker` (ByteTrack-style association), :mod:`.segments` (segments,
subtitles, timeline) and :mod:`.evaluation` (IDF1/MOTA and segment temporal IoU)."""
from .segments import (Segment, runs_to_segments, temporal_iou, track_segments,
                       tracks_from_results, write_segments, write_srt, write_timeline)
from .tracker import ByteTrackConfig, KeyframeTracker, TrackScoreSmoother, box_iou

__all__ = [
    'ByteTrackConfig', 'KeyframeTracker', 'Segment', 'TrackScoreSmoother', 'box_iou',
    'runs_to_segments', 'temporal_iou', 'track_segments', 'tracks_from_results',
    'write_segments', 'write_srt', 'write_timeline'
]
