"""``python3 -m qasr.corpus``: build the synthetic speech corpus (see :mod:`qasr.corpus.build`)."""

from .build import main

main()
