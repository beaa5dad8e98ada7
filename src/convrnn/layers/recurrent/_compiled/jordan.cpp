// The Jordan network (seed 000; ../cells.py JordanCell): the recurrence runs from the previous
// output y_{t−1} (size O) to the hidden units h_t (size H):
//
//   h_t = g(xw_t + W y_{t−1}),  g = tanh or relu        (xw_t = U x_t + b, computed outside)
//   y_t = d(V h_t + c),         d = identity, tanh, sigmoid or softmax (``decision`` 0 … 3)
//
// W = weight_hh (H, O), V = weight_ho (O, H), c = bias_ho (O). Per step two matrix products
// (N, O)·Wᵀ and (N, H)·Vᵀ, then pointwise code. At a padded step both h and y are copied
// through. Nothing but h and y is saved: d'(·) and g'(·) are functions of y and h.

#include "common.h"
#include "core.h"
#include "units.h"

namespace convrnn {

namespace {

// y ← d(y) for one row of O outputs.
template <typename T>
inline void decide(T* y, int64_t O, int64_t decision) {
  if (decision == 1) {
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) y[k] = math::tanh(y[k]);
  } else if (decision == 2) {
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) y[k] = sigmoid(y[k]);
  } else if (decision == 3) {
    T top = y[0];
    for (int64_t k = 1; k < O; ++k) top = std::max(top, y[k]);
    T total = 0;
    _Pragma("omp simd reduction(+ : total)")
    for (int64_t k = 0; k < O; ++k) {
      y[k] = math::exp(y[k] - top);
      total += y[k];
    }
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) y[k] /= total;
  }
}

// d ← ∂L/∂(V h + c) from d = ∂L/∂y and the outputs y, for one row.
template <typename T>
inline void decide_backward(T* d, const T* y, int64_t O, int64_t decision) {
  if (decision == 1) {
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) d[k] *= 1 - y[k] * y[k];
  } else if (decision == 2) {
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) d[k] *= y[k] * (1 - y[k]);
  } else if (decision == 3) {
    T inner = 0;
    _Pragma("omp simd reduction(+ : inner)")
    for (int64_t k = 0; k < O; ++k) inner += d[k] * y[k];
    _Pragma("omp simd")
    for (int64_t k = 0; k < O; ++k) d[k] = y[k] * (d[k] - inner);
  }
}

}  // namespace

std::vector<at::Tensor> jordan_forward(bool relu, int64_t decision, const at::Tensor& xw, const at::Tensor& h0,
                                       const at::Tensor& y0, const at::Tensor& weight_hh,
                                       const at::Tensor& weight_ho, const at::Tensor& bias_ho,
                                       const at::Tensor& mask) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1), O = y0.size(1);
  at::Tensor h_all = xw.clone();
  // A fresh tensor: expand().contiguous() of a single step would alias the bias itself.
  at::Tensor y_all = at::empty({T, N, O}, y0.options());
  y_all.copy_(bias_ho.expand({T, N, O}));
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "jordan_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> W(weight_hh, true, N, T), V(weight_ho, true, N, T);
    over_sequences(N, weight_hh.nbytes() + weight_ho.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        const scalar_t* yp = t ? y_all.data_ptr<scalar_t>() + (t - 1) * N * O : y0.data_ptr<scalar_t>();
        scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
        scalar_t* y = y_all.data_ptr<scalar_t>() + t * N * O;
        W.multiply(yp + first * O, last - first, 1, h + first * H);
        for_rows(first, last, H, [&](int64_t n) {
          scalar_t* hn = h + n * H;
          with_flag(relu, [&](auto is_relu) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) hn[k] = activate<decltype(is_relu)::value>(hn[k]);
          });
        });
        V.multiply(h + first * H, last - first, 1, y + first * O);
        for_rows(first, last, O, [&](int64_t n) {
          if (!active(m, t, N, n)) {
            std::copy(hp + n * H, hp + (n + 1) * H, h + n * H);
            std::copy(yp + n * O, yp + (n + 1) * O, y + n * O);
            return;
          }
          decide(y + n * O, O, decision);
        });
      }
    });
  });
  return {h_all, y_all};
}

// Returns grad xw (T, N, H), grad h0, grad y0, grad weight_hh, grad weight_ho, grad bias_ho.
std::vector<at::Tensor> jordan_backward(bool relu, int64_t decision, const at::Tensor& grad_h,
                                        const at::Tensor& grad_y, const at::Tensor& y0, const at::Tensor& h_all,
                                        const at::Tensor& y_all, const at::Tensor& weight_hh,
                                        const at::Tensor& weight_ho, const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2), O = y_all.size(2);
  at::Tensor d_pre = at::empty_like(h_all);  // ∂L/∂(xw_t + W y_{t−1})
  at::Tensor d_out = at::empty_like(y_all);  // ∂L/∂(V h_t + c)
  at::Tensor dh = at::zeros({N, H}, h_all.options());   // ∂L/∂h_t carried through padded steps
  at::Tensor dy = at::zeros({N, O}, y_all.options());   // ∂L/∂y_t through step t+1
  at::Tensor d_hidden = at::empty({N, H}, h_all.options());
  at::Tensor passed_y = at::empty({N, O}, y_all.options());
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "jordan_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> W(weight_hh, false, N, T), V(weight_ho, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes() + weight_ho.nbytes(), dy, passed_y,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dyp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* gy = grad_y.data_ptr<scalar_t>() + t * N * O;
      const scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* y = y_all.data_ptr<scalar_t>() + t * N * O;
      scalar_t* dout = d_out.data_ptr<scalar_t>() + t * N * O;
      scalar_t* dp = d_pre.data_ptr<scalar_t>() + t * N * H;
      scalar_t* dhp = dh.data_ptr<scalar_t>();
      for_rows(first, last, O, [&](int64_t n) {
        const int64_t row = n * O;
        const bool on = active(m, t, N, n);
        _Pragma("omp simd")
        for (int64_t k = 0; k < O; ++k) {
          const scalar_t d_y = gy[row + k] + dyp[row + k];
          dout[row + k] = on ? d_y : scalar_t(0);
          pass[row + k] = on ? scalar_t(0) : d_y;
        }
        if (on) decide_backward(dout + row, y + row, O, decision);
      });
      // ∂L/∂h_t = grad_h + carried + ∂L/∂(V h + c) V
      scalar_t* dnow = d_hidden.data_ptr<scalar_t>();
      std::copy(dhp + first * H, dhp + last * H, dnow + first * H);
      V.multiply(dout + first * O, last - first, 1, dnow + first * H);
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        const bool on = active(m, t, N, n);
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) {
          const scalar_t d_h = gh[row + k] + dnow[row + k];
          const scalar_t v = h[row + k];
          const scalar_t slope = relu ? scalar_t(v > 0) : 1 - v * v;
          dp[row + k] = on ? d_h * slope : scalar_t(0);
          dhp[row + k] = on ? scalar_t(0) : d_h;
        }
      });
      W.multiply(dp + first * H, last - first, 1, pass + first * O);
    });
  });
  const at::Tensor flat_out = d_out.view({T * N, O});
  at::Tensor grad_weight_hh = weight_gradient(d_pre, y0, y_all);
  at::Tensor grad_weight_ho = flat_out.t().mm(h_all.view({T * N, H}));
  return {d_pre, dh, dy, grad_weight_hh, grad_weight_ho, flat_out.sum(0)};
}

}  // namespace convrnn
