"""qasr quantization toolkit: bit-exact formats, fake quantization, recipes, PTQ and QAT.

See docs/QUANTIZATION.md §5. Entry points::

    from qasr.quant.api import quantize_model, dequantize_model, report
    from qasr.quant.ptq import ptq
    python3 -m qasr.quant {ptq,report,qat} ...
"""
