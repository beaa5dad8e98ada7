"""Pure tensor functions: padding with every boundary condition, N-d convolution and
transposed convolution, every pooling kind, and shape arithmetic."""
