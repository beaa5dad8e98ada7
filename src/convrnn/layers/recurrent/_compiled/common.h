// Helpers shared by the compiled recurrent core's files: the per-step matrix product, the
// sigmoid, the row loop and the mask test. See cells.cpp for the conventions (time-major,
// contiguous tensors; T steps, N sequences, H hidden units).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

extern "C" {
// BLAS's Fortran matrix product, which torch's CPU library exports where it is built with MKL
// or OpenBLAS. Declared weak: a torch without it still loads this library, and matmul() below
// then goes through ATen. Called directly because at this size (a few µs of arithmetic per step)
// the dispatcher and tensor bookkeeping of at::addmm cost as much as the product.
void sgemm_(const char* op_a, const char* op_b, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc) __attribute__((weak));
void dgemm_(const char* op_a, const char* op_b, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc) __attribute__((weak));
}

namespace convrnn {

// c = beta·c + a · bᵀ (``transposed``) or a · b, all row-major and contiguous: a (rows, inner),
// b (cols, inner) or (inner, cols), c (rows, cols). Row-major c is column-major cᵀ, so BLAS
// computes cᵀ = op(b)ᵀ aᵀ with the operands swapped.
template <typename T>
inline void matmul(const at::Tensor& a, const at::Tensor& b, bool transposed, T beta, const at::Tensor& c) {
  const int rows = static_cast<int>(a.size(0)), inner = static_cast<int>(a.size(1));
  const int cols = static_cast<int>(c.size(1)), ldb = transposed ? inner : cols;
  const T one = 1;
  const char* op_b = transposed ? "T" : "N";
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_ != nullptr) {
      sgemm_(op_b, "N", &cols, &rows, &inner, &one, b.data_ptr<T>(), &ldb, a.data_ptr<T>(), &inner, &beta,
             c.data_ptr<T>(), &cols);
      return;
    }
  } else {
    if (dgemm_ != nullptr) {
      dgemm_(op_b, "N", &cols, &rows, &inner, &one, b.data_ptr<T>(), &ldb, a.data_ptr<T>(), &inner, &beta,
             c.data_ptr<T>(), &cols);
      return;
    }
  }
  at::Tensor target = c;
  if (beta == T(0)) {
    target.zero_();  // c may hold garbage, and 0 · NaN is NaN
  } else if (beta != T(1)) {
    target.mul_(beta);
  }
  target.addmm_(a, transposed ? b.t() : b);
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Runs body(n) for every row n; rows go to several threads only when a step is large enough
// to pay for waking them.
template <typename Body>
inline void for_rows(int64_t rows, int64_t width, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) body(n);
  });
}

// Calls body(std::true_type) or body(std::false_type): the flag becomes a compile-time constant,
// so a loop has one branch-free copy per value and vectorises.
template <typename Body>
inline void with_flag(bool flag, const Body& body) {
  if (flag) {
    body(std::true_type{});
  } else {
    body(std::false_type{});
  }
}

inline bool active(const bool* mask, int64_t t, int64_t N, int64_t n) {
  return mask == nullptr || mask[t * N + n];
}

// The state before every step: (h0, h_0, …, h_{T−2}) as one (T·N, H) matrix.
inline at::Tensor previous_states(const at::Tensor& first, const at::Tensor& all) {
  const int64_t T = all.size(0);
  return at::cat({first.unsqueeze(0), all.narrow(0, 0, T - 1)}).view({-1, first.size(1)});
}

}  // namespace convrnn
