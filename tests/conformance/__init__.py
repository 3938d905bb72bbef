"""The conformance suite: LIB scenarios run on the real Linux kernel and searched for in the
model (`udpsem.real.conformance`)."""
