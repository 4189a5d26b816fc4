"""A real Spark Connect server for the tests: a local Spark (the same pyspark and Java as
``spark://local``) with Spark's Connect plugin listening on a loopback port, each Parquet file of a
warehouse folder registered as a table of its catalog, which every Connect session shares.

Run as ``python -m tests.spark_connect_server DIR PORT``; it prints ``ready`` once the tables are
registered and serves until its stdin closes (the test session's end), so no server outlives the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(folder: Path, port: int) -> None:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("chatbi-connect-test")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", str(port))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    for path in sorted(folder.glob("*.parquet")):
        spark.sql(f"CREATE TABLE `{path.stem}` USING parquet LOCATION '{path.resolve()}'")
    print("ready", flush=True)
    sys.stdin.read()  # until the test session closes the pipe
    spark.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
