from .backbones import VisionTransformer, build_backbone
from .checkpoint import load_pretrained
