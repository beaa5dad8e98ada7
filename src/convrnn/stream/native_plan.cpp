// A causal stream's chunk step as one native call: the lowered stages of convrnn/stream/native.py
// (log-mel framing, running normalisation, convolution over time with its window buffer, per-channel
// affine, ReLU, running global pooling) run here in order, each on the whole chunk, their states kept
// inside the plan. Signals between ops are (N, T, C) row-major: step-major, channels contiguous, so a
// convolution's output step is one pass over its packed weights (K, C_in, C_out). Templated on the
// scalar (float, double); the Python side documents the math and packs the weights.
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../layers/recurrent/_compiled/units.h"

namespace {

constexpr double kPi = 3.14159265358979323846264338327950288;

template <typename T>
std::vector<T> to_vector(const torch::Tensor& tensor) {
  auto flat = tensor.to(torch::kFloat64).contiguous();
  const double* data = flat.data_ptr<double>();
  return std::vector<T>(data, data + flat.numel());
}

// ------------------------------------------------------------------ sliding windows

// The padded signal [low × value | x | high × value] handed out window by window (stride s, span K):
// a window is complete once its last cell is in; the cells from the next window's start are kept.
// One buffer per batch row, (cells, C) row-major, its live cells from `offset` on: consumed cells are
// dropped from the front only once they outnumber the live ones and 64, so the copy is amortised over
// many chunks. convrnn/stream/windows.py's PaddedWindows for the boundaries that need no signal (zeros,
// constant) and stride ≤ span.
template <typename T>
struct Windows {
  int64_t span = 1, stride = 1, low = 0, high = 0, channels = 1;
  T value = 0;
  int64_t cells = 0;                 // live cells per row
  int64_t offset = 0;                // consumed cells still at the front of each row
  std::vector<std::vector<T>> rows;  // per batch row

