"""Synthetic cheques and envelopes with exact ground truth, composed from real handwritten test digits.

No public set of US cheques or envelopes with handwritten amounts and ZIP codes exists, so the document stages are
built and measured on documents made here: real MNIST/USPS test digits written by a simulated writer onto rendered
cheques and envelopes, passed through simulated scanning, with the truth recorded as it is drawn. The entry point
is :func:`pipeline.synth.generate.generate_samples`.
"""
