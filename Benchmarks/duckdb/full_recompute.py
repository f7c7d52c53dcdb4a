#!/usr/bin/env python3
"""A full recompute of Daybook's per-day usage aggregates by DuckDB (issue 12 acceptance).

Loads the NDJSON event files given (the benchmark history plus its backdated days) with
read_ndjson and explicit column types, then computes, for every (customer, metric, group value,
day), what the benchmark catalog's metrics (ExampleCatalog: the `standard` rate card's metrics)
aggregate on that day:

  tokens            sum(properties.tokens)   of inference events with region in (us, eu), by model
  requests          count(*)                 of inference events
  peak_gpus         max(properties.gpus)     of gpu_sample events
  active_users      count(distinct user_id)  of session events
  storage_gb_hours  sum(properties.gb_hours) of storage events

No pricing, no draw-down, no period-to-date running values: the per-day aggregates only, the
least a recompute from the log must do. The benchmark's events have no duplicate transaction
ids and no invalid records, so no deduplication or validation is done either.

Prints one JSON object on stdout: input rows, aggregate rows, seconds for the load, the query and
both, and the value of each `--cell CUSTOMER,METRIC,GROUP,DAY` asked for (a canonical decimal
string, as Daybook prints quantities; null when the cell has no row).

    pip install duckdb
    python3 Benchmarks/duckdb/full_recompute.py history.ndjson backdated.ndjson \
        --cell cust01,requests,,2026-10-22
"""

import argparse
import decimal
import json
import sys
import time

import duckdb

COLUMNS = {
    "transaction_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "event_type": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "properties": "STRUCT(model VARCHAR, tokens BIGINT, region VARCHAR, gpus BIGINT, "
    "user_id VARCHAR, gb_hours DECIMAL(18,3))",
}

QUERY = """
CREATE TABLE agg AS
SELECT customer_id, 'tokens' AS metric, coalesce(properties.model, '') AS grp,
       CAST("timestamp" AS DATE) AS day, CAST(sum(properties.tokens) AS DECIMAL(38,3)) AS q
  FROM events WHERE event_type = 'inference' AND properties.region IN ('us', 'eu')
  GROUP BY ALL
UNION ALL
SELECT customer_id, 'requests', '', CAST("timestamp" AS DATE), CAST(count(*) AS DECIMAL(38,3))
  FROM events WHERE event_type = 'inference'
  GROUP BY ALL
UNION ALL
SELECT customer_id, 'peak_gpus', '', CAST("timestamp" AS DATE), CAST(max(properties.gpus) AS DECIMAL(38,3))
  FROM events WHERE event_type = 'gpu_sample'
  GROUP BY ALL
UNION ALL
SELECT customer_id, 'active_users', '', CAST("timestamp" AS DATE),
       CAST(count(DISTINCT properties.user_id) AS DECIMAL(38,3))
  FROM events WHERE event_type = 'session'
  GROUP BY ALL
UNION ALL
SELECT customer_id, 'storage_gb_hours', '', CAST("timestamp" AS DATE),
       CAST(sum(properties.gb_hours) AS DECIMAL(38,3))
  FROM events WHERE event_type = 'storage'
  GROUP BY ALL
"""


def canonical(value):
    """A decimal as Daybook prints a quantity: no exponent, no trailing fractional zeros."""
    if value is None:
        return None
    d = decimal.Decimal(value).normalize()
    text = format(d, "f")
    return "0" if text in ("-0", "") else text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="NDJSON event files")
    parser.add_argument("--cell", action="append", default=[], help="CUSTOMER,METRIC,GROUP,DAY to print")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: every core)")
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # days are UTC days, as in Daybook
    if args.threads:
        con.execute(f"SET threads = {args.threads}")

    began = time.perf_counter()
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_ndjson(?, columns = ?, format = 'newline_delimited')",
        [args.files, COLUMNS],
    )
    loaded = time.perf_counter()
    con.execute(QUERY)
    done = time.perf_counter()

    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    groups = con.execute("SELECT count(*) FROM agg").fetchone()[0]
    cells = {}
    for spec in args.cell:
        customer, metric, grp, day = spec.split(",")
        found = con.execute(
            "SELECT q FROM agg WHERE customer_id = ? AND metric = ? AND grp = ? AND day = CAST(? AS DATE)",
            [customer, metric, grp, day],
        ).fetchall()
        cells[spec] = canonical(found[0][0]) if found else None

    json.dump(
        {
            "duckdb_version": duckdb.__version__,
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            "input_rows": rows,
            "aggregate_rows": groups,
            "load_seconds": loaded - began,
            "query_seconds": done - loaded,
            "total_seconds": done - began,
            "cells": cells,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