  void start(int64_t n) {
    rows.assign(n, std::vector<T>());
    cells = low;
    offset = 0;
    for (auto& row : rows) row.assign(low * channels, value);
  }
  // the live cells of row b
  const T* row(int64_t b) const { return rows[b].data() + offset * channels; }
  // append t cells of each row (x: (n, t, C)); returns how many windows are complete
  int64_t append(const T* x, int64_t t) {
    for (size_t b = 0; b < rows.size(); ++b) {
      const T* from = x + static_cast<int64_t>(b) * t * channels;
      rows[b].insert(rows[b].end(), from, from + t * channels);
    }
    cells += t;
    return complete();
  }
  void append_padding(int64_t count) {
    for (auto& row : rows) row.insert(row.end(), count * channels, value);
    cells += count;
  }
  int64_t complete() const { return cells >= span ? (cells - span) / stride + 1 : 0; }
  // drop the cells before the window after the `count` handed out
  void consume(int64_t count) {
    const int64_t drop = std::min(count * stride, cells);
    offset += drop;
    cells -= drop;
    if (offset > std::max<int64_t>(64, cells)) {
      for (auto& row : rows) row.erase(row.begin(), row.begin() + offset * channels);
      offset = 0;
    }
  }
};

// ------------------------------------------------------------------ ops

template <typename T>
struct Op {
  int64_t in_channels = 0, out_channels = 0;
  std::vector<T> out;  // (n, steps, out_channels) of the last call
  virtual ~Op() = default;
  virtual void start(int64_t n) = 0;
  // consume x (n, t, in_channels); write out; return the output steps
  virtual int64_t step(const T* x, int64_t t, int64_t n) = 0;
  // the outputs that the end of the signal makes final, into out; their steps
  virtual int64_t finish(int64_t n) { return 0; }
};

// A convolution's weights packed once for its output step: the C_out outputs in blocks of up to kBlock
// vectors of L lanes (the last vector zero-padded), each block (K·C_in, V·L) contiguous, so one output
// step reads every weight once, in order. Vectors are GCC's (32 bytes: AVX2 where compiled for it).
template <typename T>
struct Lanes {
  typedef T vec __attribute__((vector_size(32)));
  static constexpr int L = 32 / sizeof(T);
};
constexpr int kBlock = 4;

template <typename T>
inline typename Lanes<T>::vec load(const T* p) {
  typename Lanes<T>::vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Storage aligned to a cache line, so a 32-byte vector load never straddles two lines (a std::vector's
// large blocks come from mmap 16 bytes past a page boundary).
template <typename T>
struct Aligned {
  typedef T value_type;
  Aligned() = default;
  template <typename U>
  Aligned(const Aligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <typename U>
  bool operator==(const Aligned<U>&) const { return true; }
};

template <typename T>
struct Packed {
  int64_t k = 0, cin = 0, cout = 0, vectors = 0;  // vectors = ⌈C_out / L⌉
  std::vector<T, Aligned<T>> weight, bias;        // blocks of (K·C_in, V·L); (vectors·L)
  Packed() = default;
  Packed(const std::vector<T>& w, const std::vector<T>& b, int64_t k_, int64_t cin_, int64_t cout_)
      : k(k_), cin(cin_), cout(cout_) {
    constexpr int L = Lanes<T>::L;
    vectors = (cout + L - 1) / L;
    weight.assign(k * cin * vectors * L, T(0));
    bias.assign(vectors * L, T(0));
    std::copy(b.begin(), b.end(), bias.begin());
    for (int64_t first = 0; first < vectors; first += kBlock) {
      const int64_t width = std::min<int64_t>(kBlock, vectors - first) * L;
      T* block = weight.data() + k * cin * first * L;
      for (int64_t r = 0; r < k * cin; ++r)
        for (int64_t i = 0; i < width && first * L + i < cout; ++i) block[r * width + i] = w[r * cout + first * L + i];
    }
  }
  int64_t padded() const { return vectors * Lanes<T>::L; }  // a row of partial sums, pad lanes included
};

// Which part of y = b + Σ_j Σ_c W[j, c] x[j·d, c] a call sums: the taps [from, to) (to < 0: all), each sum
// starting from the bias or from `init` (one row of p.padded() partial sums a window, what a call with `raw`
// left), written as outputs ((windows, C_out), ReLU if asked) or `raw` (rows of p.padded(), no ReLU: partial
// sums to go on from). The per-lane order of the additions is the whole sum's, so a sum split at a tap and
// continued later rounds exactly as the sum in one call.
template <typename T>
struct Taps {
  int64_t from = 0, to = -1;
  const T* init = nullptr;
  bool raw = false;
  int64_t end(int64_t k) const { return to < 0 ? k : to; }  // the tap after the last, of a kernel of k
};

// F windows × V vectors of outputs from vector `first` of a block of `width` lanes: y_f = b + Σ_j Σ_c W[j, c]
// x_f[j·d, c] (+ ReLU) over the taps asked, the F·V accumulators in registers, each weight loaded once. One
// window (F = 1): tap j's cells from x + j·jump; more: x holds the windows' cells staged tap by tap, channel by
// channel, window by window ((taps, C_in, F): fixed offsets from one pointer, none kept in memory)
template <typename T, int F, int V>
inline void conv_tile(const T* x, int64_t jump, const Packed<T>& p, const T* block, int64_t width, int64_t first,
                      T* y, bool relu, const Taps<T>& taps) {
  using vec = typename Lanes<T>::vec;
  constexpr int L = Lanes<T>::L;
  const int64_t row = p.padded(), to = taps.end(p.k);
  vec acc[F][V];
  for (int f = 0; f < F; ++f)
    for (int v = 0; v < V; ++v)
      acc[f][v] = load(taps.init ? taps.init + f * row + (first + v) * L : p.bias.data() + (first + v) * L);
  const int64_t offset = (first * L) % (kBlock * L);  // lanes into the block
  for (int64_t j = taps.from; j < to; ++j) {
    const T* xr = F == 1 ? x + j * jump : x + (j - taps.from) * p.cin * F;
    const T* wr = block + j * p.cin * width + offset;
    for (int64_t c = 0; c < p.cin; ++c) {
      vec w[V];
      for (int v = 0; v < V; ++v) w[v] = load(wr + c * width + v * L);
      for (int f = 0; f < F; ++f) {
        const T value = xr[c * F + f];
        for (int v = 0; v < V; ++v) acc[f][v] += w[v] * value;
      }
    }
  }
  for (int f = 0; f < F; ++f)
    for (int v = 0; v < V; ++v) {
      if (taps.raw) {
        std::memcpy(y + f * row + (first + v) * L, &acc[f][v], sizeof(vec));
        continue;
      }
      T lanes[L];
      std::memcpy(lanes, &acc[f][v], sizeof(lanes));
      const int64_t at = (first + v) * L;
      for (int i = 0; i < L && at + i < p.cout; ++i) y[f * p.cout + at + i] = (relu && lanes[i] < T(0)) ? T(0) : lanes[i];
    }
}

// F windows: every block of outputs, in tiles of V vectors (at most 8 accumulators and the V weights: 12 of 16
// registers)
template <typename T, int F>
void conv_frames(const T* x, int64_t window_step, int64_t jump, const Packed<T>& p, T* y, bool relu,
                 const Taps<T>& taps) {
  constexpr int most = F <= 2 ? 4 : F == 4 ? 2 : 1;
  const int64_t to = taps.end(p.k);
  if constexpr (F > 1) {  // the windows' cells staged (taps, C_in, F)
    thread_local std::vector<T> staged;
    staged.resize((to - taps.from) * p.cin * F);
    T* into = staged.data();
    for (int64_t j = taps.from; j < to; ++j)
      for (int64_t c = 0; c < p.cin; ++c)
        for (int f = 0; f < F; ++f) *into++ = x[f * window_step + j * jump + c];
    x = staged.data();
  }
  const auto tiles = [&](const T* x, const T* block, int64_t count, int64_t width, int64_t first, T* y,
                         const Taps<T>& taps) {
    int64_t v = 0;
    for (; v + most <= count; v += most) conv_tile<T, F, most>(x, jump, p, block, width, first + v, y, relu, taps);
    for (; v + 2 <= count; v += 2) conv_tile<T, F, 2>(x, jump, p, block, width, first + v, y, relu, taps);
    for (; v < count; ++v) conv_tile<T, F, 1>(x, jump, p, block, width, first + v, y, relu, taps);
  };
  thread_local std::vector<T> sums;  // F rows of p.padded(): the tiles' sums between taps
  for (int64_t first = 0; first < p.vectors; first += kBlock) {
    const int64_t count = std::min<int64_t>(kBlock, p.vectors - first), width = count * Lanes<T>::L;
    const T* block = p.weight.data() + p.k * p.cin * first * Lanes<T>::L;
    if (F == 1 || count <= most || to - taps.from == 1) {
      tiles(x, block, count, width, first, y, taps);
      continue;
    }
    // several tiles of a block read each of its rows: tap by tap, so that the tiles after the first read the
    // tap's rows (C_in · width weights) from L1; the sums wait in `sums` between taps
    sums.resize(F * p.padded());
    for (int64_t j = taps.from; j < to; ++j) {
      const bool last = j == to - 1;
      const Taps<T> one{j, j + 1, j == taps.from ? taps.init : sums.data(), last ? taps.raw : true};
      tiles(x + (j - taps.from) * p.cin * F, block, count, width, first, last ? y : sums.data(), one);
    }
  }
}

// `count` windows starting `window_step` cells apart from x, into y ((count, C_out), or raw rows); `Wide`
// windows share a weight's load at most (8 only where every weight is read once for that many windows)
template <typename T, int Wide = 4>
void conv_windows(const T* x, int64_t count, int64_t window_step, int64_t jump, const Packed<T>& p, T* y, bool relu,
                  const Taps<T>& taps = {}) {
  const int64_t out_row = taps.raw ? p.padded() : p.cout, init_row = p.padded();
  auto at = [&](int64_t o) {
    Taps<T> moved = taps;
    if (moved.init) moved.init += o * init_row;
    return moved;
  };
  int64_t o = 0;
  if constexpr (Wide >= 8)
    for (; o + 8 <= count; o += 8)
      conv_frames<T, 8>(x + o * window_step, window_step, jump, p, y + o * out_row, relu, at(o));
  for (; o + 4 <= count; o += 4) conv_frames<T, 4>(x + o * window_step, window_step, jump, p, y + o * out_row, relu, at(o));
  for (; o + 2 <= count; o += 2) conv_frames<T, 2>(x + o * window_step, window_step, jump, p, y + o * out_row, relu, at(o));
  for (; o < count; ++o) conv_frames<T, 1>(x + o * window_step, window_step, jump, p, y + o * out_row, relu, at(o));
}

// A convolution over time with its window buffer. With dilation d ≥ 2 (stride 1) the taps before the last read
// cells at least d steps old, so right after an output the next d windows' sums over those taps can be had:
// they are summed then, d windows at once (each of those weights read once for d outputs, not once an output),
// and each of the next d outputs adds only its last tap. At one step a chunk that reads 1/K of the weights an
// output plus (K − 1)/K of them every d outputs, where the whole kernel would be read every output; the sums
// round as in one pass (Taps).
template <typename T>
struct Conv : Op<T> {
  int64_t kernel, dilation;
  bool relu, direct, ahead;
  Packed<T> packed;  // W (K, C_in, C_out), b (C_out)
  Windows<T> windows;
  int64_t ready = 0;      // the next windows whose sums over taps 0 … K − 2 are in `partial`
  std::vector<T> partial;  // per batch row, d rows of packed.padded()

  Conv(const torch::Tensor& w, const torch::Tensor& b, int64_t dilation_, int64_t stride, int64_t low, int64_t high,
       double value, bool relu_)
      : kernel(w.size(0)), dilation(dilation_), relu(relu_),
        packed(to_vector<T>(w), to_vector<T>(b), w.size(0), w.size(1), w.size(2)) {
    this->in_channels = w.size(1);
    this->out_channels = w.size(2);
    windows.span = dilation * (kernel - 1) + 1;
    windows.stride = stride;
    windows.low = low;
    windows.high = high;
    windows.value = static_cast<T>(value);
    windows.channels = this->in_channels;
    direct = windows.span == 1 && stride == 1 && low == 0 && high == 0;  // per step: no buffer
    ahead = dilation >= 2 && kernel >= 2 && stride == 1;
  }
  void start(int64_t n) override {
    if (!direct) windows.start(n);
    ready = 0;
    partial.assign(ahead ? n * dilation * packed.padded() : 0, T(0));
  }
  int64_t step(const T* x, int64_t t, int64_t n) override {
    const int64_t cout = this->out_channels;
    if (direct) {
      this->out.resize(n * t * cout);
      for (int64_t b = 0; b < n; ++b)
        conv_windows(x + b * t * this->in_channels, t, this->in_channels, 0, packed, this->out.data() + b * t * cout,
                     relu);
      return t;
    }
    const int64_t count = windows.append(x, t);
    emit(count, n);
    return count;
  }
  // the `count` complete windows out (those with partial sums adding their last tap), then, unless the signal
  // ended, the next d windows' partial sums if none are left and all d can be had
  void emit(int64_t count, int64_t n, bool ended = false) {
    const int64_t cin = this->in_channels, cout = this->out_channels, row = packed.padded();
    const int64_t window_step = windows.stride * cin, jump = dilation * cin, used = std::min(ready, count);
    this->out.resize(n * count * cout);
    for (int64_t b = 0; b < n; ++b) {
      const T* cells = windows.row(b);
      T* y = this->out.data() + b * count * cout;
      if (used)
        conv_windows(cells, used, window_step, jump, packed, y, relu,
                     Taps<T>{kernel - 1, kernel, partial.data() + b * dilation * row, false});
      conv_windows(cells + used * window_step, count - used, window_step, jump, packed, y + used * cout, relu);
      if (used < ready) {  // the partial sums not used yet move to the front
        T* rows = partial.data() + b * dilation * row;
        std::memmove(rows, rows + used * row, sizeof(T) * (ready - used) * row);
      }
    }
    ready -= used;
    windows.consume(count);
    // window i's taps before the last read cells up to i + (K − 2)·d: in for the first d windows once the
    // buffer holds span − 1 cells (so after every output at one step a chunk)
    if (!ahead || ended || ready || windows.cells != windows.span - 1) return;
    for (int64_t b = 0; b < n; ++b)
      conv_windows<T, 8>(windows.row(b), dilation, window_step, jump, packed, partial.data() + b * dilation * row, false,
                         Taps<T>{0, kernel - 1, nullptr, true});
    ready = dilation;
  }
  int64_t finish(int64_t n) override {
    if (direct || windows.high == 0) return 0;
    windows.append_padding(windows.high);
    const int64_t count = windows.complete();
    emit(count, n, true);
    return count;
  }
};

// |rFFT(w · frame)|² by a complex FFT of half the size (n a power of 2), else by the DFT's sums
template <typename T>
struct PowerSpectrum {
  int64_t n, half, bins;
  bool fast;
  std::vector<int64_t> reverse;
  std::vector<T> twiddle_re, twiddle_im, split_re, split_im, cos_table, sin_table, zr, zi;

  explicit PowerSpectrum(int64_t n_) : n(n_), half(n_ / 2), bins(n_ / 2 + 1) {
    fast = n >= 2 && (n & (n - 1)) == 0;
    if (fast) {
      reverse.resize(half);
      int bits = 0;
      while ((int64_t{1} << bits) < half) ++bits;
      for (int64_t i = 0; i < half; ++i) {
        int64_t r = 0;
        for (int bit = 0; bit < bits; ++bit) r |= ((i >> bit) & 1) << (bits - 1 - bit);
        reverse[i] = r;
      }
      for (int64_t length = 2; length <= half; length *= 2)  // each stage's e^{−2πij/length}, j < length/2
        for (int64_t j = 0; j < length / 2; ++j) {
          twiddle_re.push_back(static_cast<T>(std::cos(2 * kPi * j / length)));
          twiddle_im.push_back(static_cast<T>(-std::sin(2 * kPi * j / length)));
        }
      for (int64_t k = 0; k <= half; ++k) {
        split_re.push_back(static_cast<T>(std::cos(2 * kPi * k / n)));
        split_im.push_back(static_cast<T>(-std::sin(2 * kPi * k / n)));
      }
      zr.resize(half);
      zi.resize(half);
    } else {
      for (int64_t k = 0; k < bins; ++k)
        for (int64_t j = 0; j < n; ++j) {
          const double angle = 2 * kPi * static_cast<double>((k * j) % n) / n;
          cos_table.push_back(static_cast<T>(std::cos(angle)));
          sin_table.push_back(static_cast<T>(std::sin(angle)));
        }
    }
  }

  // x: n windowed samples → power: bins values
  void operator()(const T* x, T* power) {
    if (!fast) {
      for (int64_t k = 0; k < bins; ++k) {
        T re = 0, im = 0;
        const T* c = cos_table.data() + k * n;
        const T* s = sin_table.data() + k * n;
#pragma omp simd reduction(+ : re, im)
        for (int64_t j = 0; j < n; ++j) {
          re += c[j] * x[j];
          im += s[j] * x[j];
        }
        power[k] = re * re + im * im;
      }
      return;
    }
    // z_i = x_2r + i·x_2r+1, r the bit reverse of i (an involution: the scatter read as a gather)
    const T* stage_re = twiddle_re.data();
    const T* stage_im = twiddle_im.data();
    int64_t length = 2;
    if (half >= 4) {  // and stages 2 and 4 at once: their twiddles are 1 and −i, no products
      for (int64_t i = 0; i < half; i += 4) {
        T r[4], m[4];
        for (int u = 0; u < 4; ++u) {
          r[u] = x[2 * reverse[i + u]];
          m[u] = x[2 * reverse[i + u] + 1];
        }
        const T sr = r[0] + r[1], si = m[0] + m[1], dr = r[0] - r[1], di = m[0] - m[1];
        const T tr = r[2] + r[3], ti = m[2] + m[3], er = r[2] - r[3], ei = m[2] - m[3];
        zr[i] = sr + tr, zi[i] = si + ti;
        zr[i + 2] = sr - tr, zi[i + 2] = si - ti;
        zr[i + 1] = dr + ei, zi[i + 1] = di - er;  // + (−i)(er + i·ei)
        zr[i + 3] = dr - ei, zi[i + 3] = di + er;
      }
      stage_re += 3, stage_im += 3, length = 8;
    } else {
      for (int64_t i = 0; i < half; ++i) zr[i] = x[2 * reverse[i]], zi[i] = x[2 * reverse[i] + 1];
    }
    for (; length <= half; length *= 2) {  // butterflies, the twiddles of a stage contiguous
      const int64_t h = length / 2;
      for (int64_t i = 0; i < half; i += length) {
        T* ar = zr.data() + i;
        T* ai = zi.data() + i;
        T* br = ar + h;
        T* bi = ai + h;
#pragma omp simd
        for (int64_t j = 0; j < h; ++j) {
          const T vr = br[j] * stage_re[j] - bi[j] * stage_im[j], vi = br[j] * stage_im[j] + bi[j] * stage_re[j];
          br[j] = ar[j] - vr;
          bi[j] = ai[j] - vi;
          ar[j] += vr;
          ai[j] += vi;
        }
      }
      stage_re += h;
      stage_im += h;
    }
    // X_k = E_k + e^{−2πik/n} O_k, E_k = (Z_k + conj Z_{h−k}) / 2, O_k = (Z_k − conj Z_{h−k}) / 2i (indices mod h)
    const auto bin = [&](int64_t k, int64_t p, int64_t q) {
      const T ar = zr[p], ai = zi[p], br = zr[q], bi = -zi[q];
      const T er = (ar + br) / 2, ei = (ai + bi) / 2;
      const T orr = (ai - bi) / 2, oi = -(ar - br) / 2;
      const T xr = er + split_re[k] * orr - split_im[k] * oi;
      const T xi = ei + split_re[k] * oi + split_im[k] * orr;
      power[k] = xr * xr + xi * xi;
    };
    bin(0, 0, 0);
#pragma omp simd
    for (int64_t k = 1; k < half; ++k) bin(k, k, half - k);
    bin(half, 0, 0);
  }
};

// log(Σ_f H[f, m] |X_f|² + ε) of each frame of n_fft samples, one per hop (window w, filters H)
template <typename T>
struct LogMel : Op<T> {
  int64_t n_fft, hop;
  T epsilon;
  std::vector<T> window, filters;     // (n_fft); each filter's nonzero bins, filter after filter
  std::vector<int64_t> first, last, at;  // filter m: bins [first, last), its weights from filters[at]
  PowerSpectrum<T> spectrum;
  std::vector<T> windowed, power;
  Windows<T> windows;

  LogMel(const torch::Tensor& w, const torch::Tensor& h, int64_t hop_, int64_t low, int64_t high, double epsilon_)
      : n_fft(w.size(0)), hop(hop_), epsilon(static_cast<T>(epsilon_)), window(to_vector<T>(w)),
        spectrum(w.size(0)) {
    this->in_channels = 1;
    this->out_channels = h.size(1);
    const int64_t bins = h.size(0), mels = h.size(1);
    const std::vector<T> dense = to_vector<T>(h);  // (bins, n_mels)
    for (int64_t m = 0; m < mels; ++m) {
      int64_t a = bins, z = 0;
      for (int64_t f = 0; f < bins; ++f)
        if (dense[f * mels + m] != T(0)) {
          a = std::min(a, f);
          z = f + 1;
        }
      first.push_back(std::min(a, z));
      last.push_back(z);
      at.push_back(static_cast<int64_t>(filters.size()));
      for (int64_t f = first.back(); f < z; ++f) filters.push_back(dense[f * mels + m]);
    }
    windowed.resize(n_fft);
    power.resize(bins);
    windows.span = n_fft;
    windows.stride = hop;
    windows.low = low;
    windows.high = high;
    windows.channels = 1;
  }
  void start(int64_t n) override { windows.start(n); }
  void frames(int64_t count, int64_t n) {
    const int64_t mels = this->out_channels;
    this->out.resize(n * count * mels);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t o = 0; o < count; ++o) {
        const T* cells = windows.row(b) + o * hop;
        for (int64_t i = 0; i < n_fft; ++i) windowed[i] = cells[i] * window[i];
        spectrum(windowed.data(), power.data());
        T* y = this->out.data() + (b * count + o) * mels;
        for (int64_t m = 0; m < mels; ++m) {
          T sum = 0;
          const T* weights = filters.data() + at[m];
          for (int64_t f = first[m]; f < last[m]; ++f) sum += power[f] * weights[f - first[m]];
          y[m] = std::log(sum + epsilon);
        }
      }
  }
  int64_t step(const T* x, int64_t t, int64_t n) override {
    const int64_t count = windows.append(x, t);
    frames(count, n);
    windows.consume(count);
    return count;
  }
  int64_t finish(int64_t n) override {
    if (windows.high == 0) return 0;
    windows.append_padding(windows.high);
    const int64_t count = windows.complete();
    frames(count, n);
    windows.consume(count);
    return count;
  }
};

// No fused multiply-adds here: each product and sum rounds on its own, as PyTorch's separate operators
// round them in the Python stage's step-by-step path, so the two agree to the last bit there. A constant
// signal (variance ≈ 0) divides rounding errors by min_std (10⁻³): a fused m·(1 − w) + w·x would differ
// from PyTorch's by ≈ 10⁻⁴ after the division.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
// RunningNorm, step by step: w = max(1/(s+t+1), 1/τ), m ← (1−w) m + w x, v ← (1−w) v + (1−w) w d², d = x − m_old
template <typename T>
struct RunningNorm : Op<T> {
  bool forgets;
  T inverse_tau, floor;  // 1/τ, min_std²
  std::vector<T> mean, var;
  int64_t seen = 0;

  RunningNorm(int64_t channels, double inverse_tau_, double min_std_squared)
      : forgets(inverse_tau_ > 0), inverse_tau(static_cast<T>(inverse_tau_)), floor(static_cast<T>(min_std_squared)) {
    this->in_channels = this->out_channels = channels;
  }
  void start(int64_t n) override {
    mean.assign(n * this->in_channels, T(0));
    var.assign(n * this->in_channels, T(0));
    seen = 0;
  }
  int64_t step(const T* x, int64_t t, int64_t n) override {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    const int64_t c = this->in_channels;
    this->out.resize(n * t * c);
    for (int64_t i = 0; i < t; ++i) {
      T w = T(1) / (static_cast<T>(seen) + static_cast<T>(i + 1));
      if (forgets && w < inverse_tau) w = inverse_tau;
      const T keep = T(1) - w, kw = keep * w;
      for (int64_t b = 0; b < n; ++b) {
        const T* xs = x + (b * t + i) * c;
        T* ys = this->out.data() + (b * t + i) * c;
        T* m = mean.data() + b * c;
        T* v = var.data() + b * c;
#pragma omp simd
        for (int64_t j = 0; j < c; ++j) {
          const T d = xs[j] - m[j];
          m[j] = keep * m[j] + w * xs[j];
          v[j] = keep * v[j] + kw * d * d;
          ys[j] = (xs[j] - m[j]) / std::sqrt(v[j] < floor ? floor : v[j]);
        }
      }
    }
    seen += t;
    return t;
  }
};

#pragma GCC pop_options

// y = x · scale + shift per channel (batch norm in evaluation), then ReLU if asked; or ReLU alone
template <typename T>
struct Affine : Op<T> {
  bool scaled, relu;
  std::vector<T> scale, shift;
  Affine(int64_t channels, const torch::Tensor& scale_, const torch::Tensor& shift_, bool relu_)
      : scaled(scale_.numel() > 0), relu(relu_) {
    this->in_channels = this->out_channels = channels;
    if (scaled) {
      scale = to_vector<T>(scale_);
      shift = to_vector<T>(shift_);
    }
  }
  void start(int64_t) override {}
  int64_t step(const T* x, int64_t t, int64_t n) override {
    const int64_t c = this->in_channels;
    this->out.resize(n * t * c);
    for (int64_t r = 0; r < n * t; ++r)
      for (int64_t j = 0; j < c; ++j) {
        T value = scaled ? x[r * c + j] * scale[j] + shift[j] : x[r * c + j];
        this->out[r * c + j] = (relu && value < T(0)) ? T(0) : value;
      }
    return t;
  }
};

// the running value of a global pool at every step: max, min, sum or average of steps 0 … t
template <typename T>
struct RunningPool : Op<T> {
  int kind;  // 0 max, 1 min, 2 sum, 3 avg
  std::vector<T> value;
  std::vector<T> partial;
  int64_t seen = 0;
  RunningPool(int64_t channels, int kind_) : kind(kind_) { this->in_channels = this->out_channels = channels; }
  void start(int64_t n) override {
    const T first = kind == 0 ? -INFINITY : kind == 1 ? INFINITY : T(0);
    value.assign(n * this->in_channels, first);
    seen = 0;
  }
  int64_t step(const T* x, int64_t t, int64_t n) override {
    const int64_t c = this->in_channels;
    this->out.resize(n * t * c);
    partial.assign(c, T(0));
    for (int64_t b = 0; b < n; ++b) {
      T* v = value.data() + b * c;
      if (kind >= 2) std::fill(partial.begin(), partial.end(), T(0));
      for (int64_t i = 0; i < t; ++i) {
        const T* xs = x + (b * t + i) * c;
        T* ys = this->out.data() + (b * t + i) * c;
        if (kind == 0) {
          for (int64_t j = 0; j < c; ++j) ys[j] = v[j] = (std::isnan(xs[j]) || xs[j] > v[j]) ? xs[j] : v[j];
        } else if (kind == 1) {
          for (int64_t j = 0; j < c; ++j) ys[j] = v[j] = (std::isnan(xs[j]) || xs[j] < v[j]) ? xs[j] : v[j];
        } else {  // the running sum as offline: start + (x_0 + … + x_i)
          const T count = static_cast<T>(seen) + static_cast<T>(i + 1);
          for (int64_t j = 0; j < c; ++j) {
            partial[j] += xs[j];
            ys[j] = kind == 2 ? v[j] + partial[j] : (v[j] + partial[j]) / count;
          }
        }
      }
      if (kind >= 2)
        for (int64_t j = 0; j < c; ++j) v[j] += partial[j];
    }
    seen += t;
    return t;
  }
};

// ------------------------------------------------------------------ LSTM layers

// One LSTM step of a row: a (4H) = W x + b_ih + U h + b_hh, pre-activations i, f, g, o on entry
// (overwritten by the activations); c ← σ(f)·c + σ(i)·tanh(g), h ← σ(o)·tanh(c) — the compiled
// core's unit (units.h) and its σ and tanh, so both compiled paths round alike.
template <typename T>
inline void lstm_unit(T* a, int64_t H, T* c, T* h) {
  for (int64_t k = 0; k < H; ++k) {
    c[k] = convrnn::lstm_unit<false>(a, k, H, c[k], static_cast<const T*>(nullptr));
    h[k] = a[3 * H + k] * convrnn::math::tanh(c[k]);
  }
}

// One layer of a convrnn RNN with the LSTM cell (convrnn/stream/recurrent.py's stages): the forward
// direction carries (h, c); with `lookahead` L ≥ 0 (bidirectional) the backward output at step t is the
// backward cell run from zero over x_{min(t+L, last)}, …, x_t, so step t is out once x_{t+L} is in (all at
// the end). Each input is projected once per direction (W x + b_ih, packed (1, F, 4H)); U h + b_hh per step
// (packed (1, H, 4H)); a window's first step, from h = 0, takes b_hh alone. `residual`: the layer's input is
// added to its output.
template <typename T>
struct LSTMLayer : Op<T> {
  int64_t H, lookahead;  // lookahead < 0: one direction
  bool residual;
  Packed<T> wf, uf, wb, ub;
  std::vector<T> bias_b;                         // b_hh of the backward cell
  std::vector<T> h, c;                           // (n, H) forward state
  std::vector<std::vector<T>> inputs, waiting, projected;  // per row: held steps (·F), (·H), (·4H)
  int64_t held = 0;
  std::vector<T> xw, gates, hb, cb;

  static Packed<T> pack(const torch::Tensor& w, const torch::Tensor& b) {  // w (rows, inner) → (1, inner, rows)
    return Packed<T>(to_vector<T>(w.t().contiguous()), to_vector<T>(b), 1, w.size(1), w.size(0));
  }
  LSTMLayer(const std::vector<torch::Tensor>& weights, int64_t lookahead_, bool residual_)
      : lookahead(lookahead_), residual(residual_) {
    H = weights[2].size(1);
    this->in_channels = weights[0].size(1);
    wf = pack(weights[0], weights[1]);
    uf = pack(weights[2], weights[3]);
    if (lookahead >= 0) {
      wb = pack(weights[4], weights[5]);
      ub = pack(weights[6], weights[7]);
      bias_b = to_vector<T>(weights[7]);
    }
    this->out_channels = lookahead >= 0 ? 2 * H : H;
    TORCH_CHECK(!residual || this->in_channels == this->out_channels, "native stream: a residual layer's widths");
  }
  void start(int64_t n) override {
    h.assign(n * H, T(0));
    c.assign(n * H, T(0));
    inputs.assign(n, {});
    waiting.assign(n, {});
    projected.assign(n, {});
    held = 0;
  }
  // the backward window of held step e, its first position `from` (≥ e): h into hb
  void window(int64_t b, int64_t e, int64_t from) {
    const T* proj = projected[b].data();
    hb.assign(H, T(0));
    cb.assign(H, T(0));
    gates.resize(4 * H);
    for (int64_t k = 0; k < 4 * H; ++k) gates[k] = proj[from * 4 * H + k] + bias_b[k];
    lstm_unit(gates.data(), H, cb.data(), hb.data());
    for (int64_t at = from - 1; at >= e; --at) {
      conv_windows(hb.data(), 1, H, 0, ub, gates.data(), false);
      for (int64_t k = 0; k < 4 * H; ++k) gates[k] += proj[at * 4 * H + k];
      lstm_unit(gates.data(), H, cb.data(), hb.data());
    }
  }
  int64_t emit(int64_t n, bool final) {
    const int64_t count = final ? held : std::max<int64_t>(held - lookahead, 0);
    const int64_t width = 2 * H, F = this->in_channels;
    this->out.resize(n * count * width);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t e = 0; e < count; ++e) {
        T* y = this->out.data() + (b * count + e) * width;
        window(b, e, std::min(e + lookahead, held - 1));
        std::copy_n(waiting[b].data() + e * H, H, y);
        std::copy_n(hb.data(), H, y + H);
        if (residual)
          for (int64_t k = 0; k < width; ++k) y[k] += inputs[b][e * F + k];
      }
      if (count) {
        waiting[b].erase(waiting[b].begin(), waiting[b].begin() + count * H);
        projected[b].erase(projected[b].begin(), projected[b].begin() + count * 4 * H);
        if (residual) inputs[b].erase(inputs[b].begin(), inputs[b].begin() + count * F);
      }
    }
    held -= count;
    return count;
  }
  int64_t step(const T* x, int64_t t, int64_t n) override {
    const int64_t F = this->in_channels;
    const bool both = lookahead >= 0;
    if (!both) this->out.resize(n * t * H);
    xw.resize(t * 4 * H);
    gates.resize(4 * H);
    for (int64_t b = 0; b < n; ++b) {
      const T* xb = x + b * t * F;
      if (t) conv_windows(xb, t, F, 0, wf, xw.data(), false);
      T* hr = h.data() + b * H;
      T* cr = c.data() + b * H;
      for (int64_t i = 0; i < t; ++i) {
        conv_windows(hr, 1, H, 0, uf, gates.data(), false);
        for (int64_t k = 0; k < 4 * H; ++k) gates[k] += xw[i * 4 * H + k];
        lstm_unit(gates.data(), H, cr, hr);
        if (both) {
          waiting[b].insert(waiting[b].end(), hr, hr + H);
        } else {
          T* y = this->out.data() + (b * t + i) * H;
          std::copy_n(hr, H, y);
          if (residual)
            for (int64_t k = 0; k < H; ++k) y[k] += xb[i * F + k];
        }
      }
      if (both && t) {
        const size_t at = projected[b].size();
        projected[b].resize(at + t * 4 * H);
        conv_windows(xb, t, F, 0, wb, projected[b].data() + at, false);
        if (residual) inputs[b].insert(inputs[b].end(), xb, xb + t * F);
      }
    }
    if (!both) return t;
    held += t;
    return emit(n, false);
  }
  int64_t finish(int64_t n) override { return lookahead >= 0 ? emit(n, true) : 0; }
};

// ------------------------------------------------------------------ word features (a tagger's first stage)

// x_t = [E_w[w_t] ; v_t], v_t the character CNN of word t alone (convrnn/models/tagger.py's CharacterEncoder):
// c_j = E_c[char_j] (0 where char_j = 0), r_i = ReLU(b + Σ_j K_j c_{i+j−(k−1)}) for i < W + k − 1 (zeros past
// both ends: "full" padding), v = max over i < (number of non-zero characters) + k − 1, 0 for a word without any.
template <typename T>
struct WordFeatures {
  int64_t vocab = 0, dw = 0, alphabet = 0, dc = 0, channels = 0, kernel = 0;
  std::vector<T> words, letters, bias;  // (V, Dw), (A, Dc), (C)
  std::vector<T> taps;                  // (k, Dc, C)
  std::vector<T> padded, response;
  WordFeatures(const torch::Tensor& w, const torch::Tensor& l, const torch::Tensor& taps_, const torch::Tensor& b)
      : vocab(w.size(0)), dw(w.size(1)) {
    words = to_vector<T>(w);
    if (l.numel()) {
      alphabet = l.size(0), dc = l.size(1), kernel = taps_.size(0), channels = taps_.size(2);
      letters = to_vector<T>(l), taps = to_vector<T>(taps_), bias = to_vector<T>(b);
    }
  }
  int64_t width() const { return dw + channels; }
  // ids (n, t) and chars (n, t, W) int64 → out (n, t, Dw + C)
  void run(const torch::Tensor& ids, const torch::Tensor& chars, std::vector<T>& out) {
    const int64_t n = ids.size(0), t = ids.size(1), F = width();
    const int64_t* id = ids.data_ptr<int64_t>();
    out.resize(n * t * F);
    for (int64_t r = 0; r < n * t; ++r) {
      TORCH_CHECK_INDEX(id[r] >= 0 && id[r] < vocab, "native stream: word id ", id[r], " outside the vocabulary (0 … ",
                  vocab - 1, ")");
      std::copy_n(words.data() + id[r] * dw, dw, out.data() + r * F);
    }
    if (!channels) return;
    const int64_t W = chars.size(2), cells = W + 2 * (kernel - 1);
    const int64_t* ch = chars.data_ptr<int64_t>();
    padded.resize(cells * dc);
    response.resize(channels);
    for (int64_t r = 0; r < n * t; ++r) {
      std::fill(padded.begin(), padded.end(), T(0));
      int64_t real = 0;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t a = ch[r * W + j];
        TORCH_CHECK_INDEX(a >= 0 && a < alphabet, "native stream: character id ", a, " outside the alphabet (0 … ",
                    alphabet - 1, ")");
        if (a == 0) continue;
        ++real;
        std::copy_n(letters.data() + a * dc, dc, padded.data() + (j + kernel - 1) * dc);
      }
      T* v = out.data() + r * F + dw;
      std::fill(v, v + channels, T(0));   // ReLU ≥ 0: the max starts at 0 (and stays 0 without characters)
      if (!real) continue;
      for (int64_t i = 0; i < real + kernel - 1; ++i) {
        std::copy_n(bias.data(), channels, response.data());
        for (int64_t j = 0; j < kernel; ++j)
          for (int64_t e = 0; e < dc; ++e) {
            const T value = padded[(i + j) * dc + e];
            const T* k = taps.data() + (j * dc + e) * channels;
            for (int64_t o = 0; o < channels; ++o) response[o] += k[o] * value;
          }
        for (int64_t o = 0; o < channels; ++o) v[o] = std::max(v[o], response[o]);
      }
    }
  }
};

