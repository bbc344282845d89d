"""AVA evaluation: pure maths (``functional``), mmengine metrics (``metrics``). The file
formats it reads live in ``videomae_det.formats``."""
from .functional import evaluate_frame_map
from .metrics import AVAMetric

__all__ = ['AVAMetric', 'evaluate_frame_map']
