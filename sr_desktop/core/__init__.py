"""Qt-free core: architectures, model files, inference engine, image I/O, metrics, batches.

Nothing in this package imports Qt; ``tests/core/test_no_qt.py`` proves it.
"""
