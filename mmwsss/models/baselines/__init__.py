"""mmwsss.models.baselines."""
