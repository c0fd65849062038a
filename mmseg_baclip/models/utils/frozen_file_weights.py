"""Modules whose frozen weights come from a local file, so checkpoints can leave them out."""
from typing import List, Optional

import torch
from torch import nn

from ...utils.file_fingerprint import FileStamp

__all__ = ['FrozenFileWeightsMixin']


class FrozenFileWeightsMixin:
    """Declares which of a module's weights are read from a file and never trained.

    The frozen CLIP towers and SAM's prompt encoder hold about 97% of BaCLIP's weights (1.4 GB
    of the paper config's checkpoint) and are bit for bit what their files hold, so a checkpoint
    need not store them (:mod:`mmseg_baclip.models.utils.frozen_weights`). A module taking part
    mixes this class in before its ``nn.Module`` base and implements:

    - :meth:`frozen_weight_file`: the file, or None when the weights are not from a file
      (random weights, or the module is trained);
    - :meth:`frozen_state_keys`: its state-dict keys read from that file and never changed by
      training;
    - :meth:`load_frozen_weights`: read them (``init_weights`` without re-initialising trained
      layers) and call :meth:`mark_frozen_weights_loaded`.

    :attr:`frozen_weights_loaded_from` records the version of the file the frozen weights in
    memory came from. Loading a state dict whose values differ from those clears it, so a
    model whose frozen weights came from some other checkpoint keeps them in the checkpoints it
    writes.
    """

    #: The file version the frozen weights in memory were read from (None: not from a file).
    frozen_weights_loaded_from: Optional[FileStamp] = None

    def frozen_weight_file(self) -> Optional[str]:
        """str | None: The file the frozen weights are read from (None: no such file)."""
        raise NotImplementedError

    def frozen_state_keys(self) -> List[str]:
        """list[str]: State-dict keys (relative to this module) read from the file, never
        trained."""
        raise NotImplementedError

    def load_frozen_weights(self) -> None:
        """Read the frozen weights from :meth:`frozen_weight_file`."""
        raise NotImplementedError

    def mark_frozen_weights_loaded(self, path: str) -> None:
        """Record that the frozen weights in memory are those of ``path`` as it is now."""
        self.frozen_weights_loaded_from = FileStamp.of(path)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if self.frozen_weights_loaded_from is not None and not self._same_frozen_values(
                state_dict, prefix):
            self.frozen_weights_loaded_from = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _same_frozen_values(self, state_dict: dict, prefix: str) -> bool:
        """Whether ``state_dict`` brings the frozen values already in memory (or none)."""
        own = nn.Module.state_dict(self)
        for key in self.frozen_state_keys():
            value, current = state_dict.get(prefix + key), own.get(key)
            if value is None or current is None or value is current:
                continue
            if not isinstance(value, torch.Tensor) or value.shape != current.shape:
                return False
            if value.data_ptr() == current.data_ptr() and value.device == current.device:
                continue
            if not torch.equal(value.to(current.device, current.dtype), current):
                return False
        return True
