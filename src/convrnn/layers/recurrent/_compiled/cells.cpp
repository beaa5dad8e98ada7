// Fused forward and backward loops of the recurrent cells (see ../fused.py for the equations).
//
// Every step is one or two matrix products (ATen, so MKL/oneDNN) and one pass of fused pointwise
// code over the (N, H) state, written as plain loops over raw pointers so that no temporary is
// allocated per step. ``omp simd`` tells the compiler that the H units of a row are independent
// (it cannot prove that the pointers do not alias), so the loops vectorise, exp and tanh through
// glibc's vector math library (written ``_Pragma`` because the loops sit inside the AT_DISPATCH
// macro, where ``#pragma`` is not allowed). The backward loop recomputes nothing: the forward
// saves every gate's activation. Gradients of the recurrent weights are summed over all steps with one matrix
// product at the end, not one per step.
//
// Threads share each loop by sequences or by steps (common.h over_sequences): the row pointers
// below are those of a block [first, last) of the N sequences.
//
// Letters: T steps, N sequences, H hidden units. Tensors are time-major and contiguous:
// xw (T, N, G·H) the input projections W x_t + b_W; mask (T, N) bool or empty (no padding);
// an empty peephole tensor means no peepholes. At a padded step (mask false) the state is
// copied through unchanged and the step's gate gradients are zero.

#include "common.h"
#include "core.h"
#include "units.h"

namespace convrnn {


// ---------------------------------------------------------------------------------------------
// LSTM, optionally with diagonal peepholes V = (V_i, V_f, V_o):
//   i = σ(a_i + V_i c_{t−1}), f = σ(a_f + V_f c_{t−1}), g = tanh(a_g),
//   c_t = f c_{t−1} + i g, o = σ(a_o + V_o c_t), h_t = o tanh(c_t),  a = xw_t + U h_{t−1} + b_U.
// Saved: gates (T, N, 4H) holding i, f, g, o.

std::vector<at::Tensor> lstm_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                     const at::Tensor& peephole, const at::Tensor& mask, bool overwrite) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1);
  // ``overwrite``: xw is a temporary no one reads again (inference), so the gates are computed in
  // its memory rather than in a fresh (T, N, 4H) buffer (whose first touch costs a page fault
  // per 4 KiB here), and the row pass adds b, so no pass of its own does. In training a fresh
  // buffer xw + b is faster (measured 8–17 %) than letting the products touch fresh memory first.
  // Rows of padded steps keep what they hold (no bias when overwriting): nothing reads them.
  at::Tensor gates = overwrite ? xw : fresh(xw.sizes(), xw.options());
  if (!overwrite) at::add_out(gates, xw, bias_hh);
  at::Tensor h_all = fresh({T, N, H}, h0.options());
  at::Tensor c_all = fresh({T, N, H}, h0.options());
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "lstm_forward", [&] {
    const scalar_t* V = peephole.numel() ? peephole.data_ptr<scalar_t>() : nullptr;
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    scalar_t* const g_all = gates.data_ptr<scalar_t>();
    const scalar_t* const bias = bias_hh.data_ptr<scalar_t>();
    scalar_t* const h_base = h_all.data_ptr<scalar_t>();
    scalar_t* const c_base = c_all.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_base + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        const scalar_t* cp = t ? c_base + (t - 1) * N * H : c0.data_ptr<scalar_t>();
        scalar_t* g = g_all + t * N * 4 * H;
        U.multiply(hp + first * H, last - first, 1, g + first * 4 * H);
        scalar_t* h = h_base + t * N * H;
        scalar_t* c = c_base + t * N * H;
        for_rows(first, last, 4 * H, [&](int64_t n) {
          scalar_t* gn = g + n * 4 * H;
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            std::copy(cp + row, cp + row + H, c + row);
            return;
          }
          // Branch-free copies of the loop (with and without peepholes, bias to add or not) so
          // that it vectorises; the four blocks' additions written out for the same reason.
          with_flag(V != nullptr, [&](auto peephole) {
            with_flag(overwrite, [&](auto add_bias) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                if constexpr (decltype(add_bias)::value) {
                  gn[k] += bias[k];
                  gn[H + k] += bias[H + k];
                  gn[2 * H + k] += bias[2 * H + k];
                  gn[3 * H + k] += bias[3 * H + k];
                }
                const scalar_t cell = lstm_unit<decltype(peephole)::value>(gn, k, H, cp[row + k], V);
                c[row + k] = cell;
                h[row + k] = gn[3 * H + k] * math::tanh(cell);
              }
            });
          });
        });
      }
    });
  });
  return {h_all, c_all, gates};
}

