from .unlabeled import UnlabeledVideoDataset, VideoMultiScaleCrop
