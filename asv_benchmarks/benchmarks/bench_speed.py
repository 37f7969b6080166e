"""Time of forward and of forward + backward, float32, per variant and size.

JIT compilation happens in ``setup`` (one untimed call), never inside a timing.
"""
import lstmlab
from lstmlab.benchmark.timing import ANCHOR_SIZES, FASTRNNS_SIZE, lstmlab_step

from .common import size

_ANCHORS = [",".join(map(str, s)) for s in ANCHOR_SIZES + [FASTRNNS_SIZE]]


class AnchorSizes:
    """lstm, gru and peephole at the anchor sizes and fastrnns' default (100, 64, 512, 512)."""
    params = (["lstm", "gru", "peephole"], _ANCHORS)
    param_names = ["variant", "T,B,D,H"]
    timeout = 600

    def setup(self, variant, shape):
        self.fb = lstmlab_step(variant, *size(shape))
        self.fw = lstmlab_step(variant, *size(shape), forward_only=True)
        self.fb()
        self.fw()

    def time_forward(self, variant, shape):
        self.fw()

    def time_forward_backward(self, variant, shape):
        self.fb()


class EveryVariant:
    """Every registered variant (plugins included) at one mid size."""
    params = (lstmlab.names(), ["100,32,16,128"])
    param_names = ["variant", "T,B,D,H"]
    timeout = 300

    def setup(self, variant, shape):
        self.fb = lstmlab_step(variant, *size(shape))
        self.fb()

    def time_forward_backward(self, variant, shape):
        self.fb()


class Recompute:
    """Checkpointed BPTT (segments of K steps) against plain BPTT on a long sequence."""
    params = ([None, 100], ["1000,16,64,256"])
    param_names = ["recompute", "T,B,D,H"]
    timeout = 300

    def setup(self, K, shape):
        self.fb = lstmlab_step("lstm", *size(shape), recompute=K)
        self.fb()

    def time_forward_backward(self, K, shape):
        self.fb()


class DerivedBackward:
    """The same variant with its handwritten and its sympy-derived backward."""
    params = (["lstm", "gru", "peephole"], [False, True], ["100,32,1,128"])
    param_names = ["variant", "derived", "T,B,D,H"]
    timeout = 300

    def setup(self, variant, derived, shape):
        from lstmlab.benchmark.derived import derived_name
        name = derived_name(variant) if derived else variant
        self.fb = lstmlab_step(name, *size(shape))
        self.fb()

    def time_forward_backward(self, variant, derived, shape):
        self.fb()


class Streaming:
    """One ``layer.stream(batch=1).step(x_t)`` at D = 1: streaming latency per step."""
    params = (["lstm", "gru"], [8, 32, 128])
    param_names = ["variant", "H"]
    timeout = 120

    def setup(self, variant, H):
        import numpy as np
        self.stream = lstmlab.RNN(variant, 1, H).stream(batch=1)
        self.x = np.ones((1, 1), np.float32)
        self.stream.step(self.x)

    def time_step(self, variant, H):
        self.stream.step(self.x)


class TorchModule:
    """Forward + backward of the variant as a ``lstmlab.torch`` module (skipped without torch)."""
    params = (["lstm", "cifg"], ["100,32,1,128", "200,1,1,8"])
    param_names = ["variant", "T,B,D,H"]
    timeout = 300

    def setup(self, variant, shape):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise NotImplementedError("torch is not installed") from None  # asv skips the benchmark
        from lstmlab.benchmark.timing import torch_module_step
        self.fb = torch_module_step(variant, *size(shape))
        self.fb()

    def time_forward_backward(self, variant, shape):
        self.fb()


def _option_kwargs(option: str, H: int) -> dict:
    """The layer options of ``option``: those of :mod:`lstmlab.benchmark.options` (one dictionary of them)."""
    from lstmlab.benchmark import options
    if option == "none":
        return {}
    if option == "proj_size":
        return {"proj_size": H // 2}
    return {**options.OPTIONS, **options.SEMENIUTA, **options.LAYER_NORM}[option]


class Regularisation:
    """Two stacked layers, plain against each regularisation option at 0.3 (training mode), each layer norm
    form and a projection to H/2; an option the variant cannot take is skipped."""
    params = (["lstm", "gru"], ["none", "dropout", "weight_drop", "recurrent_dropout", "zoneout", "semeniuta_dropout",
                                "layer_norm xh", "layer_norm xh+cell", "layer_norm gates", "proj_size"],
              ["100,32,1,128"])
    param_names = ["variant", "option", "T,B,D,H"]
    timeout = 300

    def setup(self, variant, option, shape):
        T, B, D, H = size(shape)
        try:
            self.fb = lstmlab_step(variant, T, B, D, H, num_layers=2, **_option_kwargs(option, H))
        except ValueError as exc:  # an option this variant's structure cannot take
            raise NotImplementedError(str(exc)) from exc
        self.fb()

    def time_forward_backward(self, variant, option, shape):
        self.fb()