// ------------------------------------------------------------------ the plan

struct PlanBase {
  virtual ~PlanBase() = default;
  virtual torch::Tensor push(const torch::Tensor& chunk) = 0;
  virtual torch::Tensor push_ids(const torch::Tensor& ids, const torch::Tensor& chars) = 0;
  virtual torch::Tensor finish() = 0;
  virtual void reset() = 0;
};

template <typename T>
struct Plan : PlanBase {
  int input;   // 0: (N, T) samples; 1: (N, C, T), channel 0 taken; 2: (N, C, T); 3: (N, T, C)
  int output;  // 0: (N, T, C); 1: (N, C, T); 2: (N, T, C, 1)
  std::vector<std::unique_ptr<Op<T>>> ops;
  std::unique_ptr<WordFeatures<T>> front;  // input 4: word and character ids
  std::vector<T> first;
  int64_t batch = -1, channels = 0;  // the first chunk's (channels: input 1's, of which channel 0 is taken)
  torch::ScalarType type = sizeof(T) == 4 ? torch::kFloat32 : torch::kFloat64;

  Plan(int input_, int output_) : input(input_), output(output_) {}

  // a new CPU tensor, past the dispatcher (a chunk of one step is a few microseconds in all)
  torch::Tensor empty(c10::IntArrayRef sizes) const { return at::detail::empty_cpu(sizes, type, false, std::nullopt); }

