"""port_of_int — MODEL.md §A.8 (rules to be written)."""
