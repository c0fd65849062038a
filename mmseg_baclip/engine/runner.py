"""BaCLIPRunner: the one place that reads and writes checkpoints.

mmseg's own ``tools/train.py`` and ``tools/test.py`` build the Runner named by a config's
``runner_type``, so a config that says ``runner_type = 'BaCLIPRunner'`` (the shipped
``_base_/default_runtime.py`` does) gets the same protections from mmseg's tools, this
project's tools, and any script that calls ``RUNNERS.build(cfg)``::

    save   model.state_dict() + hooks' parts (RNG states...)
             -> prepare_to_save: frozen CLIP/SAM weights left out (their files' sha256
                recorded), mmengine's objects made weights-only-safe
             -> written to <name>.tmp, flushed, renamed to <name> (complete or absent)
    load   load_checkpoint_file: torch.load(weights_only=True) on every scheme
    (load_from,  (local, https:// via torch.hub's cache, model-zoo names, s3://), an
     --resume,    empty or truncated file named
     test)   -> check_loaded: weights-only objects restored, frozen weights read back from
                their files (another file: an error naming both), NaN/Inf refused, keys and
                shapes compared with the model (an error naming the first that differ)
             -> hooks' after_load_checkpoint (RNG states...) -> copied into the model
    resume with no path: the newest *complete* checkpoint of the work dir (newer broken
           files are skipped, loudly); none at all is a loud warning (from scratch)
    train  holds the work dir (:class:`~mmseg_baclip.engine.WorkDirLock`): a second training
           in the same work dir is refused, naming the one that runs

The settings live in the config, ``checkpoint_cfg`` (all optional)::

    checkpoint_cfg = dict(
        strict=True,       # a checkpoint that does not fit the model is an error
        ignore_keys=[],    # regexes of keys that may differ (e.g. [r'^decode_head\\.'])
        slim=True,         # leave the frozen weights read from files out of checkpoints
        unsafe_load=False) # torch.load(weights_only=False): trusted old pickles ONLY

Retention (``max_keep_ckpts``, the best checkpoint) is the checkpoint hook's; with
:class:`~mmseg_baclip.engine.AtomicCheckpointHook` an older checkpoint is deleted only once the
newer one is complete.
"""
import os
import os.path as osp
import re
import warnings
from collections import OrderedDict
from typing import Optional

from mmengine.dist import master_only
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import RUNNERS

from .checkpoint_contents import check_loaded, prepare_to_save
from .checkpoint_files import BrokenCheckpointError, find_resume_checkpoint
from .checkpoint_reading import UNSAFE_LOAD_WARNING, load_checkpoint_file
from .work_dir_lock import WorkDirLock

#: Suffix of a checkpoint while it is being written.
TMP_SUFFIX = '.tmp'
#: ``checkpoint_cfg`` keys and their defaults.
CHECKPOINT_CFG_DEFAULTS = dict(strict=True, ignore_keys=(), slim=True, unsafe_load=False)


class CheckpointSaveError(OSError):
    """Writing a checkpoint failed (disk full, quota, I/O error); older ones are intact."""


def _fsync(path: str) -> None:
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())


