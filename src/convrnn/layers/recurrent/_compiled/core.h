// The entry points of the compiled recurrent core, one file per idea: cells.cpp (LSTM, GRU with
// reset before, MGU, Elman, seed 001's gated unit, the linear scan), layer_norm_lstm.cpp,
// layer_norm_cells.cpp (GRU, MGU, Elman, seed 001's gated unit), jordan.cpp, parallel_cells.cpp (the
// parallel-in-time layers' gates and recurrence); module.cpp binds them for Python (../fused.py
// calls them).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace convrnn {

std::vector<at::Tensor> lstm_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                     const at::Tensor& peephole, const at::Tensor& mask, bool overwrite);
std::vector<at::Tensor> lstm_backward(const at::Tensor& grad_h, const at::Tensor& grad_c, const at::Tensor& h0,
                                      const at::Tensor& c0, const at::Tensor& h_all, const at::Tensor& c_all,
                                      const at::Tensor& gates, const at::Tensor& weight_hh,
                                      const at::Tensor& peephole, const at::Tensor& mask);
std::vector<at::Tensor> gated_forward(bool gru, const at::Tensor& xw, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                      const at::Tensor& mask);
std::vector<at::Tensor> gated_backward(bool gru, const at::Tensor& grad_h, const at::Tensor& h0,
                                       const at::Tensor& h_all, const at::Tensor& gate, const at::Tensor& cand,
                                       const at::Tensor& gated, const at::Tensor& weight_hh,
                                       const at::Tensor& mask);
std::vector<at::Tensor> elman_forward(int64_t activation, double slope, const at::Tensor& xw, const at::Tensor& h0,
                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                      const at::Tensor& mask);
std::vector<at::Tensor> elman_backward(int64_t activation, double slope, const at::Tensor& grad_h, const at::Tensor& h0,
                                       const at::Tensor& h_all, const at::Tensor& weight_hh, const at::Tensor& mask);
std::vector<at::Tensor> gated_unit_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& weight_hh,
                                           const at::Tensor& bias_hh, const at::Tensor& mask);
std::vector<at::Tensor> gated_unit_backward(const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all,
                                            const at::Tensor& gates, const at::Tensor& weight_hh,
                                            const at::Tensor& mask);
at::Tensor linear_scan_forward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& h0);
std::vector<at::Tensor> linear_scan_backward(const at::Tensor& grad_h, const at::Tensor& a, const at::Tensor& h,
                                             const at::Tensor& h0);

std::vector<at::Tensor> layer_norm_lstm_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& c0,
                                                const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                const at::Tensor& peephole, const at::Tensor& gain,
                                                const at::Tensor& shift, const at::Tensor& cell_gain,
                                                const at::Tensor& cell_shift, const at::Tensor& input_gain,
                                                const at::Tensor& input_shift, const at::Tensor& bias_ih,
                                                const at::Tensor& mask, double eps, bool overwrite);
std::vector<at::Tensor> layer_norm_lstm_backward(
    const at::Tensor& grad_h, const at::Tensor& grad_c, const at::Tensor& h0, const at::Tensor& c0,
    const at::Tensor& h_all, const at::Tensor& c_all, const at::Tensor& gates, const at::Tensor& r_hat,
    const at::Tensor& r_rstd, const at::Tensor& c_hat, const at::Tensor& c_rstd, const at::Tensor& weight_hh,
    const at::Tensor& raw, const at::Tensor& x_mean, const at::Tensor& x_rstd, const at::Tensor& peephole,
    const at::Tensor& gain,
    const at::Tensor& cell_gain, const at::Tensor& cell_shift, const at::Tensor& input_gain, const at::Tensor& mask);

std::vector<at::Tensor> jordan_forward(bool relu, int64_t decision, const at::Tensor& xw, const at::Tensor& h0,
                                       const at::Tensor& y0, const at::Tensor& weight_hh,
                                       const at::Tensor& weight_ho, const at::Tensor& bias_ho,
                                       const at::Tensor& mask);
