from mmengine.registry import MODELS as MMENGINE_MODELS

from videomae_det import registry


def test_registries_are_children_of_mmengine_roots():
    assert registry.MODELS.parent is MMENGINE_MODELS
    assert registry.MODELS.scope == 'videomae_det'
    for name in ['DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'OPTIM_WRAPPER_CONSTRUCTORS']:
        reg = getattr(registry, name)
        assert reg.parent is not None and reg.parent.scope == 'mmengine', name
