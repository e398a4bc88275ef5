// Copyright (c) mmdet-gan contributors. All rights reserved.
// CPU drivers of Precise RoI Pooling over the math of prroi_pool_utils.hpp.
//
// Fast path ("separable"). The weight of pixel (j, i) in bin (ph, pw) is
// wy[ph][j] * wx[pw][i], so per RoI we precompute the 1-D weight vectors of
// every bin row and column once (shared by all channels), and per channel
//   R[i]         = sum_j wy[ph][j] * F[j, i]      (contiguous axpy over rows)
//   out[ph][pw]  = sum_i wx[pw][i] * R[i]         (short dot products)
// The feature backward is the transpose of this; the coordinate backward
// needs the means of f on the (PH+1) x PW horizontal and PH x (PW+1)
// vertical bin edges, each a short weighted sum over 2 interpolation taps.
//
// Parallelism (at::parallel_for, no atomics, deterministic for a given
// number of threads), channel-major so that a channel plane stays in cache
// while all RoIs use it: forward over (channel, roi) pairs; feature
// backward over channels (a thread owns its channels of grad_input);
// coordinate backward over channels with per-thread (K, 4) partial sums.
//
// The "elementwise" drivers run the per-output-element functions the CUDA
// kernels run; the tests use them to check the GPU math on CPU.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "prroi_pool_ops.hpp"
#include "prroi_pool_utils.hpp"

namespace {

using prroi::RoIGrid;

// Normalised 1-D weights of the bins of one RoI along one axis, and the
// interpolation taps of the bin edges.
template <typename T>
struct AxisPlan {
  int first = 0;  // union of the bins' index spans, clipped to the map
  int last = -1;
  std::vector<int> bin_first;   // (bins,) first index of the bin's weights
  std::vector<int> bin_count;   // (bins,) number of weights
  std::vector<int> bin_offset;  // (bins,) offset into `weights`
  std::vector<T> bin_inv;       // (bins,) 1 / bin size, as RoIGrid::inv_w
  std::vector<T> weights;       // axis weights / bin size
  std::vector<int> tap_index;   // (bins + 1, 2) taps of the edges
  std::vector<T> tap_weight;    // (bins + 1, 2), 0 for a missing tap
  std::vector<int> taps;        // distinct tap indices, sorted
  std::vector<int> tap_slot;    // (bins + 1, 2) position in `taps`
  std::vector<T> grad_coeffs;   // (6, bins) prroi::edge_grad_coeffs

  // Bin p spans [origin + p * bin, origin + (p + 1) * bin], as in RoIGrid.
  void build(T origin, T bin, int bins, int size) {
    bin_first.resize(bins);
    bin_count.resize(bins);
    bin_offset.resize(bins);
    bin_inv.resize(bins);
    weights.clear();
    first = size;
    last = -1;
    for (int p = 0; p < bins; ++p) {
      const T lo = origin + T(p) * bin, hi = origin + T(p + 1) * bin;
      const T inv_bin = prroi::safe_inverse(hi - lo);
      bin_inv[p] = inv_bin;
      int s, e;
      prroi::axis_span(lo, hi, size, &s, &e);
      bin_first[p] = s;
      bin_count[p] = std::max(e - s + 1, 0);
      bin_offset[p] = static_cast<int>(weights.size());
      for (int i = s; i <= e; ++i)
        weights.push_back(prroi::axis_weight(lo, hi, i) * inv_bin);
      if (e >= s) {
        first = std::min(first, s);
        last = std::max(last, e);
      }
    }
    tap_index.assign(2 * (bins + 1), 0);
    tap_weight.assign(2 * (bins + 1), T(0));
    taps.clear();
    for (int p = 0; p <= bins; ++p) {
      const T x = origin + T(p) * bin;
      int s, e;
      prroi::axis_span(x, x, size, &s, &e);
      for (int q = 0; q < 2 && s + q <= e; ++q) {
        tap_index[2 * p + q] = s + q;
        tap_weight[2 * p + q] = prroi::hat(x - T(s + q));
        if (tap_weight[2 * p + q] != T(0)) taps.push_back(s + q);
      }
    }
    grad_coeffs.resize(6 * bins);
    for (int p = 0; p < bins; ++p) {
      T k[6];
      prroi::edge_grad_coeffs(p, bins, bin_inv[p], k);
      for (int q = 0; q < 6; ++q) grad_coeffs[q * bins + p] = k[q];
    }
    // Edges are increasing, so taps is sorted up to duplicates.
    taps.erase(std::unique(taps.begin(), taps.end()), taps.end());
    tap_slot.assign(2 * (bins + 1), 0);
    for (int q = 0; q < 2 * (bins + 1); ++q) {
      if (tap_weight[q] == T(0)) continue;
      tap_slot[q] = static_cast<int>(
          std::lower_bound(taps.begin(), taps.end(), tap_index[q]) -
          taps.begin());
    }
  }
  int span() const { return last - first + 1; }  // <= 0 when empty
  const T* bin_weights(int p) const { return weights.data() + bin_offset[p]; }
};

template <typename T>
struct RoIPlan {
  RoIGrid<T> grid;
  AxisPlan<T> x, y;
  bool empty = true;  // zero-size bins or no pixel under the RoI