std::vector<at::Tensor> jordan_backward(bool relu, int64_t decision, const at::Tensor& grad_h,
                                        const at::Tensor& grad_y, const at::Tensor& y0, const at::Tensor& h_all,
                                        const at::Tensor& y_all, const at::Tensor& weight_hh,
                                        const at::Tensor& weight_ho, const at::Tensor& mask);

std::vector<at::Tensor> gru_after_forward(const at::Tensor& xw, const at::Tensor& h0, const at::Tensor& weight_hh,
                                          const at::Tensor& bias_hh, const at::Tensor& mask);
std::vector<at::Tensor> gru_after_backward(const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all,
                                           const at::Tensor& gates, const at::Tensor& recurrent,
                                           const at::Tensor& weight_hh, const at::Tensor& mask);

std::vector<at::Tensor> parallel_forward(int64_t kind, const at::Tensor& P, const at::Tensor& h0,
                                         const at::Tensor& mask, const at::Tensor& bias, bool store_gates);
std::vector<at::Tensor> parallel_backward(int64_t kind, const at::Tensor& grad_h, const at::Tensor& grad_out,
                                          const at::Tensor& P, const at::Tensor& h, const at::Tensor& h0,
                                          const at::Tensor& mask, const at::Tensor& into, bool bias_grad,
                                          bool gates_stored);

std::vector<at::Tensor> layer_norm_elman_forward(int64_t activation, double slope, const at::Tensor& raw, const at::Tensor& h0,
                                                 const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                 const at::Tensor& gain, const at::Tensor& shift,
                                                 const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                 const at::Tensor& bias_ih, const at::Tensor& mask, double eps);
std::vector<at::Tensor> layer_norm_elman_backward(int64_t activation, double slope, const at::Tensor& grad_h, const at::Tensor& h0,
                                                  const at::Tensor& h_all, const at::Tensor& r_hat,
                                                  const at::Tensor& r_rstd, const at::Tensor& raw,
                                                  const at::Tensor& x_mean, const at::Tensor& x_rstd,
                                                  const at::Tensor& weight_hh,
                                                  const at::Tensor& gain, const at::Tensor& input_gain,
                                                  const at::Tensor& mask);
std::vector<at::Tensor> layer_norm_gated_forward(bool gru, const at::Tensor& raw, const at::Tensor& h0,
                                                 const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                 const at::Tensor& gain, const at::Tensor& shift,
                                                 const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                 const at::Tensor& bias_ih, const at::Tensor& mask, double eps,
                                                 bool overwrite);
std::vector<at::Tensor> layer_norm_gated_backward(
    bool gru, const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all, const at::Tensor& gate,
    const at::Tensor& cand, const at::Tensor& gated, const at::Tensor& gate_hat, const at::Tensor& gate_rstd,
    const at::Tensor& cand_hat, const at::Tensor& cand_rstd, const at::Tensor& raw, const at::Tensor& x_mean,
    const at::Tensor& x_rstd,
    const at::Tensor& weight_hh, const at::Tensor& gain, const at::Tensor& input_gain, const at::Tensor& mask);

std::vector<at::Tensor> layer_norm_gated_unit_forward(const at::Tensor& raw, const at::Tensor& h0,
                                                      const at::Tensor& weight_hh, const at::Tensor& bias_hh,
                                                      const at::Tensor& gain, const at::Tensor& shift,
                                                      const at::Tensor& input_gain, const at::Tensor& input_shift,
                                                      const at::Tensor& bias_ih, const at::Tensor& mask, double eps,
                                                      bool overwrite);
std::vector<at::Tensor> layer_norm_gated_unit_backward(
    const at::Tensor& grad_h, const at::Tensor& h0, const at::Tensor& h_all, const at::Tensor& gates,
    const at::Tensor& r_hat, const at::Tensor& r_rstd, const at::Tensor& raw, const at::Tensor& x_mean,
    const at::Tensor& x_rstd, const at::Tensor& weight_hh, const at::Tensor& gain, const at::Tensor& input_gain,
    const at::Tensor& mask);

}  // namespace convrnn
