"""Seeing runs: a readable rendering of world states (`state`), sequence charts of traces
(`chart`, `trace_events`) and the browser explorer (`server`, with its page in `static/`).

This package sits near the top of the layers: it reads states, traces and the drivers, and
only the CLI imports it.
"""
