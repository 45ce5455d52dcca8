"""Judge calibration against people: pairs, records, trust in the gate, coverage gaps."""
