"""The frozen text tower of an open_clip CLIP, with prompt templates and an embedding cache."""
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.model import _build_text_tower
from torch import Tensor, nn

from ...utils.class_name_rules import check_vocabulary
from ...utils.file_fingerprint import FileStamp, file_sha256
from ..utils.frozen_file_weights import FrozenFileWeightsMixin
from ..utils.open_clip_utils import (freeze, get_clip_config, load_clip_state_dict,
                                     load_weights_strict, warn_random_weights)
from .embedding_disk_cache import (EmbeddingEntry, cache_enabled, entry_path, load_embeddings,
                                   save_embeddings)
from .prompt_templates import get_templates


@MODELS.register_module()
class OpenCLIPTextEncoder(FrozenFileWeightsMixin, BaseModule):
    """Frozen CLIP text tower that turns a vocabulary into class embeddings.

    A class embedding is the mean of the L2-normalised embeddings of the class name filled into
    every template of the set, L2-normalised again (OVCoser's recipe). Embeddings are cached per
    (vocabulary, template set) and device, so a fixed vocabulary is encoded once, not every
    iteration. Loading new weights clears the cache. While the text tower holds exactly the
    weights of ``checkpoint`` (read by ``init_weights``, or by a slim checkpoint's loading, and
    not overwritten since), embeddings are also kept on disk
    (:mod:`~mmseg_baclip.models.text_encoders.embedding_disk_cache`, keyed by the file's
    sha256, the model name, the templates and the names), so a new process reads them instead
    of encoding again. With a ``checkpoint``, its weights are left out of the checkpoints
    training writes and read from that file again when one is loaded.

    Args:
        model_name (str): open_clip model name (same CLIP as the backbone).
        checkpoint (str, optional): Local open_clip checkpoint; the non-``visual.*`` keys are
            loaded. None keeps random weights with a warning.
        templates (str | Sequence[str]): Template set: ``'camoprompts'`` (6, default),
            ``'imagenet'`` (80), ``'vild'`` (14), ``'plain'``, or explicit templates.
        disk_cache (bool): Keep embeddings on disk across processes (also needs
            ``BACLIP_TEXT_CACHE`` not ``0``). Default: True.
        init_cfg (dict, optional): Unused; weights come from ``checkpoint``.
    """

    def __init__(self,
                 model_name: str = 'convnext_large_d_320',
                 checkpoint: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'camoprompts',
                 disk_cache: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(model_name)
        self.model_name = model_name
        self.checkpoint = checkpoint
        self.templates = get_templates(templates)
        self.disk_cache = disk_cache
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

    def disk_cache_entry(self, vocabulary: Sequence[str],
                         templates: Sequence[str]) -> Optional[EmbeddingEntry]:
        """What identifies these embeddings on disk; None where the disk cache does not apply.

        It applies when it is on (``disk_cache`` and ``BACLIP_TEXT_CACHE``) and the text tower
        holds exactly the weights of ``checkpoint`` as the file is now: read from it
        (``init_weights`` / ``load_frozen_weights``), and no state dict with other values loaded
        since. Random weights, or weights from a checkpoint that differs from the file, never
        use it.

        Args:
            vocabulary (Sequence[str]): N class names (checked).
            templates (Sequence[str]): The templates.

        Returns:
            EmbeddingEntry | None: Keyed by the file's sha256 (read once per process).
        """
        if not self.disk_cache or self.checkpoint is None or not cache_enabled():
            return None
        loaded = self.frozen_weights_loaded_from
        try:
            if loaded is None or FileStamp.of(self.checkpoint) != loaded:
                return None
            sha256 = file_sha256(self.checkpoint)
        except OSError:  # the file is gone: the weights in memory can no longer be named
            return None
        return EmbeddingEntry(sha256, self.model_name, tuple(templates), tuple(vocabulary),
                              str(next(self.text.parameters()).dtype),
                              open_clip.__version__)

    def forward(self, vocabulary: Sequence[str],
                templates: Optional[Sequence[str]] = None) -> Tensor:
        """Class embeddings of a vocabulary, from the cache (memory, then disk) when possible.

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
            self._cache[key] = self._read_or_encode(vocabulary, templates).to(device)
        return self._cache[key]

    def _read_or_encode(self, vocabulary: tuple, templates: tuple) -> Tensor:
        """N x D embeddings from the disk cache, else encoded (and stored when it applies)."""
        start = time.perf_counter()
        entry = self.disk_cache_entry(vocabulary, templates)  # hashes the file once a process
        if entry is not None:
            stored = load_embeddings(entry, self.embed_dim)
            if stored is not None:
                print_log(f'{len(vocabulary)} class-name embeddings read from the cache '
                          f'{entry_path(entry)} in {time.perf_counter() - start:.1f} s',
                          logger='current')
                return stored
        start = time.perf_counter()
        embeddings = self.encode_uncached(vocabulary, templates)
        seconds = time.perf_counter() - start
        saved = save_embeddings(entry, embeddings) if entry is not None else None
        print_log(f'Encoded {len(vocabulary)} class names x {len(templates)} templates in '
                  f'{seconds:.1f} s' + (f', cached in {saved}' if saved else ''),
                  logger='current')
        return embeddings
