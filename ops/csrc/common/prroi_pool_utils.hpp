// Copyright (c) mmdet-gan contributors. All rights reserved.
//
// Precise RoI Pooling (Jiang et al., "Acquisition of Localization Confidence
// for Accurate Object Detection", ECCV 2018): the closed-form math, shared by
// the CPU drivers (pytorch/cpu/prroi_pool_cpu.cpp) and the CUDA kernels
// (common/cuda/prroi_pool_cuda_kernel.cuh). Nothing here allocates or knows
// about a device: every function is a HOST_DEVICE inline template.
//
// Model. A feature plane F (H x W) defines the continuous surface
//   f(x, y) = sum_{j, i} F[j, i] * k(x - i) * k(y - j),  k(t) = max(0, 1-|t|),
// i.e. the bilinear interpolation of F with zeros outside the map (pixel
// (i, j) sits at the integer point (x, y) = (i, j), no half-pixel offset).
// A bin [x1, x2] x [y1, y2] outputs the mean of f over the bin:
//   out = 1 / ((x2-x1)(y2-y1)) * sum_j wy_j * sum_i wx_i * F[j, i],
//   wx_i = integral_{x1}^{x2} k(x - i) dx,  wy_j likewise,
// so the 2-D integral separates into 1-D "axis weights". The weights are
// stored normalised by the bin size (wx_i / (x2-x1)), which keeps every
// quantity bounded and makes zero-size bins output 0 instead of 0/0.
//
// Gradients.
//   d out / d F[j, i] = wx_i * wy_j / area.
//   d out / d x2 = (mean of f on the right edge - out) / (x2 - x1), and
//   d out / d x1 = (out - mean of f on the left edge) / (x2 - x1)
// (same for y), because d/dx2 of the integral is the line integral of f
// along the edge x = x2. f is continuous, so these are exact everywhere.
// Bin edges are affine in the RoI's corners; edge_grad_coeffs folds in the
// chain rule.
#ifndef PRROI_POOL_UTILS_HPP
#define PRROI_POOL_UTILS_HPP

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#ifndef HOST_DEVICE
#define HOST_DEVICE __host__ __device__
#endif
#ifndef HOST_DEVICE_INLINE
#define HOST_DEVICE_INLINE HOST_DEVICE __forceinline__
#endif
#else
#ifndef HOST_DEVICE
#define HOST_DEVICE
#endif
#ifndef HOST_DEVICE_INLINE
#define HOST_DEVICE_INLINE inline
#endif
#endif

namespace prroi {

template <typename T>
HOST_DEVICE_INLINE T min_(T a, T b) {
  return b < a ? b : a;
}

template <typename T>
HOST_DEVICE_INLINE T max_(T a, T b) {
  return a < b ? b : a;
}

template <typename T>
HOST_DEVICE_INLINE T floor_(T x) {
#ifdef __CUDA_ARCH__
  return floor(x);
#else
  return std::floor(x);
#endif
}

template <typename T>
HOST_DEVICE_INLINE T ceil_(T x) {
#ifdef __CUDA_ARCH__
  return ceil(x);
#else
  return std::ceil(x);
#endif
}

// k(t) = max(0, 1 - |t|): the weight of pixel i at the point x = i + t.
template <typename T>
HOST_DEVICE_INLINE T hat(T t) {
  t = t < T(0) ? -t : t;
  return t < T(1) ? T(1) - t : T(0);
}

// Integral of k over [a, b] (a <= b). Each flank of the tent is linear, so
// its integral is (length) * (value at the midpoint); this form has no
// cancellation for sub-pixel intervals, unlike differences of the CDF.
template <typename T>
HOST_DEVICE_INLINE T hat_integral(T a, T b) {
  T w = T(0);
  T l = max_(a, T(-1));  // rising flank, t in [-1, 0]: k = 1 + t
  T r = min_(b, T(0));
  if (r > l) w += (r - l) * (T(1) + T(0.5) * (l + r));
  l = max_(a, T(0));  // falling flank, t in [0, 1]: k = 1 - t
  r = min_(b, T(1));
  if (r > l) w += (r - l) * (T(1) - T(0.5) * (l + r));
  return w;
}

// Axis weight of grid index i on the interval [lo, hi].
template <typename T>
HOST_DEVICE_INLINE T axis_weight(T lo, T hi, int i) {
  return hat_integral(lo - T(i), hi - T(i));
}

// Indices in [0, size) whose weight on [lo, hi] may be nonzero:
// [floor(lo), ceil(hi)], clipped. Empty when *first > *last. With lo == hi
// this gives the (at most two) interpolation taps of the point lo.
template <typename T>
HOST_DEVICE_INLINE void axis_span(T lo, T hi, int size, int* first,
                                  int* last) {
  // Clamp before the int conversion: far-away boxes must not overflow.
  const T lim_lo = T(-2), lim_hi = T(size) + T(1);
  lo = min_(max_(lo, lim_lo), lim_hi);
  hi = min_(max_(hi, lim_lo), lim_hi);
  *first = max_(static_cast<int>(floor_(lo)), 0);
  *last = min_(static_cast<int>(ceil_(hi)), size - 1);
}

// 1 / size, or 0 when the size is not positive or its inverse overflows
// (a degenerate bin, which outputs 0 and has zero gradients).
template <typename T>
HOST_DEVICE_INLINE T safe_inverse(T size) {
  if (!(size > T(0))) return T(0);
  const T inv = T(1) / size;
  return (inv - inv == T(0)) ? inv : T(0);  // false for inf
}

// One RoI, scaled to feature-map coordinates and split into bins.
// Bin p along x spans [x0 + p * bin_w, x0 + (p + 1) * bin_w], so the right
// edge of a bin is bit-identical to the left edge of the next one.
// Means are normalised by the width of the bin as computed (hi - lo), not by
// bin_w: the weights of a bin then sum to exactly 1 inside the map, which
// matters in float32 for tiny bins far from the origin.
template <typename T>
struct RoIGrid {
  int batch;
  T x0, y0;        // top-left corner
  T bin_w, bin_h;  // bin size (>= 0)

