// Copyright (c) mmdet-gan contributors. All rights reserved.
// Entry points of prroi_pool: argument checks at the boundary, output
// allocation and device dispatch. No math here (see prroi_pool_utils.hpp).
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "prroi_pool_ops.hpp"

namespace {

enum class Device { kCPU, kCUDA };

// Picks the driver for `t`'s device; a CUDA tensor on a CPU-only build and
// any other device are clear errors.
Device device_of(const at::Tensor& t, const char* op) {
  if (t.is_cuda()) {
#ifdef MMDET_GAN_WITH_CUDA
    return Device::kCUDA;
#else
    TORCH_CHECK(false, op,
                ": got CUDA tensors but mmdet_gan._ext was compiled without "
                "CUDA support. Rebuild it with CUDA (FORCE_CUDA=1 pip install "
                "--no-build-isolation -e . ; see DEVELOPERS.md).");
#endif
  }
  TORCH_CHECK(t.device().is_cpu(), op, ": unsupported device ", t.device(),
              "; only CPU and CUDA are implemented.");
  return Device::kCPU;
}

void check_same_device(const at::Tensor& t, const char* name,
                       const at::Tensor& ref, const char* ref_name,
                       const char* op) {
  TORCH_CHECK(t.device() == ref.device(), op, ": `", name, "` is on ",
              t.device(), " but `", ref_name, "` is on ", ref.device(),
              "; all tensors must be on the same device.");
}

// Shape, dtype and device checks (metadata only), then the value checks of
// `rois` (finite, integer batch indices in range). Those read the data: on
// CUDA they cost a host synchronisation, so there they run only when
// `check_values` is set (the Python layer sets it once per op call, in the
// forward; the backward and the other levels of a multi-level call reuse
// RoIs that were checked). On CPU they always run.
void check_args(const at::Tensor& input, const at::Tensor& rois,
                int64_t pooled_height, int64_t pooled_width,
                double spatial_scale, bool check_values, const char* op) {
  TORCH_CHECK_VALUE(input.dim() == 4, op,
                    ": `input` must be a 4-D (N, C, H, W) tensor, got shape ",
                    input.sizes());
  TORCH_CHECK_VALUE(rois.dim() == 2 && rois.size(1) == 5, op,
                    ": `rois` must have shape (K, 5) with rows [batch_idx, "
                    "x1, y1, x2, y2], got shape ",
                    rois.sizes());
  TORCH_CHECK_TYPE(input.scalar_type() == at::kFloat ||
                       input.scalar_type() == at::kDouble,
                   op, ": `input` must be float32 or float64, got ",
                   input.scalar_type());
  TORCH_CHECK_TYPE(rois.scalar_type() == input.scalar_type(), op,
                   ": `rois` dtype ", rois.scalar_type(),
                   " does not match `input` dtype ", input.scalar_type());
  check_same_device(rois, "rois", input, "input", op);
  TORCH_CHECK_VALUE(pooled_height > 0 && pooled_width > 0, op,
                    ": `output_size` must be positive, got (", pooled_height,
                    ", ", pooled_width, ")");
  TORCH_CHECK_VALUE(std::isfinite(spatial_scale) && spatial_scale > 0, op,
                    ": `spatial_scale` must be a positive finite number, got ",
                    spatial_scale);
  TORCH_CHECK_VALUE(input.size(2) <= INT32_MAX && input.size(3) <= INT32_MAX,
                    op, ": `input` height and width must fit in int32, got ",
                    input.sizes());
  device_of(input, op);  // unsupported devices fail before any work
  if (rois.size(0) == 0 || !(check_values || rois.device().is_cpu())) return;
  // One host sync for all value checks (matters on CUDA).
  const at::Tensor batch_idx = rois.select(1, 0);
  const at::Tensor ok = at::stack({rois.isfinite().all(),
                                   batch_idx.ge(0).all(),
                                   batch_idx.lt(input.size(0)).all(),
                                   batch_idx.eq(batch_idx.floor()).all()})
                            .cpu();
  const bool* flags = ok.data_ptr<bool>();
  TORCH_CHECK_VALUE(flags[0], op,
                    ": `rois` contains NaN or Inf coordinates");
  TORCH_CHECK_VALUE(flags[1] && flags[2] && flags[3], op,
                    ": `rois[:, 0]` (batch index) must hold integers in [0, ",
                    input.size(0), ") for `input` of batch size ",
                    input.size(0), ", got values in [",
                    batch_idx.min().item<double>(), ", ",
                    batch_idx.max().item<double>(), "]");
}

void check_grad_output(const at::Tensor& grad_output, const at::Tensor& input,
                       const at::Tensor& rois, int64_t pooled_height,
                       int64_t pooled_width, const char* name,
                       const char* op) {
  const std::vector<int64_t> expected = {rois.size(0), input.size(1),
                                         pooled_height, pooled_width};
  TORCH_CHECK_VALUE(grad_output.sizes() == at::IntArrayRef(expected), op,
                    ": `", name, "` must have shape ", at::IntArrayRef(expected),
                    ", got ", grad_output.sizes());
  TORCH_CHECK_TYPE(grad_output.scalar_type() == input.scalar_type(), op,
                   ": `", name, "` dtype ", grad_output.scalar_type(),
                   " does not match `input` dtype ", input.scalar_type());
  check_same_device(grad_output, name, input, "input", op);
}

}  // namespace

