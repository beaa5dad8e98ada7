// One unit's pointwise math, shared by the plain cells (cells.cpp, jordan.cpp) and the
// layer-normalised ones (layer_norm_lstm.cpp, layer_norm_cells.cpp), so each equation is written
// once. Always inlined, and specialised on the flags (kGRU, kReLU) that select an equation, so the
// loops that call them vectorise: GCC neither inlines nor unswitches a loop on a run-time flag
// once its body holds an exp, and then leaves it scalar (measured: the GRU's forward row pass
// 3.5× slower).
#pragma once

#include <type_traits>

#include "common.h"

namespace convrnn {

// LSTM unit k of a row: gn holds the pre-activations (i, f, g, o blocks of H) on entry and the
// activations on return; old = c_{t−1}; V the peepholes (kPeephole). Returns c_t.
template <bool kPeephole, typename T>
CONVRNN_ALWAYS_INLINE T lstm_unit(T* gn, int64_t k, int64_t H, T old, const T* V) {
  T a_i = gn[k], a_f = gn[H + k], a_o = gn[3 * H + k];
  if constexpr (kPeephole) {
    a_i += V[k] * old;
    a_f += V[H + k] * old;
  }
  const T i = sigmoid(a_i), f = sigmoid(a_f), cand = math::tanh(gn[2 * H + k]);
  const T cell = f * old + i * cand;
  if constexpr (kPeephole) a_o += V[2 * H + k] * cell;
  gn[k] = i;
  gn[H + k] = f;
  gn[2 * H + k] = cand;
  gn[3 * H + k] = sigmoid(a_o);
  return cell;
}

// Its backward pass from d_c = ∂L/∂c_t in total: writes ∂L/∂(pre-activation) of i, f, g into dn
// (dn's o entry is the caller's) from the saved activations sn; returns ∂L/∂c_{t−1}.
template <bool kPeephole, typename T>
CONVRNN_ALWAYS_INLINE T lstm_unit_backward(T* dn, const T* sn, int64_t k, int64_t H, T d_c, T c_prev, const T* V) {
  const T i = sn[k], f = sn[H + k], cand = sn[2 * H + k];
  const T d_i = d_c * cand * i * (1 - i);
  const T d_f = d_c * c_prev * f * (1 - f);
  dn[k] = d_i;
  dn[H + k] = d_f;
  dn[2 * H + k] = d_c * i * (1 - cand * cand);
  T d_c_prev = d_c * f;
  if constexpr (kPeephole) d_c_prev += V[k] * d_i + V[H + k] * d_f;
  return d_c_prev;
}

// GRU (reset before, kGRU) or MGU unit k, forward after its candidate n: h_t from n, h_{t−1} = old
// and the gate activations gn (GRU: r, z blocks; MGU: f).
template <bool kGRU, typename T>
CONVRNN_ALWAYS_INLINE T interpolate(T candidate, T old, const T* gn, int64_t k, int64_t H) {
  if constexpr (kGRU) {
    return candidate + gn[H + k] * (old - candidate);
  } else {
    return old + gn[k] * (candidate - old);
  }
}

// Its backward pass before the path through U_n: from d_h = ∂L/∂h_t, the candidate n and
// h_{t−1} = old, writes ∂L/∂(gate activations) so far into dgn and returns ∂L/∂(candidate
// pre-activation) in d_cand and ∂L/∂h_{t−1} through the interpolation in direct.
template <bool kGRU, typename T>
CONVRNN_ALWAYS_INLINE void gated_unit_backward(T d_h, T candidate, T old, const T* gn, T* dgn, int64_t k,
                                               int64_t H, T& d_cand, T& direct) {
  if constexpr (kGRU) {
    const T z = gn[H + k];
    dgn[k] = 0;
    dgn[H + k] = d_h * (old - candidate);
    d_cand = d_h * (1 - z) * (1 - candidate * candidate);
    direct = d_h * z;
  } else {
    const T f = gn[k];
    dgn[k] = d_h * (candidate - old);
    d_cand = d_h * f * (1 - candidate * candidate);
    direct = d_h * (1 - f);
  }
}

// The Elman and Jordan hidden units' nonlinearity g, by code (the order of ElmanCell.nonlinearities):
// 0 tanh, 1 ReLU, 2 σ, 3 leaky ReLU with slope s ≥ 0 (torch's a > 0 ? a : s·a), 4 identity. Each
// keeps a NaN, as torch's functions do.
template <int kAct, typename T>
CONVRNN_ALWAYS_INLINE T activate(T v, T slope = T(0)) {
  if constexpr (kAct == 1) {
    return math::relu(v);
  } else if constexpr (kAct == 2) {
    return math::sigmoid(v);
  } else if constexpr (kAct == 3) {
    return v > T(0) ? v : v * slope;
  } else if constexpr (kAct == 4) {
    return v;
  } else {
    return math::tanh(v);
  }
}

// g′(a) from the output v = g(a) (the backward passes keep only h): as torch's backward formulas,
// 0 for ReLU and s for leaky ReLU at a = 0; exact because s ≥ 0 keeps sign(v) = sign(a).
template <int kAct, typename T>
CONVRNN_ALWAYS_INLINE T activation_slope(T v, T slope) {
  if constexpr (kAct == 1) {
    return T(v > T(0));
  } else if constexpr (kAct == 2) {
    return v * (T(1) - v);
  } else if constexpr (kAct == 3) {
    return v > T(0) ? T(1) : slope;
  } else if constexpr (kAct == 4) {
    return T(1);
  } else {
    return T(1) - v * v;
  }
}

// Seed 001's gated unit k of a row, backward through h = ẑ + g∘(h_{t−1} − ẑ): sn holds g and ẑ (blocks
// of H), d_h = ∂L/∂h_t, previous = h_{t−1}. Writes ∂L/∂a_g and ∂L/∂a_ẑ into dn; returns d_h∘g, the part
// of the gradient that reaches h_{t−1} directly (the plain and the layer-normalised unit share it).
template <typename T>
CONVRNN_ALWAYS_INLINE T gated_unit_grad(const T* sn, T* dn, int64_t k, int64_t H, T d_h, T previous) {
  const T gate = sn[k], candidate = sn[H + k];
  dn[k] = d_h * (previous - candidate) * gate * (1 - gate);
  dn[H + k] = d_h * (1 - gate) * (1 - candidate * candidate);
  return d_h * gate;
}

// Calls body(std::integral_constant<int, code>{}) for an activation code 0 … 4 (as with_flag), so
// that each nonlinearity's loop is its own branch-free, vectorised copy.
template <typename Body>
inline void with_activation(int64_t code, const Body& body) {
  switch (code) {
    case 1: body(std::integral_constant<int, 1>{}); break;
    case 2: body(std::integral_constant<int, 2>{}); break;
    case 3: body(std::integral_constant<int, 3>{}); break;
    case 4: body(std::integral_constant<int, 4>{}); break;
    default: body(std::integral_constant<int, 0>{}); break;
  }
}

}  // namespace convrnn
