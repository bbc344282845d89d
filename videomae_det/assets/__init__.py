"""Files shipped with the package."""
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
# The official 60-class AVA label map (same classes for v2.1 and v2.2).
AVA_LABEL_MAP = ASSETS_DIR / 'ava_action_list_v2.2_for_activitynet_2019.pbtxt'
