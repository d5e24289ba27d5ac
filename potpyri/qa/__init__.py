"""Quality assessment: quick independent measurements, figures, and the run's HTML report."""
