// Copyright (c) mmdet-gan contributors. All rights reserved.
// Launchers of the Precise RoI Pooling CUDA kernels. Only compiled in CUDA
// builds (setup.py adds pytorch/cuda/*.cu with MMDET_GAN_WITH_CUDA).
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

#include "prroi_pool_cuda_kernel.cuh"
#include "prroi_pool_ops.hpp"

namespace {

// Grid-stride kernels: enough blocks to fill the GPU, capped.
unsigned int num_blocks(int64_t work_items, int64_t threads) {
  const int64_t blocks = (work_items + threads - 1) / threads;
  return static_cast<unsigned int>(
      std::max<int64_t>(1, std::min<int64_t>(blocks, 65535)));
}

}  // namespace

void prroi_pool_forward_cuda(const at::Tensor& input, const at::Tensor& rois,
                             at::Tensor& output, int pooled_height,
                             int pooled_width, double spatial_scale) {
  const at::cuda::CUDAGuard device_guard(input.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t count = output.numel();
  const int threads = prroi::kThreadsPerBlock;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "prroi_pool_forward_cuda",
                             [&] {
    prroi::prroi_pool_forward_cuda_kernel<scalar_t>
        <<<num_blocks(count, threads), threads, 0, stream>>>(
            count, input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
            output.data_ptr<scalar_t>(), input.size(1),
            static_cast<int>(input.size(2)), static_cast<int>(input.size(3)),
            pooled_height, pooled_width,
            static_cast<scalar_t>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void prroi_pool_backward_cuda(const at::Tensor& grad_output,
                              const at::Tensor& rois, at::Tensor& grad_input,
                              int pooled_height, int pooled_width,
                              double spatial_scale) {
  // Scatters into grad_input with atomicAdd: the order of the additions,
  // and so the last bits of the result, vary between runs.
  at::globalContext().alertNotDeterministic("prroi_pool_backward_cuda");
  const at::cuda::CUDAGuard device_guard(grad_output.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t count = grad_output.numel();
  const int threads = prroi::kThreadsPerBlock;
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(),
                             "prroi_pool_backward_cuda", [&] {
    prroi::prroi_pool_backward_cuda_kernel<scalar_t>
        <<<num_blocks(count, threads), threads, 0, stream>>>(
            count, grad_output.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
            grad_input.data_ptr<scalar_t>(), grad_input.size(1),
            static_cast<int>(grad_input.size(2)),
            static_cast<int>(grad_input.size(3)), pooled_height, pooled_width,
            static_cast<scalar_t>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void prroi_pool_coor_backward_cuda(const at::Tensor& grad_output,
                                   const at::Tensor& output,
                                   const at::Tensor& input,
                                   const at::Tensor& rois,
                                   at::Tensor& grad_rois, int pooled_height,
                                   int pooled_width, double spatial_scale) {
  const at::cuda::CUDAGuard device_guard(input.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t num_rois = rois.size(0);
  const int64_t per_roi = input.size(1) * int64_t(pooled_height) * pooled_width;
  const int threads = prroi::kThreadsPerBlock;
  // Several blocks per RoI when there are few RoIs (atomic partial sums),
  // one per RoI under torch.use_deterministic_algorithms(True) or when the
  // RoIs alone fill the GPU (each block writes its RoI's gradient).
  const int sms =
      at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t target_blocks = 4 * int64_t(sms);
  int64_t chunks = 1;
  if (!at::globalContext().deterministicAlgorithms() &&
      num_rois < target_blocks) {
    const int64_t max_chunks = (per_roi + threads - 1) / threads;
    chunks = std::min<int64_t>(max_chunks,
                               (target_blocks + num_rois - 1) / num_rois);
    chunks = std::max<int64_t>(1, std::min<int64_t>(chunks, 65535));
  }
  const int64_t chunk_size = (per_roi + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned int>(chunks),
                  static_cast<unsigned int>(
                      std::min<int64_t>(std::max<int64_t>(num_rois, 1),
                                        65535)));
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(),
                             "prroi_pool_coor_backward_cuda", [&] {
    prroi::prroi_pool_coor_backward_cuda_kernel<scalar_t>
        <<<grid, threads, 0, stream>>>(
            num_rois, chunk_size, grad_output.data_ptr<scalar_t>(),
            output.data_ptr<scalar_t>(), input.data_ptr<scalar_t>(),
            rois.data_ptr<scalar_t>(), grad_rois.data_ptr<scalar_t>(),
            input.size(1), static_cast<int>(input.size(2)),
            static_cast<int>(input.size(3)), pooled_height, pooled_width,
            static_cast<scalar_t>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
