// Layer-normalised GRU (reset before), MGU, Elman cells and seed 001's gated unit (../options.py):
// every recurrent product is normalised per gate block before its gain, shift and bias are added,
//
//   Elman:      h_t = g(xw_t + α ∘ LN(U h_{t−1}) + β + b_U), g any of units.h's activations
//   GRU / MGU:  a = xw_g + α_g ∘ LN(U_g h_{t−1}) + β_g + b_g   for the S gate blocks (r, z or f),
//               h̃ = tanh(xw_n + α_n ∘ LN(U_n (q ∘ h_{t−1})) + β_n + b_n),  then h_t as in cells.cpp
//   gated unit: a = xw + α ∘ LN(U h_{t−1}) + β + b_U (2H: the g and ẑ blocks, each normalised on its
//               own), g = σ(a_g), ẑ = tanh(a_ẑ), h_t = ẑ + g ∘ (h_{t−1} − ẑ)
//
// (xw = LN(W x) + b_W, computed outside). Saved beyond the plain cells: the normalised products
// r̂ and their 1/sqrt(var + ε) per row and block. The backward pass of each normalisation is
// common.h's normalise_backward; the recurrent matrices' gradients are again one product over all
// steps of the products' gradients with their inputs.

#include "common.h"
#include "core.h"
#include "units.h"

namespace convrnn {

// With input_gain non-empty (here and in the gated cells) xw is the raw W x: its layer norm, gain,
// shift and b_W are applied first, in one pass (common.h normalise_input), and the backward pass
// returns ∂L/∂(W x) and the gradients of those three as well.
std::vector<at::Tensor> layer_norm_elman_forward(int64_t activation, double slope, const at::Tensor& raw, const at::Tensor& h0,
                                                 const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                 const at::Tensor& gain, const at::Tensor& shift,
                                                 const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                 const at::Tensor& bias_ih, const at::Tensor& mask, double eps) {
  const int64_t T = raw.size(0), N = raw.size(1), H = h0.size(1);
  at::Tensor xw = raw, x_mean = at::empty({0}, h0.options()), x_rstd = at::empty({0}, h0.options());
  if (input_gain.numel()) {
    xw = at::empty_like(raw);
    x_mean = at::empty({T, N, 1}, h0.options());
    x_rstd = at::empty({T, N, 1}, h0.options());
    normalise_input(raw, xw, x_mean, x_rstd, input_gain, bias_ih + input_shift.view({H}), eps);
  }
  at::Tensor h_all = at::add(xw, bias_hh + shift.view({H}));
  at::Tensor r_hat = at::empty({T, N, H}, h0.options());
  at::Tensor r_rstd = at::empty({T, N}, h0.options());
  at::Tensor r = at::empty({N, H}, h0.options());
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "layer_norm_elman_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t epsilon = static_cast<scalar_t>(eps);
    const scalar_t s = static_cast<scalar_t>(slope);
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    scalar_t* const h_base = h_all.data_ptr<scalar_t>();
    scalar_t* const rp = r.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_base + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        scalar_t* h = h_base + t * N * H;
        scalar_t* rh = r_hat.data_ptr<scalar_t>() + t * N * H;
        scalar_t* rs = r_rstd.data_ptr<scalar_t>() + t * N;
        U.multiply(hp + first * H, last - first, 0, rp + first * H);
        for_rows(first, last, H, [&](int64_t n) {
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            std::fill(rh + row, rh + row + H, scalar_t(0));
            rs[n] = 0;  // every saved result defined (the backward pass reads none of this row)
            return;
          }
          rs[n] = normalise(rp + row, rh + row, H, epsilon);
          with_activation(activation, [&](auto act) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) {
              h[row + k] = activate<decltype(act)::value>(h[row + k] + alpha[k] * rh[row + k], s);
            }
          });
        });
      }
    });
  });
  return {h_all, r_hat, r_rstd, x_mean, x_rstd};
}

