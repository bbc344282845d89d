from .roi_head import AVARoIHead

__all__ = ['AVARoIHead']
