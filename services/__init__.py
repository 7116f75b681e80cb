"""Signpost's three services. They never import one another; they share schemas/ and signpost/."""