  void build(const T* roi, int pooled_height, int pooled_width,
             T spatial_scale, int height, int width) {
    grid = prroi::make_roi_grid(roi, pooled_height, pooled_width,
                                spatial_scale);
    empty = grid.empty() || height == 0 || width == 0;
    if (empty) return;
    x.build(grid.x0, grid.bin_w, pooled_width, width);
    y.build(grid.y0, grid.bin_h, pooled_height, height);
    empty = x.span() <= 0 || y.span() <= 0;
  }
};

// Plans of all RoIs; built once per call and shared by the threads.
template <typename T>
std::vector<RoIPlan<T>> build_plans(const T* rois, int64_t num_rois,
                                    int pooled_height, int pooled_width,
                                    T spatial_scale, int height, int width) {
  std::vector<RoIPlan<T>> plans(num_rois);
  at::parallel_for(0, num_rois, 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      plans[k].build(rois + k * 5, pooled_height, pooled_width, spatial_scale,
                     height, width);
  });
  return plans;
}

// The loops below run channel-major (for c: for k), so one channel plane
// (H * W values) stays in cache while all RoIs read or write it.

template <typename T>
void forward_separable(const T* input, const T* rois, T* output,
                       int64_t num_rois, int64_t channels, int height,
                       int width, int pooled_height, int pooled_width,
                       T spatial_scale) {
  const int64_t plane_size = static_cast<int64_t>(height) * width;
  const int64_t bins = static_cast<int64_t>(pooled_height) * pooled_width;
  const std::vector<RoIPlan<T>> plans = build_plans(
      rois, num_rois, pooled_height, pooled_width, spatial_scale, height,
      width);
  at::parallel_for(0, channels * num_rois, 1, [&](int64_t begin,
                                                  int64_t end) {
    std::vector<T> row(std::max(width, 1));
    T* __restrict__ r = row.data();
    for (int64_t ck = begin; ck < end; ++ck) {
      const int64_t c = ck / num_rois, k = ck % num_rois;
      const RoIPlan<T>& plan = plans[k];
      if (plan.empty) continue;  // output is zero-initialised
      T* out = output + (k * channels + c) * bins;
      const T* src = input + (plan.grid.batch * channels + c) * plane_size;
      const int x0 = plan.x.first, nx = plan.x.span();
      for (int ph = 0; ph < pooled_height; ++ph) {
        // r = sum_j wy[ph][j] * src[j, x0:x0+nx] (rows of bin row ph)
        std::fill(r, r + nx, T(0));
        const T* wy = plan.y.bin_weights(ph);
        const int ys = plan.y.bin_first[ph];
        for (int t = 0; t < plan.y.bin_count[ph]; ++t) {
          const T w = wy[t];
          const T* __restrict__ line = src + (ys + t) * int64_t(width) + x0;
          for (int i = 0; i < nx; ++i) r[i] += w * line[i];
        }
        for (int pw = 0; pw < pooled_width; ++pw) {
          const T* wx = plan.x.bin_weights(pw);
          const T* rp = r + (plan.x.bin_first[pw] - x0);
          T sum = T(0);
          for (int t = 0; t < plan.x.bin_count[pw]; ++t) sum += wx[t] * rp[t];
          out[ph * pooled_width + pw] = sum;
        }
      }
    }
  });
}

