from .baclip_only import check_baclip_only
from .open_clip_utils import (freeze, get_clip_config, load_clip_state_dict, load_weights_strict,
                              register_bundled_clip_configs)

__all__ = ['check_baclip_only', 'freeze', 'get_clip_config', 'load_clip_state_dict',
           'load_weights_strict', 'register_bundled_clip_configs']
