"""Network: IP/UDP/ICMP messages, messages in flight, the network rules, faults and topology."""
