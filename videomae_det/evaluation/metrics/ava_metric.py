"""AVA frame-level mAP as an mmengine metric for the val/test loops."""
import os
from typing import Any, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from videomae_det.assets import AVA_LABEL_MAP
from videomae_det.evaluation.functional import MODES, evaluate_frame_map, rows_from_predictions
from videomae_det.formats import (AVAFormatError, AVARows, read_exclusions, read_groundtruth,
                                  read_label_map, write_box_csv)
from videomae_det.registry import METRICS

PathLike = Union[str, os.PathLike]


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


@METRICS.register_module()
class AVAMetric(BaseMetric):
    """Frame-level AP@0.5 per class and mAP on AVA (see ``evaluate_frame_map``).

    ``process`` keeps, per data sample (an ``ActionDataSample`` or its ``to_dict()``),
    ``movie``, ``timestamp``, ``pred_bboxes`` (M, 4) xyxy normalised to [0, 1] and
    ``pred_scores`` (M, 80) in [0, 1] (column ``i`` = AVA id ``i + 1``). ``compute_metrics``
    turns them into result rows (only the label map's classes; boxes rounded to
    ``box_decimals``, scores to ``score_decimals``, exactly what the results CSV holds, so
    ``tools/eval_ava.py`` on ``out_file`` gives the same numbers), scores them against
    ``ann_file`` in memory and returns (mmengine adds the ``ava/`` prefix)::

        {'mAP': float in [0, 1], 'pose_mAP', 'person_object_mAP', 'person_person_mAP',
         'AP_<id>' for each class with ground truth}

    The per-class table is logged. No file is written unless ``out_file`` is given (the
    predictions CSV, written atomically).

    Results are gathered across ranks with ``all_gather_object`` (mmengine's
    ``collect_device='gpu'`` path, which also runs on CPU/gloo); mmengine's ``'cpu'`` path
    would put a ``.dist_test`` folder of pickles into the working directory.

    Args:
        ann_file: ground-truth CSV (official AVA format).
        label_map_file: pbtxt of the classes to score; default the official 60 classes.
        exclude_file: excluded-timestamps CSV, or None.
        mode: 'official' (ActivityNet script) or 'legacy' (mmaction2 1.x).
        out_file: where to write the predictions CSV, or None.
    """
    default_prefix = 'ava'

    def __init__(self,
                 ann_file: PathLike,
                 label_map_file: PathLike = AVA_LABEL_MAP,
                 exclude_file: Optional[PathLike] = None,
                 mode: str = 'official',
                 out_file: Optional[PathLike] = None,
                 box_decimals: int = 4,
                 score_decimals: int = 6,
                 collect_device: str = 'gpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.ann_file = ann_file
        self.label_map_file = label_map_file
        self.exclude_file = exclude_file
        self.mode = mode
        self.out_file = out_file
        self.box_decimals = box_decimals
        self.score_decimals = score_decimals
        # Fail when the loop is built, not after the first epoch.
        self.label_map = read_label_map(label_map_file)
        for path, what in ((ann_file, 'ground-truth'), (exclude_file, 'excluded-timestamps')):
            if path is not None and not os.path.isfile(path):
                raise AVAFormatError(path, None, f'{what} file not found')
        self._groundtruth: Optional[AVARows] = None

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else (
                lambda k, s=sample: getattr(s, k))
            self.results.append((str(get('movie')), int(get('timestamp')),
                                 _to_numpy(get('pred_bboxes')).reshape(-1, 4),
                                 _to_numpy(get('pred_scores'))))

    def predictions_to_rows(self, results: List[tuple]) -> AVARows:
        """Gathered ``(movie, timestamp, boxes, scores)`` tuples -> result rows."""
        keys = [(movie, ts) for movie, ts, _, _ in results]
        num_cols = max((s.shape[1] for _, _, _, s in results if s.size), default=80)
        return rows_from_predictions(
            keys, [b for _, _, b, _ in results],
            [s.reshape(len(b), num_cols) for _, _, b, s in results],
            class_ids=self.label_map, box_decimals=self.box_decimals,
            score_decimals=self.score_decimals)

    def compute_metrics(self, results: List[tuple]) -> dict:
        rows = self.predictions_to_rows(results)
        if self.out_file is not None:
            write_box_csv(self.out_file, rows, self.box_decimals, self.score_decimals)
        if self._groundtruth is None:
            self._groundtruth = read_groundtruth(self.ann_file)
        excluded = read_exclusions(self.exclude_file) if self.exclude_file else ()
        result = evaluate_frame_map(self._groundtruth, rows, self.label_map, self.mode,
                                    excluded)
        MMLogger.get_current_instance().info('\n' + result.table())
        metrics = {'mAP': result.mAP}
        for name, value in result.categories.items():
            if value is not None:
                metrics[f'{name}_mAP'] = value
        metrics.update({f'AP_{c}': ap for c, ap in result.per_class.items() if ap is not None})
        return metrics
