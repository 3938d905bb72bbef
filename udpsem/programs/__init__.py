"""Programs: the thread runtime and the programs run in the model."""
