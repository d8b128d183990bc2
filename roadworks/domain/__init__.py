"""Pure domain of Roadworks: schedules, geometry and values, free of HTTP and storage."""
