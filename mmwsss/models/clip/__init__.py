"""mmwsss.models.clip."""
