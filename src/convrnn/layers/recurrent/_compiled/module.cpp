// Binds the compiled recurrent core (core.h) as one Python module.

#include <torch/extension.h>

#include "common.h"
#include "core.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("lstm_forward", &convrnn::lstm_forward);
  module.def("lstm_backward", &convrnn::lstm_backward);
  module.def("gated_forward", &convrnn::gated_forward);
  module.def("gated_backward", &convrnn::gated_backward);
  module.def("gru_after_forward", &convrnn::gru_after_forward);
  module.def("gru_after_backward", &convrnn::gru_after_backward);
  module.def("elman_forward", &convrnn::elman_forward);
  module.def("elman_backward", &convrnn::elman_backward);
  module.def("gated_unit_forward", &convrnn::gated_unit_forward);
  module.def("gated_unit_backward", &convrnn::gated_unit_backward);
  module.def("linear_scan_forward", &convrnn::linear_scan_forward);
  module.def("linear_scan_backward", &convrnn::linear_scan_backward);
  module.def("layer_norm_lstm_forward", &convrnn::layer_norm_lstm_forward);
  module.def("layer_norm_lstm_backward", &convrnn::layer_norm_lstm_backward);
  module.def("layer_norm_elman_forward", &convrnn::layer_norm_elman_forward);
  module.def("layer_norm_elman_backward", &convrnn::layer_norm_elman_backward);
  module.def("layer_norm_gated_forward", &convrnn::layer_norm_gated_forward);
  module.def("layer_norm_gated_backward", &convrnn::layer_norm_gated_backward);
  module.def("layer_norm_gated_unit_forward", &convrnn::layer_norm_gated_unit_forward);
  module.def("layer_norm_gated_unit_backward", &convrnn::layer_norm_gated_unit_backward);
  module.def("jordan_forward", &convrnn::jordan_forward);
  module.def("jordan_backward", &convrnn::jordan_backward);
  module.def("parallel_forward", &convrnn::parallel_forward);
  module.def("parallel_backward", &convrnn::parallel_backward);
  module.def("set_step_products", [](int64_t strategy) { convrnn::product_strategy() = static_cast<int>(strategy); });
  module.def("has_panels", [] {
#ifdef CONVRNN_PANELS
    return true;
#else
    return false;
#endif
  });
  module.def("set_work_split", [](int64_t split) { convrnn::work_split() = static_cast<int>(split); });
  // The core's own exp, σ and tanh (pointwise_math.h) applied to every element of a float32 or
  // float64 tensor, so that tests can hold them against torch's over the whole float range.
  module.def("pointwise", [](const std::string& function, const at::Tensor& x) {
    TORCH_CHECK(function == "exp" || function == "sigmoid" || function == "tanh",
                "pointwise: argument 'function' expected exp, sigmoid or tanh, got ", function);
    at::Tensor in = x.contiguous(), out = at::empty_like(in);
    AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "pointwise", [&] {
      const scalar_t* source = in.data_ptr<scalar_t>();
      scalar_t* target = out.data_ptr<scalar_t>();
      const int64_t count = in.numel();
      if (function == "exp") {
        _Pragma("omp simd")
        for (int64_t i = 0; i < count; ++i) target[i] = convrnn::math::exp(source[i]);
      } else if (function == "sigmoid") {
        _Pragma("omp simd")
        for (int64_t i = 0; i < count; ++i) target[i] = convrnn::math::sigmoid(source[i]);
      } else {
        _Pragma("omp simd")
        for (int64_t i = 0; i < count; ++i) target[i] = convrnn::math::tanh(source[i]);
      }
    });
    return out;
  });
}
