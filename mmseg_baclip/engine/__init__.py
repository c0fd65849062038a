"""Training and testing machinery: the Runner that owns checkpoints, its helpers and hooks.

Where each checkpoint protection lives:

* :mod:`.runner` (:class:`BaCLIPRunner`): load, resume and save, using
* :mod:`.checkpoint_reading`: ``torch.load(weights_only=True)`` on every scheme;
* :mod:`.checkpoint_files`: is a file complete, which checkpoint ``--resume`` continues from;
* :mod:`.checkpoint_contents`: what is written (slim, weights-only-safe) and what is checked on
  load (keys, shapes, NaN/Inf, frozen-weight files);
* :mod:`.finite_weights`: the NaN/Inf check; :mod:`.work_dir_lock`: one training per work dir;
* hooks named in the configs: :class:`AtomicCheckpointHook` (retention after success),
  :class:`RNGStateHook` (exact resume), :class:`NonFiniteLossHook`, :class:`RankZeroLoggerHook`.
"""
from .checkpoint_contents import (CheckpointMismatchError, check_loaded, compare_state_dicts,
                                  describe_mismatch, from_weights_only, load_weights,
                                  prepare_to_save, to_weights_only)
from .checkpoint_files import (BrokenCheckpointError, check_checkpoint_file,
                               checkpoint_file_problem, find_resume_checkpoint)
from .checkpoint_reading import UnsafeCheckpointError, load_checkpoint_file
from .cpu_distributed import setup_cpu_distributed
from .finite_weights import NonFiniteWeightsError, check_finite_weights, non_finite_tensors
from .hooks import (AtomicCheckpointHook, NonFiniteLossError, NonFiniteLossHook,
                    RankZeroLoggerHook, RNGStateHook)
from .optim_constructor import TrainableOnlyOptimWrapperConstructor
from .runner import BaCLIPRunner, CheckpointSaveError, allow_unsafe_loading, build_runner
from .work_dir_lock import WorkDirLock, WorkDirLockedError

__all__ = [
    'AtomicCheckpointHook', 'BaCLIPRunner', 'BrokenCheckpointError', 'CheckpointMismatchError',
    'CheckpointSaveError', 'NonFiniteLossError', 'NonFiniteLossHook', 'NonFiniteWeightsError',
    'RNGStateHook', 'RankZeroLoggerHook', 'TrainableOnlyOptimWrapperConstructor',
    'UnsafeCheckpointError', 'WorkDirLock', 'WorkDirLockedError', 'allow_unsafe_loading',
    'build_runner',
    'check_checkpoint_file',
    'check_finite_weights', 'check_loaded', 'checkpoint_file_problem', 'compare_state_dicts',
    'describe_mismatch', 'find_resume_checkpoint', 'from_weights_only', 'load_checkpoint_file',
    'load_weights', 'non_finite_tensors', 'prepare_to_save', 'setup_cpu_distributed',
    'to_weights_only'
]
