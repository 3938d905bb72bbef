"""Hosts: values, the LIB calls, host and socket state, auxiliary functions and the host rules."""
