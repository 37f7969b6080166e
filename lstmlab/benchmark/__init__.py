"""Speed measurement: lstmlab against PyTorch, and helpers for the asv suite.

``timing``      alternating median timings, FLOP counts, the GEMM peak.
``torch_cells`` PyTorch implementations of any registered variant (eager,
                torch.compile), a TorchScript peephole cell, nn.LSTM / nn.GRU.
``compare``     the ``lstmlab bench`` command.
"""