  HOST_DEVICE_INLINE bool empty() const {
    return !(bin_w > T(0)) || !(bin_h > T(0));
  }
  HOST_DEVICE_INLINE T edge_x(int p) const { return x0 + T(p) * bin_w; }
  HOST_DEVICE_INLINE T edge_y(int p) const { return y0 + T(p) * bin_h; }
  // 1 / width of bin column p (0 if degenerate); likewise for rows.
  HOST_DEVICE_INLINE T inv_w(int p) const {
    return safe_inverse(edge_x(p + 1) - edge_x(p));
  }
  HOST_DEVICE_INLINE T inv_h(int p) const {
    return safe_inverse(edge_y(p + 1) - edge_y(p));
  }
};

// roi: [batch_idx, x1, y1, x2, y2] in image coordinates.
template <typename T>
HOST_DEVICE_INLINE RoIGrid<T> make_roi_grid(const T* roi, int pooled_height,
                                            int pooled_width,
                                            T spatial_scale) {
  RoIGrid<T> g;
  g.batch = static_cast<int>(roi[0]);
  g.x0 = roi[1] * spatial_scale;
  g.y0 = roi[2] * spatial_scale;
  const T w = max_(roi[3] * spatial_scale - g.x0, T(0));
  const T h = max_(roi[4] * spatial_scale - g.y0, T(0));
  g.bin_w = w / T(pooled_width);
  g.bin_h = h / T(pooled_height);
  return g;
}

// Mean of f over the bin [xlo, xhi] x [ylo, yhi] (inv_w, inv_h: inverse
// bin sizes, see RoIGrid). plane: one (H, W) channel.
template <typename T>
HOST_DEVICE_INLINE T bin_mean(const T* plane, int height, int width, T xlo,
                              T xhi, T ylo, T yhi, T inv_w, T inv_h) {
  int xs, xe, ys, ye;
  axis_span(xlo, xhi, width, &xs, &xe);
  axis_span(ylo, yhi, height, &ys, &ye);
  T sum = T(0);
  for (int j = ys; j <= ye; ++j) {
    const T* line = plane + static_cast<int64_t>(j) * width;
    T row = T(0);
    for (int i = xs; i <= xe; ++i) row += axis_weight(xlo, xhi, i) * line[i];
    sum += axis_weight(ylo, yhi, j) * row;
  }
  return sum * inv_w * inv_h;
}

// Adjoint of bin_mean: grad_plane[j, i] += grad * wx_i * wy_j / area, through
// the functor add(T* address, T value) (atomic on CUDA, plain on CPU).
template <typename T, typename AddFn>
HOST_DEVICE_INLINE void bin_mean_backward(T* grad_plane, int height,
                                          int width, T xlo, T xhi, T ylo,
                                          T yhi, T inv_w, T inv_h, T grad,
                                          const AddFn& add) {
  const T g = grad * inv_w * inv_h;
  if (g == T(0)) return;
  int xs, xe, ys, ye;
  axis_span(xlo, xhi, width, &xs, &xe);
  axis_span(ylo, yhi, height, &ys, &ye);
  for (int j = ys; j <= ye; ++j) {
    T* line = grad_plane + static_cast<int64_t>(j) * width;
    const T gy = g * axis_weight(ylo, yhi, j);
    for (int i = xs; i <= xe; ++i) add(line + i, gy * axis_weight(xlo, xhi, i));
  }
}

// Mean of f along the vertical segment x = x, y in [ylo, yhi].
template <typename T>
HOST_DEVICE_INLINE T vertical_edge_mean(const T* plane, int height, int width,
                                        T x, T ylo, T yhi, T inv_h) {
  int xs, xe, ys, ye;
  axis_span(x, x, width, &xs, &xe);
  axis_span(ylo, yhi, height, &ys, &ye);
  T sum = T(0);
  for (int i = xs; i <= xe; ++i) {
    const T tap = hat(x - T(i));
    T col = T(0);
    for (int j = ys; j <= ye; ++j)
      col += axis_weight(ylo, yhi, j) * plane[static_cast<int64_t>(j) * width + i];
    sum += tap * col;
  }
  return sum * inv_h;
}

// Mean of f along the horizontal segment y = y, x in [xlo, xhi].
template <typename T>
HOST_DEVICE_INLINE T horizontal_edge_mean(const T* plane, int height,
                                          int width, T y, T xlo, T xhi,
                                          T inv_w) {
  int xs, xe, ys, ye;
  axis_span(xlo, xhi, width, &xs, &xe);
  axis_span(y, y, height, &ys, &ye);
  T sum = T(0);
  for (int j = ys; j <= ye; ++j) {
    const T* line = plane + static_cast<int64_t>(j) * width;
    T row = T(0);
    for (int i = xs; i <= xe; ++i) row += axis_weight(xlo, xhi, i) * line[i];
    sum += hat(y - T(j)) * row;
  }
  return sum * inv_w;
}

// Coordinate gradient of one bin mean, along one axis. For bin p of P,
// with low edge c1' + p / P * (c2' - c1'), high edge
// c1' + (p + 1) / P * (c2' - c1') (c' = spatial_scale * c) and inverse
// size inv:
//   d out / d low = (out - low_mean) * inv,
//   d out / d high = (high_mean - out) * inv,
// so, by the chain rule, d out / d c1 = spatial_scale *
// (out * k[0] + low_mean * k[1] + high_mean * k[2]) and d out / d c2 =
// spatial_scale * (out * k[3] + low_mean * k[4] + high_mean * k[5]).
// low_mean/high_mean: means of f on the bin's two edges across this axis.
// The k depend on the bin only, so drivers can hoist them out of channel
// loops.
template <typename T>
HOST_DEVICE_INLINE void edge_grad_coeffs(int p, int bins, T inv, T* k) {
  const T lo = T(p) / T(bins), hi = T(p + 1) / T(bins);
  // d low / d c1 = 1 - lo, d low / d c2 = lo; d high / d c1 = 1 - hi, ...
  k[0] = inv * ((T(1) - lo) - (T(1) - hi));
  k[1] = -inv * (T(1) - lo);
  k[2] = inv * (T(1) - hi);
  k[3] = inv * (lo - hi);
  k[4] = -inv * lo;
  k[5] = inv * hi;
}

// ---------------------------------------------------------------------------
// Per-output-element bodies. The CUDA kernels are grid-stride loops over
// exactly these; the CPU "elementwise" driver runs them too, so the CPU test
// suite exercises the code the GPU runs. index enumerates (K, C, PH, PW).
// ---------------------------------------------------------------------------
struct OutputIndex {
  int64_t roi;
  int64_t channel;
  int ph, pw;
};

HOST_DEVICE_INLINE OutputIndex decompose_index(int64_t index, int64_t channels,
                                               int pooled_height,
                                               int pooled_width) {
  OutputIndex o;
  o.pw = static_cast<int>(index % pooled_width);
  index /= pooled_width;
  o.ph = static_cast<int>(index % pooled_height);
  index /= pooled_height;
  o.channel = index % channels;
  o.roi = index / channels;
  return o;
}

template <typename T>
HOST_DEVICE_INLINE T forward_element(int64_t index, const T* input,
                                     const T* rois, int64_t channels,
                                     int height, int width, int pooled_height,
                                     int pooled_width, T spatial_scale) {
  const OutputIndex o =
      decompose_index(index, channels, pooled_height, pooled_width);
  const RoIGrid<T> g = make_roi_grid(rois + o.roi * 5, pooled_height,
                                     pooled_width, spatial_scale);
  if (g.empty()) return T(0);
  const T* plane = input + (g.batch * channels + o.channel) *
                               static_cast<int64_t>(height) * width;
  return bin_mean(plane, height, width, g.edge_x(o.pw), g.edge_x(o.pw + 1),
                  g.edge_y(o.ph), g.edge_y(o.ph + 1), g.inv_w(o.pw),
                  g.inv_h(o.ph));
}

template <typename T, typename AddFn>
HOST_DEVICE_INLINE void backward_element(int64_t index, const T* grad_output,
                                         const T* rois, T* grad_input,
                                         int64_t channels, int height,
                                         int width, int pooled_height,
                                         int pooled_width, T spatial_scale,
                                         const AddFn& add) {
  const OutputIndex o =
      decompose_index(index, channels, pooled_height, pooled_width);
  const RoIGrid<T> g = make_roi_grid(rois + o.roi * 5, pooled_height,
                                     pooled_width, spatial_scale);
  if (g.empty()) return;
  T* plane = grad_input + (g.batch * channels + o.channel) *
                              static_cast<int64_t>(height) * width;
  bin_mean_backward(plane, height, width, g.edge_x(o.pw), g.edge_x(o.pw + 1),
                    g.edge_y(o.ph), g.edge_y(o.ph + 1), g.inv_w(o.pw),
                    g.inv_h(o.ph), grad_output[index], add);
}

// Adds this element's contribution to d loss / d (x1, y1, x2, y2) of its RoI
// into acc[0..3]. output: the forward result (the bin mean).
template <typename T>
HOST_DEVICE_INLINE void coord_backward_element(
    int64_t index, const T* grad_output, const T* output, const T* input,
    const T* rois, int64_t channels, int height, int width, int pooled_height,
    int pooled_width, T spatial_scale, T* acc) {
  const T grad = grad_output[index];
  if (grad == T(0)) return;
  const OutputIndex o =
      decompose_index(index, channels, pooled_height, pooled_width);
  const RoIGrid<T> g = make_roi_grid(rois + o.roi * 5, pooled_height,
                                     pooled_width, spatial_scale);
  if (g.empty()) return;
  const T* plane = input + (g.batch * channels + o.channel) *
                               static_cast<int64_t>(height) * width;
  const T xlo = g.edge_x(o.pw), xhi = g.edge_x(o.pw + 1);
  const T ylo = g.edge_y(o.ph), yhi = g.edge_y(o.ph + 1);
  const T inv_w = g.inv_w(o.pw), inv_h = g.inv_h(o.ph);
  const T left = vertical_edge_mean(plane, height, width, xlo, ylo, yhi,
                                    inv_h);
  const T right = vertical_edge_mean(plane, height, width, xhi, ylo, yhi,
                                     inv_h);
  const T top = horizontal_edge_mean(plane, height, width, ylo, xlo, xhi,
                                     inv_w);
  const T bottom = horizontal_edge_mean(plane, height, width, yhi, xlo, xhi,
                                        inv_w);
  T kx[6], ky[6];
  edge_grad_coeffs(o.pw, pooled_width, inv_w, kx);
  edge_grad_coeffs(o.ph, pooled_height, inv_h, ky);
  const T out = output[index], gs = grad * spatial_scale;
  acc[0] += gs * (out * kx[0] + left * kx[1] + right * kx[2]);
  acc[1] += gs * (out * ky[0] + top * ky[1] + bottom * ky[2]);
  acc[2] += gs * (out * kx[3] + left * kx[4] + right * kx[5]);
  acc[3] += gs * (out * ky[3] + top * ky[4] + bottom * ky[5]);
}

}  // namespace prroi

#endif  // PRROI_POOL_UTILS_HPP
