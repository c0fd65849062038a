"""Checkpoints without the frozen CLIP / SAM weights that are read from their files."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..frozen_weights import (FROZEN_WEIGHTS_KEY, frozen_weights_record, restore_frozen_weights,
                              strip_frozen_weights)


def checkpoint_name(runner) -> str:
    """The file the Runner loads (``load_from`` / ``--resume PATH``), for messages."""
    cfg = getattr(runner, 'cfg', None)
    name = (cfg.get('load_from') if cfg is not None else None) or getattr(runner, '_load_from',
                                                                          None)
    return f'the checkpoint {name}' if name else 'the checkpoint'


@HOOKS.register_module()
class FrozenWeightsCheckpointHook(Hook):
    """Write only what training changes; read the frozen weights from their files on load.

    Every checkpoint of the paper config would otherwise hold the frozen CLIP ConvNeXt-L and
    SAM prompt encoder (1.4 GB, of which about 40 MB is trained). Before a checkpoint is
    written, the frozen weights that their modules read from a file are removed from its state
    dict and ``meta['frozen_weights']`` records, per module, the file, its sha256 and size and
    how many tensors were left out (:func:`~mmseg_baclip.engine.frozen_weights.
    strip_frozen_weights`). Trained layers, their buffers (BN statistics), the optimizer state
    and everything else stay. After a checkpoint is read (``load_from``, ``--resume``,
    ``tools/test.py``) and before it is compared and copied into the model, the left-out
    weights are put back, read from the files the config names; a file with another sha256 is
    an error naming both files (:func:`~mmseg_baclip.engine.frozen_weights.
    restore_frozen_weights`). Checkpoints that hold every weight load as before.

    Args:
        slim (bool): Leave the frozen weights out of the checkpoints written. False writes
            them too (full-size checkpoints, as before); loading works either way.
            Default: True.
    """

    priority = 'LOW'  # before WeightsOnlyCheckpointHook and StrictCheckpointHook (VERY_LOW)

    def __init__(self, slim: bool = True):
        self.slim = slim

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.slim or not isinstance(checkpoint.get('state_dict'), dict):
            return
        record = strip_frozen_weights(self._model(runner), checkpoint['state_dict'])
        if record:
            checkpoint.setdefault('meta', {})[FROZEN_WEIGHTS_KEY] = record

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        record = frozen_weights_record(checkpoint)
        if record:
            restore_frozen_weights(self._model(runner), checkpoint.get('state_dict', checkpoint),
                                   record, checkpoint_name(runner))
