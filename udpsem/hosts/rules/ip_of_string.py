"""ip_of_string — MODEL.md §A.8 (rules to be written)."""
