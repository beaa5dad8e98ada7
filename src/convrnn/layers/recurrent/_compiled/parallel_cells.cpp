// The gates and the linear recurrence of the parallel-in-time layers (../parallel.py) in one pass
// through time, forward and backward, so that no (T, N, H) temporary is made per gate:
//
//   h_t = a_t ∘ h_{t−1} + b_t,  out_t = o_t ∘ h_t (QRNN "fo"/"ifo") or h_t,
//
// with a, b, o functions of the projections P_t = (p_0, p_1, …) of step t (blocks of H):
//   kind 0, MinGRU:   a = σ(−p_0), b = σ(p_0) p_1
//   kind 1, MinLSTM:  d = log σ(p_0) − log σ(p_1), a = σ(d), b = σ(−d) p_2
//   kind 2, QRNN f:   z = tanh p_0, f = σ(p_1), a = f, b = (1 − f) z
//   kind 3, QRNN fo:  as kind 2, o = σ(p_2)
//   kind 4, QRNN ifo: z, f as kind 2, o = σ(p_2), i = σ(p_3), a = f, b = i z
// At a padded step (mask false) the state is carried (a = 1, b = 0) and out = 0.
//
// Backward, with g_t = ∂L/∂h_t in total: g_t = grad_h_t + grad_out_t ∘ o_t + a_{t+1} g_{t+1};
// ∂L/∂a_t = g_t ∘ h_{t−1}, ∂L/∂b_t = g_t, then the chain rule through a, b, o to P. Nothing but h
// is saved: the gates are recomputed from P, or, where P is the caller's own buffer, read back from
// it (the forward pass writes them over their pre-activations, ``store_gates``), which costs no
// memory and spares the backward pass its exponentials.
// The N·H independent recurrences are split across threads by rows n and vectorised over H.
// Tensors are (T, N, ·) with unit stride in the last dimension and any strides in the first
// two: batch-major memory (a transposed (N, T, ·) tensor, as a batch-first caller's projection
// comes) is read in place, and makes each sequence's steps adjacent in memory. The results take
// the projection's layout.

#include "common.h"
#include "core.h"

