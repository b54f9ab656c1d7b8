"""mmwsss.engine."""
