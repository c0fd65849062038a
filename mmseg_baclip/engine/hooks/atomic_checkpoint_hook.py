"""A CheckpointHook that deletes an old checkpoint only once the new one is complete."""
import os
import os.path as osp
import re
from typing import Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ..runner import TMP_SUFFIX

#: Suffix of the previous best checkpoint while a new best one is written.
ASIDE_SUFFIX = '.previous'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, which never loses the last complete
    checkpoint (a full disk, a killed job).

    mmengine deletes the checkpoints beyond ``max_keep_ckpts`` and the previous best one
    *before* it writes the new file. A save that then fails leaves no complete checkpoint. With
    this hook, for a local ``out_dir``:

    1. the Runner writes each file atomically (:class:`~mmseg_baclip.engine.BaCLIPRunner`:
       ``<name>.tmp``, flushed, renamed), so ``<name>`` is complete or absent;
    2. checkpoints beyond ``max_keep_ckpts`` are deleted only after a save has succeeded (this
       hook keeps mmengine's deletion off and prunes the oldest ``filename_tmpl`` files itself);
    3. the previous best checkpoint is moved aside while the new best one is written, deleted
       once it is complete, and moved back if the save fails.

    Arguments are those of ``CheckpointHook``; the shipped configs name it as
    ``default_hooks.checkpoint``. A non-local ``out_dir`` (``s3://``...) keeps mmengine's
    behaviour, with a warning. Leftover ``*.pth.tmp`` files of a killed save are removed when
    training starts.
    """

    def __init__(self, *args, max_keep_ckpts: int = -1, **kwargs) -> None:
        super().__init__(*args, max_keep_ckpts=-1, **kwargs)  # mmengine deletes nothing
        self.keep = max_keep_ckpts

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._atomic = isinstance(self.file_backend, LocalBackend)
        if not self._atomic:
            runner.logger.warning(
                f'AtomicCheckpointHook: {self.out_dir} is not a local folder; outdated '
                'checkpoints are deleted first, as mmengine does.')
            self.max_keep_ckpts = self.keep
        elif is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):  # left by a killed save
                if name.endswith('.pth' + TMP_SUFFIX) or name.endswith('.pth' + ASIDE_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))

    # ---------------------------------------------------------------------------- retention
    def _regular_checkpoints(self) -> List[str]:
        """The ``filename_tmpl`` checkpoints of ``out_dir``, oldest first (by step)."""
        pattern = re.compile('^' + re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)')
                             + '$')
        found = []
        for name in os.listdir(self.out_dir):
            match = pattern.match(name)
            if match and osp.isfile(osp.join(self.out_dir, name)):
                found.append((int(match.group(1)), osp.join(self.out_dir, name)))
        return [path for _, path in sorted(found)]

    def _prune(self, runner, saved_before: Optional[str]) -> None:
        """Delete the oldest checkpoints beyond ``max_keep_ckpts``, once a save has succeeded
        (a failed save raises before this runs). Nothing is listed unless this step saved: the
        message hub's ``last_ckpt`` changed."""
        if self.keep <= 0 or not getattr(self, '_atomic', False) or not is_main_process():
            return
        if runner.message_hub.get_info('last_ckpt') == saved_before:
            return
        for path in self._regular_checkpoints()[:-self.keep]:
            os.remove(path)

    def after_train_epoch(self, runner) -> None:
        saved_before = runner.message_hub.get_info('last_ckpt')
        super().after_train_epoch(runner)
        self._prune(runner, saved_before)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        saved_before = runner.message_hub.get_info('last_ckpt')
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._prune(runner, saved_before)

    def after_train(self, runner) -> None:
        saved_before = runner.message_hub.get_info('last_ckpt')
        super().after_train(runner)
        self._prune(runner, saved_before)

    # ---------------------------------------------------------------------------- best
    def _best_paths(self) -> Dict[str, Optional[str]]:
        paths = dict(getattr(self, 'best_ckpt_path_dict', None) or {})
        paths[''] = getattr(self, 'best_ckpt_path', None)
        return paths

    def after_val_epoch(self, runner, metrics) -> None:
        if not getattr(self, '_atomic', False) or not is_main_process():
            return super().after_val_epoch(runner, metrics)
        before = {key: path for key, path in self._best_paths().items()
                  if path and osp.isfile(path)}
        for path in before.values():  # mmengine would delete it before writing the new one
            os.replace(path, path + ASIDE_SUFFIX)
        try:
            super().after_val_epoch(runner, metrics)
        except BaseException:
            for key, path in before.items():
                new = self._best_paths().get(key)
                if new and new != path and osp.isfile(new):
                    os.remove(new)  # cut short (the Runner's write is atomic: rarely there)
                os.replace(path + ASIDE_SUFFIX, path)
            raise
        after = self._best_paths()
        for key, path in before.items():
            if after.get(key) != path and after.get(key) and osp.isfile(after[key]):
                os.remove(path + ASIDE_SUFFIX)  # a new best is complete
            else:
                os.replace(path + ASIDE_SUFFIX, path)
