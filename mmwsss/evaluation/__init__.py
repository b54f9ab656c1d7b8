"""mmwsss.evaluation."""
