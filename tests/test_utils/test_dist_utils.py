"""GradientAverager on two CPU processes (gloo): the mean of the ranks'
gradients, ``None`` where no rank has one, buckets started during the
backward pass, and buffers reused from step to step."""
import copy
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mmdet_gan.models.game.adversarial_game import AdversarialGame
from mmdet_gan.utils.dist_utils import GradientAverager
from tests.conftest import free_port


class ThreeLayers(nn.Module):
    """``first`` and ``last`` are used by both ranks, ``rank0_only`` by
    rank 0, ``never`` by none; 4 floats per parameter."""

    def __init__(self):
        super().__init__()
        self.never = nn.Parameter(torch.ones(4))
        self.first = nn.Parameter(torch.ones(4))
        self.rank0_only = nn.Parameter(torch.ones(4))
        self.last = nn.Parameter(torch.ones(4))

    def loss(self, rank: int, step: int) -> torch.Tensor:
        x = torch.arange(4.) + 10 * rank + step
        y = (self.first * x).sin()
        if rank == 0:
            y = y * self.rank0_only
        return (self.last * y).sum()


def own_grads(rank: int, step: int) -> dict:
    """The gradients ``rank`` computes alone (no averaging)."""
    model = ThreeLayers()
    model.loss(rank, step).backward()
    return {n: p.grad for n, p in model.named_parameters()}


def worker(rank: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = ThreeLayers()
    # one parameter per bucket (16 bytes each): 4 buckets, in the reverse
    # order of the parameters
    averager = GradientAverager(model.parameters(), bucket_cap_mb=16 / 2**20)
    out = dict(buckets=averager.buckets, steps=[])
    for step in range(2):
        model.zero_grad(set_to_none=True)
        with averager.overlapping():
            model.loss(rank, step).backward()
        averager.finish()
        out['steps'].append(
            dict(
                grads={
                    n: None if p.grad is None else p.grad.clone()
                    for n, p in model.named_parameters()
                },
                launched_in_backward=averager.num_launched_in_backward,
                buffers=[flat.data_ptr() for flat in averager._flats]))
    results[rank] = out
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def two_rank_results():
    results = mp.Manager().dict()
    mp.spawn(worker, args=(free_port(), results), nprocs=2, join=True)
    return dict(results)


def test_the_gradients_are_the_mean_over_the_ranks(two_rank_results):
    for rank in (0, 1):
        for step, record in enumerate(two_rank_results[rank]['steps']):
            mine, other = own_grads(rank, step), own_grads(1 - rank, step)
            grads = record['grads']
            # no rank used it: no gradient, as in one process
            assert grads['never'] is None
            for name in ('first', 'last'):
                mean = (mine[name] + other[name]) / 2
                assert torch.allclose(grads[name], mean, atol=1e-6), name
                # a sum or one rank's gradient would fail
                assert not torch.allclose(grads[name], mine[name])
            # used by rank 0 only: zero on rank 1, halved
            rank0 = own_grads(0, step)['rank0_only']
            assert torch.allclose(grads['rank0_only'], rank0 / 2, atol=1e-6)


def test_buckets_start_during_the_backward_pass(two_rank_results):
    record = two_rank_results[0]
    # reverse order: last, rank0_only, first, never
    assert record['buckets'] == [[3], [2], [1], [0]]
    for rank in (0, 1):
        for step in two_rank_results[rank]['steps']:
            # 'never' has no gradient anywhere: its bucket (the last) waits
            # for finish(); on rank 1 'rank0_only' blocks its bucket and the
            # ones after it
            expected = 3 if rank == 0 else 1
            assert step['launched_in_backward'] == expected


def test_bucket_buffers_are_reused(two_rank_results):
    first, second = two_rank_results[0]['steps']
    assert first['buffers'] == second['buffers']


def test_a_copy_of_the_game_has_no_averagers():
    game = AdversarialGame()
    game._grad_averager('generator', list(ThreeLayers().parameters()))
    assert list(game._grad_averagers) == ['generator']
    assert copy.deepcopy(game)._grad_averagers == {}
    assert list(game._grad_averagers) == ['generator']


def test_single_process_is_a_no_op():
    model = ThreeLayers()
    averager = GradientAverager(model.parameters())
    assert not averager.distributed
    with averager.overlapping():
        model.loss(0, 0).backward()
    averager.finish()
    assert model.never.grad is None
    assert torch.equal(model.first.grad, own_grads(0, 0)['first'])
