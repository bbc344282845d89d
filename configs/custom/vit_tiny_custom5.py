# Your own classes: the mini-AVA model on a dataset with a class set unlike AVA's — five
# classes with ids 3, 17, 42, 108, 250 (docs/custom_dataset.md). The label map decides
# everything class-related: the head has 5 outputs, labels/metric/results/names follow it.
#
#   python tools/data/make_mini_ava.py data/mini_custom5 --classes custom5
#   python tools/train.py configs/custom/vit_tiny_custom5.py
#   python tools/test.py configs/custom/vit_tiny_custom5.py work_dirs/vit_tiny_custom5/best_*.pth
#
# For your data: point data_root and label_map at it. To start from a detector trained on
# another class set (e.g. AVA), set load_from to its checkpoint: the head rows of the
# classes both share are copied (model.warm_start, docs/custom_dataset.md).
from mmengine.config import read_base

with read_base():
    from ..mini_ava.vit_tiny import *  # noqa: F401,F403

data_root = 'data/mini_custom5'
ann_root = f'{data_root}/annotations'
label_map = f'{ann_root}/mini_ava_action_list.pbtxt'  # item { name: "stroll" id: 3 } ...

model.update(label_map=label_map)
for loader in (train_dataloader, val_dataloader):
    loader.dataset.update(data_root=data_root, label_map=label_map)
test_dataloader = val_dataloader
val_evaluator.update(ann_file=f'{ann_root}/ava_val_v2.2.csv', label_map_file=label_map,
                     exclude_file=f'{ann_root}/ava_val_excluded_timestamps_v2.2.csv')
test_evaluator = val_evaluator
