#!/usr/bin/env python3
"""Drives the vendor tutorial script (shared/seed/seed_report.py) against a DocSpace
simulator, adding only what it lacks to be comparable: paging (count/startIndex) and dates the
server accepts. Everything else (fetch, filter, TXT rendering, upload) is the seed's own code,
loaded from its file at run time."""

import argparse
import importlib.util
import json
import os
import sys


def load_seed(path):
    spec = importlib.util.spec_from_file_location("seed_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", required=True, help="path to seed_report.py")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--from", dest="from_", required=True)
    parser.add_argument("--to", required=True, help="inclusive end, UTC with Z")
    parser.add_argument("--folder", default="1045")
    args = parser.parse_args()
    api_key = os.environ["DOCSPACE_TOKEN"]

    seed = load_seed(args.seed)
    seed.API_HOST = args.base_url
    seed.API_KEY = api_key
    seed.HEADERS["Authorization"] = f"Bearer {api_key}"

    real_get = seed.requests.get
    events = []
    start = 0
    sys.stdout = open(os.devnull, "w")  # the seed prints a line per request
    while True:
        def paged_get(url, headers=None, params=None, _start=start, **kw):
            params = dict(params or {})
            params.update(count=100, startIndex=_start)
            return real_get(url, headers=headers, params=params, **kw)

        seed.requests.get = paged_get
        data = seed.get_audit_events_by_filter(start_date=args.from_, end_date=args.to)
        if data is None:
            raise SystemExit("the seed's request failed")
        page = data.get("response") or []
        events.extend(page)
        if len(page) < 100:
            break
        start += 100
    seed.requests.get = real_get

    important = seed.filter_important_events(events)
    text = seed.build_compliance_report_text(args.from_, args.to, important)
    result = seed.upload_report_to_compliance_folder(args.folder, f"peer-{len(events)}.txt", text)
    sys.stdout = sys.__stdout__
    print(json.dumps({"eventCount": len(important), "uploaded": result is not None}))


if __name__ == "__main__":
    main()