// Returns grad xw, grad h0, grad weight_hh, grad bias_hh, grad gain (1, H), grad shift (1, H).
std::vector<at::Tensor> layer_norm_elman_backward(int64_t activation, double slope, const at::Tensor& grad_h, const at::Tensor& h0,
                                                  const at::Tensor& h_all, const at::Tensor& r_hat,
                                                  const at::Tensor& r_rstd, const at::Tensor& raw,
                                                  const at::Tensor& x_mean, const at::Tensor& x_rstd,
                                                  const at::Tensor& weight_hh,
                                                  const at::Tensor& gain, const at::Tensor& input_gain,
                                                  const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_pre = at::empty_like(h_all);
  at::Tensor d_r = workspace(0, h_all.sizes(), h_all.options());
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor passed = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "layer_norm_elman_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t s = static_cast<scalar_t>(slope);
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* rh = r_hat.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* rs = r_rstd.data_ptr<scalar_t>() + t * N;
      scalar_t* d = d_pre.data_ptr<scalar_t>() + t * N * H;
      scalar_t* dr = d_r.data_ptr<scalar_t>() + t * N * H;
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        if (!active(m, t, N, n)) {
          carry_through(pass + row, gh + row, dhp + row, H);
          std::fill(d + row, d + row + H, scalar_t(0));
          std::fill(dr + row, dr + row + H, scalar_t(0));
          return;
        }
        with_activation(activation, [&](auto act) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t derivative = activation_slope<decltype(act)::value>(h[row + k], s);
            d[row + k] = (gh[row + k] + dhp[row + k]) * derivative;
            dr[row + k] = alpha[k] * d[row + k];
            pass[row + k] = 0;
          }
        });
        normalise_backward(dr + row, rh + row, rs[n], H);
      });
      U.multiply(dr + first * H, last - first, 1, pass + first * H);
    });
  });
  const at::Tensor flat = d_pre.view({T * N, H});
  at::Tensor grad_bias = flat.sum(0);
  std::vector<at::Tensor> grads = {d_pre, dh, weight_gradient(d_r, h0, h_all), grad_bias,
                                   column_dot(d_pre, H, r_hat, H, T * N, H).view({1, H}),
                                   grad_bias.view({1, H}).clone()};
  if (input_gain.numel()) {
    const at::Tensor grad_input_gain = normalise_input_backward(d_pre, input_gain, raw, x_mean, x_rstd);
    grads.insert(grads.end(), {grad_input_gain, grad_bias.view({1, H}).clone(), grad_bias.clone()});
  }
  return grads;
}