template <typename T>
void backward_separable(const T* grad_output, const T* rois, T* grad_input,
                        int64_t num_rois, int64_t channels, int height,
                        int width, int pooled_height, int pooled_width,
                        T spatial_scale) {
  const int64_t plane_size = static_cast<int64_t>(height) * width;
  const int64_t bins = static_cast<int64_t>(pooled_height) * pooled_width;
  const std::vector<RoIPlan<T>> plans = build_plans(
      rois, num_rois, pooled_height, pooled_width, spatial_scale, height,
      width);
  // A thread owns whole channels of grad_input: no write conflicts.
  at::parallel_for(0, channels, 1, [&](int64_t c_begin, int64_t c_end) {
    std::vector<T> row(std::max(width, 1));
    T* __restrict__ r = row.data();
    for (int64_t c = c_begin; c < c_end; ++c) {
      for (int64_t k = 0; k < num_rois; ++k) {
        const RoIPlan<T>& plan = plans[k];
        if (plan.empty) continue;
        const int x0 = plan.x.first, nx = plan.x.span();
        const T* g = grad_output + (k * channels + c) * bins;
        T* dst = grad_input + (plan.grid.batch * channels + c) * plane_size;
        for (int ph = 0; ph < pooled_height; ++ph) {
          // r = sum_pw g[ph][pw] * wx[pw] (transpose of the dot products)
          std::fill(r, r + nx, T(0));
          bool any = false;
          for (int pw = 0; pw < pooled_width; ++pw) {
            const T gv = g[ph * pooled_width + pw];
            if (gv == T(0)) continue;
            any = true;
            const T* wx = plan.x.bin_weights(pw);
            T* rp = r + (plan.x.bin_first[pw] - x0);
            for (int t = 0; t < plan.x.bin_count[pw]; ++t) rp[t] += gv * wx[t];
          }
          if (!any) continue;
          // dst[j, :] += wy[ph][j] * r (transpose of the row reduction)
          const T* wy = plan.y.bin_weights(ph);
          const int ys = plan.y.bin_first[ph];
          for (int t = 0; t < plan.y.bin_count[ph]; ++t) {
            const T w = wy[t];
            T* __restrict__ line = dst + (ys + t) * int64_t(width) + x0;
            for (int i = 0; i < nx; ++i) line[i] += w * r[i];
          }
        }
      }
    }
  });
}

