"""Gradient and state synchronisation for models that step several
optimizers."""
import contextlib
from collections import OrderedDict
from typing import Callable, Iterable, Iterator, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size
from torch import Tensor, nn

#: Bucket size of the gradient all-reduce, as torch DDP's default.
BUCKET_CAP_MB = 25.


class GradientAverager:
    """Averages the gradients of ``params`` over all processes, as DDP does;
    a no-op when not distributed.

    A parameter that no process computed a gradient for keeps
    ``grad=None``, so its optimizer skips it (no momentum or weight-decay
    update), exactly as in a single process. A parameter that some
    processes used counts as a zero gradient on the others, and the mean is
    over all processes (what one big batch would give).

    The gradients travel in buckets of about ``bucket_cap_mb``, filled in
    the reverse order of ``params`` (roughly the order in which a backward
    pass produces them). Inside :meth:`overlapping`, a bucket's all-reduce
    starts (asynchronously) as soon as the backward pass has accumulated
    all its gradients, so it runs while the backward pass goes on, as in
    torch's DDP; :meth:`finish` starts the buckets that are left, waits for
    all of them and writes the means into ``param.grad``. Every process
    starts the same buckets in the same order (a bucket waits for the ones
    before it), whatever its graph, so the collectives always pair up.

    The buckets' flat buffers are allocated by the first reduction and
    reused by the next ones (like DDP's buckets: one more copy of the
    gradients, resident), so a training step does not allocate and free
    buffers as large as the gradients each time.

    Example::

        averager = GradientAverager(model.parameters())
        for data in batches:
            with averager.overlapping():
                loss(data).backward()
            averager.finish()  # param.grad: the mean over the processes

    Args:
        params (Iterable[nn.Parameter]): The parameters; those without
            ``requires_grad`` are left alone.
        bucket_cap_mb (float): Bucket size in MiB. Defaults to 25 (torch
            DDP's).
    """

    def __init__(self,
                 params: Iterable[nn.Parameter],
                 bucket_cap_mb: float = BUCKET_CAP_MB) -> None:
        self.world_size = get_world_size()
        self.params = [param for param in params if param.requires_grad]
        self.buckets = _bucket_indices(self.params, bucket_cap_mb)
        self._bucket_of = {
            index: b
            for b, bucket in enumerate(self.buckets)
            for index in bucket
        }
        self._flats: List[Optional[Tensor]] = [None] * len(self.buckets)
        #: buckets started by the last backward pass's hooks
        self.num_launched_in_backward = 0
        self._reset()

    @property
    def distributed(self) -> bool:
        """Whether there is anything to average."""
        return self.world_size > 1 and bool(self.params)

    def matches(self, params: Iterable[nn.Parameter]) -> bool:
        """Whether this averager is for exactly these parameters (those
        with ``requires_grad``, in this order)."""
        trainable = [param for param in params if param.requires_grad]
        return len(trainable) == len(self.params) and all(
            a is b for a, b in zip(trainable, self.params))

    @contextlib.contextmanager
    def overlapping(self) -> Iterator[None]:
        """Start each bucket's all-reduce during the block's backward pass,
        once all its gradients are accumulated."""
        if not self.distributed:
            yield
            return
        self._reset()
        handles = [
            param.register_post_accumulate_grad_hook(
                self._accumulated_hook(index))
            for index, param in enumerate(self.params)
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
        self.num_launched_in_backward = self._num_launched

    def finish(self) -> None:
        """Start the buckets that are left, wait for all and set each
        ``param.grad`` to the mean over the processes (``None`` where no
        process has a gradient)."""
        if not self.distributed:
            return
        while self._num_launched < len(self.buckets):
            self._launch_next()
        # after the buckets, so every process issues the same sequence
        used = torch.tensor([param.grad is not None for param in self.params],
                            dtype=torch.float32,
                            device=self.params[0].device)
        torch_dist.all_reduce(used)
        used = used.tolist()
        for b, work in enumerate(self._works):
            work.wait()
            self._flats[b].div_(self.world_size)
            for index, mean in zip(self.buckets[b],
                                   self._slices(b, as_params=True)):
                param = self.params[index]
                if not used[index]:
                    param.grad = None
                elif param.grad is None:
                    param.grad = mean.clone()
                else:
                    param.grad.copy_(mean)
        self._reset()

    def _reset(self) -> None:
        self._waiting = [len(bucket) for bucket in self.buckets]
        self._done = set()
        self._works: List[object] = []

    @property
    def _num_launched(self) -> int:
        return len(self._works)

    def _accumulated_hook(self, index: int) -> Callable[[nn.Parameter], None]:

        def hook(param: nn.Parameter) -> None:
            if index in self._done:
                return
            self._done.add(index)
            self._waiting[self._bucket_of[index]] -= 1
            while (self._num_launched < len(self.buckets)
                   and self._waiting[self._num_launched] == 0):
                self._launch_next()

        return hook

    def _slices(self, b: int, as_params: bool = False) -> List[Tensor]:
        """Views of bucket ``b``'s flat buffer, one per parameter (flat, or
        shaped as the parameter)."""
        views, offset = [], 0
        for index in self.buckets[b]:
            param = self.params[index]
            view = self._flats[b][offset:offset + param.numel()]
            views.append(view.view_as(param) if as_params else view)
            offset += param.numel()
        return views

    def _launch_next(self) -> None:
        """Copy the next bucket's gradients (zeros where a parameter has
        none) into its buffer and start its all-reduce."""
        b = self._num_launched
        params = [self.params[index] for index in self.buckets[b]]
        if self._flats[b] is None:
            self._flats[b] = params[0].new_empty(
                sum(param.numel() for param in params))
        for param, view in zip(params, self._slices(b)):
            if param.grad is None:
                view.zero_()
            else:
                view.copy_(param.grad.detach().reshape(-1))
        self._works.append(
            torch_dist.all_reduce(self._flats[b], async_op=True))


def _bucket_indices(params: List[nn.Parameter],
                    bucket_cap_mb: float) -> List[List[int]]:
    """Indices into ``params`` grouped in buckets of one device and dtype
    and at most ``bucket_cap_mb`` (a larger parameter is a bucket of its
    own), in the reverse order of ``params``."""
    cap = bucket_cap_mb * 1024 * 1024
    buckets: List[List[int]] = []
    key, size = None, 0
    for index in reversed(range(len(params))):
        param = params[index]
        nbytes = param.numel() * param.element_size()
        param_key = (param.device, param.dtype)
        if not buckets or param_key != key or size + nbytes > cap:
            buckets.append([])
            key, size = param_key, 0
        buckets[-1].append(index)
        size += nbytes
    return buckets


def broadcast_coalesced(tensors: Iterable[Tensor], src: int = 0) -> int:
    """Broadcast ``tensors`` from ``src`` in place, with one collective per
    (device, dtype) group instead of one per tensor.

    Args:
        tensors (Iterable[Tensor]): e.g. a model's buffers.
        src (int): The rank whose values everyone takes.

    Returns:
        int: The number of collectives issued (0 when not distributed).
    """
    if get_world_size() <= 1:
        return 0
    groups: 'OrderedDict[tuple, List[Tensor]]' = OrderedDict()
    for tensor in tensors:
        if tensor.numel():
            groups.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    for group in groups.values():
        flat = torch.cat([tensor.detach().reshape(-1) for tensor in group])
        torch_dist.broadcast(flat, src=src)
        offset = 0
        with torch.no_grad():
            for tensor in group:
                tensor.copy_(flat[offset:offset +
                                  tensor.numel()].view_as(tensor))
                offset += tensor.numel()
    return len(groups)
