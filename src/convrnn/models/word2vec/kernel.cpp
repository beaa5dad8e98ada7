// word2vec's training loop (CBOW or skip-gram; negative sampling, hierarchical softmax or both) over
// a chunk of sentences, in
// the Hogwild style of the original word2vec.c: `workers` OpenMP threads each train one contiguous
// stretch of the chunk and update the shared matrices without locks. Called from Python once per chunk
// (convrnn/models/word2vec/training.py documents the math); the GIL is released meanwhile.
#include <torch/extension.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr int64_t kDomain = 2147483647;  // the cumulative table's last entry (2^31 − 1)

// splitmix64's finaliser (Steele, Lea & Flood, 2014): a bijection of 64-bit words whose outputs for
// neighbouring inputs look independent.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct Random {  // word2vec.c's linear congruential generator
  uint64_t state;
  uint64_t next() { state = state * 25214903917ULL + 11ULL; return state; }
  float uniform() { return static_cast<float>((next() >> 16) & 0xFFFFFF) / 16777216.0f; }
  int64_t below(int64_t n) { return static_cast<int64_t>((next() >> 16) % static_cast<uint64_t>(n)); }
};

inline int32_t draw_negative(const int64_t* table, int64_t vocabulary, Random& random) {
  const int64_t r = static_cast<int64_t>((random.next() >> 16) % static_cast<uint64_t>(kDomain));
  int64_t low = 0, high = vocabulary - 1;  // first w with table[w] > r
  while (low < high) {
    const int64_t middle = (low + high) / 2;
    if (table[middle] > r) high = middle; else low = middle + 1;
  }
  return static_cast<int32_t>(low);
}

// σ tabulated on (−6, 6) as in word2vec.c and gensim (EXP_TABLE_SIZE 1000, MAX_EXP 6), and read as
// they read it: entry ⌊(x + 6) · 83⌋, 83 being their integer quotient 1000 / 6 / 2 (not 83.3), which
// reads the table slightly off centre, σ̃(x) ≈ σ(0.996 x − 0.03), σ̃(0) = 0.494. With the same index,
// one pass over a corpus gives gensim's vectors to float rounding (with the centred one, 0.065 apart
// after 0.37 M words of skip-gram). training.py's tabulated_sigmoid is the same function.
struct SigmoidTable {
  static constexpr int kSize = 1000;
  static constexpr int kMaxInt = 6;
  static constexpr float kMax = 6.0f;
  static constexpr float kScale = static_cast<float>(kSize / kMaxInt / 2);  // 83
  float values[kSize];
  SigmoidTable() {
    for (int i = 0; i < kSize; ++i) {
      const double x = (2.0 * i / kSize - 1.0) * kMax;
      values[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    }
  }
  // x in (−kMax, kMax): the index is at most ⌊12 · 83⌋ = 996; clamped all the same.
  float operator()(float x) const {
    const int index = static_cast<int>((x + kMax) * kScale);
    return values[index < kSize ? index : kSize - 1];
  }
};
const SigmoidTable sigmoid;

// One (input vector h, target word) pass of negative sampling: accumulates ∂ into `error` and
// updates the output rows of the target and its negatives.
inline void negative_sampling(const float* __restrict h, float* __restrict error, float* __restrict out,
                              int32_t word, int64_t negative, float alpha, int64_t dim,
                              const int64_t* table, int64_t vocabulary, Random& random) {
  for (int64_t d = 0; d <= negative; ++d) {
    int32_t target;
    float label;
    if (d == 0) {
      target = word;
      label = 1.0f;
    } else {
      target = draw_negative(table, vocabulary, random);
      if (target == word) continue;
      label = 0.0f;
    }
    float* __restrict row = out + static_cast<int64_t>(target) * dim;
    float dot = 0.0f;
    _Pragma("omp simd reduction(+ : dot)")
    for (int64_t k = 0; k < dim; ++k) dot += h[k] * row[k];
    // Saturated: no update (gensim); written so that a NaN dot skips too, never indexing the table.
    if (!(dot > -SigmoidTable::kMax && dot < SigmoidTable::kMax)) continue;
    const float g = (label - sigmoid(dot)) * alpha;
    for (int64_t k = 0; k < dim; ++k) {  // one pass over the row: read it for e, then update it
      const float r = row[k];
      error[k] += g * r;
      row[k] = r + g * h[k];
    }
  }
}

// One (input vector h, target word) pass of hierarchical softmax along the word's Huffman path of
// `length` inner nodes `point` with branches `code`: accumulates ∂ into `error` and updates the
// inner nodes' rows (word2vec.c's syn1).
inline void hierarchical_softmax(const float* __restrict h, float* __restrict error, float* __restrict inner,
                                 const uint8_t* __restrict code, const int32_t* __restrict point, int64_t length,
                                 float alpha, int64_t dim) {
  for (int64_t d = 0; d < length; ++d) {
    float* __restrict row = inner + static_cast<int64_t>(point[d]) * dim;
    float dot = 0.0f;
    _Pragma("omp simd reduction(+ : dot)")
    for (int64_t k = 0; k < dim; ++k) dot += h[k] * row[k];
    // Saturated: no update (word2vec.c, gensim); a NaN dot skips too, never indexing the table.
    if (!(dot > -SigmoidTable::kMax && dot < SigmoidTable::kMax)) continue;
    const float g = (1.0f - static_cast<float>(code[d]) - sigmoid(dot)) * alpha;
    _Pragma("omp simd")
    for (int64_t k = 0; k < dim; ++k) {  // one pass over the row: read it for e, then update it
      const float r = row[k];
      error[k] += g * r;
      row[k] = r + g * h[k];
    }
  }
}

// The objective(s) for one (h, word): hierarchical softmax first, then negative sampling, both from
// the same h into the same e (word2vec.c's and gensim's order).
struct Objective {
  float* out;
  float* inner;
  const uint8_t* codes;
  const int32_t* points;
  const int64_t* code_starts;
  const int64_t* table;
  int64_t vocabulary, dim, negative;
  bool hs;

