// Copyright (c) mmdet-gan contributors. All rights reserved.
// Python bindings of mmdet_gan._ext. The Python side
// (mmdet_gan/ops/prroi_pool.py) calls these with keyword arguments.
#include <torch/extension.h>

#include "prroi_pool_ops.hpp"

namespace {

bool with_cuda() {
#ifdef MMDET_GAN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("with_cuda", &with_cuda,
        "Whether the extension was compiled with the CUDA kernels.");
  m.def("prroi_pool_forward", &prroi_pool_forward,
        "Precise RoI Pooling forward; returns (K, C, PH, PW).",
        py::arg("input"), py::arg("rois"), py::arg("pooled_height"),
        py::arg("pooled_width"), py::arg("spatial_scale"),
        py::arg("elementwise") = false, py::arg("check_values") = true);
  m.def("prroi_pool_backward", &prroi_pool_backward,
        "Gradient of prroi_pool w.r.t. the input features; returns (N, C, H, "
        "W).",
        py::arg("grad_output"), py::arg("input"), py::arg("rois"),
        py::arg("pooled_height"), py::arg("pooled_width"),
        py::arg("spatial_scale"), py::arg("elementwise") = false,
        py::arg("check_values") = true);
  m.def("prroi_pool_coor_backward", &prroi_pool_coor_backward,
        "Gradient of prroi_pool w.r.t. the RoI coordinates; returns (K, 5) "
        "with a zero batch-index column.",
        py::arg("grad_output"), py::arg("output"), py::arg("input"),
        py::arg("rois"), py::arg("pooled_height"), py::arg("pooled_width"),
        py::arg("spatial_scale"), py::arg("elementwise") = false,
        py::arg("check_values") = true);
}
