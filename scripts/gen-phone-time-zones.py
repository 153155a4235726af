#!/usr/bin/env python3
"""Regenerates services/campaigns/data/phone_time_zones.tsv from libphonenumber's time-zone map.

    python3 -m pip install phonenumbers && python3 scripts/gen-phone-time-zones.py

Each line is an E.164 prefix (without "+") and the IANA zones its numbers may be in. The data is
libphonenumber's (Apache License 2.0); the version is written in the file's first line.
"""

import pathlib

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

out = pathlib.Path(__file__).resolve().parent.parent / "services/campaigns/data/phone_time_zones.tsv"
lines = [f"# libphonenumber {phonenumbers.__version__} (Apache-2.0): E.164 prefix, then zones"]
for prefix, zones in sorted(TIMEZONE_DATA.items()):
    zones = [z for z in zones if z != "Etc/Unknown"]
    if zones:
        lines.append(f"{prefix}\t{','.join(zones)}")
out.write_text("\n".join(lines) + "\n")
print(f"{len(lines) - 1} prefixes written to {out}")
