"""Drawing detections and writing annotated videos."""
from .draw import PALETTE, draw_detections, label_lines
from .video_writer import StreamingVideoWriter

__all__ = ['PALETTE', 'draw_detections', 'label_lines', 'StreamingVideoWriter']
