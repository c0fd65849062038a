"""Random number generator states in checkpoints, so a resumed run continues exactly."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import HOOKS

from ..checkpoint_contents import from_weights_only, to_weights_only

RNG_KEY = 'rng_state'


def get_rng_state() -> dict:
    """The states of Python's, numpy's and torch's (CPU and initialised CUDA) global RNGs."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, parts=('python', 'numpy', 'torch', 'cuda')) -> None:
    """Restore the ``parts`` of a :func:`get_rng_state` result (missing parts are skipped)."""
    if 'python' in parts and state.get('python') is not None:
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
    if 'numpy' in parts and state.get('numpy') is not None:
        np.random.set_state(tuple(state['numpy']))
    if 'torch' in parts and state.get('torch') is not None:
        torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if ('cuda' in parts and cuda and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()):
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the global RNG states in every checkpoint and restore them on ``--resume``.

    mmengine re-seeds a resumed run from ``randomness.seed`` only, so data augmentation running
    in the main process (``num_workers=0``) and any random op of the model draw other numbers
    than the uninterrupted run would have. With this hook:

    - epoch-based loops restore all states (Python, numpy, torch, CUDA) at the start of the
      first epoch after the resume;
    - ``IterBasedTrainLoop`` replays the data loader up to the resumed iteration, which redraws
      the augmentation numbers by itself, so only the torch/CUDA states are restored, at the
      first iteration after the resume;
    - validation leaves the training RNG stream untouched (the states are saved before it and
      restored after it), so how often one validates does not change the training.

    Limits: data-loader worker processes have their own RNGs, which mmengine seeds from
    ``randomness.seed`` when they start: with ``persistent_workers=True`` they are not restored
    on resume (use ``persistent_workers=False`` or ``num_workers=0`` when a run must resume
    bit-exactly). In distributed training the checkpoint holds rank 0's states.
    Loading a checkpoint with ``load_from`` (not resuming) restores nothing.
    """

    priority = 'NORMAL'

    def __init__(self):
        self._resumed: Optional[dict] = None
        self._resumed_iter = -1
        self._before_val: Optional[dict] = None

    # ---------------------------------------------------------------------------- checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = to_weights_only(get_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(RNG_KEY) if isinstance(checkpoint, dict) else None
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        if state is None or not isinstance(meta, dict):
            self._resumed = None
            return
        self._resumed = from_weights_only(state)
        self._resumed_iter = int(meta.get('iter', -1))

    def _take(self, runner) -> Optional[dict]:
        """The stored states if this is the first step of a resumed run."""
        if self._resumed is None or runner.iter != self._resumed_iter or runner.iter <= 0:
            return None
        state, self._resumed = self._resumed, None
        return state

    # ---------------------------------------------------------------------------- restore
    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        state = self._take(runner)
        if state is not None:
            set_rng_state(state)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        state = self._take(runner)
        if state is not None:
            set_rng_state(state, parts=('torch', 'cuda'))

    # ---------------------------------------------------------------------------- validation
    def before_val(self, runner) -> None:
        self._before_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_rng_state(self._before_val)
            self._before_val = None
