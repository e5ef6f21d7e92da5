"""Impasto's command line: ``python main.py stylize|batch|explore ...`` and ``--selftest``."""
