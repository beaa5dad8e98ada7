// Helpers shared by the compiled recurrent core's files: the per-step matrix product, the
// row loop and the mask test. See cells.cpp for the conventions (time-major,
// contiguous tensors; T steps, N sequences, H hidden units).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "panel_product.h"
#include "pointwise_math.h"

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
// MKL's packed matrix product: B is reordered once into the kernel's layout, and every product
// with it then skips that step (what oneDNN's RNN primitive does for torch.nn.LSTM).
std::size_t cblas_sgemm_pack_get_size(int identifier, int m, int n, int k) __attribute__((weak));
void cblas_sgemm_pack(int layout, int identifier, int trans, int m, int n, int k, float alpha, const float* src,
                      int ld, float* dest) __attribute__((weak));
void cblas_sgemm_compute(int layout, int trans_a, int trans_b, int m, int n, int k, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc) __attribute__((weak));
}

namespace convrnn {

// The fewest sequences per thread for which a loop through time goes by sequences (over_sequences).
constexpr int64_t kRowsPerThread = 4;

// Whether BLAS's Fortran product is there for T.
template <typename T>
inline bool have_blas() {
  if constexpr (std::is_same_v<T, float>) {
    return sgemm_ != nullptr;
  } else {
    return dgemm_ != nullptr;
  }
}

// c = beta·c + a · op(b) through BLAS, row-major: a (rows, inner) with leading dimension inner,
// op(b) (inner, width) from b (width, inner) if ``transposed`` else (inner, width), leading
// dimension ldb, c (rows, width) with leading dimension ldc. Row-major c is column-major cᵀ, so
// BLAS computes cᵀ = op(b)ᵀ aᵀ with the operands swapped. Needs have_blas<T>().
template <typename T>
inline void blas_product(bool transposed, int rows, int width, int inner, const T* a, const T* b, int ldb, T beta,
                         T* c, int ldc) {
  const T one = 1;
  const char* op_b = transposed ? "T" : "N";
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(op_b, "N", &width, &rows, &inner, &one, b, &ldb, a, &inner, &beta, c, &ldc);
  } else {
    dgemm_(op_b, "N", &width, &rows, &inner, &one, b, &ldb, a, &inner, &beta, c, &ldc);
  }
}

// c = beta·c + a · bᵀ (``transposed``) or a · b, all row-major and contiguous: a (rows, inner),
// b (cols, inner) or (inner, cols), c (rows, cols); through ATen where there is no BLAS.
template <typename T>
inline void matmul(const at::Tensor& a, const at::Tensor& b, bool transposed, T beta, const at::Tensor& c) {
  const int rows = static_cast<int>(a.size(0)), inner = static_cast<int>(a.size(1));
  const int cols = static_cast<int>(c.size(1));
  if (have_blas<T>()) {
    blas_product<T>(transposed, rows, cols, inner, a.data_ptr<T>(), b.data_ptr<T>(), transposed ? inner : cols,
                    beta, c.data_ptr<T>(), cols);
    return;
  }
  at::Tensor target = c;
  if (beta == T(0)) {
    target.zero_();  // c may hold garbage, and 0 · NaN is NaN
  } else if (beta != T(1)) {
    target.mul_(beta);
  }
  target.addmm_(a, transposed ? b.t() : b);
}

// How StepWeight multiplies (see ../fused.py step_products): 0 one BLAS call (threaded by
// BLAS), 1 MKL's packed product, 2 split by output columns across torch's threads, 3 (default
// where built with AVX2 and FMA) panel_product.h's kernel, float32, split by columns too.
inline int& product_strategy() {
#ifdef CONVRNN_PANELS
  static int strategy = 3;
#else
  static int strategy = 2;
#endif
  return strategy;
}

