"""Server plumbing: settings, error mapping, request limits, path confinement, dataset files."""
