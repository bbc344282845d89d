"""mmengine metrics."""
from .ava_metric import AVAMetric

__all__ = ['AVAMetric']
