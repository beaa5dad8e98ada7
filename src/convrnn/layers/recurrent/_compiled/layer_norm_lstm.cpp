// The layer-normalised LSTM (Ba, Kiros & Hinton, 2016; ../options.py), optionally with peepholes:
//
//   r = U h_{t−1}, r̂_b = (r_b − mean r_b) / sqrt(var r_b + ε) per gate block b ∈ {i, f, g, o},
//   a = xw_t + α_b ∘ r̂_b + β_b + b_U             (xw_t = LN(W x_t) + b_W, computed outside)
//   i, f, g, o and c_t as in the plain LSTM (cells.cpp), peepholes reading c_{t−1} and c_t,
//   ĉ = (c_t − mean c_t) / sqrt(var c_t + ε),  h_t = o ∘ tanh(α_c ∘ ĉ + β_c).
//
// Statistics are over the H units of a row (biased variance). Saved for the backward pass:
// gates (T, N, 4H) the activations i, f, g, o; r_hat (T, N, 4H) and r_rstd (T, N, 4) the
// normalised recurrent terms and 1/sqrt(var + ε); c_hat (T, N, H) and c_rstd (T, N) the same
// for the cell; given the raw W x, each row block's input mean and 1/sqrt(var + ε) (T, N, 4),
// from which the backward pass rebuilds the normalised input. The backward pass of a layer norm z ↦ ẑ with upstream δ (after the gain α):
//   ∂L/∂z = rstd · (α∘δ − mean(α∘δ) − ẑ ∘ mean(α∘δ ∘ ẑ)).

#include "common.h"
#include "core.h"
#include "units.h"

