"""The synthetic open-vocabulary world (class-specific looks + a CLIP pretrained here)."""
from .clip_pretraining import (PRETRAIN_TEMPLATES, pretrain_clip, render_crops, to_clip_input,
                               zero_shot_accuracy)
from .world import (CLIP_FILE, MANIFEST, WorldSettings, build_synthetic_world, heldout_zero_shot,
                    load_world_manifest)

__all__ = [
    'CLIP_FILE', 'MANIFEST', 'PRETRAIN_TEMPLATES', 'WorldSettings', 'build_synthetic_world',
    'heldout_zero_shot', 'load_world_manifest', 'pretrain_clip', 'render_crops',
    'to_clip_input', 'zero_shot_accuracy'
]
