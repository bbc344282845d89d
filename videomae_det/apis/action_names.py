"""Names of the 80 AVA v2.2 actions.

Ids are the raw AVA action ids 1..80; a model's score column ``i`` is action id ``i + 1``
(see :class:`~videomae_det.structures.ActionDataSample`). The official evaluation label map
(``videomae_det.assets.AVA_LABEL_MAP``) lists only 60 of the 80 ids; inference reports the
ids of the label map a config names (read with
``videomae_det.formats.read_label_map``), or all 80 when it names none.
"""
from typing import Dict

NUM_ACTIONS = 80

# AVA v2.2 action list (ava_action_list_v2.2.pbtxt): id -> name. Ids 1-14 are pose
# actions, 15-63 person-object interactions, 64-80 person-person interactions.
AVA_ACTION_NAMES: Dict[int, str] = {
    1: 'bend/bow (at the waist)', 2: 'crawl', 3: 'crouch/kneel', 4: 'dance', 5: 'fall down',
    6: 'get up', 7: 'jump/leap', 8: 'lie/sleep', 9: 'martial art', 10: 'run/jog', 11: 'sit',
    12: 'stand', 13: 'swim', 14: 'walk', 15: 'answer phone', 16: 'brush teeth',
    17: 'carry/hold (an object)', 18: 'catch (an object)', 19: 'chop',
    20: 'climb (e.g., a mountain)', 21: 'clink glass', 22: 'close (e.g., a door, a box)',
    23: 'cook', 24: 'cut', 25: 'dig', 26: 'dress/put on clothing', 27: 'drink',
    28: 'drive (e.g., a car, a truck)', 29: 'eat', 30: 'enter', 31: 'exit', 32: 'extract',
    33: 'fishing', 34: 'hit (an object)', 35: 'kick (an object)', 36: 'lift/pick up',
    37: 'listen (e.g., to music)', 38: 'open (e.g., a window, a car door)', 39: 'paint',
    40: 'play board game', 41: 'play musical instrument', 42: 'play with pets',
    43: 'point to (an object)', 44: 'press', 45: 'pull (an object)', 46: 'push (an object)',
    47: 'put down', 48: 'read', 49: 'ride (e.g., a bike, a car, a horse)', 50: 'row boat',
    51: 'sail boat', 52: 'shoot', 53: 'shovel', 54: 'smoke', 55: 'stir', 56: 'take a photo',
    57: 'text on/look at a cellphone', 58: 'throw', 59: 'touch (an object)',
    60: 'turn (e.g., a screwdriver)', 61: 'watch (e.g., TV)', 62: 'work on a computer',
    63: 'write', 64: 'fight/hit (a person)', 65: 'give/serve (an object) to (a person)',
    66: 'grab (a person)', 67: 'hand clap', 68: 'hand shake', 69: 'hand wave',
    70: 'hug (a person)', 71: 'kick (a person)', 72: 'kiss (a person)', 73: 'lift (a person)',
    74: 'listen to (a person)', 75: 'play with kids', 76: 'push (another person)',
    77: 'sing to (e.g., self, a person, a group)', 78: 'take (an object) from (a person)',
    79: 'talk to (e.g., self, a person, a group)', 80: 'watch (a person)',
}
