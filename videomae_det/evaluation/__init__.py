"""AVA evaluation: pure maths (``functional``), mmengine metrics (``metrics``). The file
formats it reads live in ``videomae_det.formats``.

``functional`` needs only numpy and is imported eagerly; the mmengine metric is imported on
first use, so the CSV -> mAP command (``tools/eval_ava.py``) never loads torch or mmengine
(importing them would take longer than reading a quarter of AVA val).
"""
from .functional import evaluate_frame_map

__all__ = ['AVAMetric', 'evaluate_frame_map']


def __getattr__(name: str):
    if name == 'AVAMetric':
        from .metrics import AVAMetric
        return AVAMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