// A weight multiplied at every step of a loop: c = beta·c + a · bᵀ (``transposed``) or a · b with
// a always (rows, inner). A step's product is small (rows = the batch), and BLAS's own threading
// splits it poorly (measured at (32, 256)·(256, 1024) with 2 threads: 102 GFLOP/s, against 77 on
// one); so by default the output columns are split into one block per thread, each block one
// single-threaded BLAS call (BLAS runs sequentially inside torch's parallel region), with the
// leading dimensions pointing into the shared a, b and c.
//
// ``steps``: how many products the loop will take; the panel kernel's one-off packing of b costs
// about three products, so it is used only from kMinPanelSteps steps on (not, say, by sampling,
// which runs one step per call).
constexpr int64_t kMinPanelSteps = 8;

template <typename T>
class StepWeight {
 public:
  StepWeight(const at::Tensor& b, bool transposed, int64_t rows, int64_t steps)
      : b_(b), transposed_(transposed) {
    rows_ = static_cast<int>(rows);
    inner_ = static_cast<int>(transposed ? b.size(1) : b.size(0));
    cols_ = static_cast<int>(transposed ? b.size(0) : b.size(1));
#ifdef CONVRNN_PANELS
    if constexpr (std::is_same_v<T, float>) {
      if (product_strategy() == 3 && steps >= kMinPanelSteps && rows > 0) {
        panels_ = PanelMatrix(b.contiguous(), transposed);
        return;
      }
    }
#endif
    if constexpr (std::is_same_v<T, float>) {
      if (product_strategy() == 1 && cblas_sgemm_pack_get_size != nullptr && cblas_sgemm_pack != nullptr &&
          cblas_sgemm_compute != nullptr && rows > 0) {
        const std::size_t bytes = cblas_sgemm_pack_get_size(kB, rows_, cols_, inner_);
        packed_ = at::empty({static_cast<int64_t>(bytes / sizeof(float)) + 16}, b.options());
        cblas_sgemm_pack(kRowMajor, kB, transposed ? kTrans : kNoTrans, rows_, cols_, inner_, 1.0f,
                         b.data_ptr<float>(), transposed ? inner_ : cols_, packed_.data_ptr<float>());
      }
    }
    split_ = have_blas<T>() && product_strategy() == 2 && at::get_num_threads() > 1 && cols_ >= 64;
  }

  void multiply(const at::Tensor& a, T beta, const at::Tensor& c) const {
    multiply(a.data_ptr<T>(), a.size(0), beta, c.data_ptr<T>());
  }

  // The same on raw row-major pointers (no Tensor made per step): a (rows, inner), c (rows, cols).
  void multiply(const T* a, int64_t rows, T beta, T* c) const {
#ifdef CONVRNN_PANELS
    if constexpr (std::is_same_v<T, float>) {
      if (panels_.defined()) {
        const int64_t panels = panels_.panels(), threads = at::get_num_threads();
        // Threads only for 4 panels (64 columns) or more, as for "split"; inside a block of
        // sequences the product is that thread's alone.
        if (threads > 1 && panels >= 4 && !at::in_parallel_region()) {
          at::parallel_for(0, panels, (panels + threads - 1) / threads, [&](int64_t first, int64_t last) {
            panels_.multiply(a, rows, beta, c, first, last);
          });
        } else {
          panels_.multiply(a, rows, beta, c, 0, panels);
        }
        return;
      }
    }
#endif
    if constexpr (std::is_same_v<T, float>) {
      if (packed_.defined() && rows == rows_) {
        cblas_sgemm_compute(kRowMajor, kNoTrans, kPacked, rows_, cols_, inner_, a, inner_,
                            packed_.data_ptr<float>(), cols_, beta, c, cols_);
        return;
      }
    }
    if (split_ && !at::in_parallel_region()) {  // inside a block of sequences: one call
      const int64_t threads = at::get_num_threads();
      const int64_t block = ((cols_ + threads - 1) / threads + 15) / 16 * 16;   // whole vectors per block
      const T* b = b_.data_ptr<T>();
      at::parallel_for(0, (cols_ + block - 1) / block, 1, [&](int64_t first, int64_t last) {
        for (int64_t j = first; j < last; ++j) {
          const int start = static_cast<int>(j * block);
          const int width = std::min<int>(static_cast<int>(block), cols_ - start);
          // Column block [start, start + width) of c: rows start·inner of b (transposed) or
          // columns start of b (not transposed).
          blas_product<T>(transposed_, static_cast<int>(rows), width, inner_, a,
                          transposed_ ? b + start * inner_ : b + start, transposed_ ? inner_ : cols_, beta,
                          c + start, cols_);
        }
      });
      return;
    }
    const int64_t inner = inner_, cols = cols_;
    const auto options = b_.options();
    matmul<T>(at::from_blob(const_cast<T*>(a), {rows, inner}, options), b_, transposed_, beta,
              at::from_blob(c, {rows, cols}, options));
  }

