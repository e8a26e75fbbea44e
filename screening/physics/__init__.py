"""X-ray physics: materials, dual-energy material discrimination and pseudo-colour rendering."""
