"""Baselines the benchmarks compare udpsem against, in the same run: what a user would write
by hand without socket semantics (SimPy models, a plain-Python BFS). Adapted from the
project's measuring sticks; SimPy comes with the optional `bench` extra
(`pip install -e ".[bench]"`)."""