 private:
  // CBLAS's constants.
  static constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112, kPacked = 151, kB = 162;
  at::Tensor b_, packed_;
#ifdef CONVRNN_PANELS
  PanelMatrix panels_;
#endif
  bool transposed_, split_ = false;
  int rows_ = 0, inner_ = 0, cols_ = 0;
};

using math::sigmoid;

// Runs body(n) for every row n in [first, last); rows go to several threads only when a step is
// large enough to pay for waking them (and never inside a block of sequences, which is one
// thread's already).
template <typename Body>
inline void for_rows(int64_t first, int64_t last, int64_t width, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  at::parallel_for(first, last, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) body(n);
  });
}

// How a loop through time shares its work among threads (see ../fused.py work_split): 0 (default)
// chooses, 1 by sequences, 2 by steps.
inline int& work_split() {
  static int split = 0;
  return split;
}

// Seven eighths of this CPU's per-core level-2 cache (glibc's sysconf; 1 MiB assumed where it
// says nothing): room for recurrent weights with an eighth left for a block's rows.
inline int64_t level2_room() {
  static const int64_t bytes = [] {
    const long size = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return static_cast<int64_t>(size > 0 ? size : 1 << 20) / 8 * 7;
  }();
  return bytes;
}

// Row n of a step reads only row n of the step before: the N sequences of a batch are
// independent. So a loop through time can give each thread a block of the sequences for the
// whole loop, every step of it (its rows of each product, then its rows' pointwise code), with
// no synchronisation between steps: "by sequences". The other way, "by steps", runs the steps on
// this thread and splits each step's product by columns and its pointwise code by rows, joining
// the threads at every step. By sequences, each thread reads all the recurrent weights
// (``weight_bytes``) at every step; by steps, only its columns' share, which then stays in its
// own level-2 cache. So the default goes by sequences where the weights fit in 7/8 of that cache
// and each thread gets kRowsPerThread sequences or more (measured at 2 threads, H = 64 LSTM
// layer norm: 1.25× torch.nn.LSTM by sequences, 1.59× by steps; GRU layer norm at H = 256,
// 768 KiB of weights: 0.82–0.86× against 0.86–0.89× training; the LSTM's 1 MiB at H = 256
// does not fit: 1.99× against 1.66×). Calls body(first, last) once per block of
// sequences, in parallel, or body(0, N) once.
template <typename Body>
inline void over_sequences(int64_t N, int64_t weight_bytes, const Body& body) {
  const int64_t threads = at::get_num_threads();
  const int split = work_split();
  const bool fits = weight_bytes <= level2_room() && N >= kRowsPerThread * threads;
  if (threads < 2 || N < 2 || at::in_parallel_region() || split == 2 || (split == 0 && !fits)) {
    body(int64_t(0), N);
    return;
  }
  at::parallel_for(0, N, (N + threads - 1) / threads, body);
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

// A padded (inactive) step of a sequence passes ∂L/∂h straight to the step before: the gradient from this
// step's output, gh, plus the one carried from the step after, dhp (H values of one row). Every cell's
// backward does this for its inactive rows (and zeroes that row's gate gradients itself).
template <typename T>
inline void carry_through(T* __restrict pass, const T* __restrict gh, const T* __restrict dhp, int64_t H) {
  _Pragma("omp simd")
  for (int64_t k = 0; k < H; ++k) pass[k] = gh[k] + dhp[k];
}

// The state before every step: (h0, h_0, …, h_{T−2}) as one (T·N, H) matrix.
inline at::Tensor previous_states(const at::Tensor& first, const at::Tensor& all) {
  const int64_t T = all.size(0);
  return at::cat({first.unsqueeze(0), all.narrow(0, 0, T - 1)}).view({-1, first.size(1)});
}

// A backward loop through time, t = T−1 … 0, over blocks of sequences as over_sequences. The
// gradient with respect to the state travels from step to step in two (N, S) buffers that swap
// roles: step(t, first, last, carried, next) reads ∂L/∂(state after step t) so far from
// ``carried`` and must write every row [first, last) of ``next`` (∂L/∂(state before step t)).
// On return ``carried`` is the tensor holding the gradient before step 0 (the two tensors are
// swapped when T is odd, the same for every block).
template <typename Scalar, typename Step>
inline void backward_through_time(int64_t T, int64_t N, int64_t weight_bytes, at::Tensor& carried, at::Tensor& next,
                                  const Step& step) {
  over_sequences(N, weight_bytes, [&](int64_t first, int64_t last) {
    Scalar* from = carried.data_ptr<Scalar>();
    Scalar* to = next.data_ptr<Scalar>();
    for (int64_t t = T - 1; t >= 0; --t) {
      step(t, first, last, from, to);
      std::swap(from, to);
    }
  });
  if (T % 2) std::swap(carried, next);
}

// A recurrent matrix's gradient Σ_t δ_tᵀ s_{t−1} (G, S) from delta (T, N, G) and the states
// before each step, first (N, S) then all[0 … T−2] (all: (T, N, S)): two products, with no
// (T·N, S) copy of the states.
inline at::Tensor weight_gradient(const at::Tensor& delta, const at::Tensor& first, const at::Tensor& all) {
  const int64_t T = delta.size(0), G = delta.size(2), S = first.size(1);
  at::Tensor grad = delta.select(0, 0).t().mm(first);
  if (T > 1) grad.addmm_(delta.narrow(0, 1, T - 1).reshape({-1, G}).t(), all.narrow(0, 0, T - 1).reshape({-1, S}));
  return grad;
}

// A fresh tensor for a large result (one the call returns, so it cannot come from a workspace):
// at::empty, with the kernel asked to back its 2 MiB-aligned interior with huge pages
// (madvise MADV_HUGEPAGE; Linux's transparent huge pages in "madvise" mode honour it). A fresh
// buffer is otherwise mapped 4 KiB page by page at its first touch, about 1 µs a page here,
// which measured half the time of the parallel layers' backward pass. Where the kernel declines
// (no THP, or "never"), the tensor is an ordinary one.
inline at::Tensor fresh(at::IntArrayRef shape, const at::TensorOptions& options) {
  at::Tensor tensor = at::empty(shape, options);
  constexpr std::uintptr_t kHuge = std::uintptr_t(2) << 20;
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(tensor.data_ptr());
  const std::uintptr_t end = begin + tensor.nbytes();
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  return tensor;
}

// A temporary of one call (never returned, never saved): a buffer of ``shape`` kept on the
// calling thread between calls in slot ``slot`` and grown as needed. A fresh buffer of this size
// would be mapped by the OS page by page at its first touch, on every call (glibc hands large
// blocks back on free; a page fault costs about 1 µs here, 3 ms per 13 MB temporary). Buffers
// over 64 MiB are not kept.
inline at::Tensor workspace(std::size_t slot, at::IntArrayRef shape, const at::TensorOptions& options) {
  thread_local std::vector<at::Tensor> slots;
  int64_t size = 1;
  for (const int64_t extent : shape) size *= extent;
  if (size * static_cast<int64_t>(options.dtype().itemsize()) > (int64_t(64) << 20)) return at::empty(shape, options);
  if (slots.size() <= slot) slots.resize(slot + 1);
  at::Tensor& held = slots[slot];
  if (!held.defined() || held.numel() < size || held.dtype() != options.dtype()) held = at::empty({size}, options);
  return held.narrow(0, 0, size).view(shape);
}

// Σ_r a[r, k] · b[r, k] over the rows of two (rows, cols) row-major matrices, as a (cols,) tensor,
// in one pass with no (rows, cols) temporary: threads own column ranges. ``a_stride`` and
// ``b_stride`` are the distances between rows (≥ cols), so column blocks of wider matrices work.
inline at::Tensor column_dot(const at::Tensor& a, int64_t a_stride, const at::Tensor& b, int64_t b_stride,
                             int64_t rows, int64_t cols, int64_t a_offset = 0, int64_t b_offset = 0) {
  at::Tensor out = at::zeros({cols}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "column_dot", [&] {
    const scalar_t* ap = a.data_ptr<scalar_t>() + a_offset;
    const scalar_t* bp = b.data_ptr<scalar_t>() + b_offset;
    scalar_t* op = out.data_ptr<scalar_t>();
    at::parallel_for(0, cols, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < rows; ++r) {
        const scalar_t* ar = ap + r * a_stride;
        const scalar_t* br = bp + r * b_stride;
        _Pragma("omp simd")
        for (int64_t k = begin; k < end; ++k) op[k] += ar[k] * br[k];
      }
    });
  });
  return out;
}

