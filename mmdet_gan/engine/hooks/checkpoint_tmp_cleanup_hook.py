"""Remove what interrupted atomic checkpoint saves left behind."""
import os.path as osp
from typing import List

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet_gan.utils.atomic_io import remove_stale_tmp_files


@HOOKS.register_module()
class CheckpointTmpCleanupHook(Hook):
    """Delete the temporary files of atomic checkpoint writes that a killed
    process never renamed, when the next run starts.

    ``backend_args=dict(backend='atomic_local')`` on the checkpoint hook
    writes each checkpoint into ``.<name>.<hex>.tmp`` next to its final name
    and renames it when complete. A save killed before the rename (SIGKILL,
    OOM killer, preemption) leaves a checkpoint-sized temporary file that
    nothing refers to. In ``before_run`` this hook removes such files from
    the work dir and from the checkpoint hook's ``out_dir`` (where
    checkpoints go when it is set), and logs each one. Nothing else is
    touched: only names of exactly that pattern
    (:func:`mmdet_gan.utils.atomic_io.is_stale_tmp_file`).
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Remove stale temporary files; log what was removed."""
        for path in self._cleanup(self._checkpoint_dirs(runner)):
            print_log(
                f'Removed {path}: the temporary file of a checkpoint save '
                'that was interrupted before it completed',
                logger='current')

    @staticmethod
    def _checkpoint_dirs(runner) -> List[str]:
        """The work dir and the folders the checkpoint hooks write into."""
        dirs = [runner.work_dir]
        for hook in runner.hooks:
            out_dir = getattr(hook, 'out_dir', None)
            if isinstance(out_dir, str) and '://' not in out_dir:
                dirs.append(out_dir)
                # CheckpointHook writes into out_dir/<work dir name>
                dirs.append(
                    osp.join(out_dir,
                             osp.basename(osp.normpath(runner.work_dir))))
        return list(dict.fromkeys(osp.abspath(d) for d in dirs))

    @staticmethod
    def _cleanup(dirs: List[str]) -> List[str]:
        removed = []
        for dirname in dirs:
            removed.extend(remove_stale_tmp_files(dirname))
        return removed