// Means of f on the bin edges need the feature plane only at the edges'
// interpolation taps: per distinct tap column i and bin row ph,
//   col[ph][i] = sum_j wy[ph][j] * F[j, i]
// (a row reduction restricted to tap columns; when the taps cover most of
// the RoI's columns, the contiguous full-row reduction is cheaper), and per
// distinct tap row j and bin column pw, row[j][pw] = sum_i wx[pw][i] F[j, i].
// The cost is O(min(extent, #edges) * extent) instead of the bins' area.
// Threads own channel ranges and keep (K, 4) partial sums, added up in
// thread order at the end (deterministic for a given number of threads).
template <typename T>
void coor_backward_separable(const T* grad_output, const T* output,
                             const T* input, const T* rois, T* grad_rois,
                             int64_t num_rois, int64_t channels, int height,
                             int width, int pooled_height, int pooled_width,
                             T spatial_scale) {
  const int64_t plane_size = static_cast<int64_t>(height) * width;
  const int64_t bins = static_cast<int64_t>(pooled_height) * pooled_width;
  const int v_stride = pooled_width + 1;  // vertical edges per bin row
  const std::vector<RoIPlan<T>> plans = build_plans(
      rois, num_rois, pooled_height, pooled_width, spatial_scale, height,
      width);
  const int num_threads = at::get_num_threads();
  std::vector<T> partial(static_cast<size_t>(num_threads) * num_rois * 4,
                         T(0));
  at::parallel_for(0, channels, 1, [&](int64_t c_begin, int64_t c_end) {
    T* acc_all = partial.data() +
                 static_cast<size_t>(at::get_thread_num()) * num_rois * 4;
    std::vector<T> vertical(static_cast<size_t>(pooled_height) * v_stride);
    std::vector<T> horizontal(static_cast<size_t>(pooled_height + 1) *
                              pooled_width);
    std::vector<T> line_buf(std::max(width, 1));  // reduced row / tap cols
    std::vector<T> row_dots;  // (#y taps, PW)
    // per-column partial sums of the 4 coordinate gradients, (4, PW)
    std::vector<T> sums(4 * pooled_width);
    for (int64_t c = c_begin; c < c_end; ++c) {
      for (int64_t k = 0; k < num_rois; ++k) {
        const RoIPlan<T>& plan = plans[k];
        if (plan.empty) continue;  // grad_rois is zero-initialised
        const AxisPlan<T>& px = plan.x;
        const AxisPlan<T>& py = plan.y;
        const int x0 = px.first, nx = px.span();
        const int n_xtaps = static_cast<int>(px.taps.size());
        const int n_ytaps = static_cast<int>(py.taps.size());
        const bool full_rows = 2 * n_xtaps >= nx;
        const T* g = grad_output + (k * channels + c) * bins;
        const T* o = output + (k * channels + c) * bins;
        const T* src = input + (plan.grid.batch * channels + c) * plane_size;
        // Vertical edges x = edge_x(e) of bin row ph.
        T* __restrict__ buf = line_buf.data();
        for (int ph = 0; ph < pooled_height; ++ph) {
          const T* wy = py.bin_weights(ph);
          const int ys = py.bin_first[ph], ny = py.bin_count[ph];
          if (full_rows) {  // buf[i - x0] = reduced row, all columns
            std::fill(buf, buf + nx, T(0));
            for (int t = 0; t < ny; ++t) {
              const T w = wy[t];
              const T* __restrict__ line =
                  src + (ys + t) * int64_t(width) + x0;
              for (int i = 0; i < nx; ++i) buf[i] += w * line[i];
            }
          } else {  // buf[slot] = reduced row at the tap columns only
            std::fill(buf, buf + n_xtaps, T(0));
            for (int t = 0; t < ny; ++t) {
              const T w = wy[t];
              const T* line = src + (ys + t) * int64_t(width);
              for (int q = 0; q < n_xtaps; ++q)
                buf[q] += w * line[px.taps[q]];
            }
          }
          for (int e = 0; e <= pooled_width; ++e) {
            T v = T(0);
            for (int q = 2 * e; q < 2 * e + 2; ++q) {
              const T tw = px.tap_weight[q];
              if (tw == T(0)) continue;
              v += tw * (full_rows ? buf[px.tap_index[q] - x0]
                                   : buf[px.tap_slot[q]]);
            }
            vertical[ph * v_stride + e] = v;
          }
        }
        // Horizontal edges y = edge_y(e) of bin column pw.
        row_dots.resize(static_cast<size_t>(n_ytaps) * pooled_width);
        for (int q = 0; q < n_ytaps; ++q) {
          const T* line = src + py.taps[q] * int64_t(width);
          T* dots = row_dots.data() + q * pooled_width;
          for (int pw = 0; pw < pooled_width; ++pw) {
            const T* wx = px.bin_weights(pw);
            const T* lp = line + px.bin_first[pw];
            T sum = T(0);
            for (int t = 0; t < px.bin_count[pw]; ++t) sum += wx[t] * lp[t];
            dots[pw] = sum;
          }
        }
        for (int e = 0; e <= pooled_height; ++e) {
          T* h = horizontal.data() + e * pooled_width;
          std::fill(h, h + pooled_width, T(0));
          for (int q = 2 * e; q < 2 * e + 2; ++q) {
            const T tw = py.tap_weight[q];
            if (tw == T(0)) continue;
            const T* dots = row_dots.data() + py.tap_slot[q] * pooled_width;
            for (int pw = 0; pw < pooled_width; ++pw) h[pw] += tw * dots[pw];
          }
        }
        // Coordinate gradients: grad * (out * k0 + low edge * k1 + high
        // edge * k2) per bin and axis (prroi::edge_grad_coeffs), summed in
        // per-column lanes so the loop over pw vectorises.
        const T* kx = px.grad_coeffs.data();
        const T* ky = py.grad_coeffs.data();
        std::fill(sums.begin(), sums.end(), T(0));
        T* __restrict__ s_x1 = sums.data();
        T* __restrict__ s_y1 = s_x1 + pooled_width;
        T* __restrict__ s_x2 = s_y1 + pooled_width;
        T* __restrict__ s_y2 = s_x2 + pooled_width;
        const T* kx0 = kx;
        const T *kx1 = kx0 + pooled_width, *kx2 = kx1 + pooled_width,
                *kx3 = kx2 + pooled_width, *kx4 = kx3 + pooled_width,
                *kx5 = kx4 + pooled_width;
        for (int ph = 0; ph < pooled_height; ++ph) {
          const int r = ph * pooled_width;
          const T* gr = g + r;
          const T* orow = o + r;
          const T* v = vertical.data() + ph * v_stride;
          const T* ht = horizontal.data() + r;
          const T* hb = ht + pooled_width;
          const T ky0 = ky[ph], ky1 = ky[pooled_height + ph],
                  ky2 = ky[2 * pooled_height + ph],
                  ky3 = ky[3 * pooled_height + ph],
                  ky4 = ky[4 * pooled_height + ph],
                  ky5 = ky[5 * pooled_height + ph];
          for (int pw = 0; pw < pooled_width; ++pw) {
            const T go = gr[pw] * orow[pw], gl = gr[pw] * v[pw],
                    gri = gr[pw] * v[pw + 1], gt = gr[pw] * ht[pw],
                    gb = gr[pw] * hb[pw];
            s_x1[pw] += go * kx0[pw] + gl * kx1[pw] + gri * kx2[pw];
            s_x2[pw] += go * kx3[pw] + gl * kx4[pw] + gri * kx5[pw];
            s_y1[pw] += go * ky0 + gt * ky1 + gb * ky2;
            s_y2[pw] += go * ky3 + gt * ky4 + gb * ky5;
          }
        }
        T* acc = acc_all + k * 4;
        for (int q = 0; q < 4; ++q) {
          T total = T(0);
          for (int pw = 0; pw < pooled_width; ++pw)
            total += sums[q * pooled_width + pw];
          acc[q] += total * spatial_scale;
        }
      }
    }
  });
  for (int64_t k = 0; k < num_rois; ++k) {
    for (int q = 0; q < 4; ++q) {
      T sum = T(0);
      for (int t = 0; t < num_threads; ++t)
        sum += partial[(static_cast<size_t>(t) * num_rois + k) * 4 + q];
      grad_rois[k * 5 + 1 + q] = sum;
    }
  }
}