// Layer-norm statistics of one row of H units: returns 1/sqrt(var + ε) (biased variance) and
// sets mean. One pass over the row, summing z − K and (z − K)² with K = z[0]: shifted by a value
// of the row itself, var = mean((z − K)²) − mean(z − K)² does not cancel the way the unshifted
// mean(z²) − mean(z)² does when the mean is large against the spread. As K is one of the row's
// values, (K − mean)² ≤ (H − 1)·var, so the cancellation costs at most about log2(H) bits, at
// any scale. A NaN anywhere in the row gives a NaN variance (std::max keeps its first argument).
template <typename T>
inline T statistics(const T* z, int64_t H, T eps, T& mean) {
  const T shift = z[0];
  T sum = 0, squares = 0;
  _Pragma("omp simd reduction(+ : sum, squares)")
  for (int64_t k = 0; k < H; ++k) {
    const T centred = z[k] - shift;
    sum += centred;
    squares += centred * centred;
  }
  const T offset = sum / H;
  mean = shift + offset;
  const T variance = std::max(squares / H - offset * offset, T(0));
  return T(1) / std::sqrt(variance + eps);
}

// Layer norm of one row of H units: normalises z[0 … H) into out, returning 1/sqrt(var + ε).
template <typename T>
inline T normalise(const T* z, T* out, int64_t H, T eps) {
  T mean;
  const T rstd = statistics(z, H, eps, mean);
  _Pragma("omp simd")
  for (int64_t k = 0; k < H; ++k) out[k] = (z[k] - mean) * rstd;
  return rstd;
}

