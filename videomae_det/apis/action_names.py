"""Names of the 80 AVA v2.2 actions (kept here for existing imports; the class-set logic
lives in :mod:`videomae_det.action_classes`)."""
from videomae_det.action_classes import AVA_ACTION_NAMES

NUM_ACTIONS = len(AVA_ACTION_NAMES)  # AVA's head width; other class sets have their own

__all__ = ['AVA_ACTION_NAMES', 'NUM_ACTIONS']
