"""Geography: district boundaries, point-in-district lookups and sampling for the simulator."""
