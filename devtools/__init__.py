"""Real servers for development and end-to-end tests (OctoPrint with its virtual printer)."""