// Returns grad xw (T, N, 4H), grad h0, grad c0, grad weight_hh, grad bias_hh, grad peephole.
std::vector<at::Tensor> lstm_backward(const at::Tensor& grad_h, const at::Tensor& grad_c, const at::Tensor& h0,
                                      const at::Tensor& c0, const at::Tensor& h_all, const at::Tensor& c_all,
                                      const at::Tensor& gates, const at::Tensor& weight_hh,
                                      const at::Tensor& peephole, const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_gates = fresh(gates.sizes(), gates.options());
  at::Tensor dh = at::zeros_like(h0);      // ∂L/∂h_t through step t+1
  at::Tensor dc = at::zeros_like(c0);      // ∂L/∂c_t through step t+1, updated in place
  at::Tensor passed = at::empty_like(h0);  // ∂L/∂h_t carried straight through padded steps
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "lstm_backward", [&] {
    const scalar_t* V = peephole.numel() ? peephole.data_ptr<scalar_t>() : nullptr;
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* gc = grad_c.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* c = c_all.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* cp = t ? c_all.data_ptr<scalar_t>() + (t - 1) * N * H : c0.data_ptr<scalar_t>();
      const scalar_t* s = gates.data_ptr<scalar_t>() + t * N * 4 * H;
      scalar_t* d = d_gates.data_ptr<scalar_t>() + t * N * 4 * H;
      scalar_t* dcp = dc.data_ptr<scalar_t>();
      for_rows(first, last, 4 * H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dn = d + n * 4 * H;
        const scalar_t* sn = s + n * 4 * H;
        if (!active(m, t, N, n)) {
          std::fill(dn, dn + 4 * H, scalar_t(0));
          carry_through(pass + row, gh + row, dhp + row, H);
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) dcp[row + k] += gc[row + k];
          return;
        }
        with_flag(V != nullptr, [&](auto peephole) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t o = sn[3 * H + k];
            const scalar_t d_h = gh[row + k] + dhp[row + k];
            const scalar_t squashed = math::tanh(c[row + k]);
            const scalar_t d_o = d_h * squashed * o * (1 - o);
            scalar_t d_c = gc[row + k] + dcp[row + k] + d_h * o * (1 - squashed * squashed);
            if constexpr (decltype(peephole)::value) d_c += V[2 * H + k] * d_o;
            dn[3 * H + k] = d_o;
            dcp[row + k] = lstm_unit_backward<decltype(peephole)::value>(dn, sn, k, H, d_c, cp[row + k], V);
            pass[row + k] = 0;
          }
        });
      });
      U.multiply(d + first * 4 * H, last - first, 1, pass + first * H);
    });
  });
  const at::Tensor flat = d_gates.view({T * N, 4 * H});
  at::Tensor grad_weight = weight_gradient(d_gates, h0, h_all);
  at::Tensor grad_bias = flat.sum(0);
  at::Tensor grad_peephole;
  if (peephole.numel()) {
    const at::Tensor c_prev = previous_states(c0, c_all);
    const int64_t R = T * N;
    grad_peephole = at::stack({column_dot(d_gates, 4 * H, c_prev, H, R, H),
                               column_dot(d_gates, 4 * H, c_prev, H, R, H, H),
                               column_dot(d_gates, 4 * H, c_all, H, R, H, 3 * H)});
  }
  return {d_gates, dh, dc, grad_weight, grad_bias, grad_peephole};
}

// ---------------------------------------------------------------------------------------------
// Gated cells whose candidate reads a gated state, q ∘ h_{t−1}:
//   GRU, reset before (seed 002): r = σ(a_r), z = σ(a_z), n = tanh(a_n + U_n (r ∘ h)), h_t = n + z (h − n)
//   MGU:                           f = σ(a_f),         n = tanh(a_n + U_n (f ∘ h)), h_t = h + f (n − h)
// with a = xw_t + U h_{t−1} + b_U for the gate blocks (r, z or f) and a_n = xw_n + b_Un.
// ``gru`` selects the first, else the second. Saved: gate activations (T, N, S·H) with S = 2
// for the GRU (r, z) and 1 for the MGU (f), candidates n (T, N, H), gated states q ∘ h (T, N, H).

