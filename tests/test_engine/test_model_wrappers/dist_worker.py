"""Worker of test_gan_distributed.py, started with torchrun (2 processes,
gloo, CPU): a few GAN train steps through GANDistributedDataParallel, each
rank on its own batch (rank 1's second batch has no ground truth at all, so
no positives), then each rank saves its weights.

Every gradient reduction of the steps is recorded: the gradients this rank
computed (before the all-reduce, a missing one as zeros) are exchanged
with the other rank's (``all_gather``, not the reduction under test) and
compared with what the reduction left in ``param.grad``; the summary goes to
``grads{rank}.json``."""
import datetime
import faulthandler
import json
import os
import sys

import torch
import torch.distributed as dist
from mmdet.registry import MODEL_WRAPPERS, MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import mmdet_gan  # noqa: F401
from mmdet_gan.utils import dist_utils

#: (step, rank) whose batch has no ground truth.
NO_GT = (1, 1)
#: Seconds after which a rank prints its threads' Python stacks and exits,
#: and a collective gives up: a hang fails the test with where it hangs,
#: well inside the test's own subprocess timeout (the steps take ~20 s).
HANG_TIMEOUT_S = 240


def params_of(model):
    """The weights (parameters): BatchNorm statistics are buffers, synced
    from rank 0 before each step and then updated on each rank's batch."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def flat(grads):
    return torch.cat([g.detach().double().flatten() for g in grads])


class ReductionRecorder:
    """Wraps ``GradientAverager.finish`` (where every reduction of the game
    ends): compares each player's reduced gradients with the mean of the
    ranks' own ones. Until ``finish`` writes the means, ``param.grad`` holds
    the rank's own gradient (the buckets that the backward pass started
    hold copies)."""

    def __init__(self, model):
        self.names = {id(p): n for n, p in model.named_parameters()}
        self.finish = dist_utils.GradientAverager.finish
        self.step = None
        self.records = []

    def install(self):
        recorder = self

        def finish(averager):
            recorder.record(averager)

        dist_utils.GradientAverager.finish = finish

    def record(self, averager):
        params = averager.params
        names = [self.names[id(p)] for p in params]
        local = flat(
            torch.zeros_like(p) if p.grad is None else p.grad for p in params)
        self.finish(averager)
        # a parameter no rank used keeps grad None (as in one process)
        reduced = flat(
            torch.zeros_like(p) if p.grad is None else p.grad for p in params)
        left_none = [n for n, p in zip(names, params) if p.grad is None]
        gathered = [torch.empty_like(local) for _ in range(2)]
        dist.all_gather(gathered, local)
        assert torch.equal(gathered[dist.get_rank()], local)
        mean = (gathered[0] + gathered[1]) / 2
        player = ('discriminator'
                  if names[0].startswith('discriminator.') else 'generator')
        self.records.append(
            dict(
                step=self.step,
                player=player,
                num_params=len(params),
                num_buckets=len(averager.buckets),
                # buckets whose all-reduce the backward pass started
                launched_in_backward=averager.num_launched_in_backward,
                max_abs_mean=mean.abs().max().item(),
                # |reduced - mean of the ranks' gradients|
                max_err=(reduced - mean).abs().max().item(),
                # how far apart the ranks' gradients are (sum or rank 0's
                # gradient would differ from the mean by about this much)
                max_rank_diff=(gathered[0] - gathered[1]).abs().max().item(),
                # non-zero entries of each rank's own gradient
                nonzero=[int((g != 0).sum()) for g in gathered],
                left_none=left_none))


def main(config: str, out_dir: str, num_steps: int) -> None:
    faulthandler.dump_traceback_later(HANG_TIMEOUT_S, exit=True)
    dist.init_process_group(
        'gloo', timeout=datetime.timedelta(seconds=HANG_TIMEOUT_S))
    rank = dist.get_rank()
    register_all_modules()
    # a different initialisation on each rank: the wrapper must broadcast
    torch.manual_seed(rank)
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # a generator parameter that no rank ever uses: it must keep grad None
    # and its value (AdamW's weight decay would move it on a zero grad).
    # The backbone's own parameters come first, so it is in the last bucket
    # (filled in reverse order): the buckets before it can start during the
    # backward pass.
    model.backbone.register_parameter('unused_param',
                                      torch.nn.Parameter(torch.ones(3)))
    broadcasts = []
    real_broadcast = dist.broadcast

    def counting_broadcast(tensor, *args, **kwargs):
        broadcasts.append(tensor.dtype)
        return real_broadcast(tensor, *args, **kwargs)

    dist.broadcast = counting_broadcast
    wrapped = MODEL_WRAPPERS.build(
        dict(cfg.model_wrapper_cfg, device_ids=None),
        default_args=dict(module=model))
    dtypes = {
        t.dtype
        for t in list(model.parameters()) + list(model.buffers())
    }
    # one collective per dtype, not one per tensor; no DDP reducer
    assert sorted(map(str, broadcasts)) == sorted(map(str, dtypes)), broadcasts
    assert not hasattr(wrapped, 'reducer')
    broadcasts.clear()
    optim_wrapper = build_optim_wrapper(wrapped, cfg.optim_wrapper)
    recorder = ReductionRecorder(model)
    recorder.install()
    torch.save(params_of(model), os.path.join(out_dir, f'init{rank}.pth'))
    for step in range(num_steps):
        MessageHub.get_current_instance().update_info('iter', step)
        torch.manual_seed(100 * step + rank)  # different data per rank
        num_items = [0, 0] if (step, rank) == NO_GT else [2 + rank, 1]
        data = demo_mm_inputs(
            2, [[3, 128, 128]] * 2,
            num_items=num_items,
            num_classes=4,
            with_mask=True)
        recorder.step = step
        wrapped.train_step(data, optim_wrapper)
        # the buffers' sync before the step: one collective per dtype
        buffer_dtypes = {b.dtype for b in model.buffers()}
        assert len(broadcasts) == len(buffer_dtypes), broadcasts
        broadcasts.clear()
    unused = model.backbone.unused_param
    assert unused.grad is None and torch.equal(unused.detach(), torch.ones(3))
    torch.save(params_of(model), os.path.join(out_dir, f'rank{rank}.pth'))
    with open(os.path.join(out_dir, f'grads{rank}.json'), 'w') as f:
        json.dump(dict(no_gt=list(NO_GT), records=recorder.records), f)
    dist.destroy_process_group()
    faulthandler.cancel_dump_traceback_later()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