namespace convrnn {

namespace {

// MinLSTM's a = σ(log σ(p_0) − log σ(p_1)) = σ(p_0) / (σ(p_0) + σ(p_1)) = 1 / (1 + σ(p_1)/σ(p_0)),
// with the ratio as exp(min(p_1, 0) − min(p_0, 0)) · (1 + e_0) / (1 + e_1), e_j = exp(−|p_j|):
// three exponentials, no logarithm, no 0/0 (the second factor lies in [1/2, 2]; the first may
// overflow to ∞, giving a = 0, its limit). By value, not through reference arguments, so that
// the loops calling it vectorise.
template <typename T>
struct MinLSTMDecay {
  T a, not0, not1;  // a, σ(−p_0), σ(−p_1) (the last two for the backward pass)
};

template <typename T>
CONVRNN_ALWAYS_INLINE MinLSTMDecay<T> min_lstm_decay(T p0, T p1) {
  const T e0 = math::exp(-std::abs(p0)), e1 = math::exp(-std::abs(p1));
  const T r0 = T(1) / (1 + e0), r1 = T(1) / (1 + e1);
  const T ratio = math::exp(std::min(p1, T(0)) - std::min(p0, T(0))) * (1 + e0) * r1;
  return {T(1) / (1 + ratio), p0 >= 0 ? e0 * r0 : r0, p1 >= 0 ? e1 * r1 : r1};
}

// A gate's activation in the backward pass: recomputed from its pre-activation, or read where
// the forward pass stored it (``Stored``).
template <bool Stored, typename T>
CONVRNN_ALWAYS_INLINE T gate_sigmoid(T pre) {
  if constexpr (Stored) {
    return pre;
  } else {
    return sigmoid(pre);
  }
}

template <bool Stored, typename T>
CONVRNN_ALWAYS_INLINE T gate_tanh(T pre) {
  if constexpr (Stored) {
    return pre;
  } else {
    return math::tanh(pre);
  }
}

inline int64_t blocks_of(int64_t kind) { return kind == 0 ? 2 : kind == 4 ? 4 : kind == 2 ? 2 : 3; }

inline bool has_output_gate(int64_t kind) { return kind == 3 || kind == 4; }

// Whether a (T, N, ·) tensor is a transposed contiguous (N, T, ·) one.
inline bool batch_major(const at::Tensor& t) { return t.size(0) > 1 && t.transpose(0, 1).is_contiguous(); }

// A fresh (T, N, width) tensor laid out like ``like`` (batch-major or time-major).
inline at::Tensor laid_out_like(const at::Tensor& like, int64_t width) {
  const int64_t T = like.size(0), N = like.size(1);
  if (batch_major(like)) return fresh({N, T, width}, like.options()).transpose(0, 1);
  return fresh({T, N, width}, like.options());
}

// Row (t, n) of a (T, N, ·) tensor with unit stride in its last dimension.
template <typename T>
inline T* row_of(T* base, const at::Tensor& t, int64_t step, int64_t n) {
  return base + step * t.stride(0) + n * t.stride(1);
}

}  // namespace

// bias is empty, or (G·H,) to add to every row of P in place as the row is read (then P holds
// X Wᵀ + b for the backward pass, and the caller's product needs no bias pass of its own).
// ``store_gates`` (P is the caller's own buffer; not MinLSTM, whose backward needs three values
// per unit from two blocks): the activated gates σ(p), tanh(p) of every active row are written
// over their pre-activations, so that the backward pass (``gates_stored``) reads them instead of
// computing the exponentials again. Rows of padded steps keep their pre-activations.
std::vector<at::Tensor> parallel_forward(int64_t kind, const at::Tensor& P, const at::Tensor& h0,
                                         const at::Tensor& mask, const at::Tensor& bias, bool store_gates) {
  const int64_t T = P.size(0), N = P.size(1), H = h0.size(1), G = blocks_of(kind) * H;
  TORCH_CHECK(P.size(2) == G, "parallel_forward: expected ", G, " projected features, got ", P.size(2));
  TORCH_CHECK(P.size(2) == 1 || P.stride(2) == 1, "parallel_forward: the projection needs unit stride in its last dimension");
  TORCH_CHECK(!bias.numel() || (bias.numel() == G && bias.is_contiguous() && bias.scalar_type() == P.scalar_type()),
              "parallel_forward: the bias must be ", G, " contiguous values of the projection's dtype");
  TORCH_CHECK(!store_gates || kind != 1, "parallel_forward: MinLSTM's gates cannot be stored");
  at::Tensor h = laid_out_like(P, H);
  at::Tensor out = has_output_gate(kind) ? laid_out_like(P, H) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(P.scalar_type(), "parallel_forward", [&] {
    const scalar_t* p_all = P.data_ptr<scalar_t>();
    const scalar_t* first = h0.data_ptr<scalar_t>();
    scalar_t* h_all = h.data_ptr<scalar_t>();
    scalar_t* out_all = out.defined() ? out.data_ptr<scalar_t>() : nullptr;
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    const scalar_t* b = bias.numel() ? bias.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        for (int64_t t = 0; t < T; ++t) {
          const scalar_t* p = row_of(p_all, P, t, n);
          if (b != nullptr) {  // P is the caller's own buffer here (see above), written in place
            scalar_t* row = const_cast<scalar_t*>(p);
            _Pragma("omp simd")
            for (int64_t k = 0; k < G; ++k) row[k] += b[k];
          }
          const scalar_t* hp = t ? row_of<const scalar_t>(h_all, h, t - 1, n) : first + n * H;
          scalar_t* hn = row_of(h_all, h, t, n);
          scalar_t* on = out_all ? row_of(out_all, out, t, n) : nullptr;
          if (!active(m, t, N, n)) {
            std::copy(hp, hp + H, hn);
            if (on) std::fill(on, on + H, scalar_t(0));
            continue;
          }
          scalar_t* stored = const_cast<scalar_t*>(p);  // written only with store_gates (see above)
          with_flag(store_gates, [&](auto store) {
            if (kind == 0) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t s = sigmoid(p[k]);
                hn[k] = (1 - s) * hp[k] + s * p[H + k];
                if constexpr (decltype(store)::value) stored[k] = s;
              }
            } else if (kind == 1) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t a = min_lstm_decay(p[k], p[H + k]).a;
                hn[k] = a * hp[k] + (1 - a) * p[2 * H + k];
              }
            } else if (kind == 4) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t z = math::tanh(p[k]), f = sigmoid(p[H + k]), o = sigmoid(p[2 * H + k]),
                               i = sigmoid(p[3 * H + k]);
                const scalar_t c = f * hp[k] + i * z;
                hn[k] = c;
                on[k] = o * c;
                if constexpr (decltype(store)::value) {
                  stored[k] = z;
                  stored[H + k] = f;
                  stored[2 * H + k] = o;
                  stored[3 * H + k] = i;
                }
              }
            } else {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t z = math::tanh(p[k]), f = sigmoid(p[H + k]);
                hn[k] = f * hp[k] + (1 - f) * z;
                if constexpr (decltype(store)::value) {
                  stored[k] = z;
                  stored[H + k] = f;
                }
              }
              if (on) {
                _Pragma("omp simd")
                for (int64_t k = 0; k < H; ++k) {
                  const scalar_t o = sigmoid(p[2 * H + k]);
                  on[k] = o * hn[k];
                  if constexpr (decltype(store)::value) stored[2 * H + k] = o;
                }
              }
            }
          });
        }
      }
    });
  });
  if (out.defined()) return {h, out};
  return {h};
}