at::Tensor prroi_pool_forward(const at::Tensor& input, const at::Tensor& rois,
                              int64_t pooled_height, int64_t pooled_width,
                              double spatial_scale, bool elementwise,
                              bool check_values) {
  const char* op = "prroi_pool_forward";
  check_args(input, rois, pooled_height, pooled_width, spatial_scale,
             check_values, op);
  const at::Tensor x = input.contiguous(), r = rois.contiguous();
  at::Tensor output = at::zeros(
      {r.size(0), x.size(1), pooled_height, pooled_width}, x.options());
  if (output.numel() == 0) return output;
  if (device_of(x, op) == Device::kCUDA) {
#ifdef MMDET_GAN_WITH_CUDA
    prroi_pool_forward_cuda(x, r, output, pooled_height, pooled_width,
                            spatial_scale);
#endif
  } else {
    prroi_pool_forward_cpu(x, r, output, pooled_height, pooled_width,
                           spatial_scale, elementwise);
  }
  return output;
}

at::Tensor prroi_pool_backward(const at::Tensor& grad_output,
                               const at::Tensor& input, const at::Tensor& rois,
                               int64_t pooled_height, int64_t pooled_width,
                               double spatial_scale, bool elementwise,
                               bool check_values) {
  const char* op = "prroi_pool_backward";
  check_args(input, rois, pooled_height, pooled_width, spatial_scale,
             check_values, op);
  check_grad_output(grad_output, input, rois, pooled_height, pooled_width,
                    "grad_output", op);
  const at::Tensor g = grad_output.contiguous(), r = rois.contiguous();
  at::Tensor grad_input = at::zeros(input.sizes(), input.options());
  if (g.numel() == 0 || grad_input.numel() == 0) return grad_input;
  if (device_of(g, op) == Device::kCUDA) {
#ifdef MMDET_GAN_WITH_CUDA
    prroi_pool_backward_cuda(g, r, grad_input, pooled_height, pooled_width,
                             spatial_scale);
#endif
  } else {
    prroi_pool_backward_cpu(g, r, grad_input, pooled_height, pooled_width,
                            spatial_scale, elementwise);
  }
  return grad_input;
}

at::Tensor prroi_pool_coor_backward(const at::Tensor& grad_output,
                                    const at::Tensor& output,
                                    const at::Tensor& input,
                                    const at::Tensor& rois,
                                    int64_t pooled_height,
                                    int64_t pooled_width, double spatial_scale,
                                    bool elementwise, bool check_values) {
  const char* op = "prroi_pool_coor_backward";
  check_args(input, rois, pooled_height, pooled_width, spatial_scale,
             check_values, op);
  check_grad_output(grad_output, input, rois, pooled_height, pooled_width,
                    "grad_output", op);
  check_grad_output(output, input, rois, pooled_height, pooled_width,
                    "output", op);
  const at::Tensor g = grad_output.contiguous(), o = output.contiguous();
  const at::Tensor x = input.contiguous(), r = rois.contiguous();
  // Column 0 (the batch index) keeps a zero gradient.
  at::Tensor grad_rois = at::zeros(r.sizes(), r.options());
  if (g.numel() == 0 || x.numel() == 0) return grad_rois;
  if (device_of(x, op) == Device::kCUDA) {
#ifdef MMDET_GAN_WITH_CUDA
    prroi_pool_coor_backward_cuda(g, o, x, r, grad_rois, pooled_height,
                                  pooled_width, spatial_scale);
#endif
  } else {
    prroi_pool_coor_backward_cpu(g, o, x, r, grad_rois, pooled_height,
                                 pooled_width, spatial_scale, elementwise);
  }
  return grad_rois;
}
