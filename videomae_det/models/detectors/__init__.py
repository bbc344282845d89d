from .ava_detector import AVADetector

__all__ = ['AVADetector']
