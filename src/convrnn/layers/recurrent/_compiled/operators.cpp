// The core's loops as PyTorch dispatcher operators, torch.ops.convrnn.<name> (../core_ops.py
// documents them and registers their fake implementations and autograd formulas). Each forward
// returns every step's states first, then what its backward reads; an argument or a result a
// cell does not have is an empty tensor. The wrappers make the inputs the kernels read by
// pointer contiguous (a no-op where they are) and never return an input or an alias of one.

#include <torch/library.h>

#include <tuple>
#include <utility>
#include <vector>

#include "core.h"

namespace {

using at::Tensor;

// The first N results as a tuple, an undefined tensor (a gradient not computed) or a missing
// one becoming an empty tensor.
template <size_t... I>
auto as_tuple(std::vector<Tensor>& results, std::index_sequence<I...>) {
  return std::make_tuple(results[I]...);
}

template <size_t N>
auto results(std::vector<Tensor> all, const Tensor& like) {
  all.resize(N);
  for (Tensor& t : all) {
    if (!t.defined()) t = at::empty({0}, like.options());
  }
  return as_tuple(all, std::make_index_sequence<N>{});
}

Tensor c(const Tensor& t) { return t.contiguous(); }

}  // namespace

TORCH_LIBRARY(convrnn, m) {
  m.def("lstm(Tensor xw, Tensor h0, Tensor c0, Tensor weight_hh, Tensor bias_hh, Tensor peephole, Tensor mask)"
        " -> (Tensor, Tensor, Tensor)");
  m.def("lstm_backward(Tensor grad_h, Tensor grad_c, Tensor h0, Tensor c0, Tensor h_all, Tensor c_all,"
        " Tensor gates, Tensor weight_hh, Tensor peephole, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_lstm(Tensor xw, Tensor h0, Tensor c0, Tensor weight_hh, Tensor bias_hh, Tensor peephole,"
        " Tensor gain, Tensor shift, Tensor cell_gain, Tensor cell_shift, Tensor input_gain, Tensor input_shift,"
        " Tensor bias_ih, Tensor mask, float eps)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_lstm_backward(Tensor grad_h, Tensor grad_c, Tensor h0, Tensor c0, Tensor h_all,"
        " Tensor c_all, Tensor gates, Tensor r_hat, Tensor r_rstd, Tensor c_hat, Tensor c_rstd, Tensor weight_hh,"
        " Tensor raw, Tensor x_mean, Tensor x_rstd, Tensor peephole, Tensor gain, Tensor cell_gain,"
        " Tensor cell_shift, Tensor input_gain, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,"
        " Tensor)");
  m.def("gated(bool gru, Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gated_backward(bool gru, Tensor grad_h, Tensor h0, Tensor h_all, Tensor gate, Tensor cand,"
        " Tensor gated, Tensor weight_hh, Tensor mask) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_elman(int activation, float slope, Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor gain,"
        " Tensor shift, Tensor input_gain, Tensor input_shift, Tensor bias_ih, Tensor mask, float eps)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_elman_backward(int activation, float slope, Tensor grad_h, Tensor h0, Tensor h_all, Tensor r_hat,"
        " Tensor r_rstd, Tensor raw, Tensor x_mean, Tensor x_rstd, Tensor weight_hh, Tensor gain,"
        " Tensor input_gain, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_gated(bool gru, Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor gain,"
        " Tensor shift, Tensor input_gain, Tensor input_shift, Tensor bias_ih, Tensor mask, float eps)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_gated_backward(bool gru, Tensor grad_h, Tensor h0, Tensor h_all, Tensor gate, Tensor cand,"
        " Tensor gated, Tensor gate_hat, Tensor gate_rstd, Tensor cand_hat, Tensor cand_rstd, Tensor raw,"
        " Tensor x_mean, Tensor x_rstd, Tensor weight_hh, Tensor gain, Tensor input_gain, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_gated_unit(Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor gain, Tensor shift,"
        " Tensor input_gain, Tensor input_shift, Tensor bias_ih, Tensor mask, float eps)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("layer_norm_gated_unit_backward(Tensor grad_h, Tensor h0, Tensor h_all, Tensor gates, Tensor r_hat,"
        " Tensor r_rstd, Tensor raw, Tensor x_mean, Tensor x_rstd, Tensor weight_hh, Tensor gain, Tensor input_gain,"
        " Tensor mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("elman(int activation, float slope, Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor mask)"
        " -> Tensor");
  m.def("elman_backward(int activation, float slope, Tensor grad_h, Tensor h0, Tensor h_all, Tensor weight_hh,"
        " Tensor mask) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gated_unit(Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor mask) -> (Tensor, Tensor)");
  m.def("gated_unit_backward(Tensor grad_h, Tensor h0, Tensor h_all, Tensor gates, Tensor weight_hh, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("gru_after(Tensor xw, Tensor h0, Tensor weight_hh, Tensor bias_hh, Tensor mask) -> (Tensor, Tensor, Tensor)");
  m.def("gru_after_backward(Tensor grad_h, Tensor h0, Tensor h_all, Tensor gates, Tensor recurrent,"
        " Tensor weight_hh, Tensor mask) -> (Tensor, Tensor, Tensor, Tensor)");
  m.def("jordan(bool relu, int decision, Tensor xw, Tensor h0, Tensor y0, Tensor weight_hh, Tensor weight_ho,"
        " Tensor bias_ho, Tensor mask) -> (Tensor, Tensor)");
  m.def("jordan_backward(bool relu, int decision, Tensor grad_h, Tensor grad_y, Tensor y0, Tensor h_all,"
        " Tensor y_all, Tensor weight_hh, Tensor weight_ho, Tensor mask)"
        " -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("parallel_cells(int kind, Tensor P, Tensor h0, Tensor mask) -> (Tensor, Tensor)");
  m.def("parallel_cells_backward(int kind, Tensor grad_h, Tensor grad_out, Tensor P, Tensor h, Tensor h0,"
        " Tensor mask) -> (Tensor, Tensor)");
  m.def("linear_scan(Tensor a, Tensor b, Tensor h0) -> Tensor");
  m.def("linear_scan_backward(Tensor grad_h, Tensor a, Tensor h, Tensor h0) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(convrnn, CPU, m) {
  m.impl("lstm", [](const Tensor& xw, const Tensor& h0, const Tensor& c0, const Tensor& weight_hh,
                    const Tensor& bias_hh, const Tensor& peephole, const Tensor& mask) {
    return results<3>(convrnn::lstm_forward(c(xw), c(h0), c(c0), c(weight_hh), c(bias_hh), c(peephole), c(mask),
                                            false), xw);
  });
  m.impl("lstm_backward", [](const Tensor& grad_h, const Tensor& grad_c, const Tensor& h0, const Tensor& c0,
                             const Tensor& h_all, const Tensor& c_all, const Tensor& gates, const Tensor& weight_hh,
                             const Tensor& peephole, const Tensor& mask) {
    return results<6>(convrnn::lstm_backward(c(grad_h), c(grad_c), c(h0), c(c0), c(h_all), c(c_all), c(gates),
                                             c(weight_hh), c(peephole), c(mask)), gates);
  });
  m.impl("layer_norm_lstm", [](const Tensor& xw, const Tensor& h0, const Tensor& c0, const Tensor& weight_hh,
                               const Tensor& bias_hh, const Tensor& peephole, const Tensor& gain,
                               const Tensor& shift, const Tensor& cell_gain, const Tensor& cell_shift,
                               const Tensor& input_gain, const Tensor& input_shift, const Tensor& bias_ih,
                               const Tensor& mask, double eps) {
    return results<9>(convrnn::layer_norm_lstm_forward(c(xw), c(h0), c(c0), c(weight_hh), c(bias_hh), c(peephole),
                                                       c(gain), c(shift), c(cell_gain), c(cell_shift),
                                                       c(input_gain), c(input_shift), c(bias_ih), c(mask), eps,
                                                       false), xw);
  });
  m.impl("layer_norm_lstm_backward",
         [](const Tensor& grad_h, const Tensor& grad_c, const Tensor& h0, const Tensor& c0, const Tensor& h_all,
            const Tensor& c_all, const Tensor& gates, const Tensor& r_hat, const Tensor& r_rstd, const Tensor& c_hat,
            const Tensor& c_rstd, const Tensor& weight_hh, const Tensor& raw, const Tensor& x_mean,
            const Tensor& x_rstd, const Tensor& peephole, const Tensor& gain, const Tensor& cell_gain,
            const Tensor& cell_shift, const Tensor& input_gain, const Tensor& mask) {
           return results<13>(convrnn::layer_norm_lstm_backward(
                                  c(grad_h), c(grad_c), c(h0), c(c0), c(h_all), c(c_all), c(gates), c(r_hat),
                                  c(r_rstd), c(c_hat), c(c_rstd), c(weight_hh), c(raw), c(x_mean), c(x_rstd),
                                  c(peephole), c(gain), c(cell_gain), c(cell_shift), c(input_gain), c(mask)),
                              gates);
         });
  m.impl("gated", [](bool gru, const Tensor& xw, const Tensor& h0, const Tensor& weight_hh, const Tensor& bias_hh,
                     const Tensor& mask) {
    return results<4>(convrnn::gated_forward(gru, c(xw), c(h0), c(weight_hh), c(bias_hh), c(mask)), xw);
  });
  m.impl("gated_backward", [](bool gru, const Tensor& grad_h, const Tensor& h0, const Tensor& h_all,
                              const Tensor& gate, const Tensor& cand, const Tensor& gated, const Tensor& weight_hh,
                              const Tensor& mask) {
    return results<4>(convrnn::gated_backward(gru, c(grad_h), c(h0), c(h_all), c(gate), c(cand), c(gated),
                                              c(weight_hh), c(mask)), h0);
  });
  m.impl("layer_norm_elman", [](int64_t activation, double slope, const Tensor& xw, const Tensor& h0, const Tensor& weight_hh,
                                const Tensor& bias_hh, const Tensor& gain, const Tensor& shift,
                                const Tensor& input_gain, const Tensor& input_shift, const Tensor& bias_ih,
                                const Tensor& mask, double eps) {
    return results<5>(convrnn::layer_norm_elman_forward(activation, slope, c(xw), c(h0), c(weight_hh), c(bias_hh), c(gain),
                                                        c(shift), c(input_gain), c(input_shift), c(bias_ih),
                                                        c(mask), eps), xw);
  });
  m.impl("layer_norm_elman_backward",
         [](int64_t activation, double slope, const Tensor& grad_h, const Tensor& h0, const Tensor& h_all,
            const Tensor& r_hat,
            const Tensor& r_rstd, const Tensor& raw, const Tensor& x_mean, const Tensor& x_rstd,
            const Tensor& weight_hh, const Tensor& gain, const Tensor& input_gain, const Tensor& mask) {
           return results<9>(convrnn::layer_norm_elman_backward(activation, slope, c(grad_h), c(h0), c(h_all), c(r_hat),
                                                                c(r_rstd), c(raw), c(x_mean), c(x_rstd),
                                                                c(weight_hh), c(gain), c(input_gain), c(mask)),
                             h0);
         });
  m.impl("layer_norm_gated", [](bool gru, const Tensor& xw, const Tensor& h0, const Tensor& weight_hh,
                                const Tensor& bias_hh, const Tensor& gain, const Tensor& shift,
                                const Tensor& input_gain, const Tensor& input_shift, const Tensor& bias_ih,
                                const Tensor& mask, double eps) {
    return results<10>(convrnn::layer_norm_gated_forward(gru, c(xw), c(h0), c(weight_hh), c(bias_hh), c(gain),
                                                         c(shift), c(input_gain), c(input_shift), c(bias_ih),
                                                         c(mask), eps, false), xw);
  });
  m.impl("layer_norm_gated_backward",
         [](bool gru, const Tensor& grad_h, const Tensor& h0, const Tensor& h_all, const Tensor& gate,
            const Tensor& cand, const Tensor& gated, const Tensor& gate_hat, const Tensor& gate_rstd,
            const Tensor& cand_hat, const Tensor& cand_rstd, const Tensor& raw, const Tensor& x_mean,
            const Tensor& x_rstd, const Tensor& weight_hh, const Tensor& gain, const Tensor& input_gain,
            const Tensor& mask) {
           return results<9>(convrnn::layer_norm_gated_backward(
                                 gru, c(grad_h), c(h0), c(h_all), c(gate), c(cand), c(gated), c(gate_hat),
                                 c(gate_rstd), c(cand_hat), c(cand_rstd), c(raw), c(x_mean), c(x_rstd),
                                 c(weight_hh), c(gain), c(input_gain), c(mask)),
                             h0);
         });
  m.impl("layer_norm_gated_unit", [](const Tensor& xw, const Tensor& h0, const Tensor& weight_hh,
                                     const Tensor& bias_hh, const Tensor& gain, const Tensor& shift,
                                     const Tensor& input_gain, const Tensor& input_shift, const Tensor& bias_ih,
                                     const Tensor& mask, double eps) {
    return results<6>(convrnn::layer_norm_gated_unit_forward(c(xw), c(h0), c(weight_hh), c(bias_hh), c(gain),
                                                             c(shift), c(input_gain), c(input_shift), c(bias_ih),
                                                             c(mask), eps, false), xw);
  });
  m.impl("layer_norm_gated_unit_backward",
         [](const Tensor& grad_h, const Tensor& h0, const Tensor& h_all, const Tensor& gates, const Tensor& r_hat,
            const Tensor& r_rstd, const Tensor& raw, const Tensor& x_mean, const Tensor& x_rstd,
            const Tensor& weight_hh, const Tensor& gain, const Tensor& input_gain, const Tensor& mask) {
           return results<9>(convrnn::layer_norm_gated_unit_backward(
                                 c(grad_h), c(h0), c(h_all), c(gates), c(r_hat), c(r_rstd), c(raw), c(x_mean),
                                 c(x_rstd), c(weight_hh), c(gain), c(input_gain), c(mask)),
                             h0);
         });
  m.impl("elman", [](int64_t activation, double slope, const Tensor& xw, const Tensor& h0, const Tensor& weight_hh,
                     const Tensor& bias_hh, const Tensor& mask) {
    return convrnn::elman_forward(activation, slope, c(xw), c(h0), c(weight_hh), c(bias_hh), c(mask))[0];
  });
  m.impl("elman_backward", [](int64_t activation, double slope, const Tensor& grad_h, const Tensor& h0,
                              const Tensor& h_all, const Tensor& weight_hh, const Tensor& mask) {
    return results<4>(convrnn::elman_backward(activation, slope, c(grad_h), c(h0), c(h_all), c(weight_hh), c(mask)),
                      h0);
  });
  m.impl("gated_unit", [](const Tensor& xw, const Tensor& h0, const Tensor& weight_hh, const Tensor& bias_hh,
                          const Tensor& mask) {
    return results<2>(convrnn::gated_unit_forward(c(xw), c(h0), c(weight_hh), c(bias_hh), c(mask)), xw);
  });
  m.impl("gated_unit_backward", [](const Tensor& grad_h, const Tensor& h0, const Tensor& h_all, const Tensor& gates,
                                   const Tensor& weight_hh, const Tensor& mask) {
    return results<4>(convrnn::gated_unit_backward(c(grad_h), c(h0), c(h_all), c(gates), c(weight_hh), c(mask)),
                      h0);
  });
  m.impl("gru_after", [](const Tensor& xw, const Tensor& h0, const Tensor& weight_hh, const Tensor& bias_hh,
                         const Tensor& mask) {
    return results<3>(convrnn::gru_after_forward(c(xw), c(h0), c(weight_hh), c(bias_hh), c(mask)), xw);
  });
  m.impl("gru_after_backward", [](const Tensor& grad_h, const Tensor& h0, const Tensor& h_all, const Tensor& gates,
                                  const Tensor& recurrent, const Tensor& weight_hh, const Tensor& mask) {
    return results<4>(convrnn::gru_after_backward(c(grad_h), c(h0), c(h_all), c(gates), c(recurrent), c(weight_hh),
                                                  c(mask)), h0);
  });
  m.impl("jordan", [](bool relu, int64_t decision, const Tensor& xw, const Tensor& h0, const Tensor& y0,
                      const Tensor& weight_hh, const Tensor& weight_ho, const Tensor& bias_ho, const Tensor& mask) {
    return results<2>(convrnn::jordan_forward(relu, decision, c(xw), c(h0), c(y0), c(weight_hh), c(weight_ho),
                                              c(bias_ho), c(mask)), xw);
  });
  m.impl("jordan_backward", [](bool relu, int64_t decision, const Tensor& grad_h, const Tensor& grad_y,
                               const Tensor& y0, const Tensor& h_all, const Tensor& y_all, const Tensor& weight_hh,
                               const Tensor& weight_ho, const Tensor& mask) {
    return results<6>(convrnn::jordan_backward(relu, decision, c(grad_h), c(grad_y), c(y0), c(h_all), c(y_all),
                                               c(weight_hh), c(weight_ho), c(mask)), y0);
  });
  // The parallel layers' kernels read any (T, N) strides with a unit last stride (a batch-major
  // projection in place, a broadcast gradient with stride 0), and lay their results out like P.
  m.impl("parallel_cells", [](int64_t kind, const Tensor& P, const Tensor& h0, const Tensor& mask) {
    return results<2>(convrnn::parallel_forward(kind, P, c(h0), c(mask), at::empty({0}, P.options()), false), P);
  });
  m.impl("parallel_cells_backward", [](int64_t kind, const Tensor& grad_h, const Tensor& grad_out, const Tensor& P,
                                       const Tensor& h, const Tensor& h0, const Tensor& mask) {
    return results<2>(convrnn::parallel_backward(kind, grad_h, grad_out, P, h, c(h0), c(mask),
                                                 at::empty({0}, P.options()), false, false), P);
  });
  m.impl("linear_scan", [](const Tensor& a, const Tensor& b, const Tensor& h0) {
    return convrnn::linear_scan_forward(c(a), c(b), c(h0));
  });
  m.impl("linear_scan_backward", [](const Tensor& grad_h, const Tensor& a, const Tensor& h, const Tensor& h0) {
    return results<3>(convrnn::linear_scan_backward(c(grad_h), c(a), c(h), c(h0)), a);
  });
}
