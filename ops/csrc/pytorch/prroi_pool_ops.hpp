// Copyright (c) mmdet-gan contributors. All rights reserved.
// Declarations of the prroi_pool entry points (prroi_pool.cpp, bound in
// pybind.cpp) and of the per-device drivers they dispatch to.
#ifndef MMDET_GAN_PRROI_POOL_OPS_HPP
#define MMDET_GAN_PRROI_POOL_OPS_HPP

#include <ATen/ATen.h>

// Public entry points: check the arguments, allocate, dispatch on device.
// `check_values`: also check the values of `rois` on CUDA tensors (a host
// synchronisation; always done on CPU). See prroi_pool.cpp.
at::Tensor prroi_pool_forward(const at::Tensor& input, const at::Tensor& rois,
                              int64_t pooled_height, int64_t pooled_width,
                              double spatial_scale, bool elementwise,
                              bool check_values);

at::Tensor prroi_pool_backward(const at::Tensor& grad_output,
                               const at::Tensor& input, const at::Tensor& rois,
                               int64_t pooled_height, int64_t pooled_width,
                               double spatial_scale, bool elementwise,
                               bool check_values);

at::Tensor prroi_pool_coor_backward(const at::Tensor& grad_output,
                                    const at::Tensor& output,
                                    const at::Tensor& input,
                                    const at::Tensor& rois,
                                    int64_t pooled_height,
                                    int64_t pooled_width, double spatial_scale,
                                    bool elementwise, bool check_values);

// Device drivers. Tensors are checked, contiguous and on one device; output
// and gradient buffers are zero-initialised by the caller.
// elementwise=true (CPU only) runs the per-output-element functions of
// prroi_pool_utils.hpp, i.e. exactly what the CUDA kernels run, instead of
// the separable CPU fast path.
void prroi_pool_forward_cpu(const at::Tensor& input, const at::Tensor& rois,
                            at::Tensor& output, int pooled_height,
                            int pooled_width, double spatial_scale,
                            bool elementwise);
void prroi_pool_backward_cpu(const at::Tensor& grad_output,
                             const at::Tensor& rois, at::Tensor& grad_input,
                             int pooled_height, int pooled_width,
                             double spatial_scale, bool elementwise);
void prroi_pool_coor_backward_cpu(const at::Tensor& grad_output,
                                  const at::Tensor& output,
                                  const at::Tensor& input,
                                  const at::Tensor& rois,
                                  at::Tensor& grad_rois, int pooled_height,
                                  int pooled_width, double spatial_scale,
                                  bool elementwise);

#ifdef MMDET_GAN_WITH_CUDA
void prroi_pool_forward_cuda(const at::Tensor& input, const at::Tensor& rois,
                             at::Tensor& output, int pooled_height,
                             int pooled_width, double spatial_scale);
void prroi_pool_backward_cuda(const at::Tensor& grad_output,
                              const at::Tensor& rois, at::Tensor& grad_input,
                              int pooled_height, int pooled_width,
                              double spatial_scale);
void prroi_pool_coor_backward_cuda(const at::Tensor& grad_output,
                                   const at::Tensor& output,
                                   const at::Tensor& input,
                                   const at::Tensor& rois,
                                   at::Tensor& grad_rois, int pooled_height,
                                   int pooled_width, double spatial_scale);
#endif

#endif  // MMDET_GAN_PRROI_POOL_OPS_HPP
