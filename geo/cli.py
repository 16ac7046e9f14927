"""``python app.py geo …``: check a jurisdiction file, regenerate the demo ones."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_geo(args: argparse.Namespace) -> int:
    if args.action == "derive":
        from geo import derive_jurisdictions

        derive_jurisdictions.main()
        return 0
    return _check(args)


def _check(args: argparse.Namespace) -> int:
    from geo.derive_jurisdictions import bureau_stations
    from geo.jurisdictions import load_jurisdictions

    known: list[str] | None = None
    if not args.no_bureau:
        bureaus = args.bureau
        if not bureaus:
            import settings

            bureaus = [settings.load().demo_bureau_file]
        known = [s.code for b in bureaus for s in bureau_stations(Path(b))]
        print(f"stations known from {', '.join(map(str, bureaus))}: {len(known)}")
    js = load_jurisdictions(args.files, known, tolerance_km2=args.tolerance_km2)
    print(js.report.render())
    return 0 if js.report.ok else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    geo = sub.add_parser("geo", help="station jurisdictions: check a file, derive the demo ones")
    actions = geo.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check", help="validate jurisdiction GeoJSON: overlaps, gaps, unknown codes, stations without a polygon")
    check.add_argument("files", nargs="+", metavar="FILE", help="GeoJSON FeatureCollection(s) with unit_code")
    check.add_argument("--bureau", action="append", metavar="YAML",
                       help="bureau file(s) whose stations the polygons must match (default: the demo bureau)")
    check.add_argument("--no-bureau", action="store_true", help="skip the unit code checks")
    check.add_argument("--tolerance-km2", type=float, default=0.01,
                       help="ignore overlaps and gaps up to this area (default 0.01 km²)")
    actions.add_parser("derive", help="regenerate geo/data/*_station_jurisdictions.geojson from examples/*.yaml")
    geo.set_defaults(func=cmd_geo)
