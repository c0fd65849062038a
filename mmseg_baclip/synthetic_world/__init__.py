"""The synthetic open-vocabulary world, all in one package.

* :mod:`.appearance`: the class-specific looks (colour, pattern, shape), derived from the name;
* :mod:`.ovcamo_tree`: the scenes and the OVCamo-layout tree writer (:func:`make_synthetic_ovcamo`);
* :mod:`.clip_pretraining`: a tiny CLIP pretrained here on pictures of all 75 classes;
* :mod:`.world`: both together, cached under one folder (:func:`build_synthetic_world`).
"""
from .appearance import PATTERN_KINDS, ClassAppearance, class_appearance
from .clip_pretraining import (PRETRAIN_TEMPLATES, pretrain_clip, render_crops, to_clip_input,
                               zero_shot_accuracy)
from .ovcamo_tree import make_synthetic_ovcamo, render_object_crop, render_sample
from .world import (CLIP_FILE, MANIFEST, WorldSettings, build_synthetic_world, heldout_zero_shot,
                    load_world_manifest)

__all__ = [
    'CLIP_FILE', 'MANIFEST', 'PATTERN_KINDS', 'PRETRAIN_TEMPLATES', 'ClassAppearance',
    'WorldSettings', 'build_synthetic_world', 'class_appearance', 'heldout_zero_shot',
    'load_world_manifest', 'make_synthetic_ovcamo', 'pretrain_clip', 'render_crops',
    'render_object_crop', 'render_sample', 'to_clip_input', 'zero_shot_accuracy'
]
