"""The hls4ml bridge: convert a torch network with explicit types, compile once (cached), read the generated C++.

hls4ml is needed here, to convert and to validate; a job never needs it (it
runs :class:`~.emulator.Network` from an artefact).

- :func:`hls_config` makes the configuration with ``config_from_pytorch_model``
  and then sets EVERY type explicitly: the input, each Dense layer's
  ``weight``, ``bias``, ``accum`` and ``result`` (hls4ml leaves them at
  ``'auto'``), each activation's ``result``, and the softmax's ``result``,
  ``accum``, ``exp_table``, ``inv_table``, ``inv_inp`` and table size, from a
  :class:`Precision`.
- :func:`compiled` converts and compiles once per (weights, configuration,
  hls4ml version): the project lives in ``$HEPRECO_CACHE/hls4ml/<hash>`` and a
  later call (any process) loads the compiled library from there (~1 s
  instead of ~11 s).  Every layer is compiled with tracing on, so
  :func:`trace` gives per-layer outputs without recompiling.
- :func:`read_project` reads what the generated C++ actually uses (the
  typedefs of ``defines.h``, the layer configurations of ``parameters.h``, the
  layer calls of ``myproject.cpp`` and the weight files) into an emulator
  :class:`~.emulator.Network`; anything it does not recognise is refused.
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np

from hepreco.framework import extras
from hepreco.framework.artefacts import cache_dir

from .emulator import Activation, Dense, Network, Softmax, UnsupportedNetwork, exp_table, inv_table
from .fixed import FixedType

PROJECT = "myproject"
BACKEND = "Vitis"


def _hls4ml():
    return extras.hls4ml("converting and validating an L1 network (hepreco.algorithms.fpga.hls)")


@dataclass
class Precision:
    """Every type of a Dense/ReLU/Softmax network; ``layers`` overrides them per hls4ml layer name.

    Types are ``ap_fixed`` strings (``'ap_fixed<16,6,AP_RND,AP_SAT>'``).
    """

    input: str = "ap_fixed<16,6>"
    weight: str = "ap_fixed<16,6>"
    bias: str = "ap_fixed<16,6>"
    accum: str = "ap_fixed<16,6>"
    result: str = "ap_fixed<16,6>"
    activation: str = "ap_fixed<16,6>"
    softmax_result: str = "ap_fixed<16,6>"
    softmax_accum: str = "ap_fixed<18,8,AP_RND,AP_SAT>"
    exp_table: str = "ap_fixed<18,8,AP_RND,AP_SAT>"
    inv_table: str = "ap_fixed<18,8,AP_RND,AP_SAT>"
    inv_inp: str = "ap_fixed<18,8,AP_RND,AP_SAT>"
    table_size: int = 1024
    layers: dict = field(default_factory=dict)

    @classmethod
    def uniform(cls, data: str, table: str = "ap_fixed<18,8,AP_RND,AP_SAT>", table_size: int = 1024,
                **overrides) -> "Precision":
        """One type for inputs, weights, biases, accumulators and results; ``table`` for the softmax internals."""
        values = dict(input=data, weight=data, bias=data, accum=data, result=data, activation=data,
                      softmax_result=data, softmax_accum=table, exp_table=table, inv_table=table, inv_inp=table,
                      table_size=table_size)
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    def __post_init__(self):
        for key, value in asdict(self).items():
            if key not in ("table_size", "layers"):
                FixedType.parse(value)   # refuses what the emulator cannot reproduce


def hls_config(model, precision: Precision, n_inputs: int) -> dict:
    """The hls4ml configuration of ``model`` with every type and mode set explicitly."""
    hls4ml = _hls4ml()
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(n_inputs,), granularity="name",
                                                 default_precision=precision.weight, backend=BACKEND)
    cfg["Model"]["Strategy"] = "Latency"
    cfg["Model"]["ReuseFactor"] = 1
    cfg["Model"]["TraceOutput"] = True
    for name, layer in cfg["LayerName"].items():
        p = layer.setdefault("Precision", {})
        over = precision.layers.get(name, {})
        layer["Trace"] = True
        if "exp_table" in p:                                  # softmax
            layer["Implementation"] = "stable"
            layer["TableSize"] = precision.table_size
            values = {"result": precision.softmax_result, "accum": precision.softmax_accum,
                      "exp_table": precision.exp_table, "inv_table": precision.inv_table,
                      "inv_inp": precision.inv_inp, "table": precision.exp_table}
        elif "weight" in p:                                   # dense
            values = {"weight": precision.weight, "bias": precision.bias, "accum": precision.accum,
                      "result": precision.result}
        elif "table" in p:                                    # activation
            values = {"result": precision.activation, "table": precision.exp_table}
        else:                                                 # the input
            values = {"result": precision.input}
        values.update(over)
        p.clear()
        p.update({k: str(FixedType.parse(v)) for k, v in values.items()})
    return cfg


def model_hash(model, precision: Precision, n_inputs: int) -> str:
    """sha256 of the network (structure and weights), the precision and the hls4ml version."""
    hls4ml = _hls4ml()
    h = hashlib.sha256()
    h.update(repr(model).encode())
    for key, tensor in model.state_dict().items():
        h.update(key.encode())
        h.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    h.update(json.dumps({"precision": precision.to_dict(), "n_inputs": n_inputs, "hls4ml": hls4ml.__version__,
                         "backend": BACKEND}, sort_keys=True).encode())
    return h.hexdigest()


def convert(model, precision: Precision, n_inputs: int, output_dir: str):
    """hls4ml ``ModelGraph`` of ``model`` (not written, not compiled)."""
    hls4ml = _hls4ml()
    cfg = hls_config(model, precision, n_inputs)
    return hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=output_dir,
                                                        project_name=PROJECT, backend=BACKEND,
                                                        io_type="io_parallel")


def project_dir(model, precision: Precision, n_inputs: int) -> str:
    """``$HEPRECO_CACHE/hls4ml/<hash>``: where the project of this network and precision is compiled."""
    return os.path.join(cache_dir(), "hls4ml", model_hash(model, precision, n_inputs)[:24])


def _quiet(fn, *args, **kwargs):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def write_project(model, precision: Precision, n_inputs: int):
    """``(ModelGraph, folder)`` with the project written (no compilation: fast)."""
    folder = project_dir(model, precision, n_inputs)
    hm = _quiet(convert, model, precision, n_inputs, folder)
    if not os.path.exists(os.path.join(folder, "firmware", f"{PROJECT}.cpp")):
        _quiet(hm.write)
    return hm, folder


def compiled(model, precision: Precision, n_inputs: int):
    """``(ModelGraph, folder)`` compiled with tracing; compiled once per hash, then loaded from the cache."""
    folder = project_dir(model, precision, n_inputs)
    hm = _quiet(convert, model, precision, n_inputs, folder)
    marker = os.path.join(folder, "compiled.json")
    libs = glob.glob(os.path.join(folder, "firmware", f"{PROJECT}-*.so"))
    if os.path.exists(marker) and len(libs) == 1:
        hm._top_function_lib = ctypes.cdll.LoadLibrary(libs[0])
        return hm, folder
    shutil.rmtree(folder, ignore_errors=True)
    hm.config.trace_output = True   # what hls4ml's trace() sets before it recompiles
    _quiet(hm.compile)
    with open(marker, "w") as f:
        json.dump({"hash": os.path.basename(folder), "precision": precision.to_dict()}, f)
    return hm, folder


def predict(hm, x) -> np.ndarray:
    """hls4ml's compiled ``predict()`` on float32 inputs ``(n, n_in)``."""
    return np.asarray(_quiet(hm.predict, np.ascontiguousarray(x, dtype=np.float32)))


