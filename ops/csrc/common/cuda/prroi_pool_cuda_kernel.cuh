// Copyright (c) mmdet-gan contributors. All rights reserved.
// CUDA kernels of Precise RoI Pooling: grid-stride loops over the
// per-output-element functions of prroi_pool_utils.hpp (the CPU
// "elementwise" driver runs the same functions, so CPU tests cover them).
#ifndef PRROI_POOL_CUDA_KERNEL_CUH
#define PRROI_POOL_CUDA_KERNEL_CUH

#include <ATen/cuda/Atomic.cuh>

#include "prroi_pool_utils.hpp"

namespace prroi {

// Threads per block of every kernel. The coordinate backward's tree
// reduction halves it down to 1, so it must be a power of two, and a block
// holds at most 1024 threads.
constexpr int kThreadsPerBlock = 256;
static_assert(kThreadsPerBlock > 0 && kThreadsPerBlock <= 1024 &&
                  (kThreadsPerBlock & (kThreadsPerBlock - 1)) == 0,
              "kThreadsPerBlock must be a power of two in [1, 1024]");

// The `add` of backward_element: atomic, as elements of different RoIs
// scatter into the same pixels.
struct AtomicAdd {
  template <typename T>
  HOST_DEVICE_INLINE void operator()(T* address, T value) const {
#ifdef __CUDA_ARCH__
    gpuAtomicAdd(address, value);
#else
    *address += value;
#endif
  }
};

// output: (K, C, PH, PW), one element per loop iteration.
template <typename T>
__global__ void prroi_pool_forward_cuda_kernel(
    int64_t count, const T* __restrict__ input, const T* __restrict__ rois,
    T* __restrict__ output, int64_t channels, int height, int width,
    int pooled_height, int pooled_width, T spatial_scale) {
  for (int64_t index = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       index < count; index += int64_t(blockDim.x) * gridDim.x) {
    output[index] =
        forward_element(index, input, rois, channels, height, width,
                        pooled_height, pooled_width, spatial_scale);
  }
}

// grad_input: (N, C, H, W), zero-initialised; atomically accumulated.
template <typename T>
__global__ void prroi_pool_backward_cuda_kernel(
    int64_t count, const T* __restrict__ grad_output,
    const T* __restrict__ rois, T* __restrict__ grad_input, int64_t channels,
    int height, int width, int pooled_height, int pooled_width,
    T spatial_scale) {
  for (int64_t index = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       index < count; index += int64_t(blockDim.x) * gridDim.x) {
    backward_element(index, grad_output, rois, grad_input, channels, height,
                     width, pooled_height, pooled_width, spatial_scale,
                     AtomicAdd());
  }
}

// grad_rois: (K, 5), zero-initialised. Block (c, k) of a
// (num_chunks, K) grid sums the contributions of chunk c of RoI k's
// C * PH * PW output elements; a shared-memory tree reduction gives the
// block's 4 partial sums. With one chunk per RoI they are written directly
// (deterministic); with several, each block adds its partials with one
// atomicAdd per coordinate, so that a few RoIs still fill the GPU (16
// samples on a 132-SM GPU would otherwise run 16 blocks).
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    prroi_pool_coor_backward_cuda_kernel(
        int64_t num_rois, int64_t chunk_size, const T* __restrict__ grad_output,
        const T* __restrict__ output, const T* __restrict__ input,
        const T* __restrict__ rois, T* __restrict__ grad_rois,
        int64_t channels, int height, int width, int pooled_height,
        int pooled_width, T spatial_scale) {
  __shared__ T partial[4][kThreadsPerBlock];
  const int64_t per_roi = channels * pooled_height * pooled_width;
  const int64_t begin = blockIdx.x * chunk_size;
  const int64_t end = begin + chunk_size < per_roi ? begin + chunk_size
                                                   : per_roi;
  const bool one_chunk = gridDim.x == 1;
  for (int64_t k = blockIdx.y; k < num_rois; k += gridDim.y) {
    T acc[4] = {T(0), T(0), T(0), T(0)};
    for (int64_t e = begin + threadIdx.x; e < end; e += kThreadsPerBlock) {
      coord_backward_element(k * per_roi + e, grad_output, output, input,
                             rois, channels, height, width, pooled_height,
                             pooled_width, spatial_scale, acc);
    }
    for (int q = 0; q < 4; ++q) partial[q][threadIdx.x] = acc[q];
    __syncthreads();
    for (int stride = kThreadsPerBlock / 2; stride > 0; stride >>= 1) {
      if (threadIdx.x < stride) {
        for (int q = 0; q < 4; ++q)
          partial[q][threadIdx.x] += partial[q][threadIdx.x + stride];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      for (int q = 0; q < 4; ++q) {
        if (one_chunk) {
          grad_rois[k * 5 + 1 + q] = partial[q][0];
        } else {
          gpuAtomicAdd(grad_rois + k * 5 + 1 + q, partial[q][0]);
        }
      }
    }
    __syncthreads();  // `partial` is reused by the next RoI
  }
}

}  // namespace prroi

#endif  // PRROI_POOL_CUDA_KERNEL_CUH