  torch::Tensor result(const T* data, int64_t n, int64_t t, int64_t c) {
    if (output == 1) {  // (N, T, C) → (N, C, T)
      torch::Tensor y = empty({n, c, t});
      T* to = y.data_ptr<T>();
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < t; ++i)
          for (int64_t j = 0; j < c; ++j) to[(b * c + j) * t + i] = data[(b * t + i) * c + j];
      return y;
    }
    torch::Tensor y = output == 2 ? empty({n, t, c, 1}) : empty({n, t, c});
    if (n * t * c) std::memcpy(y.data_ptr<T>(), data, sizeof(T) * n * t * c);
    return y;
  }

  // checked before anything is done: the Python side names a refusal (NativeStream.push)
  torch::Tensor push(const torch::Tensor& given) override {
    TORCH_CHECK(given.scalar_type() == type && given.device().is_cpu(), "native stream: a chunk of another dtype");
    TORCH_CHECK(given.dim() == (input == 0 ? 2 : 3), "native stream: a chunk of another rank");
    const torch::Tensor chunk = given.contiguous();
    const int64_t n = chunk.size(0), t = chunk.size(-1);
    TORCH_CHECK(batch < 0 || n == batch, "native stream: a chunk of another batch size");
    TORCH_CHECK(input != 2 || chunk.size(1) == ops.front()->in_channels, "native stream: a chunk of other channels");
    TORCH_CHECK(input != 3 || chunk.size(2) == ops.front()->in_channels, "native stream: a chunk of other channels");
    TORCH_CHECK(input != 1 || batch < 0 || chunk.size(1) == channels, "native stream: a chunk of other channels");
    const int64_t steps_in = input == 3 ? chunk.size(1) : t;
    if (batch < 0) {
      for (auto& op : ops) op->start(n);
      batch = n;
      channels = input == 1 ? chunk.size(1) : 0;
    }
    const T* data = chunk.data_ptr<T>();
    const T* x = data;
    if (input == 1 || input == 2) {  // (N, C, T) → (N, T, C'), C' = 1 when channel 0 is taken
      const int64_t c = chunk.size(1), kept = input == 1 ? 1 : c;
      first.resize(n * t * kept);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < t; ++i)
          for (int64_t j = 0; j < kept; ++j) first[(b * t + i) * kept + j] = data[(b * c + j) * t + i];
      x = first.data();
    }
    return run(x, n, steps_in);
  }

  torch::Tensor run(const T* x, int64_t n, int64_t steps) {
    for (auto& op : ops) {
      steps = op->step(x, steps, n);
      x = op->out.data();
    }
    return result(x, n, steps, ops.back()->out_channels);
  }

  torch::Tensor push_ids(const torch::Tensor& given_ids, const torch::Tensor& given_chars) override {
    TORCH_CHECK(front, "native stream: this plan takes no ids");
    const torch::Tensor ids = given_ids.contiguous(), chars = given_chars.contiguous();
    TORCH_CHECK(ids.scalar_type() == torch::kInt64 && ids.dim() == 2, "native stream: word ids (N, T) int64");
    const int64_t n = ids.size(0), t = ids.size(1);
    if (front->channels)
      TORCH_CHECK(chars.scalar_type() == torch::kInt64 && chars.dim() == 3 && chars.size(0) == n && chars.size(1) == t,
                  "native stream: character ids (N, T, W) int64");
    TORCH_CHECK(batch < 0 || n == batch, "native stream: a chunk of another batch size");
    if (batch < 0) {
      for (auto& op : ops) op->start(n);
      batch = n;
    }
    front->run(ids, chars, first);
    return run(first.data(), n, t);
  }

  torch::Tensor finish() override {
    const int64_t n = batch;
    std::vector<T> carried;
    int64_t steps = 0;
    for (auto& op : ops) {  // each op takes the tail of the one before, then adds its own
      const int64_t c = op->out_channels;
      std::vector<T> joined;
      int64_t joined_steps = 0;
      std::vector<T> part;
      int64_t part_steps = 0;
      if (steps > 0) {
        part_steps = op->step(carried.data(), steps, n);
        part = op->out;
      }
      const int64_t tail_steps = op->finish(n);
      joined_steps = part_steps + tail_steps;
      joined.resize(n * joined_steps * c);
      for (int64_t b = 0; b < n; ++b) {
        std::copy_n(part.data() + b * part_steps * c, part_steps * c, joined.data() + b * joined_steps * c);
        std::copy_n(op->out.data() + b * tail_steps * c, tail_steps * c,
                    joined.data() + (b * joined_steps + part_steps) * c);
      }
      carried.swap(joined);
      steps = joined_steps;
    }
    return result(carried.data(), n, steps, ops.back()->out_channels);
  }

  void reset() override { batch = -1; }
};

