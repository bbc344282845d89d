from .backbones import VisionTransformer, build_backbone
from .weights import load_pretrained
from .data_preprocessor import ActionDataPreprocessor
from .pretrain import VideoMAEPretrainer
from .detectors import AVADetector
from .heads import AVARoIHead
