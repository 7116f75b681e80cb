"""Real local peers for tests: a webhook receiver, waiting helpers, event builders."""
