"""Geography: district boundaries (districts), station jurisdictions and routing
by place (jurisdictions), WGS84/GCJ-02/BD-09 (coords), H3 hotspots (hotspots),
surge and recurring-issue detection (surges)."""
