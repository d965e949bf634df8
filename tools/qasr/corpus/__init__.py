"""Synthetic English speech corpus from Debian TTS engines and Debian text packages.

Modules: :mod:`.text` (sources, normalisation), :mod:`.voices` (voice inventory,
held-out voices, prosody sampling), :mod:`.synth` (engines -> 16 kHz audio),
:mod:`.augment` (deterministic augmentation), :mod:`.build` (planning, splits,
manifests; the command-line entry point).
"""