std::vector<at::Tensor> gated_forward(bool gru, const at::Tensor& xw, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                      const at::Tensor& mask) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1), S = gru ? 2 : 1;
  at::Tensor gate = at::add(xw.narrow(2, 0, S * H), bias_hh.narrow(0, 0, S * H));
  at::Tensor cand = at::add(xw.narrow(2, S * H, H), bias_hh.narrow(0, S * H, H));
  at::Tensor gated = at::empty({T, N, H}, h0.options());
  at::Tensor h_all = at::empty({T, N, H}, h0.options());
  const at::Tensor gate_weight = weight_hh.narrow(0, 0, S * H);
  const at::Tensor cand_weight = weight_hh.narrow(0, S * H, H);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "gated_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U_gates(gate_weight, true, N, T), U_cand(cand_weight, true, N, T);
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        scalar_t* g = gate.data_ptr<scalar_t>() + t * N * S * H;
        U_gates.multiply(hp + first * H, last - first, 1, g + first * S * H);
        scalar_t* q = gated.data_ptr<scalar_t>() + t * N * H;
        for_rows(first, last, S * H, [&](int64_t n) {
          scalar_t* gn = g + n * S * H;
          _Pragma("omp simd")
          for (int64_t k = 0; k < S * H; ++k) gn[k] = sigmoid(gn[k]);
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) q[n * H + k] = gn[k] * hp[n * H + k];
        });
        scalar_t* c = cand.data_ptr<scalar_t>() + t * N * H;
        U_cand.multiply(q + first * H, last - first, 1, c + first * H);
        scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
        for_rows(first, last, H, [&](int64_t n) {
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            return;
          }
          const scalar_t* gn = g + n * S * H;
          with_flag(gru, [&](auto is_gru) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) {
              const scalar_t candidate = math::tanh(c[row + k]);
              c[row + k] = candidate;
              h[row + k] = interpolate<decltype(is_gru)::value>(candidate, hp[row + k], gn, k, H);
            }
          });
        });
      }
    });
  });
  return {h_all, gate, cand, gated};
}

// Returns grad xw (T, N, (S+1)·H), grad h0, grad weight_hh, grad bias_hh.
std::vector<at::Tensor> gated_backward(bool gru, const at::Tensor& grad_h, const at::Tensor& h0,
                                       const at::Tensor& h_all, const at::Tensor& gate, const at::Tensor& cand,
                                       const at::Tensor& gated, const at::Tensor& weight_hh,
                                       const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2), S = gru ? 2 : 1;
  at::Tensor d_gate = at::empty_like(gate);
  at::Tensor d_cand = at::empty_like(cand);
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor direct = at::empty_like(h0);  // ∂L/∂h_{t−1} not through the recurrent matrices
  at::Tensor d_q = at::empty_like(h0);     // ∂L/∂(q ∘ h_{t−1})
  const at::Tensor gate_weight = weight_hh.narrow(0, 0, S * H);
  const at::Tensor cand_weight = weight_hh.narrow(0, S * H, H);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "gated_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U_gates(gate_weight, false, N, T), U_cand(cand_weight, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, direct,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* dd) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
      const scalar_t* g = gate.data_ptr<scalar_t>() + t * N * S * H;
      const scalar_t* c = cand.data_ptr<scalar_t>() + t * N * H;
      scalar_t* dg = d_gate.data_ptr<scalar_t>() + t * N * S * H;
      scalar_t* dc = d_cand.data_ptr<scalar_t>() + t * N * H;
      // Pass 1: everything but the path through U_n; dg holds ∂L/∂(gate activation) so far.
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dgn = dg + n * S * H;
        const scalar_t* gn = g + n * S * H;
        if (!active(m, t, N, n)) {
          std::fill(dgn, dgn + S * H, scalar_t(0));
          std::fill(dc + row, dc + row + H, scalar_t(0));
          carry_through(dd + row, gh + row, dhp + row, H);
          return;
        }
        with_flag(gru, [&](auto is_gru) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            gated_unit_backward<decltype(is_gru)::value>(gh[row + k] + dhp[row + k], c[row + k], hp[row + k], gn,
                                                         dgn, k, H, dc[row + k], dd[row + k]);
          }
        });
      });
      // ∂L/∂(q ∘ h_{t−1}) = d_cand U_n; zero on padded rows, whose d_cand is zero.
      U_cand.multiply(dc + first * H, last - first, 0, d_q.data_ptr<scalar_t>() + first * H);
      const scalar_t* dq = d_q.data_ptr<scalar_t>();
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dgn = dg + n * S * H;
        const scalar_t* gn = g + n * S * H;
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) {
          const scalar_t q = gn[k];
          dd[row + k] += dq[row + k] * q;
          dgn[k] += dq[row + k] * hp[row + k];
        }
        _Pragma("omp simd")
        for (int64_t k = 0; k < S * H; ++k) dgn[k] *= gn[k] * (1 - gn[k]);
      });
      U_gates.multiply(dg + first * S * H, last - first, 1, dd + first * H);
    });
  });
  const at::Tensor flat_gate = d_gate.view({T * N, S * H});
  const at::Tensor flat_cand = d_cand.view({T * N, H});
  at::Tensor grad_weight = at::cat({weight_gradient(d_gate, h0, h_all),
                                    flat_cand.t().mm(gated.view({T * N, H}))});
  at::Tensor grad_bias = at::cat({flat_gate.sum(0), flat_cand.sum(0)});
  return {at::cat({d_gate, d_cand}, 2), dh, grad_weight, grad_bias};
}

