"""Gold key, qualification rules, annotator state, peers, Redis store, calibration."""