// --- elementwise drivers: the CUDA kernels' per-element bodies, on CPU ---

struct PlainAdd {
  template <typename T>
  void operator()(T* address, T value) const {
    *address += value;
  }
};

template <typename T>
void forward_elementwise(const T* input, const T* rois, T* output,
                         int64_t count, int64_t channels, int height,
                         int width, int pooled_height, int pooled_width,
                         T spatial_scale) {
  at::parallel_for(0, count, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t index = begin; index < end; ++index)
      output[index] = prroi::forward_element(
          index, input, rois, channels, height, width, pooled_height,
          pooled_width, spatial_scale);
  });
}

template <typename T>
void backward_elementwise(const T* grad_output, const T* rois, T* grad_input,
                          int64_t count, int64_t channels, int height,
                          int width, int pooled_height, int pooled_width,
                          T spatial_scale) {
  // Serial: elements of different RoIs scatter into the same pixels.
  for (int64_t index = 0; index < count; ++index)
    prroi::backward_element(index, grad_output, rois, grad_input, channels,
                            height, width, pooled_height, pooled_width,
                            spatial_scale, PlainAdd());
}

template <typename T>
void coor_backward_elementwise(const T* grad_output, const T* output,
                               const T* input, const T* rois, T* grad_rois,
                               int64_t num_rois, int64_t channels, int height,
                               int width, int pooled_height, int pooled_width,
                               T spatial_scale) {
  const int64_t per_roi = channels * pooled_height * pooled_width;
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      T acc[4] = {T(0), T(0), T(0), T(0)};
      for (int64_t index = k * per_roi; index < (k + 1) * per_roi; ++index)
        prroi::coord_backward_element(index, grad_output, output, input, rois,
                                      channels, height, width, pooled_height,
                                      pooled_width, spatial_scale, acc);
      for (int q = 0; q < 4; ++q) grad_rois[k * 5 + 1 + q] = acc[q];
    }
  });
}

}  // namespace

