"""Torch model -> ONNX fp32 -> fused -> int8, with a parity check at each step.

int8 linear layers (weights per channel, activations per token:
`quantize.py`) make the graph about 4x smaller and several times faster on a
CPU; the parity check measures what it costs, and that an utterance gets the
same answer alone and in a batch, so a bad export is caught when it is made,
not in service.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from assistant.nlu.errors import TrainError
from assistant.nlu.features import Batch

log = logging.getLogger(__name__)

INPUTS = ["input_ids", "attention_mask"]
OUTPUTS = ["intent_logits", "tag_scores", "pooled"]


def export(model, sample: Batch, fp32_path: Path, int8_path: Path) -> dict:
    """Write the fp32 and int8 graphs; return parity figures against torch on `sample`."""
    model.eval()
    model.encoder.set_attn_implementation("eager")  # traceable attention; fused again by onnxruntime
    ids = torch.from_numpy(sample.input_ids)
    mask = torch.from_numpy(sample.attention_mask)
    raw = fp32_path.with_suffix(".raw.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        # The legacy exporter warns about itself and about tracing constructs that are sound here (fixed
        # shapes are checked by the parity test below): a user's first training run should not print them.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"assistant\.nlu\.export")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(
            model,
            (ids, mask),
            str(raw),
            input_names=INPUTS,
            output_names=OUTPUTS,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "intent_logits": {0: "batch"}, "tag_scores": {0: "batch", 1: "tokens"}, "pooled": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        expected = [t.numpy() for t in model(ids, mask)]
    _fuse(raw, fp32_path, model.encoder.config)
    raw.unlink()
    _quantize(fp32_path, int8_path)
    report = {"sample_size": int(ids.shape[0])}
    sessions = {"fp32": _session(fp32_path), "int8": _session(int8_path)}
    outputs = {name: _run(session, sample) for name, session in sessions.items()}
    for name, got in outputs.items():
        report[name] = {
            "max_abs_diff_intent_logits": float(np.abs(got[0] - expected[0]).max()),
            "intent_agreement": float((got[0].argmax(-1) == expected[0].argmax(-1)).mean()),
            "tag_agreement": float((got[1].argmax(-1) == expected[1].argmax(-1))[sample.attention_mask.astype(bool)].mean()),
        }
    if report["fp32"]["max_abs_diff_intent_logits"] > 1e-2:
        raise TrainError(f"the ONNX export differs from the torch model ({report['fp32']}); the model was not written")
    alone = np.concatenate([_run(sessions["int8"], _row(sample, i))[0] for i in range(len(ids))])
    report["int8"]["max_abs_diff_batch_vs_alone"] = float(np.abs(alone - outputs["int8"][0]).max())
    if report["int8"]["max_abs_diff_batch_vs_alone"] > 1e-3:
        raise TrainError(f"the int8 graph answers an utterance differently in a batch ({report['int8']}); the model was not written")
    log.info("export parity: %s", report)
    return report


def _fuse(src: Path, dst: Path, config) -> None:
    """Fuse LayerNorm and GELU into onnxruntime's BERT kernels. Attention stays unfused: its projections are
    then plain MatMuls, which `quantize.per_token` can give a scale per token."""
    from onnxruntime.quantization.quant_utils import add_pre_process_metadata
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_attention = False
    optimized = optimize_model(str(src), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size, opt_level=1,
                               optimization_options=options)
    # onnxruntime's own optimiser is the preparation the quantiser asks for (it warns on graphs not marked so).
    add_pre_process_metadata(optimized.model)
    optimized.save_model_to_file(str(dst))


def _quantize(src: Path, dst: Path) -> None:
    """int8 weights per output channel, int8 activations per token (`quantize.per_token`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from assistant.nlu.quantize import per_token

    # The fused graph holds com.microsoft ops that ONNX shape inference cannot type; their outputs are float.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    onnx.save(per_token(onnx.load(str(dst))), str(dst))


def _row(batch: Batch, i: int) -> Batch:
    """Utterance `i` of a batch on its own, without the batch's padding."""
    n = int(batch.attention_mask[i].sum())
    return Batch(batch.input_ids[i : i + 1, :n], batch.attention_mask[i : i + 1, :n], batch.word_pos[i : i + 1], batch.word_mask[i : i + 1],
                 None if batch.word_len is None else batch.word_len[i : i + 1])


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run(session, batch: Batch) -> list[np.ndarray]:
    return session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
