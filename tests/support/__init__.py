"""Helpers the tests share: running the real pipeline, real servers on loopback, small stores."""
