"""mmwsss.utils."""
