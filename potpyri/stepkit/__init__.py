"""What several steps share: the master-calibration step base and frame I/O helpers.

The layer between the framework and the steps; science modules never import it."""