class NativePlan {
 public:
  NativePlan(bool double_precision, int input, int output) {
    if (double_precision)
      plan_ = std::make_unique<Plan<double>>(input, output), f64_ = static_cast<Plan<double>*>(plan_.get());
    else
      plan_ = std::make_unique<Plan<float>>(input, output), f32_ = static_cast<Plan<float>*>(plan_.get());
  }
  template <template <typename> class O, typename... A>
  void add(A&&... args) {
    if (f64_) f64_->ops.push_back(std::make_unique<O<double>>(args...));
    else f32_->ops.push_back(std::make_unique<O<float>>(args...));
  }
  void add_conv(const torch::Tensor& w, const torch::Tensor& b, int64_t dilation, int64_t stride, int64_t low,
                int64_t high, double value, bool relu) {
    add<Conv>(w, b, dilation, stride, low, high, value, relu);
  }
  void add_log_mel(const torch::Tensor& window, const torch::Tensor& filters, int64_t hop, int64_t low, int64_t high,
                   double epsilon) {
    add<LogMel>(window, filters, hop, low, high, epsilon);
  }
  void add_running_norm(int64_t channels, double inverse_tau, double floor) {
    add<RunningNorm>(channels, inverse_tau, floor);
  }
  void add_affine(int64_t channels, const torch::Tensor& scale, const torch::Tensor& shift, bool relu) {
    add<Affine>(channels, scale, shift, relu);
  }
  void add_running_pool(int64_t channels, int64_t kind) { add<RunningPool>(channels, static_cast<int>(kind)); }
  void set_word_features(const torch::Tensor& words, const torch::Tensor& letters, const torch::Tensor& taps,
                         const torch::Tensor& bias) {
    if (f64_) f64_->front = std::make_unique<WordFeatures<double>>(words, letters, taps, bias);
    else f32_->front = std::make_unique<WordFeatures<float>>(words, letters, taps, bias);
  }
  torch::Tensor push_ids(const torch::Tensor& ids, const torch::Tensor& chars) { return plan_->push_ids(ids, chars); }
  void add_lstm(const std::vector<torch::Tensor>& weights, int64_t lookahead, bool residual) {
    add<LSTMLayer>(weights, lookahead, residual);
  }
  torch::Tensor push(const torch::Tensor& chunk) { return plan_->push(chunk); }
  torch::Tensor finish() { return plan_->finish(); }
  void reset() { plan_->reset(); }

 private:
  std::unique_ptr<PlanBase> plan_;
  Plan<float>* f32_ = nullptr;
  Plan<double>* f64_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::class_<NativePlan>(m, "NativePlan")
      .def(py::init<bool, int, int>())
      .def("add_conv", &NativePlan::add_conv)
      .def("add_log_mel", &NativePlan::add_log_mel)
      .def("add_running_norm", &NativePlan::add_running_norm)
      .def("add_affine", &NativePlan::add_affine)
      .def("add_running_pool", &NativePlan::add_running_pool)
      .def("add_lstm", &NativePlan::add_lstm)
      .def("set_word_features", &NativePlan::set_word_features)
      .def("push_ids", &NativePlan::push_ids, py::call_guard<py::gil_scoped_release>())
      .def("push", &NativePlan::push, py::call_guard<py::gil_scoped_release>())
      .def("finish", &NativePlan::finish, py::call_guard<py::gil_scoped_release>())
      .def("reset", &NativePlan::reset);
}
