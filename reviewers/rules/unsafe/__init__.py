"""GR3xx: unsafe.Pointer misuse."""
