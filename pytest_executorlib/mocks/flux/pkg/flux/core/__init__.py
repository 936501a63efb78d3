"""``flux.core`` of the mock flux package."""