void prroi_pool_forward_cpu(const at::Tensor& input, const at::Tensor& rois,
                            at::Tensor& output, int pooled_height,
                            int pooled_width, double spatial_scale,
                            bool elementwise) {
  const int64_t channels = input.size(1);
  const int height = static_cast<int>(input.size(2));
  const int width = static_cast<int>(input.size(3));
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "prroi_pool_forward_cpu",
                             [&] {
    const scalar_t scale = static_cast<scalar_t>(spatial_scale);
    if (elementwise)
      forward_elementwise(input.data_ptr<scalar_t>(),
                          rois.data_ptr<scalar_t>(),
                          output.data_ptr<scalar_t>(), output.numel(),
                          channels, height, width, pooled_height,
                          pooled_width, scale);
    else
      forward_separable(input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
                        output.data_ptr<scalar_t>(), rois.size(0), channels,
                        height, width, pooled_height, pooled_width, scale);
  });
}

void prroi_pool_backward_cpu(const at::Tensor& grad_output,
                             const at::Tensor& rois, at::Tensor& grad_input,
                             int pooled_height, int pooled_width,
                             double spatial_scale, bool elementwise) {
  const int64_t channels = grad_input.size(1);
  const int height = static_cast<int>(grad_input.size(2));
  const int width = static_cast<int>(grad_input.size(3));
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(),
                             "prroi_pool_backward_cpu", [&] {
    const scalar_t scale = static_cast<scalar_t>(spatial_scale);
    if (elementwise)
      backward_elementwise(grad_output.data_ptr<scalar_t>(),
                           rois.data_ptr<scalar_t>(),
                           grad_input.data_ptr<scalar_t>(),
                           grad_output.numel(), channels, height, width,
                           pooled_height, pooled_width, scale);
    else
      backward_separable(grad_output.data_ptr<scalar_t>(),
                         rois.data_ptr<scalar_t>(),
                         grad_input.data_ptr<scalar_t>(), rois.size(0),
                         channels, height, width, pooled_height, pooled_width,
                         scale);
  });
}

void prroi_pool_coor_backward_cpu(const at::Tensor& grad_output,
                                  const at::Tensor& output,
                                  const at::Tensor& input,
                                  const at::Tensor& rois,
                                  at::Tensor& grad_rois, int pooled_height,
                                  int pooled_width, double spatial_scale,
                                  bool elementwise) {
  const int64_t channels = input.size(1);
  const int height = static_cast<int>(input.size(2));
  const int width = static_cast<int>(input.size(3));
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(),
                             "prroi_pool_coor_backward_cpu", [&] {
    const scalar_t scale = static_cast<scalar_t>(spatial_scale);
    auto run = elementwise ? coor_backward_elementwise<scalar_t>
                           : coor_backward_separable<scalar_t>;
    run(grad_output.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
        input.data_ptr<scalar_t>(), rois.data_ptr<scalar_t>(),
        grad_rois.data_ptr<scalar_t>(), rois.size(0), channels, height, width,
        pooled_height, pooled_width, scale);
  });
}