namespace convrnn {

namespace {

// Entry j of a row's gate pre-activations, in block b (j = b·H + k), from the block's statistics:
// the input term (xn, normalised here with α_x if kInLoop) + offset + α ∘ r̂, storing r̂ if kKeep.
template <bool kInLoop, bool kKeep, typename T>
CONVRNN_ALWAYS_INLINE void gate_input(T* gn, T* rhn, const T* rn, const T* xn, const T* off, const T* alpha,
                                      const T* alpha_x, T mean, T rstd, T x_mean, T x_rstd, int64_t j) {
  const T r_norm = (rn[j] - mean) * rstd;
  if constexpr (kKeep) rhn[j] = r_norm;
  T input = xn[j];
  if constexpr (kInLoop) input = alpha_x[j] * (input - x_mean) * x_rstd;
  gn[j] = input + off[j] + alpha[j] * r_norm;
}

}  // namespace

std::vector<at::Tensor> layer_norm_lstm_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& c0,
                                                const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                const at::Tensor& peephole, const at::Tensor& gain,
                                                const at::Tensor& shift, const at::Tensor& cell_gain,
                                                const at::Tensor& cell_shift, const at::Tensor& input_gain,
                                                const at::Tensor& input_shift, const at::Tensor& bias_ih,
                                                const at::Tensor& mask, double eps, bool overwrite) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1);
  const auto options = h0.options();
  // With ``input_gain`` non-empty, xw is the raw W x, and its layer norm, gain, shift and b_W are
  // applied here (else xw = LN(W x) + b_W already). ``overwrite`` (inference): the gates go into
  // xw's memory, the input is normalised row by row inside the time loop (while the row is in
  // cache, with no pass of its own), and nothing only the backward pass reads is stored.
  const bool raw = input_gain.numel() > 0, keep = !overwrite, normalise_in_loop = raw && overwrite;
  at::Tensor gates = overwrite ? xw : fresh(xw.sizes(), options);
  at::Tensor x_mean = at::empty({0}, options), x_rstd = at::empty({0}, options);
  if (raw && keep) {
    x_mean = at::empty({T, N, 4}, options);
    x_rstd = at::empty({T, N, 4}, options);
    normalise_input(xw, gates, x_mean, x_rstd, input_gain, bias_ih + input_shift.reshape({4 * H}), eps);
  }
  // What the time loop adds to each gate's pre-activation besides α ∘ r̂: b_U + β, and b_W plus
  // the input norm's shift where the loop normalises the input itself.
  at::Tensor offset = bias_hh + shift.reshape({4 * H});
  if (normalise_in_loop) offset = offset + bias_ih + input_shift.reshape({4 * H});
  const int64_t kept = keep ? T : 0;
  at::Tensor r_hat = fresh({kept, N, 4 * H}, options);
  at::Tensor r_rstd = at::empty({kept, N, 4}, options);
  at::Tensor c_hat = fresh({kept, N, H}, options);
  at::Tensor c_rstd = at::empty({kept, N}, options);
  at::Tensor h_all = fresh({T, N, H}, options);
  at::Tensor c_all = fresh({T, N, H}, options);
  at::Tensor r = at::empty({N, 4 * H}, options);
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "layer_norm_lstm_forward", [&] {
    const scalar_t* V = peephole.numel() ? peephole.data_ptr<scalar_t>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* off = offset.data_ptr<scalar_t>();
    const scalar_t* alpha_x = raw ? input_gain.data_ptr<scalar_t>() : nullptr;
    const scalar_t* alpha_c = cell_gain.data_ptr<scalar_t>();
    const scalar_t* beta_c = cell_shift.data_ptr<scalar_t>();
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t epsilon = static_cast<scalar_t>(eps);
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    // The input term of each gate's pre-activation: read from gates (normalised already, or xw
    // in place) or from xw (LN(W x) + b_W, not yet copied).
    const scalar_t* x_base = raw && keep ? gates.data_ptr<scalar_t>() : xw.data_ptr<scalar_t>();
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_all.data_ptr<scalar_t>() + (t - 1) * N * H : h0.data_ptr<scalar_t>();
        const scalar_t* cp = t ? c_all.data_ptr<scalar_t>() + (t - 1) * N * H : c0.data_ptr<scalar_t>();
        scalar_t* rp = r.data_ptr<scalar_t>();
        U.multiply(hp + first * H, last - first, 0, rp + first * 4 * H);
        const scalar_t* x = x_base + t * N * 4 * H;
        scalar_t* g = gates.data_ptr<scalar_t>() + t * N * 4 * H;
        scalar_t* rh = keep ? r_hat.data_ptr<scalar_t>() + t * N * 4 * H : nullptr;
        scalar_t* rs = keep ? r_rstd.data_ptr<scalar_t>() + t * N * 4 : nullptr;
        scalar_t* ch = keep ? c_hat.data_ptr<scalar_t>() + t * N * H : nullptr;
        scalar_t* cs = keep ? c_rstd.data_ptr<scalar_t>() + t * N : nullptr;
        scalar_t* h = h_all.data_ptr<scalar_t>() + t * N * H;
        scalar_t* c = c_all.data_ptr<scalar_t>() + t * N * H;
        for_rows(first, last, 4 * H, [&](int64_t n) {
          const int64_t row = n * H;
          scalar_t* gn = g + n * 4 * H;
          if (!active(m, t, N, n)) {
            std::copy(hp + row, hp + row + H, h + row);
            std::copy(cp + row, cp + row + H, c + row);
            if (keep) {  // zeros where nothing was normalised: the backward pass sums δ ∘ r̂ over all rows
              std::fill(rh + n * 4 * H, rh + (n + 1) * 4 * H, scalar_t(0));
              std::fill(ch + row, ch + row + H, scalar_t(0));
              std::fill(gn, gn + 4 * H, scalar_t(0));  // and every saved result is defined
              std::fill(rs + n * 4, rs + (n + 1) * 4, scalar_t(0));
              cs[n] = 0;
            }
            return;
          }
          const scalar_t* rn = rp + n * 4 * H;
          const scalar_t* xn = x + n * 4 * H;
          // Each block's statistics, then one pass that forms the four pre-activations of unit k
          // (x term + α ∘ r̂ + offset), stores r̂ if kept, and runs the unit.
          scalar_t mean[4], rstd[4], x_mean[4] = {0, 0, 0, 0}, x_rstd_n[4] = {0, 0, 0, 0};
          for (int64_t b = 0; b < 4; ++b) {
            rstd[b] = statistics(rn + b * H, H, epsilon, mean[b]);
            if (normalise_in_loop) x_rstd_n[b] = statistics(xn + b * H, H, epsilon, x_mean[b]);
            if (keep) rs[n * 4 + b] = rstd[b];
          }
          scalar_t* rhn = keep ? rh + n * 4 * H : nullptr;
          with_flag(V != nullptr, [&](auto peepholes) {
            with_flag(normalise_in_loop, [&](auto in_loop) {
              with_flag(keep, [&](auto keeping) {
                constexpr bool kInLoop = decltype(in_loop)::value, kKeep = decltype(keeping)::value;
                _Pragma("omp simd")
                for (int64_t k = 0; k < H; ++k) {
                  // The four blocks written out: a loop over them would stop the loop over k
                  // from vectorising.
                  gate_input<kInLoop, kKeep>(gn, rhn, rn, xn, off, alpha, alpha_x, mean[0], rstd[0], x_mean[0],
                                             x_rstd_n[0], k);
                  gate_input<kInLoop, kKeep>(gn, rhn, rn, xn, off, alpha, alpha_x, mean[1], rstd[1], x_mean[1],
                                             x_rstd_n[1], H + k);
                  gate_input<kInLoop, kKeep>(gn, rhn, rn, xn, off, alpha, alpha_x, mean[2], rstd[2], x_mean[2],
                                             x_rstd_n[2], 2 * H + k);
                  gate_input<kInLoop, kKeep>(gn, rhn, rn, xn, off, alpha, alpha_x, mean[3], rstd[3], x_mean[3],
                                             x_rstd_n[3], 3 * H + k);
                  c[row + k] = lstm_unit<decltype(peepholes)::value>(gn, k, H, cp[row + k], V);
                }
              });
            });
          });
          // The cell's norm, and the output from it.
          scalar_t c_mean;
          const scalar_t c_r = statistics(c + row, H, epsilon, c_mean);
          if (keep) cs[n] = c_r;
          with_flag(keep, [&](auto keeping) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) {
              const scalar_t c_norm = (c[row + k] - c_mean) * c_r;
              if constexpr (decltype(keeping)::value) ch[row + k] = c_norm;
              h[row + k] = gn[3 * H + k] * math::tanh(alpha_c[k] * c_norm + beta_c[k]);
            }
          });
        });
      }
    });
  });
  return {h_all, c_all, gates, r_hat, r_rstd, c_hat, c_rstd, x_mean, x_rstd};
}

