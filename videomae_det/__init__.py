"""videomae-det: spatio-temporal action detection (AVA) with VideoMAE ViT backbones."""
__version__ = '0.1.0'
