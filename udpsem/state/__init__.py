"""The state of the network term: machines, thread components, messages in flight, events
(`world`, `components`). Immutable values over `hosts` and `network.messages`."""
