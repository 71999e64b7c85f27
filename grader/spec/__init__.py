"""What judge and worker agree on: the student API, the values that cross, the wire format."""
