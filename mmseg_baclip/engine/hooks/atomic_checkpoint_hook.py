"""A CheckpointHook that never loses the last complete checkpoint, e.g. when the disk fills up."""
import os
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

#: Suffix of a checkpoint while it is being written.
TMP_SUFFIX = '.tmp'


class CheckpointSaveError(OSError):
    """Writing a checkpoint failed (disk full, quota, I/O error); older ones are intact."""


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` are recorded instead of run."""

    def __init__(self, backend):
        self._backend = backend
        self.pending: List[str] = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def remove(self, path) -> None:
        self.pending.append(str(path))

    def rmtree(self, path) -> None:
        self.pending.append(str(path))

    def apply(self) -> None:
        for path in self.pending:
            if self._backend.isfile(path):
                self._backend.remove(path)
            elif self._backend.isdir(path):
                self._backend.rmtree(path)


def _fsync(path: str) -> None:
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())


def _write_atomically(path: str, text: str) -> None:
    tmp = path + TMP_SUFFIX
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, safe against failed saves.

    mmengine deletes the checkpoints beyond ``max_keep_ckpts`` (and the previous best one)
    *before* it writes the new file, and writes that file in place. A save that fails (``OSError:
    [Errno 28] No space left on device``) then leaves a truncated file, no complete checkpoint
    and a ``last_checkpoint`` record naming a deleted file. With this hook, for a local
    ``out_dir``:

    1. the checkpoint is written to ``<name>.tmp``, flushed to disk and renamed to ``<name>``
       (a rename is atomic), so ``<name>`` is either complete or absent;
    2. ``last_checkpoint`` is updated (also by rename) only after that;
    3. outdated checkpoints (``max_keep_ckpts``, the previous best) are deleted only then.

    A failed save removes its temporary file and raises :class:`CheckpointSaveError`, naming the
    file and the last complete checkpoint, which ``tools/train.py --resume`` continues from once
    space is free. Arguments are those of ``CheckpointHook``; ``tools/train.py`` and
    ``tools/test.py`` replace a config's ``CheckpointHook`` by this one
    (:func:`~mmseg_baclip.engine.add_required_hooks`). A non-local ``out_dir`` (``s3://``...)
    keeps mmengine's behaviour, with a warning.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if not self._atomic:
            runner.logger.warning(
                f'AtomicCheckpointHook: {self.out_dir} is not a local folder; checkpoints are '
                'written in place and outdated ones deleted first, as mmengine does.')
        elif is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):  # left by a killed save
                if name.endswith('.pth' + TMP_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))

    @staticmethod
    def _save_error(path: str, error: OSError, previous) -> CheckpointSaveError:
        kept = (f'The previous checkpoint {previous} is complete and kept; free space and run '
                'tools/train.py with --resume to continue from it.' if previous else
                'No earlier checkpoint of this run exists.')
        return CheckpointSaveError(f'Could not write the checkpoint {path}: {error}. Nothing was '
                                   f'deleted and no partial file was left. {kept}')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not getattr(self, '_atomic', False):
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        previous = runner.message_hub.get_info('last_ckpt')  # also set after --resume
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp = self.last_ckpt + TMP_SUFFIX
        try:
            runner.save_checkpoint(
                self.out_dir, filename + TMP_SUFFIX, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
            if is_main_process():
                _fsync(tmp)
                os.replace(tmp, self.last_ckpt)
        except OSError as error:
            if is_main_process() and osp.exists(tmp):
                os.remove(tmp)
            raise self._save_error(self.last_ckpt, error, previous) from error
        if not is_main_process():
            return
        _write_atomically(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in outdated:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not getattr(self, '_atomic', False):
            return super()._save_best_checkpoint(runner, metrics)
        backend, deferred = self.file_backend, _DeferredRemoval(self.file_backend)
        self.file_backend = deferred  # the previous best file goes only once the new one exists
        try:
            super()._save_best_checkpoint(runner, metrics)
        except OSError as error:
            if isinstance(error, CheckpointSaveError):
                raise
            partial = str(getattr(self, 'best_ckpt_path', None) or '')
            if is_main_process() and partial and osp.isfile(partial):
                os.remove(partial)  # the new best file, cut short; the previous one is kept
            raise self._save_error(partial, error,
                                   runner.message_hub.get_info('last_ckpt')) from error
        finally:
            self.file_backend = backend
        if is_main_process():
            deferred.apply()
