"""mmwsss.datasets."""
