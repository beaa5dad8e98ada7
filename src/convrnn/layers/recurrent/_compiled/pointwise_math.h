// The core's transcendental functions: exact over the whole float range and vectorisable.
//
// The core is built without fast math (GCC's flag assumes no infinities: 1 / (1 + exp(89)) was then
// NaN, not 0), and without it GCC does not call glibc's vector exp/tanh. So float gets its own
// exp, built from +, ×, compares and bit moves that `omp simd` loops vectorise, and σ and tanh
// are written over it in forms that never divide ∞ by ∞ nor subtract ∞ from ∞:
//
//   exp(x)  = 2^n · p(r),  n = round(x / ln 2), r = x − n ln 2 ∈ [−ln 2 / 2, ln 2 / 2],
//             p a degree-7 polynomial (Cephes' expf coefficients, ≈ 1 ulp); 2^n is applied as
//             2^⌊n/2⌋ · 2^(n−⌊n/2⌋) so that overflow gives ∞ and the subnormal range is kept
//   σ(x)    = 1 / (1 + e) for x ≥ 0, e / (1 + e) for x < 0, with e = exp(−|x|) ∈ (0, 1]
//   tanh(x) = sign(x) · (1 − 2 / (exp(2|x|) + 1)) for |x| ≥ 0.625 (exp may be ∞: gives ±1),
//             an odd polynomial below (Cephes' tanhf coefficients; no cancellation near 0)
//
// Every function returns NaN for NaN (x == x is false only for NaN; no finite-math flag lets
// the compiler drop that test) and matches torch's function at ±∞ and at ±1e4: σ → 0 and 1,
// tanh → ±1, exp → 0 and ∞. double uses the C library's functions (it serves tests and float64
// models, where accuracy to 1e-10 matters more than vectorising).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// Always inlined: a call left in a loop (GCC's inliner gives up in the larger kernels) stops the
// loop from vectorising.
#if defined(__GNUC__)
#define CONVRNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define CONVRNN_ALWAYS_INLINE inline
#endif

namespace convrnn::math {

namespace detail {

// 2^k for an integer k in [−126, 127], built in the exponent field.
CONVRNN_ALWAYS_INLINE float power_of_two(int32_t k) {
  const int32_t bits = (k + 127) << 23;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace detail

CONVRNN_ALWAYS_INLINE float exp(float x) {
  // Beyond [−104, 89] the result is 0 or ∞ anyway; clamping keeps n an in-range integer (a NaN
  // becomes −104 here and is put back at the end).
  float clamped = x > -104.0f ? x : -104.0f;
  clamped = clamped < 89.0f ? clamped : 89.0f;
  // Round to nearest by the 1.5 · 2^23 trick (exact: |x / ln 2| < 2^22).
  constexpr float kMagic = 12582912.0f;
  const float n = (clamped * 1.44269504088896341f + kMagic) - kMagic;
  // r = x − n ln 2 in two parts, ln 2 = 0.693359375 − 2.12194440e-4 (the first part exact in
  // few bits, so n · 0.693359375 is exact).
  const float r = (clamped - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t k = static_cast<int32_t>(n);
  const int32_t half = k >> 1;  // ⌊k/2⌋; both factors lie in [−76, 64], normal numbers
  const float result = p * detail::power_of_two(half) * detail::power_of_two(k - half);
  return x == x ? result : x;
}

CONVRNN_ALWAYS_INLINE double exp(double x) { return std::exp(x); }

template <typename T>
CONVRNN_ALWAYS_INLINE T sigmoid(T x) {
  const T e = math::exp(-std::abs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;  // NaN takes the second branch: e, hence e · r, is NaN
}

CONVRNN_ALWAYS_INLINE float tanh(float x) {
  const float magnitude = std::abs(x);
  // |x| ≥ 0.625: 1 − 2 / (e^{2|x|} + 1), with e^{2|x|} = ∞ giving exactly 1.
  const float far = 1.0f - 2.0f / (math::exp(2.0f * magnitude) + 1.0f);
  // |x| < 0.625: x + x³ q(x²).
  const float z = x * x;
  float q = -5.70498872745e-3f;
  q = q * z + 2.06390887954e-2f;
  q = q * z - 5.37397155531e-2f;
  q = q * z + 1.33314422036e-1f;
  q = q * z - 3.33332819422e-1f;
  const float near = x + x * z * q;
  const float signed_far = x < 0.0f ? -far : far;  // a NaN x gives far = NaN
  return magnitude < 0.625f ? near : signed_far;
}

CONVRNN_ALWAYS_INLINE double tanh(double x) { return std::tanh(x); }

// max(v, 0) that keeps a NaN (torch.relu(NaN) is NaN; v > 0 ? v : 0 would give 0).
template <typename T>
CONVRNN_ALWAYS_INLINE T relu(T v) {
  return v < T(0) ? T(0) : v;
}

}  // namespace convrnn::math
