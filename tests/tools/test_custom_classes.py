"""Your own class set end to end: train, evaluate, infer and export on a 5-class and a
100-class mini-AVA whose ids are neither AVA's nor 1..N (configs/custom/vit_tiny_custom5.py)."""
import csv
import json
import os
from pathlib import Path

import pytest
import torch

from videomae_det.datasets.mini_ava import generate_mini_ava, label_map
from videomae_det.visualization.synthetic import write_synthetic_video

REPO = Path(__file__).resolve().parents[2]
CUSTOM_CONFIG = str(REPO / 'configs' / 'custom' / 'vit_tiny_custom5.py')


@pytest.fixture(scope='module', params=['custom5', 'custom100'])
def custom_data(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    generate_mini_ava(root, seed=0, size='tiny', workers=1, class_set=request.param)
    return request.param, root


@pytest.fixture
def custom_workspace(tmp_path, custom_data, monkeypatch):
    """cwd whose data/mini_custom5 (the config's data_root) is the generated dataset."""
    class_set, root = custom_data
    (tmp_path / 'data').mkdir()
    os.symlink(root, tmp_path / 'data' / 'mini_custom5')
    monkeypatch.chdir(tmp_path)
    return class_set, tmp_path


@pytest.mark.slow
def test_train_evaluate_infer_and_export(custom_workspace, tiny_options, tool, capsys):
    class_set, work = custom_workspace
    names = label_map(class_set)
    ids = sorted(names)
    assert tool('train').main([CUSTOM_CONFIG, '--work-dir', str(work / 'w'), '--cfg-options',
                               *tiny_options, 'train_cfg.max_epochs=1']) == 0
    ckpt = work / 'w' / 'epoch_1.pth'
    saved = torch.load(ckpt, weights_only=True)
    # the head is as wide as the label map, and the checkpoint says which id each row is
    assert saved['state_dict']['roi_head.fc_cls.weight'].shape[0] == len(ids)
    assert list(saved['meta']['dataset_meta']['action_ids']) == ids
    assert list(saved['meta']['dataset_meta']['classes']) == [names[i] for i in ids]

    out = work / 'val.csv'
    capsys.readouterr()
    assert tool('test').main([CUSTOM_CONFIG, str(ckpt), '--out', str(out), '--work-dir',
                              str(work / 't'), '--cfg-options', *tiny_options]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.rindex('AP (%)'):]
    scored = [int(line.split()[0]) for line in table.splitlines()
              if line.strip() and line.split()[0].isdigit()]
    assert scored and set(scored) <= set(ids)  # per-class rows of the custom ids ...
    assert any(names[c] in table for c in scored)  # ... with their names
    assert 'pose' not in table  # AVA's category means do not apply
    with open(out, newline='') as f:
        labels = {int(r[6]) for r in csv.reader(f)}
    assert labels == set(ids)  # every class of the map, no AVA id

    # the trained (tiny) model's own config, as the checkpoint keeps it
    trained_cfg = work / 'trained_cfg.py'
    trained_cfg.write_text(saved['meta']['cfg'])
    video = work / 'clip.mp4'
    write_synthetic_video(video, num_frames=30, fps=25, size=(160, 120), num_people=2)
    results = work / 'r.json'
    infer_csv = work / 'r.csv'
    assert tool('infer').main([str(video), '--checkpoint', str(ckpt), '--config', str(trained_cfg),
                               '--json', str(results), '--csv', str(infer_csv), '--out',
                               str(work / 'drawn.mp4'), '--threshold', '0.0']) == 0
    data = json.loads(results.read_text())
    assert data['action_names'] == {str(i): names[i] for i in ids}
    assert data['score_ids'] == ids
    people = [p for k in data['keyframes'] for p in k['people']]
    for p in people:
        assert len(p['scores']) == len(ids)
        assert {a['id'] for a in p['actions']} <= set(ids)
        assert all(a['name'] == names[a['id']] for a in p['actions'])
    if people:
        with open(infer_csv, newline='') as f:
            assert {int(r[6]) for r in csv.reader(f)} == set(ids)

    onnx = pytest.importorskip('onnx')
    exported = work / 'det.onnx'
    assert tool('export_onnx').main([str(trained_cfg), str(ckpt), str(exported)]) == 0
    graph = onnx.load(str(exported))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta['action_ids']) == ids
    assert json.loads(meta['action_names']) == [names[i] for i in ids]
    dims = graph.graph.output[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == len(ids)


def test_a_dataset_and_model_with_different_classes_stop_before_training(
        custom_workspace, tool, capsys):
    class_set, work = custom_workspace
    code = tool('train').main([CUSTOM_CONFIG, '--work-dir', str(work / 'w'), '--cfg-options',
                               'model.label_map=None'])
    assert code == 2
    err = capsys.readouterr().err
    assert 'train_dataloader.dataset.label_map' in err and 'model.label_map' in err
    assert not (work / 'w').exists()


def test_a_checkpoint_carries_its_classes_to_another_machine(tmp_path):
    # inference on a machine without the training data: the config's label map file is
    # absent, the checkpoint's dataset_meta (saved by training) names the head's classes
    from mmengine.config import Config

    from videomae_det.action_classes import ActionClasses
    from videomae_det.apis import init_detector
    from videomae_det.registry import MODELS
    from videomae_det.utils.atomic import atomic_torch_save
    cfg = Config.fromfile(CUSTOM_CONFIG)
    cfg.model.backbone.update(embed_dim=24, depth=1, num_heads=2)
    classes = ActionClasses(label_map('custom5'))
    model_cfg = cfg.model.to_dict()
    model_cfg['label_map'] = classes
    model = MODELS.build(model_cfg)
    ckpt = tmp_path / 'det.pth'
    atomic_torch_save(dict(state_dict=model.state_dict(),
                           meta=dict(cfg=cfg.pretty_text, dataset_meta=classes.to_meta())),
                      ckpt)
    assert not Path(cfg.model.label_map).exists()
    loaded = init_detector(cfg, ckpt)
    assert loaded.action_classes == classes
    assert loaded.roi_head.fc_cls.out_features == 5