def trace(hm, x) -> dict[str, np.ndarray]:
    """Per-layer outputs of the compiled model (hls4ml's ``trace()`` loop, without its recompilation).

    The library must have been compiled with tracing (:func:`compiled` does).
    Inputs are passed as float64 (exact for float32 values); outputs are float64.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    lib = hm._top_function_lib
    top = getattr(lib, f"{PROJECT}_double")
    top.restype = None
    top.argtypes = [np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")] * 2

    class TraceData(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]

    sizes = {}
    for layer in hm.get_layers():
        if layer.get_attr("function_cpp", None) and layer.get_attr("trace", False):
            sizes[layer.name] = int(np.prod(layer.get_output_variable().shape))
    lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
    lib.collect_trace_output.restype = None
    lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    lib.allocate_trace_storage.restype = None
    lib.free_trace_storage.argtypes = None
    lib.free_trace_storage.restype = None
    data = (TraceData * len(sizes))()
    out = {name: np.empty((len(x), n)) for name, n in sizes.items()}
    y = np.empty((1, hm.get_output_variables()[0].size()))
    lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
    try:
        for i in range(len(x)):
            top(x[i:i + 1], y)
            lib.collect_trace_output(data)
            for t in data:
                name = t.name.decode()
                out[name][i] = np.ctypeslib.as_array(ctypes.cast(t.data, ctypes.POINTER(ctypes.c_double)),
                                                     shape=(sizes[name],))
    finally:
        lib.free_trace_storage()
    return out


# -- reading the generated C++ -------------------------------------------------------------------
_TYPEDEF = re.compile(r"typedef\s+((?:ap_\w+|nnet::\w+)\s*<[^;]*>|\w+)\s+(\w+)\s*;")
_STRUCT = re.compile(r"struct\s+(\w+)\s*:\s*nnet::(\w+)\s*\{(.*?)\n\};", re.S)
_CONST = re.compile(r"static\s+const(?:expr)?\s+[\w:]+\s+(\w+)\s*=\s*([^;]+);")
_CALL = re.compile(r"nnet::(\w+)<([^;]*?)>\(([^;]*?)\);\s*//\s*(\S+)")
_TOP = re.compile(r"void\s+" + PROJECT + r"\s*\(\s*(\w+)\s+(\w+)\[(\d+)\]")


def _read(folder: str, *parts: str) -> str:
    with open(os.path.join(folder, *parts)) as f:
        return f.read()


def read_types(folder: str) -> dict:
    """``{typedef name: C++ type text}`` of ``firmware/defines.h``."""
    return {name: text for text, name in _TYPEDEF.findall(_read(folder, "firmware", "defines.h"))}


def read_project(folder: str) -> tuple[Network, dict]:
    """The emulator :class:`Network` of a written hls4ml project and a record of the C++ types used.

    Raises :class:`UnsupportedNetwork` for any layer call, kernel, product or
    softmax implementation it does not reproduce.
    """
    defines = read_types(folder)
    structs = {}
    for name, base, body in _STRUCT.findall(_read(folder, "firmware", "parameters.h")):
        typedefs = {alias: defines.get(text, text) for text, alias in _TYPEDEF.findall(body)}
        consts = dict(_CONST.findall(body))
        structs[name] = {"base": base, "types": typedefs, "consts": consts, "body": body}
    source = _read(folder, "firmware", f"{PROJECT}.cpp")
    top = _TOP.search(source)
    if not top:
        raise UnsupportedNetwork(f"{folder}: cannot find the top function {PROJECT}(input_t ...[n]) in the C++")
    input_type = FixedType.parse(defines[top.group(1)])
    n_inputs = int(top.group(3))
    layers, record = [], {"input": str(input_type), "layers": []}
    for function, targs, args, name in _CALL.findall(source):
        data_t, res_t, config = [a.strip() for a in targs.split(",")]
        cfg = structs.get(config)
        if cfg is None:
            raise UnsupportedNetwork(f"{folder}: layer {name} uses configuration {config}, not in parameters.h")
        res = FixedType.parse(defines[res_t])
        types = {k: str(FixedType.parse(v)) for k, v in cfg["types"].items() if k.endswith("_t") and
                 k != "index_t"}
        entry = {"name": name, "function": function, "result": str(res), "types": types, "consts": cfg["consts"]}
        where = f"{folder}: layer {name} (nnet::{function})"
        if function == "dense":
            body = cfg["body"]
            if "nnet::DenseLatency" not in body or "nnet::product::mult<" not in body:
                raise UnsupportedNetwork(f"{where}: only the Latency dense kernel with the plain product is "
                                         "supported")
            n_in, n_out = int(cfg["consts"]["n_in"]), int(cfg["consts"]["n_out"])
            w_name, b_name = [a.strip() for a in args.split(",")][2:4]
            wt, bt = FixedType.parse(cfg["types"]["weight_t"]), FixedType.parse(cfg["types"]["bias_t"])
            w = wt.from_float(_read_values(folder, w_name)).reshape(n_in, n_out)
            b = bt.from_float(_read_values(folder, b_name))
            layers.append(Dense(w, b, wt, bt, FixedType.parse(cfg["types"]["accum_t"]), res, name=name))
        elif function in ("relu", "linear"):
            layers.append(Activation(function, res, name=name))
        elif function == "softmax":
            body = cfg["body"]
            impl = re.search(r"softmax_implementation::(\w+)", body)
            impl = impl.group(1) if impl else "?"
            if impl != "stable":
                raise UnsupportedNetwork(f"{where}: softmax implementation {impl!r} is not supported (stable)")
            scale = float(re.search(r"exp_scale\s*=\s*([^;]+);", body).group(1))
            t = {k: FixedType.parse(v) for k, v in cfg["types"].items()}
            exp_size, inv_size = int(cfg["consts"]["exp_table_size"]), int(cfg["consts"]["inv_table_size"])
            layers.append(Softmax(res, t["accum_t"], t["inv_inp_t"], t["inp_norm_t"], t["exp_table_t"],
                                  t["inv_table_t"], exp_table(t["inp_norm_t"], t["exp_table_t"], exp_size, scale),
                                  inv_table(t["inv_inp_t"], t["inv_table_t"], inv_size), exp_scale=scale,
                                  name=name))
        else:
            raise UnsupportedNetwork(f"{where}: this layer is not supported by the emulator "
                                     "(supported: dense, relu, linear, softmax)")
        record["layers"].append(entry)
    h = hashlib.sha256()
    for name in ("defines.h", "parameters.h", f"{PROJECT}.cpp"):
        h.update(_read(folder, "firmware", name).encode())
    for path in sorted(glob.glob(os.path.join(folder, "firmware", "weights", "*.txt"))):
        h.update(_read(os.path.dirname(path), os.path.basename(path)).encode())
    record["cpp_sha256"] = h.hexdigest()   # of the generated C++ and weight files the network was read from
    return Network(input_type, layers, n_inputs), record


def _read_values(folder: str, name: str) -> np.ndarray:
    text = _read(folder, "firmware", "weights", f"{name}.txt")
    return np.array([float(v) for v in text.split(",") if v.strip()], dtype=np.float64)