// ---------------------------------------------------------------------------------------------
// Elman: h_t = g(xw_t + U h_{t−1} + b_U), g by ``activation`` (units.h: tanh, relu, sigmoid,
// leaky relu with ``slope``, identity).

std::vector<at::Tensor> elman_forward(int64_t activation, double slope, const at::Tensor& xw, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                      const at::Tensor& mask) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1);
  at::Tensor h_all = at::add(xw, bias_hh);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "elman_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t s = static_cast<scalar_t>(slope);
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
        U.multiply(hp + first * H, last - first, 1, h + first * H);
        for_rows(first, last, H, [&](int64_t n) {
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            return;
          }
          with_activation(activation, [&](auto act) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) h[row + k] = activate<decltype(act)::value>(h[row + k], s);
          });
        });
      }
    });
  });
  return {h_all};
}

// Returns grad xw (T, N, H), grad h0, grad weight_hh, grad bias_hh.
std::vector<at::Tensor> elman_backward(int64_t activation, double slope, const at::Tensor& grad_h,
                                       const at::Tensor& h0, const at::Tensor& h_all, const at::Tensor& weight_hh,
                                       const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_pre = at::empty_like(h_all);
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor passed = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "elman_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t s = static_cast<scalar_t>(slope);
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
      scalar_t* d = d_pre.data_ptr<scalar_t>() + t * N * H;
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        const bool on = active(m, t, N, n);
        with_activation(activation, [&](auto act) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t d_h = gh[row + k] + dhp[row + k];
            const scalar_t derivative = activation_slope<decltype(act)::value>(h[row + k], s);
            d[row + k] = on ? d_h * derivative : scalar_t(0);
            pass[row + k] = on ? scalar_t(0) : d_h;
          }
        });
      });
      U.multiply(d + first * H, last - first, 1, pass + first * H);
    });
  });
  const at::Tensor flat = d_pre.view({T * N, H});
  return {d_pre, dh, weight_gradient(d_pre, h0, h_all), flat.sum(0)};
}

// ---------------------------------------------------------------------------------------------
// Seed 001's gated unit (GatedCell): one product of h_{t−1} per step, no reset gate:
//   a = xw_t + U h_{t−1} + b_U (2H: g and ẑ blocks), g = σ(a_g), ẑ = tanh(a_ẑ), h_t = ẑ + g (h_{t−1} − ẑ).
// Saved: gates (T, N, 2H) holding g and ẑ.

std::vector<at::Tensor> gated_unit_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& weight_hh,
                                           const at::Tensor& bias_hh, const at::Tensor& mask) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1);
  at::Tensor gates = fresh(xw.sizes(), xw.options());
  at::add_out(gates, xw, bias_hh);
  at::Tensor h_all = fresh({T, N, H}, h0.options());
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "gated_unit_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    scalar_t* const g_all = gates.data_ptr<scalar_t>();
    scalar_t* const h_base = h_all.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_base + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        scalar_t* g = g_all + t * N * 2 * H;
        U.multiply(hp + first * H, last - first, 1, g + first * 2 * H);
        scalar_t* h = h_base + t * N * H;
        for_rows(first, last, 2 * H, [&](int64_t n) {
          scalar_t* gn = g + n * 2 * H;
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            return;
          }
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t gate = math::sigmoid(gn[k]);
            const scalar_t candidate = math::tanh(gn[H + k]);
            gn[k] = gate;
            gn[H + k] = candidate;
            h[row + k] = candidate + gate * (hp[row + k] - candidate);
          }
        });
      }
    });
  });
  return {h_all, gates};
}

