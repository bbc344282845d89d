"""AVA evaluation: pure maths and file formats (``functional``), mmengine metrics (``metrics``)."""
from .functional import AVAFormatError, evaluate_frame_map
from .metrics import AVAMetric

__all__ = ['AVAFormatError', 'AVAMetric', 'evaluate_frame_map']
