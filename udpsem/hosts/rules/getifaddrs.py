"""getifaddrs — MODEL.md §A.8 (rules to be written)."""