// ``gru`` selects the GRU (S = 2 gate blocks r, z) or the MGU (S = 1, f); gain and shift are
// (S + 1, H): the gate blocks, then the candidate's. ``overwrite`` (inference: raw is a temporary
// no one reads again, and no gradient is wanted): the activations go into raw's own memory and
// everything else only the backward pass reads (gated states, normalised products) into one
// step's scratch (stride 0 in time), so no (T, N, ·) buffer but h is allocated.
std::vector<at::Tensor> layer_norm_gated_forward(bool gru, const at::Tensor& raw, const at::Tensor& h0,
                                                 const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                 const at::Tensor& gain, const at::Tensor& shift,
                                                 const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                 const at::Tensor& bias_ih, const at::Tensor& mask, double eps,
                                                 bool overwrite) {
  const int64_t T = raw.size(0), N = raw.size(1), H = h0.size(1), S = gru ? 2 : 1, G = (S + 1) * H;
  const auto options = h0.options();
  at::Tensor xw = raw, x_mean = at::empty({0}, options), x_rstd = at::empty({0}, options);
  if (input_gain.numel()) {
    if (!overwrite) {
      xw = at::empty_like(raw);
      x_mean = at::empty({T, N, S + 1}, options);
      x_rstd = at::empty({T, N, S + 1}, options);
    }
    normalise_input(raw, xw, overwrite ? at::Tensor() : x_mean, overwrite ? at::Tensor() : x_rstd, input_gain,
                    bias_ih + input_shift.reshape({G}), eps);
  }
  const at::Tensor offset = (bias_hh + shift.reshape({G})).contiguous();
  // Where the gate and candidate activations go, and their rows' widths: raw itself (rows G
  // wide) when overwriting, else their own saved tensors (rows S·H and H wide).
  const int64_t kept = overwrite ? 1 : T, stride = overwrite ? 0 : 1;
  at::Tensor gate = overwrite ? at::empty({0}, options) : at::empty({T, N, S * H}, options);
  at::Tensor cand = overwrite ? at::empty({0}, options) : at::empty({T, N, H}, options);
  const int64_t gate_width = overwrite ? G : S * H, cand_width = overwrite ? G : H;
  at::Tensor gated = at::empty({kept, N, H}, options);
  at::Tensor h_all = at::empty({T, N, H}, options);
  at::Tensor gate_hat = at::empty({kept, N, S * H}, options);
  at::Tensor gate_rstd = at::empty({kept, N, S}, options);
  at::Tensor cand_hat = at::empty({kept, N, H}, options);
  at::Tensor cand_rstd = at::empty({kept, N}, options);
  at::Tensor r = at::empty({N, S * H}, options);
  at::Tensor r_cand = at::empty({N, H}, options);  // the candidate's product, N rows of H (r's rows are S·H wide)
  const at::Tensor gate_weight = weight_hh.narrow(0, 0, S * H);
  const at::Tensor cand_weight = weight_hh.narrow(0, S * H, H);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "layer_norm_gated_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* alpha_n = alpha + S * H;
    const scalar_t* off = offset.data_ptr<scalar_t>();
    const scalar_t* off_n = off + S * H;
    const scalar_t epsilon = static_cast<scalar_t>(eps);
    const StepWeight<scalar_t> U_gates(gate_weight, true, N, T), U_cand(cand_weight, true, N, T);
    scalar_t* const rp = r.data_ptr<scalar_t>();
    scalar_t* const rcp = r_cand.data_ptr<scalar_t>();
    scalar_t* const gate_base = overwrite ? xw.data_ptr<scalar_t>() : gate.data_ptr<scalar_t>();
    scalar_t* const cand_base = overwrite ? xw.data_ptr<scalar_t>() + S * H : cand.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        const scalar_t* x = xw.data_ptr<scalar_t>() + t * N * G;
        scalar_t* g = gate_base + t * N * gate_width;
        scalar_t* c = cand_base + t * N * cand_width;
        scalar_t* gh = gate_hat.data_ptr<scalar_t>() + stride * t * N * S * H;
        scalar_t* gs = gate_rstd.data_ptr<scalar_t>() + stride * t * N * S;
        scalar_t* q = gated.data_ptr<scalar_t>() + stride * t * N * H;
        U_gates.multiply(hp + first * H, last - first, 0, rp + first * S * H);
        for_rows(first, last, S * H, [&](int64_t n) {
          const scalar_t* xn = x + n * G;
          scalar_t* gn = g + n * gate_width;
          scalar_t* hat = gh + n * S * H;
          for (int64_t b = 0; b < S; ++b) gs[n * S + b] = normalise(rp + n * S * H + b * H, hat + b * H, H, epsilon);
          _Pragma("omp simd")
          for (int64_t k = 0; k < S * H; ++k) gn[k] = sigmoid(xn[k] + off[k] + alpha[k] * hat[k]);
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) q[n * H + k] = gn[k] * hp[n * H + k];
        });
        scalar_t* ch = cand_hat.data_ptr<scalar_t>() + stride * t * N * H;
        scalar_t* cs = cand_rstd.data_ptr<scalar_t>() + stride * t * N;
        scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
        U_cand.multiply(q + first * H, last - first, 0, rcp + first * H);
        for_rows(first, last, H, [&](int64_t n) {
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            std::fill(gh + n * S * H, gh + (n + 1) * S * H, scalar_t(0));
            std::fill(ch + row, ch + row + H, scalar_t(0));
            cs[n] = 0;  // every saved result defined (the backward pass reads none of this row)
            if (!overwrite) std::fill(c + n * cand_width, c + n * cand_width + H, scalar_t(0));
            return;
          }
          cs[n] = normalise(rcp + row, ch + row, H, epsilon);
          const scalar_t* gn = g + n * gate_width;
          const scalar_t* xn = x + n * G + S * H;
          scalar_t* cn = c + n * cand_width;
          with_flag(gru, [&](auto is_gru) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) {
              const scalar_t candidate = math::tanh(xn[k] + off_n[k] + alpha_n[k] * ch[row + k]);
              cn[k] = candidate;
              h[row + k] = interpolate<decltype(is_gru)::value>(candidate, hp[row + k], gn, k, H);
            }
          });
        });
      }
    });
  });
  return {h_all, gate, cand, gated, gate_hat, gate_rstd, cand_hat, cand_rstd, x_mean, x_rstd};
}

