"""The frozen text tower of an open_clip CLIP, with prompt templates and an embedding cache."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.model import _build_text_tower
from torch import Tensor, nn

from ...utils.class_name_rules import check_vocabulary
from ..utils.frozen_file_weights import FrozenFileWeightsMixin
from ..utils.open_clip_utils import (freeze, get_clip_config, load_clip_state_dict,
                                     load_weights_strict, warn_random_weights)
from .prompt_templates import get_templates


@MODELS.register_module()
class OpenCLIPTextEncoder(FrozenFileWeightsMixin, BaseModule):
    """Frozen CLIP text tower that turns a vocabulary into class embeddings.

    A class embedding is the mean of the L2-normalised embeddings of the class name filled into
    every template of the set, L2-normalised again (OVCoser's recipe). Embeddings are cached per
    (vocabulary, template set) and device, so a fixed vocabulary is encoded once, not every
    iteration. Loading new weights clears the cache. With a ``checkpoint``, its weights are left
    out of the checkpoints training writes and read from that file again when one is loaded.

    Args:
        model_name (str): open_clip model name (same CLIP as the backbone).
        checkpoint (str, optional): Local open_clip checkpoint; the non-``visual.*`` keys are
            loaded. None keeps random weights with a warning.
        templates (str | Sequence[str]): Template set: ``'camoprompts'`` (6, default),
            ``'imagenet'`` (80), ``'vild'`` (14), ``'plain'``, or explicit templates.
        init_cfg (dict, optional): Unused; weights come from ``checkpoint``.
    """

    def __init__(self,
                 model_name: str = 'convnext_large_d_320',
                 checkpoint: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'camoprompts',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(model_name)
        self.model_name = model_name
        self.checkpoint = checkpoint
        self.templates = get_templates(templates)
        self.text = _build_text_tower(cfg['embed_dim'], cfg['text_cfg'],
                                      quick_gelu=cfg.get('quick_gelu', False))
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        self.embed_dim = cfg['embed_dim']
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self._cache: Dict[tuple, Tensor] = {}
        freeze(self)

    def set_templates(self, templates: Union[str, Sequence[str]]) -> None:
        """Use another template set from now on (cached embeddings are keyed by templates).

        Args:
            templates (str | Sequence[str]): A set name or explicit templates, as in ``__init__``.
        """
        self.templates = get_templates(templates)

    def train(self, mode: bool = True):
        """Always stay in eval mode (frozen)."""
        return super().train(False)

    def init_weights(self) -> None:
        """Load the text tower and ``logit_scale`` from the local open_clip checkpoint."""
        self._cache.clear()
        if self.checkpoint is None:
            warn_random_weights(f'OpenCLIPTextEncoder({self.model_name})')
            return
        full = load_clip_state_dict(self.checkpoint, self.model_name)
        if 'logit_scale' not in full:
            raise RuntimeError(f'{self.checkpoint!r} has no "logit_scale": not an open_clip CLIP '
                               'checkpoint.')
        text = {k: v for k, v in full.items()
                if not k.startswith('visual.') and k not in ('logit_scale', 'logit_bias')}
        load_weights_strict(self.text, text, f'{self.checkpoint} (text tower)',
                            ignore_missing=('attn_mask', ))
        with torch.no_grad():
            self.logit_scale.copy_(full['logit_scale'].reshape(()))
        self.mark_frozen_weights_loaded(self.checkpoint)

    def frozen_weight_file(self) -> Optional[str]:
        """The open_clip checkpoint (None: random weights)."""
        return self.checkpoint

    def frozen_state_keys(self) -> List[str]:
        """Every key (text tower and ``logit_scale``): the encoder is always frozen."""
        return list(BaseModule.state_dict(self))

    def load_frozen_weights(self) -> None:
        self.init_weights()

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        # .to()/.cuda()/.half() make cached embeddings stale: drop them rather than keep copies
        # for devices the model has left.
        self._cache.clear()
        return super()._apply(fn, *args, **kwargs)

    @torch.no_grad()
    def encode_uncached(self, vocabulary: Sequence[str],
                        templates: Optional[Sequence[str]] = None) -> Tensor:
        """Encode a vocabulary without the cache.

        Args:
            vocabulary (Sequence[str]): N class names.
            templates (Sequence[str], optional): Templates; default: the configured set.

        Returns:
            Tensor: N x embed_dim, float32, L2-normalised.
        """
        vocabulary = check_vocabulary(vocabulary)
        templates = get_templates(templates) if templates is not None else self.templates
        device = self.logit_scale.device
        prompts = [t.format(name) for name in vocabulary for t in templates]
        tokens = self.tokenizer(prompts).to(device)  # (N*T) x context_length
        with torch.autocast(device_type=device.type, enabled=False):
            emb = self.text(tokens).float()  # (N*T) x D
        emb = F.normalize(emb, dim=-1).view(len(vocabulary), len(templates), -1)
        return F.normalize(emb.mean(dim=1), dim=-1)

    def forward(self, vocabulary: Sequence[str],
                templates: Optional[Sequence[str]] = None) -> Tensor:
        """Class embeddings of a vocabulary, from the cache when possible.

        Args:
            vocabulary (Sequence[str]): N class names.
            templates (Sequence[str], optional): Templates; default: the configured set.

        Returns:
            Tensor: N x embed_dim, float32, L2-normalised, no grad.
        """
        vocabulary = check_vocabulary(vocabulary)
        templates = get_templates(templates) if templates is not None else self.templates
        device = self.logit_scale.device
        key = (vocabulary, templates, str(device))
        if key not in self._cache:
            self._cache[key] = self.encode_uncached(vocabulary, templates)
        return self._cache[key]