// ∂L/∂z of a layer norm, in place: d holds α∘δ on entry and ∂L/∂z on return.
template <typename T>
inline void normalise_backward(T* d, const T* z_hat, T rstd, int64_t H) {
  T first = 0, second = 0;
  _Pragma("omp simd reduction(+ : first, second)")
  for (int64_t k = 0; k < H; ++k) {
    first += d[k];
    second += d[k] * z_hat[k];
  }
  first /= H;
  second /= H;
  _Pragma("omp simd")
  for (int64_t k = 0; k < H; ++k) d[k] = rstd * (d[k] - first - z_hat[k] * second);
}

// The input term of every step at once, out = α_x ∘ LN(z) + offset per block of H, over the
// independent rows of z (T, N, B·H) (B = gain's blocks); saves each row's mean and
// 1/sqrt(var + ε) (T, N, B) where z_mean is defined (the backward pass recomputes ẑ from z and
// them, so no (T, N, B·H) ẑ is kept). out may be z itself (inference).
inline void normalise_input(const at::Tensor& z, const at::Tensor& out, const at::Tensor& z_mean,
                            const at::Tensor& z_rstd, const at::Tensor& gain, const at::Tensor& offset, double eps) {
  const int64_t H = gain.size(1), rows = z.numel() / H, blocks = gain.size(0);
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "normalise_input", [&] {
    const scalar_t* zp = z.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    scalar_t* means = z_mean.defined() ? z_mean.data_ptr<scalar_t>() : nullptr;
    scalar_t* rstds = z_rstd.defined() ? z_rstd.data_ptr<scalar_t>() : nullptr;
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* base = offset.data_ptr<scalar_t>();
    const scalar_t epsilon = static_cast<scalar_t>(eps);
    at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / H), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r % blocks;
        const scalar_t* zr = zp + r * H;
        scalar_t mean;
        const scalar_t rstd = statistics(zr, H, epsilon, mean);
        if (means) {
          means[r] = mean;
          rstds[r] = rstd;
        }
        scalar_t* o = op + r * H;
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) o[k] = alpha[b * H + k] * ((zr[k] - mean) * rstd) + base[b * H + k];
      }
    });
  });
}

