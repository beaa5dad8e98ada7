// The GRU with the reset gate after the recurrent product (cuDNN's, torch.nn.GRU's):
//
//   p = U h_{t−1} + b_U                     (one product per step, blocks r, z, n)
//   r = σ(xw_r + p_r), z = σ(xw_z + p_z), n = tanh(xw_n + r ∘ p_n),  h_t = n + z ∘ (h_{t−1} − n)
//
// with xw = W x + b_W computed outside. Saved for the backward pass: gates (T, N, 3H) holding r,
// z, n, and recurrent (T, N, H) holding p_n. Padded steps (mask false) carry the state.
//
// Backward, with g = ∂L/∂h_t in total: ∂n = g (1 − z), ∂z = g (h_{t−1} − n), and
//   δn = ∂n (1 − n²), δr = δn p_n r (1 − r), δz = ∂z z (1 − z), δp = (δr, δz, δn ∘ r),
//   ∂L/∂xw = (δr, δz, δn), ∂L/∂h_{t−1} = g z + δp U, ∂L/∂U = Σ_t δp_tᵀ h_{t−1}, ∂L/∂b_U = Σ δp.

#include "common.h"
#include "core.h"

namespace convrnn {

std::vector<at::Tensor> gru_after_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& weight_hh,
                                          const at::Tensor& bias_hh, const at::Tensor& mask) {
  const int64_t T = xw.size(0), N = xw.size(1), H = h0.size(1);
  at::Tensor gates = fresh({T, N, 3 * H}, xw.options());
  at::Tensor recurrent = fresh({T, N, H}, xw.options());
  at::Tensor h_all = fresh({T, N, H}, h0.options());
  at::Tensor product = at::empty({N, 3 * H}, xw.options());  // U h_{t−1} of the current step
  AT_DISPATCH_FLOATING_TYPES(xw.scalar_type(), "gru_after_forward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* x_base = xw.data_ptr<scalar_t>();
    const scalar_t* b = bias_hh.data_ptr<scalar_t>();
    const scalar_t* first_state = h0.data_ptr<scalar_t>();
    scalar_t* g_base = gates.data_ptr<scalar_t>();
    scalar_t* p_base = recurrent.data_ptr<scalar_t>();
    scalar_t* h_base = h_all.data_ptr<scalar_t>();
    scalar_t* u = product.data_ptr<scalar_t>();
    const StepWeight<scalar_t> U(weight_hh, true, N, T);
    over_sequences(N, weight_hh.nbytes(), [&](int64_t first, int64_t last) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* hp = t ? h_base + (t - 1) * N * H : first_state;
        U.multiply(hp + first * H, last - first, 0, u + first * 3 * H);
        const scalar_t* x = x_base + t * N * 3 * H;
        scalar_t* g = g_base + t * N * 3 * H;
        scalar_t* pn = p_base + t * N * H;
        scalar_t* h = h_base + t * N * H;
        for_rows(first, last, 3 * H, [&](int64_t n) {
          const int64_t row = n * H;
          if (!active(m, t, N, n)) {  // what the backward pass reads is zero here (it reads none of it)
            std::copy(hp + row, hp + row + H, h + row);
            std::fill(g + n * 3 * H, g + (n + 1) * 3 * H, scalar_t(0));
            std::fill(pn + row, pn + row + H, scalar_t(0));
            return;
          }
          const scalar_t* xn = x + n * 3 * H;
          const scalar_t* un = u + n * 3 * H;
          scalar_t* gn = g + n * 3 * H;
          _Pragma("omp simd")
          for (int64_t k = 0; k < H; ++k) {
            const scalar_t r = sigmoid(xn[k] + un[k] + b[k]);
            const scalar_t z = sigmoid(xn[H + k] + un[H + k] + b[H + k]);
            const scalar_t p = un[2 * H + k] + b[2 * H + k];
            const scalar_t candidate = math::tanh(xn[2 * H + k] + r * p);
            gn[k] = r;
            gn[H + k] = z;
            gn[2 * H + k] = candidate;
            pn[row + k] = p;
            h[row + k] = candidate + z * (hp[row + k] - candidate);
          }
        });
      }
    });
  });
  return {h_all, gates, recurrent};
}