// Returns grad P (T, N, G·H) and grad h0 (N, H). grad_h is empty where no loss reads h (then
// zeros); grad_out is empty for kinds without o. Their rows may repeat (stride 0 in the first
// two dimensions: a broadcast gradient is read in place). ``into`` is empty (grad P is a fresh
// tensor) or a tensor of P's shape and strides to write grad P to, which may be P itself: every
// element of P is read before the same element of grad P is written and never after (a row's
// gate loops read and write the blocks they own), so the projection's memory can take its own
// gradient (parallel_fused.py does, and then reuses the buffer).
// With ``bias_grad`` it also returns ∂L/∂b = Σ_{t,n} ∂L/∂P_{t,n} (G·H,), summed per thread as the
// rows are written, so that no pass over grad P is needed for it.
// ``gates_stored``: P holds the activated gates of parallel_forward(store_gates=True).
std::vector<at::Tensor> parallel_backward(int64_t kind, const at::Tensor& grad_h, const at::Tensor& grad_out,
                                          const at::Tensor& P, const at::Tensor& h, const at::Tensor& h0,
                                          const at::Tensor& mask, const at::Tensor& into, bool bias_grad,
                                          bool gates_stored) {
  const int64_t T = P.size(0), N = P.size(1), H = h0.size(1), G = blocks_of(kind) * H;
  TORCH_CHECK((!grad_h.numel() || grad_h.size(2) == 1 || grad_h.stride(2) == 1) &&
                  (!grad_out.numel() || grad_out.size(2) == 1 || grad_out.stride(2) == 1),
              "parallel_backward: the gradients need unit stride in their last dimension");
  TORCH_CHECK(!gates_stored || kind != 1, "parallel_backward: MinLSTM's gates are never stored");
  TORCH_CHECK(!into.defined() || !into.numel() || (into.sizes() == P.sizes() && into.strides() == P.strides()),
              "parallel_backward: 'into' must have the projection's shape and strides");
  at::Tensor grad_p = into.defined() && into.numel() ? into : laid_out_like(P, G);
  at::Tensor grad_h0 = at::empty_like(h0);
  at::Tensor partial = bias_grad ? at::zeros({at::get_num_threads(), G}, P.options()) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(P.scalar_type(), "parallel_backward", [&] {
    const scalar_t* p_all = P.data_ptr<scalar_t>();
    const scalar_t* h_all = h.data_ptr<scalar_t>();
    const scalar_t* first = h0.data_ptr<scalar_t>();
    const scalar_t* gh_all = grad_h.numel() ? grad_h.data_ptr<scalar_t>() : nullptr;
    const scalar_t* go_all = grad_out.numel() ? grad_out.data_ptr<scalar_t>() : nullptr;
    scalar_t* dp_all = grad_p.data_ptr<scalar_t>();
    scalar_t* g0 = grad_h0.data_ptr<scalar_t>();
    const bool* m = mask.numel() ? mask.data_ptr<bool>() : nullptr;
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> carry_buffer(H), g_buffer(H), zero_buffer(gh_all ? 0 : H, scalar_t(0));
      scalar_t* carry = carry_buffer.data();  // a_{t+1} g_{t+1}
      scalar_t* g = g_buffer.data();
      scalar_t* sums = nullptr;
      if (bias_grad) {
        TORCH_CHECK(at::get_thread_num() < partial.size(0), "parallel_backward: thread ", at::get_thread_num(),
                    " beyond the ", partial.size(0), " partial sums");
        sums = partial.data_ptr<scalar_t>() + at::get_thread_num() * G;
      }
      for (int64_t n = begin; n < end; ++n) {
        std::fill(carry, carry + H, scalar_t(0));
        for (int64_t t = T - 1; t >= 0; --t) {
          const scalar_t* p = row_of(p_all, P, t, n);
          const scalar_t* hn = row_of(h_all, h, t, n);
          const scalar_t* hp = t ? row_of(h_all, h, t - 1, n) : first + n * H;
          const scalar_t* gh = gh_all ? row_of(gh_all, grad_h, t, n) : zero_buffer.data();
          scalar_t* dp = row_of(dp_all, grad_p, t, n);
          if (!active(m, t, N, n)) {
            std::fill(dp, dp + G, scalar_t(0));
            _Pragma("omp simd")
            for (int64_t k = 0; k < H; ++k) carry[k] += gh[k];
            continue;
          }
          with_flag(gates_stored, [&](auto stored) {
            constexpr bool S = decltype(stored)::value;
            if (go_all != nullptr) {
              const scalar_t* go = row_of(go_all, grad_out, t, n);
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t o = gate_sigmoid<S>(p[2 * H + k]);
                g[k] = gh[k] + carry[k] + go[k] * o;
                dp[2 * H + k] = go[k] * hn[k] * o * (1 - o);
              }
            } else {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) g[k] = gh[k] + carry[k];
              if (has_output_gate(kind)) std::fill(dp + 2 * H, dp + 3 * H, scalar_t(0));  // no loss reads o
            }
            if (kind == 0) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t s = gate_sigmoid<S>(p[k]);
                dp[k] = s * (1 - s) * g[k] * (p[H + k] - hp[k]);
                dp[H + k] = g[k] * s;
                carry[k] = (1 - s) * g[k];
              }
            } else if (kind == 1) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const MinLSTMDecay<scalar_t> decay = min_lstm_decay(p[k], p[H + k]);
                const scalar_t a = decay.a;
                const scalar_t dd = a * (1 - a) * g[k] * (hp[k] - p[2 * H + k]);
                dp[k] = dd * decay.not0;          // ∂ log σ(x)/∂x = σ(−x)
                dp[H + k] = -dd * decay.not1;
                dp[2 * H + k] = g[k] * (1 - a);
                carry[k] = a * g[k];
              }
            } else if (kind == 4) {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t z = gate_tanh<S>(p[k]), f = gate_sigmoid<S>(p[H + k]), i = gate_sigmoid<S>(p[3 * H + k]);
                dp[k] = g[k] * i * (1 - z * z);
                dp[H + k] = f * (1 - f) * g[k] * hp[k];
                dp[3 * H + k] = i * (1 - i) * g[k] * z;
                carry[k] = f * g[k];
              }
            } else {
              _Pragma("omp simd")
              for (int64_t k = 0; k < H; ++k) {
                const scalar_t z = gate_tanh<S>(p[k]), f = gate_sigmoid<S>(p[H + k]);
                dp[k] = g[k] * (1 - f) * (1 - z * z);
                dp[H + k] = f * (1 - f) * g[k] * (hp[k] - z);
                carry[k] = f * g[k];
              }
            }
          });
          if (sums != nullptr) {
            _Pragma("omp simd")
            for (int64_t k = 0; k < G; ++k) sums[k] += dp[k];
          }
        }
        std::copy(carry, carry + H, g0 + n * H);
      }
    });
  });
  if (bias_grad) return {grad_p, grad_h0, partial.sum(0)};
  return {grad_p, grad_h0};
}

}  // namespace convrnn