// Its backward pass, in place: δ = ∂L/∂out on entry, ∂L/∂z on return (row by row: no
// recurrence); returns ∂L/∂α_x = Σ δ ∘ ẑ (B, H), summed per thread while ẑ is rebuilt row by row.
inline at::Tensor normalise_input_backward(const at::Tensor& delta, const at::Tensor& gain, const at::Tensor& z,
                                           const at::Tensor& z_mean, const at::Tensor& z_rstd) {
  const int64_t blocks = gain.size(0), H = gain.size(1), rows = delta.numel() / H;
  at::Tensor partial = at::zeros({at::get_num_threads(), blocks * H}, delta.options());
  AT_DISPATCH_FLOATING_TYPES(delta.scalar_type(), "normalise_input_backward", [&] {
    scalar_t* dp = delta.data_ptr<scalar_t>();
    const scalar_t* zp = z.data_ptr<scalar_t>();
    const scalar_t* alpha = gain.data_ptr<scalar_t>();
    const scalar_t* means = z_mean.data_ptr<scalar_t>();
    const scalar_t* rstds = z_rstd.data_ptr<scalar_t>();
    at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / H), [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> hat(H);
      TORCH_CHECK(at::get_thread_num() < partial.size(0), "normalise_input_backward: thread ", at::get_thread_num(),
                  " beyond the ", partial.size(0), " partial sums");
      scalar_t* sums = partial.data_ptr<scalar_t>() + at::get_thread_num() * blocks * H;
      for (int64_t r = begin; r < end; ++r) {
        const int64_t b = r % blocks;
        const scalar_t* gain_b = alpha + b * H;
        const scalar_t* zr = zp + r * H;
        scalar_t* d = dp + r * H;
        scalar_t* sum_b = sums + b * H;
        const scalar_t mean = means[r], rstd = rstds[r];
        _Pragma("omp simd")
        for (int64_t k = 0; k < H; ++k) {
          hat[k] = (zr[k] - mean) * rstd;
          sum_b[k] += d[k] * hat[k];
          d[k] *= gain_b[k];
        }
        normalise_backward(d, hat.data(), rstd, H);
      }
    });
  });
  return partial.sum(0).view({blocks, H});
}

}  // namespace convrnn