// Returns grad xw (T, N, 2H), grad h0, grad weight_hh, grad bias_hh.
std::vector<at::Tensor> gated_unit_backward(const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all,
                                            const at::Tensor& gates, const at::Tensor& weight_hh,
                                            const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_gates = fresh(gates.sizes(), gates.options());
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor passed = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "gated_unit_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
      const scalar_t* s = gates.data_ptr<scalar_t>() + t * N * 2 * H;
      scalar_t* d = d_gates.data_ptr<scalar_t>() + t * N * 2 * H;
      for_rows(first, last, 2 * H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dn = d + n * 2 * H;
        const scalar_t* sn = s + n * 2 * H;
        if (!active(m, t, N, n)) {
          std::fill(dn, dn + 2 * H, scalar_t(0));
          carry_through(pass + row, gh + row, dhp + row, H);
          return;
        }
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k)
          pass[row + k] = gated_unit_grad(sn, dn, k, H, gh[row + k] + dhp[row + k], hp[row + k]);
      });
      U.multiply(d + first * 2 * H, last - first, 1, pass + first * H);
    });
  });
  const at::Tensor flat = d_gates.view({T * N, 2 * H});
  return {d_gates, dh, weight_gradient(d_gates, h0, h_all), flat.sum(0)};
}

// ---------------------------------------------------------------------------------------------
// Linear recurrence h_t = a_t ∘ h_{t−1} + b_t over (T, M) (M = every other dimension, flattened):
// on a CPU one pass through time, vectorised over M, reads every input once — cheaper than any
// parallel-in-time scan, which must read them several times. Threads own slices of M.

at::Tensor linear_scan_forward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& h0) {
  const int64_t T = a.size(0), M = h0.numel();
  at::Tensor h = at::empty_like(b);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_forward", [&] {
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* pb = b.data_ptr<scalar_t>();
    const scalar_t* first = h0.data_ptr<scalar_t>();
    scalar_t* ph = h.data_ptr<scalar_t>();
    at::parallel_for(0, M, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* previous = t ? ph + (t - 1) * M : first;
        const int64_t row = t * M;
        _Pragma("omp simd")
        for (int64_t k = begin; k < end; ++k) ph[row + k] = pa[row + k] * previous[k] + pb[row + k];
      }
    });
  });
  return h;
}

// g_t = ∂L/∂h_t + a_{t+1} ∘ g_{t+1}; returns ∂L/∂a = g_t ∘ h_{t−1}, ∂L/∂b = g, ∂L/∂h0 = a_0 ∘ g_0.
std::vector<at::Tensor> linear_scan_backward(const at::Tensor& grad_h, const at::Tensor& a, const at::Tensor& h,
                                             const at::Tensor& h0) {
  const int64_t T = a.size(0), M = h0.numel();
  at::Tensor grad_a = at::empty_like(a);
  at::Tensor grad_b = at::empty_like(a);
  at::Tensor grad_h0 = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_backward", [&] {
    const scalar_t* gh = grad_h.data_ptr<scalar_t>();
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* ph = h.data_ptr<scalar_t>();
    const scalar_t* first = h0.data_ptr<scalar_t>();
    scalar_t* ga = grad_a.data_ptr<scalar_t>();
    scalar_t* gb = grad_b.data_ptr<scalar_t>();
    scalar_t* g0 = grad_h0.data_ptr<scalar_t>();
    at::parallel_for(0, M, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t row = t * M;
        const scalar_t* previous = t ? ph + (t - 1) * M : first;
        if (t == T - 1) {
          _Pragma("omp simd")
          for (int64_t k = begin; k < end; ++k) gb[row + k] = gh[row + k];
        } else {
          _Pragma("omp simd")
          for (int64_t k = begin; k < end; ++k) gb[row + k] = gh[row + k] + pa[row + M + k] * gb[row + M + k];
        }
        _Pragma("omp simd")
        for (int64_t k = begin; k < end; ++k) ga[row + k] = gb[row + k] * previous[k];
      }
      _Pragma("omp simd")
      for (int64_t k = begin; k < end; ++k) g0[k] = pa[k] * gb[k];
    });
  });
  return {grad_a, grad_b, grad_h0};
}

}  // namespace convrnn
