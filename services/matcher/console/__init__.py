"""The operators' console: server-rendered pages on the matcher's HTTP port, under /console."""
