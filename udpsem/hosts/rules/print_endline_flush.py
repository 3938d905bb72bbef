"""print_endline_flush — MODEL.md §A.8 (rules to be written)."""