// Returns grad xw (T, N, 4H), grad h0, grad c0, grad weight_hh, grad bias_hh, grad peephole,
// grad gain (4, H), grad shift (4, H), grad cell gain (1, H), grad cell shift (1, H).
std::vector<at::Tensor> layer_norm_lstm_backward(
    const at::Tensor& grad_h, const at::Tensor& grad_c, const at::Tensor& h0, const at::Tensor& c0,
    const at::Tensor& h_all, const at::Tensor& c_all, const at::Tensor& gates, const at::Tensor& r_hat,
    const at::Tensor& r_rstd, const at::Tensor& c_hat, const at::Tensor& c_rstd, const at::Tensor& weight_hh,
    const at::Tensor& raw, const at::Tensor& x_mean, const at::Tensor& x_rstd, const at::Tensor& peephole, const at::Tensor& gain,
    const at::Tensor& cell_gain, const at::Tensor& cell_shift, const at::Tensor& input_gain, const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_gates = fresh(gates.sizes(), gates.options());  // ∂L/∂a, also ∂L/∂xw
  at::Tensor d_r = workspace(0, gates.sizes(), gates.options());      // ∂L/∂(U h_{t−1})
  at::Tensor d_shown = workspace(1, c_hat.sizes(), c_hat.options());  // ∂L/∂(α_c ∘ ĉ + β_c)
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor dc = at::zeros_like(c0);
  at::Tensor passed = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "layer_norm_lstm_backward", [&] {
    const scalar_t* V = peephole.numel() ? peephole.data_ptr<scalar_t>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* alpha_c = cell_gain.data_ptr<scalar_t>();
    const scalar_t* beta_c = cell_shift.data_ptr<scalar_t>();
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, passed,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* dhp, scalar_t* pass) {
      const scalar_t* gh = grad_h.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* gc = grad_c.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* cp = t ? c_all.data_ptr<scalar_t>() + (t - 1) * N * H : c0.data_ptr<scalar_t>();
      const scalar_t* ch = c_hat.data_ptr<scalar_t>() + t * N * H;
      const scalar_t* cs = c_rstd.data_ptr<scalar_t>() + t * N;
      const scalar_t* rh = r_hat.data_ptr<scalar_t>() + t * N * 4 * H;
      const scalar_t* rs = r_rstd.data_ptr<scalar_t>() + t * N * 4;
      const scalar_t* s = gates.data_ptr<scalar_t>() + t * N * 4 * H;
      scalar_t* d = d_gates.data_ptr<scalar_t>() + t * N * 4 * H;
      scalar_t* dr = d_r.data_ptr<scalar_t>() + t * N * 4 * H;
      scalar_t* ds = d_shown.data_ptr<scalar_t>() + t * N * H;
      scalar_t* dcp = dc.data_ptr<scalar_t>();
      for_rows(first, last, 4 * H, [&](int64_t n) {
        const int64_t row = n * H;
        scalar_t* dn = d + n * 4 * H;
        scalar_t* drn = dr + n * 4 * H;
        const scalar_t* sn = s + n * 4 * H;
        if (!active(m, t, N, n)) {
          std::fill(dn, dn + 4 * H, scalar_t(0));
          std::fill(drn, drn + 4 * H, scalar_t(0));
          std::fill(ds + row, ds + row + H, scalar_t(0));
          carry_through(pass + row, gh + row, dhp + row, H);
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) dcp[row + k] += gc[row + k];
          return;
        }
        // ∂L/∂o and ∂L/∂(shown); the cell norm's input gradient goes through drn's first H
        // entries as scratch (overwritten below).
        scalar_t* d_cell = drn;
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) {
          const scalar_t o = sn[3 * H + k];
          const scalar_t d_h = gh[row + k] + dhp[row + k];
          const scalar_t squashed = math::tanh(alpha_c[k] * ch[row + k] + beta_c[k]);
          dn[3 * H + k] = d_h * squashed * o * (1 - o);
          const scalar_t d_sh = d_h * o * (1 - squashed * squashed);
          ds[row + k] = d_sh;
          d_cell[k] = alpha_c[k] * d_sh;
        }
        normalise_backward(d_cell, ch + row, cs[n], H);
        with_flag(V != nullptr, [&](auto peepholes) {
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            scalar_t d_c = gc[row + k] + dcp[row + k] + d_cell[k];
            if constexpr (decltype(peepholes)::value) d_c += V[2 * H + k] * dn[3 * H + k];
            dcp[row + k] = lstm_unit_backward<decltype(peepholes)::value>(dn, sn, k, H, d_c, cp[row + k], V);
            pass[row + k] = 0;
          }
        });
        _Pragma("omp simd")
        for (int64_t k = 0; k < 4 * H; ++k) drn[k] = alpha[k] * dn[k];
        for (int64_t b = 0; b < 4; ++b) normalise_backward(drn + b * H, rh + n * 4 * H + b * H, rs[n * 4 + b], H);
      });
      U.multiply(dr + first * 4 * H, last - first, 1, pass + first * H);
    });
  });
  const at::Tensor flat = d_gates.view({T * N, 4 * H});
  at::Tensor grad_weight = weight_gradient(d_r, h0, h_all);
  at::Tensor grad_bias = flat.sum(0);
  const int64_t R = T * N;
  at::Tensor grad_gain = column_dot(d_gates, 4 * H, r_hat, 4 * H, R, 4 * H).view({4, H});
  at::Tensor grad_cell_gain = column_dot(d_shown, H, c_hat, H, R, H).view({1, H});
  at::Tensor grad_cell_shift = d_shown.view({R, H}).sum(0).view({1, H});
  at::Tensor grad_peephole;
  if (peephole.numel()) {
    const at::Tensor c_prev = previous_states(c0, c_all);
    grad_peephole = at::stack({column_dot(d_gates, 4 * H, c_prev, H, R, H),
                               column_dot(d_gates, 4 * H, c_prev, H, R, H, H),
                               column_dot(d_gates, 4 * H, c_all, H, R, H, 3 * H)});
  }
  if (!input_gain.numel()) {
    return {d_gates, dh, dc, grad_weight, grad_bias, grad_peephole, grad_gain, grad_bias.view({4, H}).clone(),
            grad_cell_gain, grad_cell_shift};
  }
  const at::Tensor grad_input_gain = normalise_input_backward(d_gates, input_gain, raw, x_mean, x_rstd);
  return {d_gates, dh, dc, grad_weight, grad_bias, grad_peephole, grad_gain, grad_bias.view({4, H}).clone(),
          grad_cell_gain, grad_cell_shift, grad_input_gain, grad_bias.view({4, H}).clone(), grad_bias.clone()};
}

}  // namespace convrnn
