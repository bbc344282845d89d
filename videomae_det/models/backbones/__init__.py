from .vit import VisionTransformer, build_backbone

__all__ = ['VisionTransformer', 'build_backbone']