// Returns grad xw (T, N, (S+1)·H), grad h0, grad weight_hh, grad bias_hh, grad gain, grad shift.
std::vector<at::Tensor> layer_norm_gated_backward(
    bool gru, const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all, const at::Tensor& gate,
    const at::Tensor& cand, const at::Tensor& gated, const at::Tensor& gate_hat, const at::Tensor& gate_rstd,
    const at::Tensor& cand_hat, const at::Tensor& cand_rstd, const at::Tensor& raw, const at::Tensor& x_mean,
    const at::Tensor& x_rstd,
    const at::Tensor& weight_hh, const at::Tensor& gain, const at::Tensor& input_gain, const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2), S = gru ? 2 : 1;
  at::Tensor d_gate = at::empty_like(gate);      // ∂L/∂(gate pre-activation)
  at::Tensor d_cand = at::empty_like(cand);      // ∂L/∂(candidate pre-activation)
  at::Tensor d_rg = workspace(0, gate.sizes(), gate.options());  // ∂L/∂(U_g h_{t−1})
  at::Tensor d_rc = workspace(1, cand.sizes(), cand.options());  // ∂L/∂(U_n (q ∘ h_{t−1}))
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor direct = at::empty_like(h0);
  at::Tensor d_q = at::empty_like(h0);
  const at::Tensor gate_weight = weight_hh.narrow(0, 0, S * H);
  const at::Tensor cand_weight = weight_hh.narrow(0, S * H, H);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "layer_norm_gated_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* alpha_n = alpha + S * H;
    const StepWeight<scalar_t> U_gates(gate_weight, false, N, T), U_cand(cand_weight, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, direct,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* dd) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
      const scalar_t* g = gate.data_ptr<scalar_t>() + t * N * S * H;
      const scalar_t* c = cand.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* g_hat = gate_hat.data_ptr<scalar_t>() + t * N * S * H;
      const scalar_t* g_rstd = gate_rstd.data_ptr<scalar_t>() + t * N * S;
      const scalar_t* c_hat = cand_hat.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* c_rstd = cand_rstd.data_ptr<scalar_t>() + t * N;
      scalar_t* dg = d_gate.data_ptr<scalar_t>() + t * N * S * H;
      scalar_t* dc = d_cand.data_ptr<scalar_t>() + t * N * H;
      scalar_t* drg = d_rg.data_ptr<scalar_t>() + t * N * S * H;
      scalar_t* drc = d_rc.data_ptr<scalar_t>() + t * N * H;
      // Pass 1: everything but the path through U_n (as in cells.cpp), then the candidate's norm.
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dgn = dg + n * S * H;
        const scalar_t* gn = g + n * S * H;
        if (!active(m, t, N, n)) {
          std::fill(dgn, dgn + S * H, scalar_t(0));
          std::fill(dc + row, dc + row + H, scalar_t(0));
          std::fill(drc + row, drc + row + H, scalar_t(0));
          carry_through(dd + row, gh + row, dhp + row, H);
          return;
        }
        with_flag(gru, [&](auto is_gru) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            gated_unit_backward<decltype(is_gru)::value>(gh[row + k] + dhp[row + k], c[row + k], hp[row + k], gn,
                                                         dgn, k, H, dc[row + k], dd[row + k]);
            drc[row + k] = alpha_n[k] * dc[row + k];
          }
        });
        normalise_backward(drc + row, c_hat + row, c_rstd[n], H);
      });
      U_cand.multiply(drc + first * H, last - first, 0, d_q.data_ptr<scalar_t>() + first * H);
      const scalar_t* dq = d_q.data_ptr<scalar_t>();
      // Pass 2: the gated state's gradient, the gates' derivatives, then their norms.
      for_rows(first, last, H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dgn = dg + n * S * H;
        scalar_t* drn = drg + n * S * H;
        const scalar_t* gn = g + n * S * H;
        if (!active(m, t, N, n)) {
          std::fill(drn, drn + S * H, scalar_t(0));
          return;
        }
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) {
          dd[row + k] += dq[row + k] * gn[k];
          dgn[k] += dq[row + k] * hp[row + k];
        }
        _Pragma("omp simd")
        for (int64_t k = 0; k < S * H; ++k) {
          dgn[k] *= gn[k] * (1 - gn[k]);
          drn[k] = alpha[k] * dgn[k];
        }
        for (int64_t b = 0; b < S; ++b) {
          normalise_backward(drn + b * H, g_hat + n * S * H + b * H, g_rstd[n * S + b], H);
        }
      });
      U_gates.multiply(drg + first * S * H, last - first, 1, dd + first * H);
    });
  });
  const at::Tensor flat_gate = d_gate.view({T * N, S * H});
  const at::Tensor flat_cand = d_cand.view({T * N, H});
  at::Tensor grad_weight = at::cat({weight_gradient(d_rg, h0, h_all),
                                    d_rc.view({T * N, H}).t().mm(gated.view({T * N, H}))});
  at::Tensor grad_bias = at::cat({flat_gate.sum(0), flat_cand.sum(0)});
  at::Tensor grad_gain = at::cat({column_dot(d_gate, S * H, gate_hat, S * H, T * N, S * H),
                                  column_dot(d_cand, H, cand_hat, H, T * N, H)});
  std::vector<at::Tensor> grads = {at::cat({d_gate, d_cand}, 2), dh, grad_weight, grad_bias,
                                   grad_gain.view({S + 1, H}), grad_bias.view({S + 1, H}).clone()};
  if (input_gain.numel()) {
    const at::Tensor grad_input_gain = normalise_input_backward(grads[0], input_gain, raw, x_mean, x_rstd);
    grads.insert(grads.end(), {grad_input_gain, grad_bias.view({S + 1, H}).clone(), grad_bias.clone()});
  }
  return grads;
}