  void operator()(const float* h, float* error, int32_t word, float alpha, Random& random) const {
    if (hs) {
      const int64_t start = code_starts[word];
      hierarchical_softmax(h, error, inner, codes + start, points + start, code_starts[word + 1] - start, alpha,
                           dim);
    }
    if (negative > 0) negative_sampling(h, error, out, word, negative, alpha, dim, table, vocabulary, random);
  }
};

}  // namespace

// Returns {words kept after subsampling, words read}. input, output: (V, E) float32 (syn0, syn1neg);
// inner: (V − 1, E) float32 (syn1, read only with hs); ids: (L,) int32 in-vocabulary word ids of the
// chunk's sentences, one after another; offsets: (S+1,) int64 sentence starts; keep: (V,) float32
// subsampling probabilities; table: (V,) int64 cumulative negative-sampling table (read only with
// negative > 0); codes (P,) uint8, points (P,) int32, code_offsets (V+1,) int64: the Huffman paths
// (huffman.py; read only with hs). The learning rate falls linearly from alpha_start to alpha_end
// along the chunk.
std::vector<int64_t> train_chunk(torch::Tensor input, torch::Tensor output, torch::Tensor inner, torch::Tensor ids,
                                 torch::Tensor offsets, torch::Tensor keep, torch::Tensor table, torch::Tensor codes,
                                 torch::Tensor points, torch::Tensor code_offsets, bool cbow, int64_t window,
                                 int64_t negative, bool hs, double alpha_start, double alpha_end, int64_t seed,
                                 int64_t workers) {
  TORCH_CHECK(input.is_contiguous() && output.is_contiguous() && input.scalar_type() == torch::kFloat32 &&
              output.scalar_type() == torch::kFloat32 && input.sizes() == output.sizes(),
              "train_chunk: input and output must be contiguous float32 matrices of one shape (V, E)");
  TORCH_CHECK(ids.scalar_type() == torch::kInt32 && offsets.scalar_type() == torch::kInt64 &&
              keep.scalar_type() == torch::kFloat32 && table.scalar_type() == torch::kInt64,
              "train_chunk: expected ids int32, offsets int64, keep float32, table int64");
  const int64_t vocabulary = input.size(0), dim = input.size(1);
  TORCH_CHECK(negative == 0 || table.numel() == vocabulary, "train_chunk: negative sampling needs a (V,) table");
  TORCH_CHECK(!hs || (inner.is_contiguous() && inner.scalar_type() == torch::kFloat32 && inner.dim() == 2 &&
                      inner.size(0) == vocabulary - 1 && inner.size(1) == dim && codes.scalar_type() == torch::kUInt8 &&
                      points.scalar_type() == torch::kInt32 && code_offsets.scalar_type() == torch::kInt64 &&
                      code_offsets.numel() == vocabulary + 1 && codes.is_contiguous() && points.is_contiguous() &&
                      codes.numel() == points.numel() && code_offsets.is_contiguous()),
              "train_chunk: hierarchical softmax needs inner (V-1, E) float32, codes uint8, points int32 and "
              "code_offsets (V+1,) int64, contiguous");
  float* in = input.data_ptr<float>();
  const Objective objective{output.data_ptr<float>(),
                            hs ? inner.data_ptr<float>() : nullptr,
                            hs ? codes.data_ptr<uint8_t>() : nullptr,
                            hs ? points.data_ptr<int32_t>() : nullptr,
                            hs ? code_offsets.data_ptr<int64_t>() : nullptr,
                            negative > 0 ? table.data_ptr<int64_t>() : nullptr,
                            vocabulary, dim, negative, hs};
  const int32_t* words = ids.data_ptr<int32_t>();
  const int64_t* starts = offsets.data_ptr<int64_t>();
  const float* keep_p = keep.data_ptr<float>();
  const int64_t sentences = offsets.size(0) - 1;
  const int64_t total = starts[sentences] - starts[0];
  int64_t kept_words = 0;

#pragma omp parallel num_threads(static_cast<int>(workers)) reduction(+ : kept_words)
  {
    std::vector<float> hidden(dim), error(dim);
    std::vector<int32_t> sentence;
    // Each thread trains one contiguous stretch of the chunk, of about total/team words (word2vec.c
    // splits its file alike). Threads that took neighbouring sentences in turn trained one paragraph's
    // rows at once, racing on them (Hogwild): skip-gram with hierarchical softmax scored 0.6 points of
    // SimLex rho lower that way (benchmarks/word2vec.py, 4 seeds, paired).
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
    const auto first_of = [&](int64_t part) {  // the first sentence starting at or past part/team of the words
      return static_cast<int64_t>(
          std::lower_bound(starts, starts + sentences, starts[0] + (total * part + team - 1) / team) - starts);
    };
    const int64_t begin = first_of(me), end = me + 1 == team ? sentences : first_of(me + 1);
    for (int64_t s = begin; s < end; ++s) {
      // Each sentence's stream starts from a hash of (chunk seed, sentence). A linear seed (seed·c + s·d)
      // made the k-th draws of neighbouring sentences, and of one sentence in successive epochs, differ
      // by a constant (an LCG maps x + d to ax + ad): the same positions were dropped by subsampling,
      // or given the same window, epoch after epoch.
      Random random{mix64(mix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(s))};
      const float progress = total > 0 ? static_cast<float>(starts[s] - starts[0]) / static_cast<float>(total) : 0.0f;
      const float alpha = static_cast<float>(alpha_start + (alpha_end - alpha_start) * progress);
      sentence.clear();
      for (int64_t i = starts[s]; i < starts[s + 1]; ++i) {
        const int32_t w = words[i];
        if (keep_p[w] >= 1.0f || random.uniform() < keep_p[w]) sentence.push_back(w);
      }
      const int64_t length = static_cast<int64_t>(sentence.size());
      kept_words += length;
      for (int64_t i = 0; i < length; ++i) {
        const int64_t reduced = window - random.below(window);  // dynamic window 1 … window
        const int64_t first = std::max<int64_t>(0, i - reduced), last = std::min<int64_t>(length - 1, i + reduced);
        const int32_t word = sentence[i];
        if (cbow) {
          int64_t count = 0;
          std::fill(hidden.begin(), hidden.end(), 0.0f);
          for (int64_t c = first; c <= last; ++c) {
            if (c == i) continue;
            const float* row = in + static_cast<int64_t>(sentence[c]) * dim;
            for (int64_t k = 0; k < dim; ++k) hidden[k] += row[k];
            ++count;
          }
          if (count == 0) continue;
          const float scale = 1.0f / static_cast<float>(count);
          for (int64_t k = 0; k < dim; ++k) hidden[k] *= scale;
          std::fill(error.begin(), error.end(), 0.0f);
          objective(hidden.data(), error.data(), word, alpha, random);
          for (int64_t c = first; c <= last; ++c) {
            if (c == i) continue;
            float* __restrict row = in + static_cast<int64_t>(sentence[c]) * dim;
            for (int64_t k = 0; k < dim; ++k) row[k] += error[k];
          }
        } else {
          for (int64_t c = first; c <= last; ++c) {
            if (c == i) continue;
            float* __restrict row = in + static_cast<int64_t>(sentence[c]) * dim;
            std::fill(error.begin(), error.end(), 0.0f);
            objective(row, error.data(), word, alpha, random);
            for (int64_t k = 0; k < dim; ++k) row[k] += error[k];
          }
        }
      }
    }
  }
  return {kept_words, total};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("train_chunk", &train_chunk, "word2vec: train on one chunk of sentences (Hogwild, OpenMP)",
        py::call_guard<py::gil_scoped_release>());
}
