"""The synthetic open-vocabulary world, all in one package.

* :mod:`.appearance`: the class-specific looks (colour, pattern, shape), derived from the name;
* :mod:`.ovcamo_tree`: the scenes and the OVCamo-layout tree writer (:func:`make_synthetic_ovcamo`);
* :mod:`.pictures`: pictures of every class with their masks, from their own seed streams;
* :mod:`.clip_pretraining`: a tiny CLIP pretrained here on region-caption pairs of all 75 classes;
* :mod:`.sam_pretraining`: a tiny SAM pretrained here on box- and point-prompted segmentation;
* :mod:`.world`: all of it, cached under one folder (:func:`build_synthetic_world`).
"""
from .appearance import PATTERN_KINDS, ClassAppearance, class_appearance
from .clip_pretraining import (PRETRAIN_TEMPLATES, pretrain_clip, region_embedding,
                               to_clip_input, zero_shot_accuracy)
from .ovcamo_tree import make_synthetic_ovcamo, render_sample
from .pictures import HELDOUT_STREAM, PRETRAIN_STREAM, render_pictures
from .sam_pretraining import TinySAMConfig, box_prompted_iou, build_tiny_sam, pretrain_sam
from .world import (CLIP_FILE, MANIFEST, SAM_FILE, WorldSettings, build_synthetic_world,
                    heldout_box_iou, heldout_zero_shot, load_world_manifest)

__all__ = [
    'CLIP_FILE', 'HELDOUT_STREAM', 'MANIFEST', 'PATTERN_KINDS', 'PRETRAIN_STREAM',
    'PRETRAIN_TEMPLATES', 'SAM_FILE', 'ClassAppearance', 'TinySAMConfig', 'WorldSettings',
    'box_prompted_iou', 'build_synthetic_world', 'build_tiny_sam', 'class_appearance',
    'heldout_box_iou', 'heldout_zero_shot', 'load_world_manifest', 'make_synthetic_ovcamo',
    'pretrain_clip', 'pretrain_sam', 'region_embedding', 'render_pictures', 'render_sample',
    'to_clip_input', 'zero_shot_accuracy'
]
