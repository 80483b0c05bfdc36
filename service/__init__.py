"""The newsqa HTTP API, command line and retrieval."""