// ---------------------------------------------------------------------------------------------
// Seed 001's gated unit (GatedCell) under layer norm: as cells.cpp's gated_unit, one product
// U h_{t−1} (2H) per step, now normalised per block (g, ẑ) before α, β and b_U are added. Unlike the
// GRU and MGU no gated state enters a second product, so a step is the Elman cell's shape with two
// blocks. Saved: gates (T, N, 2H) holding g and ẑ, the normalised product r̂ (T, N, 2H) and its
// 1/sqrt(var + ε) per row and block (T, N, 2). ``overwrite`` (inference, as layer_norm_gated_forward):
// g and ẑ go into raw's own memory (its rows are 2H wide as well) and r̂ and its statistics into one
// step's scratch, so no (T, N, ·) buffer but h is allocated.
std::vector<at::Tensor> layer_norm_gated_unit_forward(const at::Tensor& raw, const at::Tensor& h0,
                                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                      const at::Tensor& gain, const at::Tensor& shift,
                                                      const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                      const at::Tensor& bias_ih, const at::Tensor& mask, double eps,
                                                      bool overwrite) {
  const int64_t T = raw.size(0), N = raw.size(1), H = h0.size(1), G = 2 * H;
  const auto options = h0.options();
  at::Tensor xw = raw, x_mean = at::empty({0}, options), x_rstd = at::empty({0}, options);
  if (input_gain.numel()) {
    if (!overwrite) {
      xw = at::empty_like(raw);
      x_mean = at::empty({T, N, 2}, options);
      x_rstd = at::empty({T, N, 2}, options);
    }
    normalise_input(raw, xw, overwrite ? at::Tensor() : x_mean, overwrite ? at::Tensor() : x_rstd, input_gain,
                    bias_ih + input_shift.reshape({G}), eps);
  }
  const at::Tensor offset = (bias_hh + shift.reshape({G})).contiguous();
  const int64_t kept = overwrite ? 1 : T, stride = overwrite ? 0 : 1;
  at::Tensor gates = overwrite ? at::empty({0}, options) : fresh({T, N, G}, options);
  at::Tensor h_all = fresh({T, N, H}, options);
  at::Tensor r_hat = at::empty({kept, N, G}, options);
  at::Tensor r_rstd = at::empty({kept, N, 2}, options);
  at::Tensor r = at::empty({N, G}, options);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "layer_norm_gated_unit_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* off = offset.data_ptr<scalar_t>();
    const scalar_t epsilon = static_cast<scalar_t>(eps);
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    scalar_t* const rp = r.data_ptr<scalar_t>();
    const scalar_t* const x_base = xw.data_ptr<scalar_t>();
    scalar_t* const g_base = overwrite ? xw.data_ptr<scalar_t>() : gates.data_ptr<scalar_t>();
    scalar_t* const h_base = h_all.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_base + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        const scalar_t* x = x_base + t * N * G;
        scalar_t* g = g_base + t * N * G;
        scalar_t* rh = r_hat.data_ptr<scalar_t>() + stride * t * N * G;
        scalar_t* rs = r_rstd.data_ptr<scalar_t>() + stride * t * N * 2;
        scalar_t* h = h_base + t * N * H;
        U.multiply(hp + first * H, last - first, 0, rp + first * G);
        for_rows(first, last, G, [&](int64_t n) {
          const int64_t row = n * H;
          const scalar_t* xn = x + n * G;
          scalar_t* gn = g + n * G;
          scalar_t* hat = rh + n * G;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            std::fill(hat, hat + G, scalar_t(0));   // every saved result defined (the backward pass
            rs[2 * n] = rs[2 * n + 1] = 0;         // reads none of this row)
            if (!overwrite) std::fill(gn, gn + G, scalar_t(0));
            return;
          }
          rs[2 * n] = normalise(rp + n * G, hat, H, epsilon);
          rs[2 * n + 1] = normalise(rp + n * G + H, hat + H, H, epsilon);
          // (with overwrite xn and gn are one row: unit k reads xn[k], xn[H + k], then writes gn[k], gn[H + k])
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t gate = sigmoid(xn[k] + off[k] + alpha[k] * hat[k]);
            const scalar_t candidate = math::tanh(xn[H + k] + off[H + k] + alpha[H + k] * hat[H + k]);
            gn[k] = gate;
            gn[H + k] = candidate;
            h[row + k] = candidate + gate * (hp[row + k] - candidate);
          }
        });
      }
    });
  });
  return {h_all, gates, r_hat, r_rstd, x_mean, x_rstd};
}

