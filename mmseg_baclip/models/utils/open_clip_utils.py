"""Helpers shared by the open_clip image and text towers: model configs and weight files.

Nothing here downloads anything: weights come from local files only.
"""
import os.path as osp
import warnings
from pathlib import Path
from typing import Dict, Iterable, Optional

import open_clip
import torch
from open_clip.factory import load_state_dict as open_clip_load_state_dict
from torch import nn

BUNDLED_CONFIG_DIR = Path(__file__).resolve().parent.parent / 'clip_model_configs'

# Where the weights of the paper's CLIP come from (for error messages only).
KNOWN_CHECKPOINTS = {
    'convnext_large_d_320':
    'open_clip_pytorch_model.bin from the Hugging Face repository '
    '"laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup" '
    '(open_clip tag laion2b_s29b_b131k_ft_soup)',
}

_registered = False


def register_bundled_clip_configs() -> None:
    """Register the model configs shipped with mmseg_baclip (e.g. the tiny test CLIP)."""
    global _registered
    if not _registered:
        open_clip.add_model_config(BUNDLED_CONFIG_DIR)
        _registered = True


def get_clip_config(model_name: str) -> dict:
    """Return open_clip's model config for ``model_name`` with a clear error if unknown.

    Args:
        model_name (str): An open_clip model name, e.g. ``'convnext_large_d_320'`` or the
            bundled ``'convnext_atto_baclip_tiny'``.

    Returns:
        dict: The config with keys ``embed_dim``, ``vision_cfg``, ``text_cfg`` (and maybe
        ``quick_gelu``).
    """
    register_bundled_clip_configs()
    if model_name.startswith(('hf-hub:', 'local-dir:')):
        raise ValueError(f'CLIP model name {model_name!r}: hub and directory names are not '
                         'supported; give an open_clip model name and a local checkpoint file.')
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise KeyError(f'Unknown open_clip model name {model_name!r}. Known ConvNeXt models: '
                       f'{[m for m in open_clip.list_models() if "convnext" in m]}. A custom '
                       'model config JSON can be registered with open_clip.add_model_config().')
    return cfg


def load_clip_state_dict(checkpoint: str, model_name: str) -> Dict[str, torch.Tensor]:
    """Load an open_clip checkpoint file with ``weights_only=True``.

    Args:
        checkpoint (str): Local path of e.g. ``open_clip_pytorch_model.bin``.
        model_name (str): The model it should belong to (for the error message).

    Returns:
        dict[str, Tensor]: The full CLIP state dict (``visual.*`` and text keys).
    """
    if not osp.isfile(checkpoint):
        hint = KNOWN_CHECKPOINTS.get(model_name, f'the open_clip checkpoint of {model_name}')
        raise FileNotFoundError(
            f'CLIP checkpoint file not found: {checkpoint!r}. Download {hint} and put it at this '
            'path, or set the path in your config (nothing is downloaded at run time).')
    state_dict = open_clip_load_state_dict(checkpoint, weights_only=True)
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError(f'{checkpoint!r} does not hold an open_clip state dict.')
    return state_dict


def load_weights_strict(module: nn.Module, state_dict: Dict[str, torch.Tensor], source: str,
                        ignore_missing: Iterable[str] = ()) -> None:
    """Copy ``state_dict`` into ``module`` and fail loudly on any mismatch.

    Args:
        module (nn.Module): Destination.
        state_dict (dict): Keys relative to ``module``.
        source (str): Description of where the weights came from, for error messages.
        ignore_missing (Iterable[str]): Keys of ``module`` allowed to be absent.

    Raises:
        RuntimeError: On missing or unexpected keys or shape mismatches; the message names the
            first offending keys, so a checkpoint of the wrong architecture is obvious.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict and k not in set(ignore_missing)]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items() if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f'{len(mismatched)} shape mismatches, first: {mismatched[:5]}')
        if missing:
            parts.append(f'{len(missing)} missing keys, first: {missing[:5]}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys, first: {unexpected[:5]}')
        raise RuntimeError(f'Weights from {source} do not fit {type(module).__name__} '
                           f'(wrong architecture or model name?): ' + '; '.join(parts))
    module.load_state_dict(state_dict, strict=False)


def freeze(module: nn.Module) -> None:
    """Set ``requires_grad=False`` on every parameter and put the module in eval mode."""
    for param in module.parameters():
        param.requires_grad_(False)
    module.eval()


def warn_random_weights(what: str) -> None:
    warnings.warn(f'{what}: no checkpoint given, the weights stay RANDOM. Fine for tests and the '
                  'synthetic demo; set the checkpoint path in the config for real use.')