@RUNNERS.register_module()
class BaCLIPRunner(Runner):
    """mmengine's Runner that owns the checkpoint lifecycle (see the module docstring).

    Built like any Runner (``BaCLIPRunner.from_cfg(cfg)``, or ``RUNNERS.build(cfg)`` with
    ``runner_type='BaCLIPRunner'``); the only extra setting is the config's
    ``checkpoint_cfg``. It works for any model: components reused in a stock mmseg config get
    loadable, weights-only, slim checkpoints by naming this Runner.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = dict(self.cfg.get('checkpoint_cfg', None) or {})
        unknown = sorted(set(options) - set(CHECKPOINT_CFG_DEFAULTS))
        if unknown:
            raise ValueError(f'checkpoint_cfg: unknown key(s) {unknown}; the keys are '
                             f'{sorted(CHECKPOINT_CFG_DEFAULTS)}')
        self.checkpoint_cfg = dict(CHECKPOINT_CFG_DEFAULTS, **options)
        if self.checkpoint_cfg['unsafe_load']:
            self.allow_unsafe_loading()

    def allow_unsafe_loading(self) -> None:
        """Load checkpoints with ``weights_only=False`` (old pickles from a trusted source
        only), with a loud warning. The tools' ``--unsafe-load`` calls this on the built Runner
        rather than writing it into the config, so the work dir's copy of the config never
        carries it into a later run."""
        self.checkpoint_cfg['unsafe_load'] = True
        warnings.warn(UNSAFE_LOAD_WARNING, stacklevel=2)
        self.logger.warning(UNSAFE_LOAD_WARNING)

    @property
    def bare_model(self):
        """The model without its DDP wrapper."""
        return self.model.module if is_model_wrapper(self.model) else self.model

    # ------------------------------------------------------------------------------ training
    def train(self):
        """Train, holding the work dir (a second training there is refused). A tool that took
        the lock before building the Runner (``tools/train.py`` does, so that a refused run
        writes nothing) keeps it."""
        if WorkDirLock.held_here(self.work_dir):
            return super().train()
        with WorkDirLock(self.work_dir) as lock:
            if lock.takeover:
                self.logger.warning(lock.takeover)
            return super().train()

    def load_or_resume(self) -> None:
        """``resume=True`` without ``load_from``: the newest complete checkpoint of the work dir
        (mmengine takes the newest file, complete or not)."""
        if not self._has_loaded and self._resume and self._load_from is None:
            self._load_from = self._choose_resume_checkpoint()
            self._resume = self._load_from is not None
        super().load_or_resume()

    def _choose_resume_checkpoint(self) -> Optional[str]:
        choice = find_resume_checkpoint(self.work_dir)
        broken = '\n'.join(f'  - {path}: {problem}' for path, problem in choice.skipped)
        if choice.path is None and choice.skipped:
            raise BrokenCheckpointError(f'resume: no complete checkpoint in {self.work_dir}:\n'
                                        f'{broken}\n'
                               'Delete these files to train from scratch, or resume from a '
                               'given file (load_from=PATH, resume=True; tools/train.py '
                               '--resume PATH).')
        if choice.path is None:
            message = (f'resume: no checkpoint in {self.work_dir} (no last_checkpoint record, '
                       'no epoch_*.pth / iter_*.pth): TRAINING STARTS FROM SCRATCH. Check the '
                       'work dir if you meant to continue a run.')
        elif choice.skipped:
            message = (f'resume: skipped {len(choice.skipped)} broken checkpoint(s) newer than '
                       f'the newest complete one:\n{broken}\nResuming from {choice.path}.')
        else:
            return choice.path
        warnings.warn(message, stacklevel=3)
        self.logger.warning(message)
        return choice.path

    # ------------------------------------------------------------------------------ loading
    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006 (mmengine's)
        """Read ``filename`` safely, check it against the model, then load it.

        The arguments are mmengine's; ``strict`` is :attr:`checkpoint_cfg` ``['strict']``
        (checked before anything is copied), or this argument when True.

        Returns:
            dict: The checkpoint (mmengine's ``resume`` reads its other parts).
        """
        checkpoint = load_checkpoint_file(filename, map_location=map_location,
                                          unsafe=self.checkpoint_cfg['unsafe_load'])
        model = self.bare_model
        state = check_loaded(model, checkpoint, filename,
                             strict=self.checkpoint_cfg['strict'] or strict,
                             ignore_keys=self.checkpoint_cfg['ignore_keys'],
                             warn=self.logger.warning)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        metadata = getattr(state, '_metadata', OrderedDict())
        for pattern, replacement in revise_keys:
            state = OrderedDict((re.sub(pattern, replacement, k), v) for k, v in state.items())
        state._metadata = metadata
        load_state_dict(model, state, strict=strict, logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    # ------------------------------------------------------------------------------ saving
    def call_hook(self, fn_name: str, **kwargs) -> None:
        """mmengine's hook calls; a checkpoint about to be written is made ready once every
        hook has added its part (:func:`~mmseg_baclip.engine.checkpoint_contents.
        prepare_to_save`)."""
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint':
            prepare_to_save(self.bare_model, kwargs['checkpoint'],
                            slim=self.checkpoint_cfg['slim'])

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        """mmengine's ``save_checkpoint``, written atomically to a local ``out_dir``.

        The file is written as ``<filename>.tmp``, flushed to disk and renamed, so
        ``<filename>`` is either complete or absent. A failed write removes the temporary file
        and raises :class:`CheckpointSaveError` naming the file and the last complete
        checkpoint.
        """
        backend_args = kwargs.get('backend_args')
        if not isinstance(get_file_backend(out_dir, backend_args=backend_args), LocalBackend):
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        path = osp.join(out_dir, filename)
        tmp = path + TMP_SUFFIX
        try:
            super().save_checkpoint(out_dir, filename + TMP_SUFFIX, *args, **kwargs)
            _fsync(tmp)
            os.replace(tmp, path)
        except OSError as error:
            if osp.exists(tmp):
                os.remove(tmp)
            previous = find_resume_checkpoint(out_dir).path  # the newest complete one
            kept = (f'The previous checkpoint {previous} is complete and kept; free space and '
                    'run tools/train.py with --resume to continue from it.' if previous else
                    'No earlier checkpoint of this run exists.')
            raise CheckpointSaveError(f'Could not write the checkpoint {path}: {error}. No '
                                      f'partial file was left. {kept}') from error


def build_runner(cfg) -> Runner:
    """The Runner a config names (``runner_type``), built as mmseg's tools build it; mmengine's
    plain Runner when it names none."""
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def allow_unsafe_loading(runner: Runner) -> None:
    """``--unsafe-load`` of the tools: :meth:`BaCLIPRunner.allow_unsafe_loading`, or an error
    for a Runner that does not read checkpoints itself (a config without ``runner_type``)."""
    if not isinstance(runner, BaCLIPRunner):
        raise SystemExit("error: --unsafe-load needs runner_type = 'BaCLIPRunner' in the config "
                         f'(this one builds {type(runner).__name__}, which loads checkpoints '
                         "with torch's default)")
    runner.allow_unsafe_loading()
