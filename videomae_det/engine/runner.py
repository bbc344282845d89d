"""mmengine's Runner with strict, safe loading of ``load_from``.

mmengine's own ``load_checkpoint`` unpickles with its defaults, loads with
``strict=False`` and only logs a warning for keys that did not fit: a test run then scores
a model whose weights never loaded, and a mismatched ``load_from`` silently trains from
random init. Here ``load_from`` goes through :func:`videomae_det.models.weights.load_detector`:
read without running pickled code, released VideoMAE-Action-Detection / mmaction2 detector
files converted as downloaded, and any missing, unexpected or wrong-shape key refused with
the key report and its likely cause -- unless the config says ``partial_load = True``
(``--partial-load`` of the tools). Resuming (``resume=True``) keeps mmengine's path: it
restores our own checkpoints, optimizer and all.
"""
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from videomae_det.models.weights import load_detector, read_checkpoint


@RUNNERS.register_module()
class DetectorRunner(Runner):
    """``Runner`` whose ``load_checkpoint`` (used for ``load_from``) is strict and safe.

    The config key ``partial_load`` (default False) opts into loading what fits.
    """

    def resume(self, filename: str, *args, **kwargs) -> None:
        # mmengine's resume reads the checkpoint through load_checkpoint and needs all of
        # it back (optimizer, message hub, ...): flag it so load_checkpoint keeps its path
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = None) -> dict:
        if getattr(self, '_resuming', False):
            return super().load_checkpoint(filename, map_location=map_location, strict=strict,
                                           **({} if revise_keys is None else
                                              dict(revise_keys=revise_keys)))
        partial = bool(self.cfg.get('partial_load', False))
        model = self.model.module if is_model_wrapper(self.model) else self.model
        raw = read_checkpoint(filename)
        # hooks see what mmengine would give them (SafeCheckpointHook reads only meta here)
        self.call_hook('after_load_checkpoint', checkpoint=dict(meta=raw.meta))
        report = load_detector(model, raw, strict=not partial)
        self._has_loaded = True
        self.logger.info(f'Loaded checkpoint {filename} (source: {report.source}'
                         f'{", partial" if not report.ok else ""})')
        return dict(meta=raw.meta, state_dict=raw.state_dict)