// Returns grad xw (T, N, 2H), grad h0, grad weight_hh, grad bias_hh, grad gain (2, H), grad shift
// (2, H), and where the input norm was applied here those of its gain, its shift and b_W.
std::vector<at::Tensor> layer_norm_gated_unit_backward(
    const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all, const at::Tensor& gates,
    const at::Tensor& r_hat, const at::Tensor& r_rstd, const at::Tensor& raw, const at::Tensor& x_mean,
    const at::Tensor& x_rstd, const at::Tensor& weight_hh, const at::Tensor& gain, const at::Tensor& input_gain,
    const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2), G = 2 * H;
  at::Tensor d_pre = fresh(gates.sizes(), gates.options());          // ∂L/∂(g and ẑ pre-activations)
  at::Tensor d_r = workspace(0, gates.sizes(), gates.options());     // ∂L/∂(U h_{t−1})
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor passed = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "layer_norm_gated_unit_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
      const scalar_t* s = gates.data_ptr<scalar_t>() + t * N * G;
      const scalar_t* rh = r_hat.data_ptr<scalar_t>() + t * N * G;
      const scalar_t* rs = r_rstd.data_ptr<scalar_t>() + t * N * 2;
      scalar_t* d = d_pre.data_ptr<scalar_t>() + t * N * G;
      scalar_t* dr = d_r.data_ptr<scalar_t>() + t * N * G;
      for_rows(first, last, G, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dn = d + n * G;
        scalar_t* drn = dr + n * G;
        const scalar_t* sn = s + n * G;
        if (!active(m, t, N, n)) {
          std::fill(dn, dn + G, scalar_t(0));
          std::fill(drn, drn + G, scalar_t(0));
          carry_through(pass + row, gh + row, dhp + row, H);
          return;
        }
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k)
          pass[row + k] = gated_unit_grad(sn, dn, k, H, gh[row + k] + dhp[row + k], hp[row + k]);
        _Pragma("omp simd")
        for (int64_t k = 0; k < G; ++k) drn[k] = alpha[k] * dn[k];
        normalise_backward(drn, rh + n * G, rs[2 * n], H);
        normalise_backward(drn + H, rh + n * G + H, rs[2 * n + 1], H);
      });
      U.multiply(dr + first * G, last - first, 1, pass + first * H);
    });
  });
  at::Tensor grad_bias = d_pre.view({T * N, G}).sum(0);
  std::vector<at::Tensor> grads = {d_pre, dh, weight_gradient(d_r, h0, h_all), grad_bias,
                                   column_dot(d_pre, G, r_hat, G, T * N, G).view({2, H}),
                                   grad_bias.view({2, H}).clone()};
  if (input_gain.numel()) {
    const at::Tensor grad_input_gain = normalise_input_backward(d_pre, input_gain, raw, x_mean, x_rstd);
    grads.insert(grads.end(), {grad_input_gain, grad_bias.view({2, H}).clone(), grad_bias.clone()});
  }
  return grads;
}

}  // namespace convrnn