// Returns grad xw (T, N, 3H), grad h0, grad weight_hh, grad bias_hh.
std::vector<at::Tensor> gru_after_backward(const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all,
                                           const at::Tensor& gates, const at::Tensor& recurrent,
                                           const at::Tensor& weight_hh, const at::Tensor& mask) {
  const int64_t T = h_all.size(0), N = h_all.size(1), H = h_all.size(2);
  at::Tensor d_xw = fresh({T, N, 3 * H}, h_all.options());
  at::Tensor d_p = fresh({T, N, 3 * H}, h_all.options());  // δp: the recurrent product's gradient
  at::Tensor dh = at::zeros_like(h0);
  at::Tensor next = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(h_all.scalar_type(), "gru_after_backward", [&] {
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* gh_base = grad_h.data_ptr<scalar_t>();
    const scalar_t* h_base = h_all.data_ptr<scalar_t>();
    const scalar_t* first_state = h0.data_ptr<scalar_t>();
    const scalar_t* g_base = gates.data_ptr<scalar_t>();
    const scalar_t* p_base = recurrent.data_ptr<scalar_t>();
    scalar_t* dx_base = d_xw.data_ptr<scalar_t>();
    scalar_t* dp_base = d_p.data_ptr<scalar_t>();
    const StepWeight<scalar_t> U(weight_hh, false, N, T);
    backward_through_time<scalar_t>(
        T, N, weight_hh.nbytes(), dh, next,
        [&](int64_t t, int64_t first, int64_t last, const scalar_t* carried, scalar_t* dd) {
          const scalar_t* gh = gh_base + t * N * H;
          const scalar_t* hp = t ? h_base + (t - 1) * N * H : first_state;
          const scalar_t* g = g_base + t * N * 3 * H;
          const scalar_t* pn = p_base + t * N * H;
          scalar_t* dx = dx_base + t * N * 3 * H;
          scalar_t* dp = dp_base + t * N * 3 * H;
          for_rows(first, last, H, [&](int64_t n) {
            const int64_t row = n * H;
            scalar_t* dxn = dx + n * 3 * H;
            scalar_t* dpn = dp + n * 3 * H;
            if (!active(m, t, N, n)) {
              std::fill(dxn, dxn + 3 * H, scalar_t(0));
              std::fill(dpn, dpn + 3 * H, scalar_t(0));
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) dd[row + k] = gh[row + k] + carried[row + k];
              return;
            }
            const scalar_t* gn = g + n * 3 * H;
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) {
              const scalar_t total = gh[row + k] + carried[row + k];
              const scalar_t r = gn[k], z = gn[H + k], candidate = gn[2 * H + k];
              const scalar_t d_candidate = total * (1 - z) * (1 - candidate * candidate);
              const scalar_t d_r = d_candidate * pn[row + k] * r * (1 - r);
              const scalar_t d_z = total * (hp[row + k] - candidate) * z * (1 - z);
              dxn[k] = d_r;
              dxn[H + k] = d_z;
              dxn[2 * H + k] = d_candidate;
              dpn[k] = d_r;
              dpn[H + k] = d_z;
              dpn[2 * H + k] = d_candidate * r;
              dd[row + k] = total * z;
            }
          });
          U.multiply(dp + first * 3 * H, last - first, 1, dd + first * H);
        });
  });
  at::Tensor grad_weight = weight_gradient(d_p, h0, h_all);
  at::Tensor grad_bias = d_p.view({T * N, 3 * H}).sum(0);
  return {d_xw, dh, grad_weight, grad_bias};
}

}  // namespace convrnn
