"""The LIB over real OS sockets, and a harness that runs one program in the model and on the
real kernel and compares what the program saw."""
